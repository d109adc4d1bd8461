// A protocol 2 pickler (what torch.save writes), over the object model of values.ts:
//
//   null -> None    boolean -> bool    bigint -> int    number -> int when a safe integer (not -0), else float
//   PyFloat -> float    string -> str    Uint8Array -> bytes (protocol 2: _codecs.encode(text, 'latin1'))
//   Tuple -> tuple    Array -> list    Map -> dict (keys of any of these kinds)
//   plain object -> dict with str keys, except array-index keys ("0", "17"), written as ints: JS turns number
//                   keys into those strings, and a Python dict with such str keys reads back as a Map anyway
//   Set -> set    FrozenSet -> frozenset    PyComplex -> complex    PickleGlobal -> the global itself
//   PickleObject -> module.name(*args) (REDUCE, or NEWOBJ), then its items and BUILD(state)
//   PersistentRef -> its pid, then BINPERSID
//   a dict marked pythonClass 'collections.OrderedDict' -> OrderedDict(), its items, BUILD(pythonAttrs)
//
// Object properties that are undefined are left out, as JSON.stringify does. The same JS object met twice is
// written once and fetched from the memo (BINGET) the second time, so shared and cyclic lists and dicts survive.
// `reduce` lets a caller turn its own classes (Tensors) into the values above.
import { PickleError } from './errors.js';
import { OP } from './opcodes.js';
import { encodeUtf8 } from './utf8.js';
import {
  FrozenSet, PersistentRef, PickleGlobal, PickleObject, PyComplex, PyFloat, Tuple, isArrayIndexKey, isPlainObject,
  pythonAttrs, pythonClass,
} from './values.js';

export interface WriteOptions {
  /** Turns a value the writer does not know into one it does (called first, for every object). */
  reduce?: (value: object) => unknown;
  /** Deepest nesting accepted (cycles through tuples would otherwise never end). Default 1000. */
  maxDepth?: number;
}

/** Pickles `value` with protocol 2. */
export function dumps(value: unknown, opts: WriteOptions = {}): Buffer {
  const w = new Writer(opts);
  w.byte(OP.PROTO);
  w.byte(2);
  w.save(value, 0);
  w.byte(OP.STOP);
  return w.result();
}

const BATCH = 1000; // items per APPENDS/SETITEMS, as CPython's _BATCHSIZE

class Writer {
  private chunks: Buffer[] = [];
  private buf = Buffer.allocUnsafe(1 << 16);
  private len = 0;
  // Objects (by identity) and strings (by value), and globals by name: one index space, as in the pickle.
  private memo = new Map<unknown, number>();
  private globals = new Map<string, number>();
  private memoSize = 0;
  private path: string[] = [];

  constructor(private readonly opts: WriteOptions) {}

  // ---- bytes ----

