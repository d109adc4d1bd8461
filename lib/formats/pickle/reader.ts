// A safe unpickler for protocols 0-5 as CPython writes them. It runs the pickle virtual machine over the
// object model of values.ts and never executes anything: a global is a name (PickleGlobal) unless the caller's
// resolver hands back a handler for it, and calling an unknown one yields an inert PickleObject (or, with
// `strict`, an error naming it, as torch.load(weights_only=True) does). Every malformed input throws a
// PickleError with the byte offset and the opcode; memory use is bounded by the input (every length is checked
// against the bytes left, every stack entry costs at least one input byte) and so is the time.
import { python3Name } from './compat-names.js';
import { PickleError } from './errors.js';
import { finishValue } from './finish.js';
import { HIGHEST_PROTOCOL, OP, opcodeOf, type ArgKind, type Opcode } from './opcodes.js';
import { decodeRawUnicodeEscape, decodeStringRepr, normalizeInt, parseDecimal, parseFloatText } from './text.js';
import { decodeUtf8 } from './utf8.js';
import {
  BUILD_HOOK, FrozenSet, PickleGlobal, PickleObject, Tuple, isBuildable, pythonAttrs, setPythonAttrs, tupleFrom,
} from './values.js';

/** What the reader does with one global (module.name) it was told about. */
export interface GlobalHandler {
  /** When present, GLOBAL pushes this value itself (a dtype, a storage type), not a callable reference. */
  readonly value?: unknown;
  /**
   * REDUCE, NEWOBJ(_EX), OBJ and INST: what calling it with these (already decoded) arguments gives. `ctx.call`
   * calls another global the way the pickle would (for wrappers such as copyreg.__newobj__).
   */
  call?(args: unknown[], kwargs: unknown, ctx: CallContext): unknown;
}

export interface CallContext {
  call(fn: unknown, args: unknown[], how?: 'reduce' | 'newobj'): unknown;
}

/** Maps a global to its handler, or undefined for one the caller does not know. */
export type GlobalResolver = (module: string, name: string) => GlobalHandler | undefined;

export interface ReadOptions {
  /** Handlers for the globals the caller knows; see python-globals.ts for Python's own. */
  globals?: GlobalResolver;
  /** Refuse every global the resolver does not know (default: keep them as inert PickleObjects). */
  strict?: boolean;
  /** Resolves PERSID/BINPERSID ids (torch.save's storages). Without it a persistent id is an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Where the pickle starts in `data` (files that hold several pickles in a row). Default 0. */
  offset?: number;
  /** Deepest nesting of containers accepted (Python's own pickler stops near 1000). Default 1000. */
  maxDepth?: number;
  /** How Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING) decodes: 'utf-8' as torch.load (default), 'latin1', or 'bytes'. */
  encoding?: 'utf-8' | 'latin1' | 'bytes';
}

export interface ReadResult {
  value: unknown;
  /** Offset just past the STOP opcode: where a following pickle starts. */
  end: number;
}

/** Reads one pickle. Trailing bytes after STOP are left alone, as Python's pickle.loads does. */
export function loads(data: Uint8Array, opts: ReadOptions = {}): unknown {
  return readPickle(data, opts).value;
}

export function readPickle(data: Uint8Array, opts: ReadOptions = {}): ReadResult {
  const machine = new Machine(data, opts);
  const raw = machine.run();
  const value = finishValue(raw, { maxDepth: opts.maxDepth ?? 1000 });
  return { value, end: machine.pos };
}

type Arg = number | bigint | string | Uint8Array | readonly [string, string] | null;

const latin1 = new TextDecoder('latin1');

class Machine {
  pos: number;
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();
  // Memo slots that hold a Buildable, so that BUILD can put its result there too.
  private buildableSlots = new Map<object, number[]>();
  private handlers = new WeakMap<PickleGlobal, GlobalHandler>();
  private op: Opcode | undefined;
  private opStart = 0;
  private readonly context: CallContext = { call: (fn, args, how = 'reduce') => this.call(fn, args, how) };

  private readonly dv: DataView;

