// The `torch` namespace of the package: making tensors, the functions PyTorch has at module level, grad mode,
// memory scopes, seeds and threads.
import { dtypeCode, dtypeOfArray, itemSize, parseDType, type DType, type TypedArray } from '../formats/dtype.js';
import { parseDevice, type Device } from './device.js';
import { native } from './native.js';
import { keep, tidy } from './scope.js';
import { fromRaw, rawOf, Tensor, type NestedArray, type Scalar } from './tensor.js';

export { cuda } from './device.js';
export * as linalg from './linalg.js';
export {
  quantizePerTensor, quantizePerChannel, makePerTensorQuantizedTensor, makePerChannelQuantizedTensor,
} from './quantize.js';
export { Tensor } from './tensor.js';
export type { DType, QuantizedDType } from '../formats/dtype.js';
export type { QScheme } from '../formats/dtype.js';
export type { Device } from './device.js';
export { tidy, keep };

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
}

export interface TensorDataOptions extends TensorOptions {
  /** The shape to give flat data; by default a TypedArray or Buffer is 1-d and nested arrays give their own. */
  shape?: number[];
}

function optionCodes(opts: TensorOptions = {}): [number | undefined, string | undefined] {
  return [
    opts.dtype === undefined ? undefined : dtypeCode(parseDType(opts.dtype)),
    opts.device === undefined ? undefined : parseDevice(opts.device),
  ];
}

// As Node's own checks: a wrong type is a TypeError, a number out of range (-1, 2.5, NaN) a RangeError.
function checkShape(shape: unknown, what = 'shape'): number[] {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${what} must be an array of non-negative integers, got ${shape === null ? 'null' : typeof shape}`);
  }
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number') {
      const got = typeof d === 'string' ? `the string ${JSON.stringify(d)}` : typeof d;
      throw new TypeError(`${what}[${i}] must be a number, got ${got}`);
    }
    if (!Number.isInteger(d) || d < 0) {
      const all = shape.map(String).join(', ');
      throw new RangeError(`${what}[${i}] must be a non-negative integer, got ${d} (${what} [${all}])`);
    }
  }
  return shape;
}

/**
 * A new tensor holding a copy of `data`:
 * - a TypedArray gives its own dtype (Float32Array -> float32, BigInt64Array -> int64, ...);
 * - a Buffer or ArrayBuffer is raw little-endian bytes of `dtype` (float32 unless given);
 * - nested arrays of numbers give float32 when any is fractional, int64 when all are integers (as Python ints),
 *   bool for booleans; a number gives a 0-d tensor.
 * `dtype` converts, `shape` reshapes flat data, `device` moves it.
 */
export function tensor(data: TypedArray | Buffer | ArrayBuffer | NestedArray | bigint[], opts: TensorDataOptions = {}): Tensor {
  let target = opts.dtype === undefined ? undefined : parseDType(opts.dtype);
  const device = opts.device === undefined ? undefined : parseDevice(opts.device);
  let bytes: ArrayBufferView;
  let dtype: DType;
  let shape: number[];
  if (Buffer.isBuffer(data) || data instanceof ArrayBuffer) {
    dtype = target ?? 'float32';
    bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    const size = itemSize(dtype);
    if (bytes.byteLength % size !== 0) {
      throw new RangeError(`a buffer of ${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
    }
    shape = opts.shape ?? [bytes.byteLength / size];
  } else if (ArrayBuffer.isView(data)) {
    const own = dtypeOfArray(data);
    if (own === null) {
      if (target !== 'float16' && target !== 'bfloat16') {
        throw new TypeError(`a ${data.constructor.name} is only read as raw float16 or bfloat16 bits: pass dtype`);
      }
      dtype = target;
    } else {
      dtype = own;
    }
    bytes = data;
    shape = opts.shape ?? [(data as TypedArray).length];
  } else {
    const flat = flatten(data);
    dtype = flat.dtype;
    bytes = flat.values;
    shape = opts.shape ?? flat.shape;
    // Fractions come as float64 (JS numbers, as Python floats), so that dtype float64 keeps every digit; they are
    // float32 unless a dtype is given, rounded once, as torch.tensor([0.1]).
    if (dtype === 'float64') target ??= 'float32';
  }
  checkShape(shape);
  const raw = native().fromData(bytes, dtypeCode(dtype), shape, undefined);
  let out = fromRaw(raw);
  if ((target !== undefined && target !== dtype) || (device !== undefined && device !== 'cpu')) {
    const moved = out.to({ dtype: target, device });
    out.dispose();
    out = moved;
  }
  return out;
}

