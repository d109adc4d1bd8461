// tidy() scopes: every Tensor made while a scope is open is recorded in it, and disposed when the scope closes
// unless the scope's function returned it (then it moves to the enclosing scope) or keep() was called on it.
// A tensor a scope owns is not the GC's business (lib/torch/lifetime.ts) until it leaves every scope alive.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Told when a tensor leaves the last scope alive: from now on the GC must free it if it is forgotten. */
  unscoped(): void;
}

const scopes: Disposable[][] = [];
const kept = new WeakSet<Disposable>();
let anyKept = false; // a WeakSet lookup per tensor is most of tidy()'s cost; most programs never call keep()

/** Records a new tensor in the innermost open scope, if any; says whether one took it. */
export function track(t: Disposable): boolean {
  if (scopes.length === 0) return false;
  scopes[scopes.length - 1].push(t);
  return true;
}

/** Exempts a tensor from every enclosing tidy() scope. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  anyKept = true;
  return t;
}

export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError('tidy() takes a function');
  const scope: Disposable[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    disposeAll(scope);
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    disposeAll(scope);
    throw new TypeError('tidy() cannot track an async function: the tensors it makes after an await escape the scope');
  }
  const returned = new Set<Disposable>();
  if (result !== null && typeof result === 'object') collect(result, returned, 0);
  for (const t of scope) {
    // The enclosing scope owns what this one made and returned; a returned tensor made outside this scope
    // (an argument, a parameter) stays with whoever owned it.
    if (anyKept && kept.has(t)) t.unscoped();
    else if (returned.size > 0 && returned.has(t)) { if (!track(t)) t.unscoped(); }
    else t.dispose();
  }
  return result;
}

function disposeAll(scope: Disposable[]): void {
  for (const t of scope) {
    if (anyKept && kept.has(t)) t.unscoped();
    else t.dispose();
  }
}

// Returned tensors may sit in arrays, Maps and plain objects, as the results of a model often do.
function collect(value: unknown, out: Set<Disposable>, depth: number): void {
  if (depth > 32 || value === null || typeof value !== 'object') return;
  if (isDisposable(value)) {
    out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

function isDisposable(value: object): value is Disposable {
  return typeof (value as Disposable).dispose === 'function' && 'isDisposed' in value;
}