  constructor(private readonly data: Uint8Array, private readonly opts: ReadOptions) {
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = opts.offset ?? 0;
    if (!Number.isInteger(this.pos) || this.pos < 0 || this.pos > data.length) {
      throw new PickleError(`offset ${opts.offset} is outside the ${data.length} bytes given`);
    }
  }

  run(): unknown {
    for (;;) {
      this.opStart = this.pos;
      this.op = undefined;
      if (this.pos >= this.data.length) throw this.error('unexpected end of data: no STOP opcode', true);
      const code = this.data[this.pos++];
      this.op = opcodeOf(code);
      if (!this.op) throw this.error(`unknown opcode 0x${code.toString(16).padStart(2, '0')}`);
      const arg = this.readArg(this.op.arg);
      if (code === OP.STOP) return this.pop();
      this.exec(code, arg);
    }
  }

  error(message: string, endOfData = false): PickleError {
    return new PickleError(message, this.opStart, this.op?.name ?? '', endOfData);
  }

  // ---- arguments ----

  private take(n: number): Uint8Array {
    if (n > this.data.length - this.pos) {
      throw this.error(`needs ${n} bytes, only ${this.data.length - this.pos} left (truncated or a lying length)`, true);
    }
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private line(): Uint8Array {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw this.error('a text argument has no terminating newline', true);
    const out = this.data.subarray(this.pos, end);
    this.pos = end + 1;
    return out;
  }

  // Where a fixed-size argument of n bytes starts (checked to be there); the DataView reads it in place, with no
  // subarray made per opcode.
  private fixed(n: number): number {
    if (n > this.data.length - this.pos) {
      throw this.error(`needs ${n} bytes, only ${this.data.length - this.pos} left (truncated or a lying length)`, true);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private length(bytes: 1 | 4 | 8): number {
    if (bytes === 1) return this.data[this.fixed(1)];
    if (bytes === 4) return this.dv.getUint32(this.fixed(4), true);
    const n = this.dv.getBigUint64(this.fixed(8), true);
    if (n > BigInt(this.data.length - this.pos)) throw this.error(`length ${n} exceeds the ${this.data.length - this.pos} bytes left`, true);
    return Number(n);
  }

  private readArg(kind: ArgKind): Arg {
    switch (kind) {
      case 'none': return null;
      case 'uint1': return this.data[this.fixed(1)];
      case 'uint2': return this.dv.getUint16(this.fixed(2), true);
      case 'int4': return this.dv.getInt32(this.fixed(4), true);
      case 'uint4': return this.dv.getUint32(this.fixed(4), true);
      case 'uint8': return this.length(8);
      case 'long1': return decodeLong(this.take(this.length(1)));
      case 'long4': return this.long4();
      case 'float8': return this.dv.getFloat64(this.fixed(8), false);
      case 'decimalnl_short': case 'decimalnl_long': case 'floatnl': case 'stringnl_noescape':
        return latin1.decode(this.line());
      case 'stringnl': return this.text(() => this.pyStr(decodeStringRepr(this.line())));
      case 'stringnl_noescape_pair': return [this.utf8(this.line()), this.utf8(this.line())];
      case 'unicodestringnl': return this.text(() => decodeRawUnicodeEscape(this.line()));
      case 'string1': return this.pyStr(this.take(this.length(1)));
      case 'string4': return this.pyStr(this.take(this.length(4)));
      case 'bytes1': return copyBytes(this.take(this.length(1)));
      case 'bytes4': return copyBytes(this.take(this.length(4)));
      case 'bytes8': case 'bytearray8': return copyBytes(this.take(this.length(8)));
      case 'unicodestring1': return this.utf8(this.take(this.length(1)));
      case 'unicodestring4': return this.utf8(this.take(this.length(4)));
      case 'unicodestring8': return this.utf8(this.take(this.length(8)));
    }
  }

  private long4(): number | bigint {
    const n = this.dv.getInt32(this.fixed(4), true);
    if (n < 0) throw this.error(`negative LONG4 length ${n}`);
    return decodeLong(this.take(n));
  }

  private utf8(b: Uint8Array): string {
    return this.text(() => decodeUtf8(b));
  }

  private text<T>(decode: () => T): T {
    try {
      return decode();
    } catch (e) {
      if (e instanceof PickleError) throw e;
      throw this.error((e as Error).message);
    }
  }

  // Python 2 str: what torch.load asks for (utf-8) unless told otherwise.
  private pyStr(b: Uint8Array): string | Uint8Array {
    const enc = this.opts.encoding ?? 'utf-8';
    if (enc === 'bytes') return copyBytes(b);
    return enc === 'latin1' ? latin1.decode(b) : this.utf8(b);
  }

  // ---- the stack ----

  private get floor(): number {
    return this.marks.length ? this.marks[this.marks.length - 1] : 0;
  }

  private push(v: unknown): void {
    this.stack.push(v);
  }

  private pop(): unknown {
    if (this.stack.length <= this.floor) throw this.error(this.marks.length ? 'pops below a MARK' : 'stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length <= this.floor) throw this.error(this.marks.length ? 'reads below a MARK' : 'stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.error('no MARK to pop to');
    return this.stack.splice(mark);
  }

  // ---- the opcodes ----

  private exec(code: number, arg: Arg): void {
    switch (code) {
      case OP.INT: return this.push(arg === '00' ? false : arg === '01' ? true : this.int(arg as string));
      case OP.LONG: return this.push(this.int((arg as string).replace(/L$/, '')));
      case OP.BININT: case OP.BININT1: case OP.BININT2: case OP.LONG1: case OP.LONG4: case OP.BINFLOAT:
        return this.push(arg);
      case OP.FLOAT: return this.push(this.text(() => parseFloatText(arg as string)));
      case OP.STRING: case OP.BINSTRING: case OP.SHORT_BINSTRING: case OP.BINBYTES: case OP.SHORT_BINBYTES:
      case OP.BINBYTES8: case OP.BYTEARRAY8: case OP.UNICODE: case OP.SHORT_BINUNICODE: case OP.BINUNICODE:
      case OP.BINUNICODE8:
        return this.push(arg);
      case OP.NONE: return this.push(null);
      case OP.NEWTRUE: return this.push(true);
      case OP.NEWFALSE: return this.push(false);
      case OP.NEXT_BUFFER: throw this.error('out-of-band buffers (protocol 5 NEXT_BUFFER) are not supported');
      case OP.READONLY_BUFFER: return void this.top();
      default: return this.execContainer(code, arg);
    }
  }

  private int(text: string): number | bigint {
    return this.text(() => parseDecimal(text));
  }

  private execContainer(code: number, arg: Arg): void {
    switch (code) {
      case OP.EMPTY_LIST: return this.push([]);
      case OP.LIST: return this.push(this.popMark());
      case OP.APPEND: { const v = this.pop(); return this.appendTo(this.top(), [v]); }
      case OP.APPENDS: { const items = this.popMark(); return this.appendTo(this.top(), items); }
      case OP.EMPTY_TUPLE: return this.push(new Tuple());
      case OP.TUPLE: return this.push(tupleFrom(this.popMark()));
      case OP.TUPLE1: case OP.TUPLE2: case OP.TUPLE3: return this.push(this.popTuple(code - OP.TUPLE1 + 1));
      case OP.EMPTY_DICT: return this.push(new Map());
      case OP.DICT: return this.push(this.setItems(new Map(), this.popMark()));
      case OP.SETITEM: { const v = this.pop(); const k = this.pop(); return void this.setItems(this.top(), [k, v]); }
      case OP.SETITEMS: { const items = this.popMark(); return void this.setItems(this.top(), items); }
      case OP.EMPTY_SET: return this.push(new Set());
      case OP.ADDITEMS: { const items = this.popMark(); return this.addItems(this.top(), items); }
      case OP.FROZENSET: return this.push(new FrozenSet(this.popMark()));
      default: return this.execStack(code, arg);
    }
  }

  private popTuple(n: number): Tuple {
    const items = new Array<unknown>(n);
    for (let i = n - 1; i >= 0; i--) items[i] = this.pop();
    return tupleFrom(items);
  }

  private appendTo(target: unknown, items: unknown[]): void {
    const list = target instanceof PickleObject ? (target.listItems ??= []) : target;
    if (!Array.isArray(list) || list instanceof Tuple) throw this.error(`cannot append to ${describe(target)}`);
    for (const v of items) list.push(v);
  }

  private setItems(target: unknown, items: unknown[]): unknown {
    if (items.length % 2) throw this.error(`odd number of items (${items.length}) for a dict`);
    const map = target instanceof PickleObject ? (target.dictItems ??= new Map()) : target;
    if (!(map instanceof Map)) throw this.error(`cannot set items on ${describe(target)}`);
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return target;
  }

  private addItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Set) || target instanceof FrozenSet) throw this.error(`cannot add items to ${describe(target)}`);
    for (const v of items) target.add(v);
  }

  private execStack(code: number, arg: Arg): void {
    switch (code) {
      case OP.POP: return this.stack.length > this.floor ? void this.stack.pop() : void this.popMark();
      case OP.DUP: return this.push(this.top());
      case OP.MARK: return void this.marks.push(this.stack.length);
      case OP.POP_MARK: return void this.popMark();
      case OP.GET: return this.get(this.memoIndex(arg));
      case OP.BINGET: case OP.LONG_BINGET: return this.get(arg as number);
      case OP.PUT: return this.put(this.memoIndex(arg));
      case OP.BINPUT: case OP.LONG_BINPUT: return this.put(arg as number);
      case OP.MEMOIZE: return this.put(this.memo.size);
      case OP.EXT1: case OP.EXT2: case OP.EXT4:
        throw this.error('extension registry codes (copyreg.add_extension) are refused');
      case OP.PROTO:
        if ((arg as number) > HIGHEST_PROTOCOL) throw this.error(`unsupported pickle protocol ${arg}`);
        return;
      case OP.FRAME: return; // frames only help buffered readers; readArg has checked the length
      default: return this.execObject(code, arg);
    }
  }

  private memoIndex(arg: Arg): number {
    const i = this.int(arg as string);
    if (typeof i !== 'number' || i < 0) throw this.error(`invalid memo index ${String(arg)}`);
    return i;
  }

  private get(i: number): void {
    if (!this.memo.has(i)) throw this.error(`memo key ${i} was never stored`);
    this.push(this.memo.get(i));
  }

  private put(i: number): void {
    const v = this.top();
    this.memo.set(i, v);
    if (isBuildable(v)) {
      const slots = this.buildableSlots.get(v);
      if (slots) slots.push(i);
      else this.buildableSlots.set(v, [i]);
    }
  }

  private execObject(code: number, arg: Arg): void {
    switch (code) {
      case OP.GLOBAL: { const [module, name] = arg as [string, string]; return this.push(this.global(module, name)); }
      case OP.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw this.error('STACK_GLOBAL needs two strings');
        return this.push(this.global(module, name));
      }
      case OP.REDUCE: { const args = this.pop(); const fn = this.pop(); return this.push(this.call(fn, args, 'reduce')); }
      case OP.NEWOBJ: { const args = this.pop(); const cls = this.pop(); return this.push(this.call(cls, args, 'newobj')); }
      case OP.NEWOBJ_EX: {
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        return this.push(this.call(cls, args, 'newobj', kwargs));
      }
      case OP.OBJ: { const [cls, ...args] = this.popMark(); return this.push(this.call(cls, args, 'reduce')); }
      case OP.INST: {
        const [module, name] = arg as [string, string];
        const args = this.popMark();
        return this.push(this.call(this.global(module, name), args, 'reduce'));
      }
      case OP.BUILD: { const state = this.pop(); return this.build(this.top(), state); }
      case OP.PERSID: case OP.BINPERSID: return this.push(this.persistent(code === OP.PERSID ? arg : this.pop()));
      default: throw this.error('opcode not handled'); // unreachable: every table entry is dispatched above
    }
  }

