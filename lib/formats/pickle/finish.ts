// The last step of reading: the pickle machine builds every dict as a Map (its keys arrive one SETITEM at a time,
// so what it should become is known only at the end) and leaves tuples unfrozen. This walk turns dicts whose
// keys are all plain strings into plain objects and freezes tuples, keeping shared and cyclic references shared.
// It is the one recursive pass, so it is where nesting depth is bounded.
import { PickleError } from './errors.js';
import {
  PickleObject, Tuple, copyPythonMeta, defineKey, isArrayIndexKey, pythonAttrs, setPythonAttrs,
} from './values.js';

export interface FinishOptions {
  maxDepth: number;
}

export function finishValue(root: unknown, opts: FinishOptions): unknown {
  const done = new Map<object, unknown>();

  function walk(v: unknown, depth: number): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const seen = done.get(v);
    if (seen !== undefined || done.has(v)) return seen;
    if (depth > opts.maxDepth) throw new PickleError(`containers nested deeper than ${opts.maxDepth}`);
    if (v instanceof Map) return finishMap(v, depth);
    if (Array.isArray(v)) return finishArray(v, depth);
    if (v instanceof Set) return finishSet(v, depth);
    if (v instanceof PickleObject) return finishObject(v, depth);
    return v;
  }

  function finishArray(a: unknown[], depth: number): unknown[] {
    done.set(a, a);
    if (Object.isFrozen(a)) return finishFrozen(a, depth);
    for (let i = 0; i < a.length; i++) a[i] = walk(a[i], depth + 1);
    finishAttrs(a, a, depth);
    return a instanceof Tuple ? Object.freeze(a) : a;
  }

  // A tuple a global handler made and froze: rebuilt only if an item changes.
  function finishFrozen(a: unknown[], depth: number): unknown[] {
    const items = a.map((x) => walk(x, depth + 1));
    if (items.every((x, i) => x === a[i])) return a;
    const out = Object.freeze(Object.assign(new Tuple(), items));
    done.set(a, out);
    return out;
  }

  function finishMap(m: Map<unknown, unknown>, depth: number): unknown {
    let plain = true;
    for (const k of m.keys()) if (typeof k !== 'string' || isArrayIndexKey(k)) plain = false;
    if (!plain) {
      done.set(m, m);
      for (const [k, val] of m) {
        walk(k, depth + 1); // keys are tuples or scalars: finished in place
        m.set(k, walk(val, depth + 1));
      }
      finishAttrs(m, m, depth);
      return m;
    }
    const obj: Record<string, unknown> = {};
    done.set(m, obj);
    copyPythonMeta(m, obj);
    for (const [k, val] of m) defineKey(obj, k as string, walk(val, depth + 1));
    finishAttrs(m, obj, depth);
    return obj;
  }

  function finishSet(s: Set<unknown>, depth: number): Set<unknown> {
    done.set(s, s);
    const before = [...s];
    const items = before.map((x) => walk(x, depth + 1));
    if (items.some((x, i) => x !== before[i])) {
      s.clear();
      for (const x of items) s.add(x);
    }
    return s;
  }

  function finishObject(o: PickleObject, depth: number): PickleObject {
    done.set(o, o);
    o.args = walk(o.args, depth + 1) as unknown[];
    o.kwargs = walk(o.kwargs, depth + 1);
    o.state = walk(o.state, depth + 1);
    if (o.listItems) walk(o.listItems, depth + 1);
    // dictItems stays a Map (its keys may be anything), its values finished in place.
    for (const [k, val] of o.dictItems ?? []) {
      walk(k, depth + 1);
      o.dictItems!.set(k, walk(val, depth + 1));
    }
    return o;
  }

  function finishAttrs(from: object, to: object, depth: number): void {
    const attrs = pythonAttrs(from);
    if (attrs !== undefined) setPythonAttrs(to, walk(attrs, depth + 1));
  }

  return walk(root, 0);
}