  result(): Buffer {
    this.chunks.push(this.buf.subarray(0, this.len));
    return Buffer.concat(this.chunks);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.len));
    this.buf = Buffer.allocUnsafe(Math.max(1 << 16, n));
    this.len = 0;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  private bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  private u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }

  // ---- memo ----

  private memoize(key: unknown, memo: Map<unknown, number> = this.memo): void {
    const i = this.memoSize++;
    memo.set(key, i);
    if (i < 256) {
      this.byte(OP.BINPUT);
      this.byte(i);
    } else {
      this.byte(OP.LONG_BINPUT);
      this.u32(i);
    }
  }

  // Writes a BINGET when `key` was written before; says whether it did.
  private fetched(key: unknown, memo: Map<unknown, number> = this.memo): boolean {
    const i = memo.get(key);
    if (i === undefined) return false;
    if (i < 256) {
      this.byte(OP.BINGET);
      this.byte(i);
    } else {
      this.byte(OP.LONG_BINGET);
      this.u32(i);
    }
    return true;
  }

  // ---- values ----

  save(v: unknown, depth: number): void {
    if (depth > (this.opts.maxDepth ?? 1000)) throw this.error(`nesting deeper than ${this.opts.maxDepth ?? 1000}`);
    if (v === null) return this.byte(OP.NONE);
    switch (typeof v) {
      case 'boolean': return this.byte(v ? OP.NEWTRUE : OP.NEWFALSE);
      case 'number': return Number.isSafeInteger(v) && !Object.is(v, -0) ? this.int(BigInt(v)) : this.float(v);
      case 'bigint': return this.int(v);
      case 'string': return this.str(v);
      case 'object': return this.saveObject(v, depth);
      default: throw this.error(`cannot pickle ${v === undefined ? 'undefined' : `a ${typeof v}`}`);
    }
  }

  private int(v: bigint): void {
    if (v >= 0n && v < 256n) {
      this.byte(OP.BININT1);
      this.byte(Number(v));
    } else if (v >= 0n && v < 65536n) {
      this.byte(OP.BININT2);
      this.byte(Number(v) & 0xff);
      this.byte(Number(v) >> 8);
    } else if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      this.byte(OP.BININT);
      this.room(4);
      this.buf.writeInt32LE(Number(v), this.len);
      this.len += 4;
    } else {
      const bytes = encodeLong(v);
      if (bytes.length > 255) throw this.error('integers longer than 255 bytes are not supported');
      this.byte(OP.LONG1);
      this.byte(bytes.length);
      this.bytes(bytes);
    }
  }

  private float(v: number): void {
    this.byte(OP.BINFLOAT);
    this.room(8);
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
  }

  // Strings are memoized by value, as CPython memoizes them by identity: repeated keys cost a BINGET.
  private str(s: string): void {
    if (this.fetched(s)) return;
    const data = encodeUtf8(s);
    this.byte(OP.BINUNICODE);
    this.u32(data.length);
    this.bytes(data);
    this.memoize(s);
  }

  private saveObject(v: object, depth: number): void {
    if (this.fetched(v)) return;
    const reduced = this.opts.reduce?.(v);
    if (reduced !== undefined && reduced !== v) return this.saveReduced(v, reduced, depth);
    if (v instanceof PyFloat) return this.float(v.value);
    if (v instanceof Uint8Array) return this.bytesObject(v);
    if (v instanceof Tuple) return this.tuple(v, depth);
    if (Array.isArray(v)) return this.list(v, depth);
    if (v instanceof Map || isPlainObject(v)) return this.dict(v, depth);
    if (v instanceof Set) return this.set(v, depth);
    if (v instanceof PyComplex) return this.call('builtins', 'complex', [v.re, v.im], v, depth);
    if (v instanceof PickleGlobal) return this.global(v.module, v.name);
    if (v instanceof PickleObject) return this.object(v, depth);
    if (v instanceof PersistentRef) return this.persistent(v, depth);
    throw this.error(`cannot pickle a ${v.constructor?.name ?? 'object'}`);
  }

  // What `reduce` gave stands for the original object: memoized under the original, so it is written once.
  private saveReduced(original: object, reduced: unknown, depth: number): void {
    this.save(reduced, depth);
    if (typeof reduced === 'object' && reduced !== null && !this.memo.has(original)) {
      const i = this.memo.get(reduced);
      if (i !== undefined) this.memo.set(original, i);
    }
  }

  private bytesObject(b: Uint8Array): void {
    // Protocol 2 has no bytes opcode: CPython writes _codecs.encode('<bytes as latin-1 text>', 'latin1').
    this.global('_codecs', 'encode');
    let text = '';
    for (let i = 0; i < b.length; i += 8192) text += String.fromCharCode(...b.subarray(i, i + 8192));
    this.str(text);
    this.str('latin1');
    this.byte(OP.TUPLE2);
    this.byte(OP.REDUCE);
    this.memoize(b);
  }

  // A tuple is memoized only once its items are written; when one of them led back to it (through a list or a
  // dict), it was written in there already: its items are dropped again and it is fetched, as CPython does.
  private tuple(t: Tuple, depth: number): void {
    if (t.length === 0) return this.byte(OP.EMPTY_TUPLE);
    const small = t.length <= 3;
    if (!small) this.byte(OP.MARK);
    t.forEach((x, i) => this.child(String(i), x, depth));
    if (this.memo.has(t)) {
      if (small) for (let i = 0; i < t.length; i++) this.byte(OP.POP);
      else this.byte(OP.POP_MARK);
      this.fetched(t);
      return;
    }
    this.byte(small ? OP.TUPLE1 + t.length - 1 : OP.TUPLE);
    this.memoize(t);
  }

  private list(a: unknown[], depth: number): void {
    this.byte(OP.EMPTY_LIST);
    this.memoize(a);
    this.appends(a, depth);
  }

  private appends(items: readonly unknown[], depth: number): void {
    for (let start = 0; start < items.length; start += BATCH) {
      const end = Math.min(items.length, start + BATCH);
      if (end - start > 1) this.byte(OP.MARK);
      for (let i = start; i < end; i++) this.child(String(i), items[i], depth);
      this.byte(end - start > 1 ? OP.APPENDS : OP.APPEND);
    }
  }

  private dict(d: Map<unknown, unknown> | Record<string, unknown>, depth: number): void {
    const cls = pythonClass(d);
    if (cls) {
      const [module, name] = splitName(cls);
      this.global(module, name);
      this.byte(OP.EMPTY_TUPLE);
      this.byte(OP.REDUCE);
    } else {
      this.byte(OP.EMPTY_DICT);
    }
    this.memoize(d);
    this.setitems(dictEntries(d), depth);
    const attrs = pythonAttrs(d);
    if (cls && attrs !== undefined) {
      this.child('<attrs>', attrs, depth);
      this.byte(OP.BUILD);
    }
  }

  private setitems(entries: [unknown, unknown][], depth: number): void {
    for (let start = 0; start < entries.length; start += BATCH) {
      const end = Math.min(entries.length, start + BATCH);
      if (end - start > 1) this.byte(OP.MARK);
      for (let i = start; i < end; i++) {
        const [k, v] = entries[i];
        this.child('<key>', k, depth);
        this.child(typeof k === 'string' || typeof k === 'number' ? String(k) : '<value>', v, depth);
      }
      this.byte(end - start > 1 ? OP.SETITEMS : OP.SETITEM);
    }
  }

  private set(s: Set<unknown>, depth: number): void {
    this.call('builtins', s instanceof FrozenSet ? 'frozenset' : 'set', [[...s]], s, depth);
  }

  // module.name(*args) as CPython's save_reduce writes it, memoized under `key`.
  private call(module: string, name: string, args: unknown[], key: object, depth: number, how = 'reduce'): void {
    this.global(module, name);
    this.tuple(Object.freeze(Object.assign(new Tuple(), args)), depth + 1);
    this.byte(how === 'newobj' ? OP.NEWOBJ : OP.REDUCE);
    this.memoize(key);
  }

  private object(o: PickleObject, depth: number): void {
    const kwargs = o.kwargs instanceof Map ? o.kwargs.size : o.kwargs == null ? 0 : Object.keys(o.kwargs).length;
    if (kwargs > 0) throw this.error(`${o.qualifiedName} was made with keyword arguments (NEWOBJ_EX), which protocol 2 cannot write`);
    this.call(o.module, o.name, o.args, o, depth, o.how);
    if (o.listItems) this.appends(o.listItems, depth);
    if (o.dictItems) this.setitems([...o.dictItems], depth);
    if (o.state !== undefined) {
      this.child('<state>', o.state, depth);
      this.byte(OP.BUILD);
    }
  }

  private persistent(p: PersistentRef, depth: number): void {
    this.child('<pid>', p.pid, depth);
    this.byte(OP.BINPERSID);
  }

  // GLOBAL as CPython writes it under protocol 2: Python 3's `builtins` under its Python 2 name.
  private global(module: string, name: string): void {
    const key = `${module}.${name}`;
    if (this.fetched(key, this.globals as Map<unknown, number>)) return;
    this.byte(OP.GLOBAL);
    this.bytes(encodeUtf8(`${module === 'builtins' ? '__builtin__' : module}\n${name}\n`));
    this.memoize(key, this.globals as Map<unknown, number>);
  }

  private child(step: string, v: unknown, depth: number): void {
    this.path.push(step);
    this.save(v, depth + 1);
    this.path.pop();
  }

  private error(message: string): PickleError {
    const where = this.path.length ? ` at ${this.path.map((p) => `[${p}]`).join('')}` : '';
    return new PickleError(`${message}${where}`);
  }
}

function dictEntries(d: Map<unknown, unknown> | Record<string, unknown>): [unknown, unknown][] {
  if (d instanceof Map) return [...d];
  const out: [unknown, unknown][] = [];
  for (const k of Object.keys(d)) {
    if (d[k] === undefined) continue;
    out.push([isArrayIndexKey(k) ? Number(k) : k, d[k]]);
  }
  return out;
}

function splitName(qualified: string): [string, string] {
  const dot = qualified.lastIndexOf('.');
  return [qualified.slice(0, dot), qualified.slice(dot + 1)];
}

/** An int as LONG1 bytes: little-endian two's complement, as short as it goes (pickle.encode_long). */
export function encodeLong(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const out: number[] = [];
  let x = v;
  for (;;) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
    const last = out[out.length - 1];
    if ((x === 0n && !(last & 0x80)) || (x === -1n && last & 0x80)) break;
  }
  return Uint8Array.from(out);
}