  private global(pickledModule: string, pickledName: string): unknown {
    const [module, name] = python3Name(pickledModule, pickledName);
    const handler = this.opts.globals?.(module, name);
    if (!handler) {
      if (this.opts.strict) throw this.error(`global ${module}.${name} is not allowed`);
      return new PickleGlobal(module, name);
    }
    if ('value' in handler) return handler.value;
    const g = new PickleGlobal(module, name);
    this.handlers.set(g, handler);
    return g;
  }

  private call(fn: unknown, args: unknown, how: 'reduce' | 'newobj', kwargs?: unknown): unknown {
    if (!(fn instanceof PickleGlobal)) throw this.error(`calls ${describe(fn)}, which is not a class or function`);
    if (!Array.isArray(args)) throw this.error(`arguments for ${fn.qualifiedName} are ${describe(args)}, not a tuple`);
    const handler = this.handlers.get(fn);
    if (!handler) return new PickleObject(fn.module, fn.name, args, how, kwargs);
    if (!handler.call) throw this.error(`${fn.qualifiedName} cannot be called`);
    return this.guard(fn.qualifiedName, () => handler.call!(args, kwargs, this.context));
  }

  // Errors from handlers about the values (a dtype lvmtorch lacks, a view past its storage: TypeError/RangeError,
  // also libtorch's argument errors, ERR_INVALID_ARG_TYPE/ERR_OUT_OF_RANGE) keep their message and gain the
  // offset. Errors with another code of their own (a ZipError, or a libtorch error from a persistentLoad that
  // reads a file) are not about the pickle and pass through as they are.
  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      const aboutValues = code === undefined || code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_OUT_OF_RANGE';
      if (e instanceof PickleError || !aboutValues) throw e;
      const err = this.error(`${what}: ${(e as Error)?.message ?? String(e)}`);
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
  }

  private build(obj: unknown, state: unknown): void {
    if (isBuildable(obj)) return this.replaceTop(obj, this.guard('BUILD', () => obj[BUILD_HOOK](state)));
    if (obj instanceof PickleObject) {
      if (obj.state !== undefined) throw this.error(`BUILD twice on ${obj.qualifiedName}`);
      obj.state = state;
      return;
    }
    // A dict or list subclass with instance attributes (an OrderedDict's `_metadata`): kept aside, not as items.
    if ((obj instanceof Map || obj instanceof Set || Array.isArray(obj)) && !(obj instanceof Tuple)) {
      if (pythonAttrs(obj) !== undefined) throw this.error('BUILD twice on one container');
      setPythonAttrs(obj, state);
      return;
    }
    throw this.error(`cannot BUILD ${describe(obj)}`);
  }

  // A Buildable stands for an object BUILD completes: its result takes its place on the stack and in the memo.
  private replaceTop(old: object, value: unknown): void {
    this.stack[this.stack.length - 1] = value;
    for (const i of this.buildableSlots.get(old) ?? []) if (this.memo.get(i) === old) this.memo.set(i, value);
    this.buildableSlots.delete(old);
  }

  private persistent(pid: unknown): unknown {
    const load = this.opts.persistentLoad;
    if (!load) throw this.error('a persistent id, but no persistentLoad was given');
    return this.guard('persistent_load', () => load(pid));
  }
}

// A plain Uint8Array copy: Buffer#slice would be a view that keeps the whole input alive.
function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** A little-endian two's complement integer of any length (LONG1/LONG4), as pickle.decode_long. */
export function decodeLong(bytes: Uint8Array): number | bigint {
  const n = bytes.length;
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[i];
    return bytes[n - 1] & 0x80 ? v - 2 ** (8 * n) : v;
  }
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, '0');
  let v = BigInt('0x' + hex);
  if (bytes[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return normalizeInt(v);
}

export function describe(x: unknown): string {
  if (x === null) return 'None';
  if (x instanceof Tuple) return 'a tuple';
  if (Array.isArray(x)) return 'a list';
  if (x instanceof Map) return 'a dict';
  if (x instanceof Set) return 'a set';
  if (x instanceof PickleGlobal) return x.qualifiedName;
  if (x instanceof PickleObject) return `a ${x.qualifiedName} object`;
  if (x instanceof Uint8Array) return 'bytes';
  if (typeof x === 'object') return `a ${(x as object).constructor?.name ?? 'object'}`;
  return `a ${typeof x}`;
}
