// The object model pickles decode to (and the writer encodes from). Python values map to plain JS values:
//
//   None -> null             bool -> boolean           int -> number, or bigint beyond 2^53
//   float -> number          str -> string             bytes, bytearray -> Uint8Array
//   list -> Array            tuple -> Tuple (a frozen Array subclass; Array.isArray is true)
//   dict -> a plain object when every key is a string that is not an array index ("0", "17": JS would reorder
//           those), else a Map; both keep insertion order. `__proto__` keys stay own data properties.
//   set -> Set               frozenset -> FrozenSet (a Set subclass)          complex -> PyComplex
//   a class or function (GLOBAL) -> PickleGlobal: a name, never imported
//   an object no handler knows -> PickleObject { module, name, args, state, ... }: inert data, never run
//
// Dict subclasses and attributes that do not fit a plain object live in a side table: pythonClass(d) says
// 'collections.OrderedDict' for an OrderedDict, pythonAttrs(d) holds what BUILD set on it (a state dict's
// `_metadata`), so neither shows up as a key.

/** A Python tuple. After loading it is frozen; `isTuple(x)` tells it from a list. map/filter give plain arrays. */
export class Tuple<T = unknown> extends Array<T> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/** A frozen Tuple of the given items (what the writer pickles as a Python tuple). */
export function tuple<T>(...items: T[]): Tuple<T> {
  return Object.freeze(tupleFrom(items)) as Tuple<T>;
}

/** An unfrozen Tuple with the items of an array (the reader freezes tuples once the whole pickle is read). */
export function tupleFrom<T>(items: readonly T[]): Tuple<T> {
  const t = new Tuple<T>();
  for (let i = 0; i < items.length; i++) t[i] = items[i];
  return t;
}

export function isTuple(x: unknown): x is Tuple {
  return x instanceof Tuple;
}

/** A Python frozenset. Not enforced immutable; the type says what it was. */
export class FrozenSet<T = unknown> extends Set<T> {}

/** A Python complex number. */
export class PyComplex {
  constructor(readonly re: number, readonly im: number) {}
}

/** Forces the writer to pickle a number as a Python float (integral JS numbers are written as ints). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

/** A Python class or function, by name. The reader pushes one for GLOBAL; nothing is imported or called. */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * The inert record of an object the reader had no handler for: the class (or function) by name, the
 * arguments it would have been called with, and what would have been set on it. Nothing of it ran.
 */
export class PickleObject {
  /** State from BUILD (often a dict of attributes, e.g. argparse.Namespace's), undefined when none. */
  state: unknown = undefined;
  /** Items added with APPEND(S) (a list subclass), when any. */
  listItems: unknown[] | undefined;
  /** Items added with SETITEM(S) (a dict subclass such as collections.defaultdict), when any. */
  dictItems: Map<unknown, unknown> | undefined;

  constructor(
    readonly module: string,
    readonly name: string,
    /** Positional arguments of the call (REDUCE) or of `cls.__new__` (NEWOBJ): a Tuple once loaded. */
    public args: unknown[],
    /** 'reduce': `module.name(*args)`; 'newobj': `cls.__new__(cls, *args, **kwargs)`. */
    readonly how: 'reduce' | 'newobj' = 'reduce',
    /** Keyword arguments of NEWOBJ_EX, when any. */
    public kwargs?: unknown,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** What the writer pickles as a persistent id (`pid` then BINPERSID): torch.save's storages. */
export class PersistentRef {
  constructor(readonly pid: unknown) {}
}

/**
 * A value a global handler returns may take BUILD itself: the reader calls `[BUILD_HOOK](state)` and puts
 * what it returns in the object's place (e.g. a numpy array, complete only once its state arrives).
 */
export const BUILD_HOOK: unique symbol = Symbol('pickle.build');

export interface Buildable {
  [BUILD_HOOK](state: unknown): unknown;
}

export function isBuildable(x: unknown): x is Buildable {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Buildable>)[BUILD_HOOK] === 'function';
}

// ---- what a dict was in Python, beyond its items ----

interface DictMeta {
  className?: string;
  attrs?: unknown;
}
const META = new WeakMap<object, DictMeta>();

/** The Python class of a dict that was a subclass (e.g. 'collections.OrderedDict'), or undefined. */
export function pythonClass(dict: object): string | undefined {
  return META.get(dict)?.className;
}

/** Attributes set on a dict by BUILD (a state dict's `{ _metadata }`), or undefined. */
export function pythonAttrs(dict: object): unknown {
  return META.get(dict)?.attrs;
}

export function setPythonClass<T extends object>(dict: T, className: string | undefined): T {
  META.set(dict, { ...META.get(dict), className });
  return dict;
}

export function setPythonAttrs<T extends object>(dict: T, attrs: unknown): T {
  META.set(dict, { ...META.get(dict), attrs });
  return dict;
}

/** Carries the side-table facts of one dict over to its converted form. */
export function copyPythonMeta(from: object, to: object): void {
  const meta = META.get(from);
  if (meta) META.set(to, meta);
}

/** Marks a plain object or Map to be written as a `collections.OrderedDict` (as state dicts are). */
export function orderedDict<T extends object>(dict: T, attrs?: unknown): T {
  setPythonClass(dict, 'collections.OrderedDict');
  if (attrs !== undefined) setPythonAttrs(dict, attrs);
  return dict;
}

/** Whether a string key can be a plain-object key without JS reordering it (i.e. it is no array index). */
export function isArrayIndexKey(key: string): boolean {
  return /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** A plain JS object (`{}` or Object.create(null)), not a class instance, an array or a Map. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Sets `obj[key] = value` as an own data property, so that a key such as `__proto__` changes no prototype. */
export function defineKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}
