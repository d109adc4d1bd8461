// A walk over a loaded value that replaces leaves (tensors, storages) and visits each once: what moving a loaded
// checkpoint to a device needs. Leaves are the objects that are no container: Tensors, storages, PickleGlobals,
// PyComplex, Uint8Arrays. Containers change in place (tuples, being frozen, are rebuilt), so shared and
// cyclic references stay shared. Map keys are walked too (a Python dict key can be a tuple holding a storage).
import {
  PickleObject, Tuple, copyPythonMeta, defineKey, isPlainObject, pythonAttrs, setPythonAttrs,
} from './pickle/values.js';

export function mapLeaves(root: unknown, fn: (leaf: object) => unknown): unknown {
  const done = new Map<object, unknown>();

  function walk(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    if (done.has(v)) return done.get(v);
    if (v instanceof Tuple) return walkTuple(v);
    if (Array.isArray(v)) return walkInPlace(v, () => v.forEach((x, i) => (v[i] = walk(x))));
    if (v instanceof Map) return walkInPlace(v, () => replaceMapEntries(v, walk));
    if (v instanceof Set) return walkInPlace(v, () => replaceSetItems(v, walk));
    if (isPlainObject(v)) return walkInPlace(v, () => Object.keys(v).forEach((k) => defineKey(v, k, walk(v[k]))));
    if (v instanceof PickleObject) return walkInPlace(v, () => walkObject(v, walk));
    const out = fn(v);
    done.set(v, out);
    return out;
  }

  function walkInPlace<T extends object>(v: T, body: () => void): T {
    done.set(v, v);
    body();
    const attrs = pythonAttrs(v);
    if (attrs !== undefined) setPythonAttrs(v, walk(attrs));
    return v;
  }

  // A tuple inside a cycle of its own keeps being referred to as itself from within that cycle.
  function walkTuple(t: Tuple): Tuple {
    done.set(t, t);
    const items = [...t].map(walk);
    if (items.every((x, i) => x === t[i])) return t;
    const out = Object.freeze(Object.assign(new Tuple(), items)) as Tuple;
    copyPythonMeta(t, out);
    done.set(t, out);
    return out;
  }

  return walk(root);
}

function replaceSetItems(s: Set<unknown>, walk: (v: unknown) => unknown): void {
  const items = [...s];
  const mapped = items.map(walk);
  if (mapped.every((x, i) => x === items[i])) return;
  s.clear();
  mapped.forEach((x) => s.add(x));
}

// Keys and values, in order; a Map whose keys change is refilled in its order.
function replaceMapEntries(m: Map<unknown, unknown>, walk: (v: unknown) => unknown): void {
  const entries = [...m];
  const mapped = entries.map(([k, x]) => [walk(k), walk(x)] as const);
  if (mapped.some(([k], i) => k !== entries[i][0])) m.clear();
  for (const [k, x] of mapped) m.set(k, x);
}

function walkObject(o: PickleObject, walk: (v: unknown) => unknown): void {
  o.args = walk(o.args) as unknown[];
  o.kwargs = walk(o.kwargs);
  o.state = walk(o.state);
  o.listItems?.forEach((x, i) => (o.listItems![i] = walk(x)));
  if (o.dictItems) replaceMapEntries(o.dictItems, walk);
}
