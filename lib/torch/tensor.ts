// The typed Tensor over one native handle (native/core/handle.cc). Names and argument order follow PyTorch's, in
// camelCase: `t.sum(1, true)` is `t.sum(1, keepdim=True)`. Free memory with dispose(), `using`, or tidy();
// what is forgotten is freed by the GC, which is told how many native bytes each tensor holds.
import { inspect } from 'node:util';

import {
  dtypeCode, dtypeOfCode, isDType, isQuantizedDType, parseDType, storageArray, type DType, type QScheme, type TypedArray,
} from '../formats/dtype.js';
import { isDevice, parseDevice, type Device } from './device.js';
import { native, onLoad, type Addon, type RawTensor } from './native.js';
import { adopt, release, unregister } from './lifetime.js';
import { track } from './scope.js';

export type Dim = number | number[];
export type Scalar = number | boolean;
/** Nested arrays of numbers or booleans, as `tensor.toArray()` returns them. */
export type NestedArray = number | boolean | NestedArray[];
export type { QScheme } from '../formats/dtype.js';

let handleOf: (t: Tensor) => RawTensor;

// The op codes of native/torch/ops.cc's tables, by name. They are read once, when the addon loads; every Tensor
// exists only after that, so methods read them as plain properties (a keyed lookup per call costs more).
const UNARY = ['neg', 'abs', 'exp', 'log', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'sin', 'cos', 'tan', 'tanh', 'sigmoid',
  'relu', 'gelu', 'silu', 'square', 'sign', 'floor', 'ceil', 'round', 'reciprocal', 'erf', 'logicalNot', 'isnan',
  'isinf', 'isfinite', 'clone', 'detach', 'contiguous', 't', 'trunc'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'remainder', 'maximum', 'minimum', 'matmul', 'eq', 'ne', 'lt', 'le',
  'gt', 'ge', 'logicalAnd', 'logicalOr', 'atan2'] as const;
const REDUCE = ['sum', 'mean', 'prod', 'amax', 'amin', 'logsumexp', 'std', 'var', 'norm', 'all', 'any'] as const;
let U: Record<(typeof UNARY)[number], number>;
let B: Record<(typeof BINARY)[number], number>;
let R: Record<(typeof REDUCE)[number], number>;
let addon: Addon | undefined;
const lib = (): Addon => (addon ??= native());
onLoad((a) => {
  U = codesOf(UNARY, a.unaryOps);
  B = codesOf(BINARY, a.binaryOps);
  R = codesOf(REDUCE, a.reduceOps);
});

function codesOf<K extends string>(wanted: readonly K[], names: string[]): Record<K, number> {
  const missing = wanted.filter((n) => !names.includes(n));
  if (missing.length) throw new Error(`the native addon lacks ops ${missing.join(', ')}: rebuild it (npm run build)`);
  return Object.fromEntries(wanted.map((n) => [n, names.indexOf(n)])) as Record<K, number>;
}

/** Wraps a new native handle; internal to lvmtorch. */
export function fromRaw(raw: RawTensor): Tensor {
  return new Tensor(raw, INTERNAL);
}

export function rawOf(t: Tensor): RawTensor {
  return handleOf(t);
}

const INTERNAL = Symbol('internal');

/** @internal The token with which nn.Parameter, a Tensor subclass, makes itself. */
export const TENSOR_TOKEN = INTERNAL;

/** @internal A new handle on `t`'s data, detached from its graph (what nn.Parameter wraps). */
export function detachedRaw(t: Tensor): RawTensor {
  return lib().unary(U.detach, handleOf(t));
}
const DISPOSED_ID = -1 as RawTensor;

function scalar(x: unknown, what = 'other'): Scalar {
  if (typeof x === 'number' || typeof x === 'boolean') return x;
  throw new TypeError(`${what} must be a Tensor, a number or a boolean, got ${describe(x)}`);
}

function describe(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}

function shapeArgs(args: (number | number[])[]): number[] {
  const shape = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
  if (!shape.every((d) => typeof d === 'number')) throw new TypeError('shape must be numbers or one array of numbers');
  return shape as number[];
}

export class Tensor {
  #h: RawTensor;
  #registered = false;
  #meta: [number, string, readonly number[]] | undefined;

  static {
    handleOf = (t: Tensor): RawTensor => {
      if (!(t instanceof Tensor)) throw new TypeError(`expected a Tensor, got ${describe(t)}`);
      return t.#h;
    };
  }