// Nested JS arrays -> one flat typed array, its shape and the dtype PyTorch would infer.
function flatten(data: unknown): { values: TypedArray; shape: number[]; dtype: DType } {
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) {
    shape.push(level.length);
    if (level.length === 0) break;
  }
  const leaves: unknown[] = [];
  const walk = (value: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(value)) throw new RangeError(`${path} is an array, but the data has ${shape.length} dims there`);
      leaves.push(value);
      return;
    }
    if (!Array.isArray(value)) throw new RangeError(`${path} is not an array, but the data has ${shape.length} dims`);
    if (value.length !== shape[depth]) {
      throw new RangeError(`${path} has length ${value.length}, expected ${shape[depth]} (the data must be rectangular)`);
    }
    value.forEach((v, i) => walk(v, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, 'data');
  if (leaves.length > 0 && leaves.every((v) => typeof v === 'bigint')) {
    return { values: BigInt64Array.from(leaves as bigint[]), shape, dtype: 'int64' };
  }
  if (leaves.every((v) => typeof v === 'boolean')) {
    return { values: Uint8Array.from(leaves as boolean[], (b) => (b ? 1 : 0)), shape, dtype: leaves.length ? 'bool' : 'float32' };
  }
  leaves.forEach((v, i) => {
    if (typeof v !== 'number') throw new TypeError(`element ${i} of the data is ${typeof v}, not a number`);
  });
  const numbers = leaves as number[];
  if (numbers.every((v) => Number.isSafeInteger(v))) {
    return { values: BigInt64Array.from(numbers, (v) => BigInt(v)), shape, dtype: 'int64' };
  }
  return { values: Float64Array.from(numbers), shape, dtype: 'float64' };
}

function factory(make: (shape: number[], dtype?: number, device?: string) => ReturnType<typeof rawOf>) {
  return (shape: number[], opts: TensorOptions = {}): Tensor => fromRaw(make(checkShape(shape), ...optionCodes(opts)));
}

export const zeros = factory((s, d, dev) => native().zeros(s, d, dev));
/** Uninitialised memory: for code that writes every element itself. */
export const empty = factory((s, d, dev) => native().empty(s, d, dev));
export const ones = factory((s, d, dev) => native().ones(s, d, dev));
/** Standard normal samples, from the generator that manualSeed() seeds. */
export const randn = factory((s, d, dev) => native().randn(s, d, dev));
/** Uniform samples in [0, 1). */
export const rand = factory((s, d, dev) => native().rand(s, d, dev));

/** Filled with `value`; float32 unless a dtype is given (JS cannot tell 2 from 2.0), bool for a boolean. */
export function full(shape: number[], value: Scalar, opts: TensorOptions = {}): Tensor {
  // A boolean is unambiguous, and torch.full(shape, True) is a bool tensor.
  const dtype = opts.dtype ?? (typeof value === 'boolean' ? 'bool' : undefined);
  return fromRaw(native().full(checkShape(shape), value, ...optionCodes({ ...opts, dtype })));
}

/** `arange(end)` or `arange(start, end, step?)`; int64 when all are integers, as torch.arange. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  return fromRaw(native().arange(from, to, step, ...optionCodes(opts)));
}

export function eye(n: number, m?: number, opts: TensorOptions = {}): Tensor {
  return fromRaw(native().eye(n, m, ...optionCodes(opts)));
}

export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros([...t.shape], { dtype: t.dtype, device: t.device, ...opts });
}

export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return ones([...t.shape], { dtype: t.dtype, device: t.device, ...opts });
}

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return fromRaw(native().cat(rawList(tensors, 'cat'), dim));
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  return fromRaw(native().stack(rawList(tensors, 'stack'), dim));
}

function rawList(tensors: Tensor[], what: string) {
  if (!Array.isArray(tensors)) throw new TypeError(`${what}() takes an array of Tensors`);
  return tensors.map(rawOf);
}

export function where(condition: Tensor, input: Tensor, other: Tensor): Tensor {
  return fromRaw(native().where(rawOf(condition), rawOf(input), rawOf(other)));
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}

/** torch.topk(t, k, dim, largest, sorted): see Tensor.topk(). */
export function topk(t: Tensor, k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
  return t.topk(k, dim, largest, sorted);
}

export function softmax(t: Tensor, dim: number): Tensor {
  return t.softmax(dim);
}

export function logSoftmax(t: Tensor, dim: number): Tensor {
  return t.logSoftmax(dim);
}

export function logsumexp(t: Tensor, dim: number | number[], keepdim = false): Tensor {
  return t.logsumexp(dim, keepdim);
}

/** As `torch.nn.functional.normalize(input, p=2, dim=1, eps=1e-12)`. */
export function normalize(t: Tensor, opts: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  return t.normalize(opts);
}

/** As `torch.nn.functional.cosine_similarity(x1, x2, dim=1, eps=1e-8)`. */
export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  return x1.cosineSimilarity(x2, dim, eps);
}

/** Seeds the CPU and CUDA generators, as torch.manual_seed. */
export function manualSeed(seed: number): void {
  native().manualSeed(seed);
}

/** Runs fn with gradient tracking off, as `with torch.no_grad():`. fn must be synchronous. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return native().isGradEnabled();
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const lib = native();
  const before = lib.isGradEnabled();
  lib.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError('noGrad()/enableGrad() take a synchronous function: grad mode cannot follow an await');
    }
    return result;
  } finally {
    lib.setGradEnabled(before);
  }
}

/** Live native tensors (neither disposed nor collected) and the bytes their storages hold. */
export function memory(): { tensors: number; bytes: number } {
  return native().liveTensors();
}

/** libtorch's intra-op (OpenMP) threads. */
export function getNumThreads(): number {
  return native().getNumThreads();
}

export function setNumThreads(n: number): void {
  native().setNumThreads(n);
}

/** The BLAS library's own threads (OpenBLAS or MKL), a pool apart from libtorch's. False if neither is loaded. */
export function setBlasThreads(n: number): boolean {
  return native().setBlasThreads(n);
}
