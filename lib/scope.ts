// tidy() scopes: every Tensor made while a scope is open is recorded in it, and disposed when the scope closes
// unless the scope's function returned it (then it moves to the enclosing scope) or keep() was called on it.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Disposable[][] = [];
const kept = new WeakSet<Disposable>();

/** Records a new tensor in the innermost open scope, if any. */
export function track(t: Disposable): void {
  if (scopes.length > 0) scopes[scopes.length - 1].push(t);
}

/** Exempts a tensor from every enclosing tidy() scope. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
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
    disposeAll(scope, new Set());
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    disposeAll(scope, new Set());
    throw new TypeError('tidy() cannot track an async function: the tensors it makes after an await escape the scope');
  }
  const returned = new Set<Disposable>();
  collect(result, returned, 0);
  for (const t of scope) {
    if (kept.has(t)) continue;
    // The enclosing scope owns what this one made and returned; a returned tensor made outside this scope
    // (an argument, a parameter) stays with whoever owned it.
    if (returned.has(t)) track(t);
    else t.dispose();
  }
  return result;
}

function disposeAll(scope: Disposable[], spare: Set<Disposable>): void {
  for (const t of scope) if (!spare.has(t) && !kept.has(t)) t.dispose();
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