  /** @internal Tensors are made by `torch.tensor()`, the factories and the ops, not by `new`. */
  constructor(raw: RawTensor, token: symbol) {
    if (token !== INTERNAL) throw new TypeError('use torch.tensor(data) to make a Tensor');
    this.#h = raw;
    if (!track(this)) adopt(this, raw);
  }

  // ---- what it is ----
  #describe(): [number, string, readonly number[]] {
    return (this.#meta ??= (() => {
      const [dtype, device, shape] = lib().describe(this.#h);
      return [dtype, device, Object.freeze(shape)] as [number, string, readonly number[]];
    })());
  }

  get shape(): readonly number[] {
    return this.#describe()[2];
  }
  get dtype(): DType {
    return dtypeOfCode(this.#describe()[0]);
  }
  get device(): Device {
    return this.#describe()[1] as Device;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim?: number): number | readonly number[] {
    if (dim === undefined) return this.shape;
    const d = dim < 0 ? dim + this.ndim : dim;
    if (d < 0 || d >= this.ndim) throw new RangeError(`dim ${dim} is out of range for a ${this.ndim}-d tensor`);
    return this.shape[d];
  }

  /** Strides in elements, as PyTorch's `t.stride()`. */
  stride(): number[] {
    return lib().layout(this.#h)[0];
  }
  /** Offset of the first element in the storage, in elements. */
  storageOffset(): number {
    return lib().layout(this.#h)[1];
  }
  /** Whether two tensors view one storage (as Python's `a.untyped_storage().data_ptr() == b...`). */
  sharesStorageWith(other: Tensor): boolean {
    return lib().layout(this.#h)[3] === lib().layout(other.#h)[3];
  }

  // ---- memory ----
  get isDisposed(): boolean {
    return this.#h === DISPOSED_ID;
  }
  /**
   * Frees the native memory: at once as far as this tensor is concerned (using it afterwards throws; calling
   * dispose twice is harmless), and in the process by the next op or turn of the event loop (lib/torch/lifetime.ts).
   */
  dispose(): void {
    const id = this.#h;
    if (id === DISPOSED_ID) return;
    // The old id's slot is reused once freed and its generation wraps after 128 reuses, so a kept id would come
    // to name another tensor; -1 always reads as disposed (native/core/handle.cc).
    this.#h = DISPOSED_ID;
    if (this.#registered) unregister(this);
    release(id);
  }
  /** @internal A module moved or cast this tensor in place (lib/lvm/models/): forget its cached dtype and device. */
  refreshMeta(): void {
    this.#meta = undefined;
  }
  /** @internal lib/torch/scope.ts: no tidy() scope will dispose this tensor any more. */
  unscoped(): void {
    if (!this.isDisposed) adopt(this, this.#h);
  }
  /** @internal lib/torch/lifetime.ts hands this tensor to the GC. */
  markRegistered(): void {
    this.#registered = true;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- data out ----
  /**
   * The elements in C order, on the CPU: float16/bfloat16 come as float32 values, int64 as BigInt64Array, bool as 0/1.
   * A quantized tensor throws a TypeError (as PyTorch's tolist() and numpy() refuse one): take `intRepr()` for its
   * stored integers or `dequantize()` for the values they stand for.
   */
  toTypedArray(): TypedArray {
    const dtype = this.dtype;
    if (isQuantizedDType(dtype)) throw this.#quantizedData('toTypedArray');
    if (dtype === 'float16' || dtype === 'bfloat16') {
      return new Float32Array(lib().toData(this.#h, dtypeCode('float32')));
    }
    return storageArray(dtype, lib().toData(this.#h));
  }

  /** Nested arrays as Python's `tolist()`; int64 beyond 2^53 throws (use toTypedArray() for those), so does a quantized tensor. */
  toArray(): NestedArray {
    if (this.isQuantized) throw this.#quantizedData('toArray');
    const flat = this.toTypedArray();
    const dtype = this.dtype;
    const at = (i: number): number | boolean => {
      const v = flat[i];
      if (typeof v === 'bigint') {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new RangeError(`element ${i} (${v}) does not fit a JS number exactly; use toTypedArray()`);
        }
        return Number(v);
      }
      return dtype === 'bool' ? v !== 0 : v;
    };
    const shape = this.shape;
    let next = 0;
    const build = (d: number): NestedArray => {
      if (d === shape.length) return at(next++);
      const out: NestedArray[] = new Array(shape[d]);
      for (let i = 0; i < shape[d]; i++) out[i] = build(d + 1);
      return out;
    };
    return build(0);
  }

  /**
   * The value of a one-element tensor: a number (a bigint for int64 beyond 2^53), or a boolean. A quantized tensor
   * gives its dequantized value, as PyTorch 2.x does.
   */
  item(): number | boolean | bigint {
    if (this.isQuantized) {
      const real = this.dequantize();
      try {
        return real.item();
      } finally {
        real.dispose();
      }
    }
    return lib().item(this.#h);
  }

  #quantizedData(method: string): TypeError {
    return new TypeError(`${method}() of a ${this.dtype} tensor: its elements are quantized; call intRepr() for the stored integers or dequantize() for the float32 values`);
  }

  // ---- quantized tensors (PyTorch's names, in camelCase) ----
  /** Whether this is a quantized tensor (dtype qint8, quint8 or qint32), as PyTorch's `t.is_quantized`. */
  get isQuantized(): boolean {
    return isQuantizedDType(this.dtype);
  }
  /**
   * How the stored integers map to real values: 'per_tensor_affine' (one scale and zero point), 'per_channel_affine'
   * (one per slice along qPerChannelAxis()) or 'per_channel_affine_float_qparams' (per channel, float zero points).
   * A TypeError for a tensor that is not quantized.
   */
  qscheme(): QScheme {
    return native().qscheme(this.#h);
  }
  /** The scale of a per-tensor quantized tensor: real = (int - qZeroPoint()) * qScale(). */
  qScale(): number {
    return native().qScale(this.#h);
  }
  /** The zero point of a per-tensor quantized tensor. */
  qZeroPoint(): number {
    return native().qZeroPoint(this.#h);
  }
  /** A per-channel quantized tensor's scales, one per slice along qPerChannelAxis() (float64; float32 for float qparams). */
  qPerChannelScales(): Tensor {
    return fromRaw(native().qPerChannelScales(this.#h));
  }
  /** A per-channel quantized tensor's zero points (int64; float32 for float qparams). */
  qPerChannelZeroPoints(): Tensor {
    return fromRaw(native().qPerChannelZeroPoints(this.#h));
  }
  /** The dim that a per-channel quantized tensor's scales and zero points run along. */
  qPerChannelAxis(): number {
    return native().qPerChannelAxis(this.#h);
  }
  /** The stored integers of a quantized tensor, as a new int8 (qint8), uint8 (quint8) or int32 (qint32) tensor. */
  intRepr(): Tensor {
    return fromRaw(native().intRepr(this.#h));
  }
  /** The real values of a quantized tensor, `(int - zeroPoint) * scale`, as a new float32 tensor. */
  dequantize(): Tensor {
    return fromRaw(native().dequantize(this.#h));
  }

  // ---- conversion ----
  /** `t.to('cuda')`, `t.to('float16')`, `t.to({ device, dtype, copy })`, as PyTorch's `.to()`. */
  to(target: Device | DType | { device?: Device; dtype?: DType; copy?: boolean }): Tensor {
    let device: Device | undefined;
    let dtype: DType | undefined;
    let copy = false;
    if (typeof target === 'string') {
      if (isDevice(target)) device = target;
      else if (isDType(target)) dtype = parseDType(target);
      else throw new TypeError(`to() takes a device ('cpu', 'cuda', 'cuda:N') or a dtype, got ${JSON.stringify(target)}`);
    } else if (target && typeof target === 'object') {
      device = target.device === undefined ? undefined : parseDevice(target.device);
      dtype = target.dtype === undefined ? undefined : parseDType(target.dtype);
      copy = target.copy ?? false;
    } else {
      throw new TypeError(`to() takes a device, a dtype or { device, dtype }, got ${describe(target)}`);
    }
    if (dtype !== undefined && dtype !== this.dtype && this.isQuantized) {
      throw new TypeError(`to('${dtype}') of a ${this.dtype} tensor: call dequantize() for its float32 values or intRepr() for its integers`);
    }
    return fromRaw(lib().to(this.#h, device, dtype === undefined ? undefined : dtypeCode(dtype), copy));
  }
  cpu(): Tensor {
    return this.to('cpu');
  }
  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }

  // ---- element-wise ----
  #unary(code: number): Tensor {
    return fromRaw(lib().unary(code, this.#h));
  }
  #binary(code: number, x: Tensor | Scalar): Tensor {
    if (x instanceof Tensor) return fromRaw(lib().binary(code, this.#h, x.#h));
    return fromRaw(lib().binaryScalar(code, this.#h, scalar(x)));
  }
  add(x: Tensor | Scalar): Tensor { return this.#binary(B.add, x); }
  sub(x: Tensor | Scalar): Tensor { return this.#binary(B.sub, x); }
  mul(x: Tensor | Scalar): Tensor { return this.#binary(B.mul, x); }
  div(x: Tensor | Scalar): Tensor { return this.#binary(B.div, x); }
  pow(x: Tensor | Scalar): Tensor { return this.#binary(B.pow, x); }
  remainder(x: Tensor | Scalar): Tensor { return this.#binary(B.remainder, x); }
  maximum(x: Tensor | Scalar): Tensor { return this.#binary(B.maximum, x); }
  minimum(x: Tensor | Scalar): Tensor { return this.#binary(B.minimum, x); }
  atan2(x: Tensor): Tensor { return this.#binary(B.atan2, x); }
  matmul(x: Tensor): Tensor { return this.#binary(B.matmul, x); }
  eq(x: Tensor | Scalar): Tensor { return this.#binary(B.eq, x); }
  ne(x: Tensor | Scalar): Tensor { return this.#binary(B.ne, x); }
  lt(x: Tensor | Scalar): Tensor { return this.#binary(B.lt, x); }
  le(x: Tensor | Scalar): Tensor { return this.#binary(B.le, x); }
  gt(x: Tensor | Scalar): Tensor { return this.#binary(B.gt, x); }
  ge(x: Tensor | Scalar): Tensor { return this.#binary(B.ge, x); }
  logicalAnd(x: Tensor): Tensor { return this.#binary(B.logicalAnd, x); }
  logicalOr(x: Tensor): Tensor { return this.#binary(B.logicalOr, x); }

  neg(): Tensor { return this.#unary(U.neg); }
  abs(): Tensor { return this.#unary(U.abs); }
  exp(): Tensor { return this.#unary(U.exp); }
  log(): Tensor { return this.#unary(U.log); }
  log1p(): Tensor { return this.#unary(U.log1p); }
  expm1(): Tensor { return this.#unary(U.expm1); }
  sqrt(): Tensor { return this.#unary(U.sqrt); }
  rsqrt(): Tensor { return this.#unary(U.rsqrt); }
  sin(): Tensor { return this.#unary(U.sin); }
  cos(): Tensor { return this.#unary(U.cos); }
  tan(): Tensor { return this.#unary(U.tan); }
  tanh(): Tensor { return this.#unary(U.tanh); }
  sigmoid(): Tensor { return this.#unary(U.sigmoid); }
  relu(): Tensor { return this.#unary(U.relu); }
  gelu(): Tensor { return this.#unary(U.gelu); }
  silu(): Tensor { return this.#unary(U.silu); }
  square(): Tensor { return this.#unary(U.square); }
  sign(): Tensor { return this.#unary(U.sign); }
  floor(): Tensor { return this.#unary(U.floor); }
  ceil(): Tensor { return this.#unary(U.ceil); }
  round(): Tensor { return this.#unary(U.round); }
  trunc(): Tensor { return this.#unary(U.trunc); }
  reciprocal(): Tensor { return this.#unary(U.reciprocal); }
  erf(): Tensor { return this.#unary(U.erf); }
  logicalNot(): Tensor { return this.#unary(U.logicalNot); }
  isnan(): Tensor { return this.#unary(U.isnan); }
  isinf(): Tensor { return this.#unary(U.isinf); }
  isfinite(): Tensor { return this.#unary(U.isfinite); }
  clone(): Tensor { return this.#unary(U.clone); }
  /** A tensor sharing this one's data, cut from the autograd graph. */
  detach(): Tensor { return this.#unary(U.detach); }
  contiguous(): Tensor { return this.#unary(U.contiguous); }
  /** The transpose of a tensor of at most 2 dims. */
  t(): Tensor { return this.#unary(U.t); }

  clamp(min?: number | null, max?: number | null): Tensor {
    if (min == null && max == null) throw new TypeError('clamp() needs min, max or both');
    return fromRaw(lib().clamp(this.#h, min ?? undefined, max ?? undefined));
  }
  maskedFill(mask: Tensor, value: Scalar): Tensor {
    return fromRaw(lib().maskedFill(this.#h, handleOf(mask), scalar(value, 'value')));
  }

  // ---- reductions ----
  #reduce(code: number, dim: Dim | undefined, keepdim: boolean, extra?: Scalar): Tensor {
    return fromRaw(lib().reduce(code, this.#h, dim, keepdim, extra));
  }
  sum(dim?: Dim, keepdim = false): Tensor { return this.#reduce(R.sum, dim, keepdim); }
  mean(dim?: Dim, keepdim = false): Tensor { return this.#reduce(R.mean, dim, keepdim); }
  prod(dim?: number, keepdim = false): Tensor { return this.#reduce(R.prod, dim, keepdim); }
  amax(dim?: Dim, keepdim = false): Tensor { return this.#reduce(R.amax, dim ?? [], keepdim); }
  amin(dim?: Dim, keepdim = false): Tensor { return this.#reduce(R.amin, dim ?? [], keepdim); }
  logsumexp(dim: Dim, keepdim = false): Tensor { return this.#reduce(R.logsumexp, dim, keepdim); }
  /** Standard deviation; unbiased (Bessel's correction) by default, as PyTorch. */
  std(dim?: Dim, unbiased = true, keepdim = false): Tensor { return this.#reduce(R.std, dim, keepdim, unbiased); }
  var(dim?: Dim, unbiased = true, keepdim = false): Tensor { return this.#reduce(R.var, dim, keepdim, unbiased); }
  norm(p = 2, dim?: Dim, keepdim = false): Tensor { return this.#reduce(R.norm, dim, keepdim, p); }
  all(dim?: number, keepdim = false): Tensor { return this.#reduce(R.all, dim, keepdim); }
  any(dim?: number, keepdim = false): Tensor { return this.#reduce(R.any, dim, keepdim); }

  /** The largest element; with a dim, `{ values, indices }` along it. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    return valuesIndices(lib().max(this.#h, dim, keepdim));
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    return valuesIndices(lib().min(this.#h, dim, keepdim));
  }
  /**
   * The k largest (or, with largest = false, smallest) elements along dim, as torch.topk: `{ values, indices }`,
   * sorted from the largest (smallest) unless sorted = false. k may be 0; more than the dim's size throws.
   */
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [values, indices] = lib().topk(this.#h, k, dim, largest, sorted);
    return { values: fromRaw(values), indices: fromRaw(indices) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return fromRaw(lib().argmax(this.#h, dim, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return fromRaw(lib().argmin(this.#h, dim, keepdim));
  }

  softmax(dim: number): Tensor {
    return fromRaw(lib().softmax(this.#h, dim));
  }
  logSoftmax(dim: number): Tensor {
    return fromRaw(lib().logSoftmax(this.#h, dim));
  }
  /** As `torch.nn.functional.normalize`: divide by the p-norm along dim (at least eps). */
  normalize(opts: { p?: number; dim?: number; eps?: number } = {}): Tensor {
    return fromRaw(lib().normalize(this.#h, opts.p ?? 2, opts.dim ?? 1, opts.eps ?? 1e-12));
  }
  cosineSimilarity(x: Tensor, dim = 1, eps = 1e-8): Tensor {
    return fromRaw(lib().cosineSimilarity(this.#h, handleOf(x), dim, eps));
  }

  // ---- shape ----
  view(...shape: (number | number[])[]): Tensor {
    return fromRaw(lib().view(this.#h, shapeArgs(shape)));
  }
  reshape(...shape: (number | number[])[]): Tensor {
    return fromRaw(lib().reshape(this.#h, shapeArgs(shape)));
  }
  expand(...shape: (number | number[])[]): Tensor {
    return fromRaw(lib().expand(this.#h, shapeArgs(shape)));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return fromRaw(lib().transpose(this.#h, dim0, dim1));
  }
  permute(...dims: (number | number[])[]): Tensor {
    return fromRaw(lib().permute(this.#h, shapeArgs(dims)));
  }
  /** Python's `t[..., start:end:step]` on one dim (a view); start and end may be negative or omitted. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return fromRaw(lib().slice(this.#h, dim, start ?? undefined, end ?? undefined, step));
  }
  /** A view of this tensor's storage with the given sizes, strides and offset (in elements), as torch.as_strided. */
  asStrided(size: number[], stride: number[], storageOffset = 0): Tensor {
    return fromRaw(lib().asStrided(this.#h, size, stride, storageOffset));
  }
  /** Python's `t[..., index]` on one dim: that dim goes away. */
  select(dim: number, index: number): Tensor {
    return fromRaw(lib().select(this.#h, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return fromRaw(lib().indexSelect(this.#h, dim, handleOf(index)));
  }
  gather(dim: number, index: Tensor): Tensor {
    return fromRaw(lib().gather(this.#h, dim, handleOf(index)));
  }
  squeeze(dim?: number): Tensor {
    return fromRaw(lib().squeeze(this.#h, dim));
  }
  unsqueeze(dim: number): Tensor {
    return fromRaw(lib().unsqueeze(this.#h, dim));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return fromRaw(lib().flatten(this.#h, startDim, endDim));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return lib().chunk(this.#h, chunks, dim).map(fromRaw);
  }
  split(splitSize: number, dim = 0): Tensor[] {
    return lib().split(this.#h, splitSize, dim).map(fromRaw);
  }

  // ---- in place (PyTorch's trailing underscore); each returns this tensor ----
  add_(x: Tensor | Scalar, alpha?: number): this { return this.#inPlace('add_', x, alpha); }
  sub_(x: Tensor | Scalar): this { return this.#inPlace('sub_', x); }
  mul_(x: Tensor | Scalar): this { return this.#inPlace('mul_', x); }
  div_(x: Tensor | Scalar): this { return this.#inPlace('div_', x); }
  copy_(src: Tensor): this { return this.#inPlace('copy_', src); }
  fill_(value: Scalar): this { return this.#inPlace('fill_', value); }
  zero_(): this { return this.#inPlace('zero_'); }
  #inPlace(op: string, x?: Tensor | Scalar, alpha?: number): this {
    const isTensor = x instanceof Tensor;
    lib().inPlace(op, this.#h, isTensor ? x.#h : x === undefined ? undefined : scalar(x), isTensor, alpha);
    return this;
  }

  // ---- autograd ----
  get requiresGrad(): boolean {
    return lib().requiresGrad(this.#h);
  }
  set requiresGrad(flag: boolean) {
    lib().setRequiresGrad(this.#h, flag);
  }
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }
  /** Accumulates gradients into the leaves; a non-scalar tensor needs `gradient` of its own shape. */
  backward(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    lib().backward(this.#h, gradient === undefined ? undefined : handleOf(gradient), opts.retainGraph ?? false);
  }
  /**
   * backward() off the JS thread (on the compute lane): the event loop runs while it computes. Leave the graph's
   * tensors and their gradients alone until it settles; errors are backward()'s, as a rejection.
   */
  async backwardAsync(gradient?: Tensor, opts: { retainGraph?: boolean } = {}): Promise<void> {
    return lib().backwardAsync(this.#h, gradient === undefined ? undefined : handleOf(gradient), opts.retainGraph ?? false);
  }
  /** The accumulated gradient (a new handle each read, sharing memory), or null. Assign null to clear it. */
  get grad(): Tensor | null {
    const g = lib().grad(this.#h);
    return g === null ? null : fromRaw(g);
  }
  set grad(g: Tensor | null) {
    lib().setGrad(this.#h, g === null ? null : handleOf(g));
  }

  // ---- printing ----
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
  [inspect.custom](): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    if (this.isQuantized) return this.#inspectQuantized();
    const preview = this.numel <= 64 ? `${inspect(this.toArray(), { depth: 8, breakLength: 100 })}, ` : '';
    return `tensor(${preview}shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
  // As PyTorch prints one: the dequantized values, then the quantization.
  #inspectQuantized(): string {
    let preview = '';
    if (this.numel <= 64) {
      const real = this.dequantize();
      try {
        preview = `${inspect(real.toArray(), { depth: 8, breakLength: 100 })}, `;
      } finally {
        real.dispose();
      }
    }
    const scheme = this.qscheme();
    let params: string;
    if (scheme === 'per_tensor_affine' || scheme === 'per_tensor_symmetric') {
      params = `scale=${this.qScale()}, zero_point=${this.qZeroPoint()}`;
    } else {
      const scales = this.qPerChannelScales();
      const zeroPoints = this.qPerChannelZeroPoints();
      try {
        const list = (t: Tensor): string => (t.numel <= 16 ? inspect(t.toArray(), { breakLength: Infinity }) : `[${t.numel} values]`);
        params = `scales=${list(scales)}, zero_points=${list(zeroPoints)}, axis=${this.qPerChannelAxis()}`;
      } finally {
        scales.dispose();
        zeroPoints.dispose();
      }
    }
    return `tensor(${preview}shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}, quantization_scheme=${scheme}, ${params})`;
  }
}

function valuesIndices(r: RawTensor | [RawTensor, RawTensor]): Tensor | { values: Tensor; indices: Tensor } {
  return Array.isArray(r) ? { values: fromRaw(r[0]), indices: fromRaw(r[1]) } : fromRaw(r);
}
