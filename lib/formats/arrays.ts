// How the file formats make and read arrays without knowing what an array is. The formats layer (this folder,
// but for the torch layer's files named in test/imports.test.ts) never imports libtorch: a reader is given an
// ArrayMaker and makes every array through it, a writer is given an ArraySource and reads every array through
// it. The torch layer passes its Tensors' (lib/torch/io/tensor-arrays.ts); with none, readers make plain ArrayRecords
// (records.ts), which is how `lvmtorch inspect` reads a file on a machine with no libtorch.
import { itemSize, type DType, type QuantizedDType } from './dtype.js';

export { itemSize };

/** A quantized array's scheme and parameters, as _rebuild_qtensor gives them (per-channel ones as arrays). */
export type Quantizer<A> =
  | { scheme: 'per_tensor_affine'; scale: number; zeroPoint: number }
  | { scheme: 'per_channel_affine' | 'per_channel_affine_float_qparams'; scales: A; zeroPoints: A; axis: number };

/** What an array is, as readers check it and writers write it. */
export interface ArrayInfo {
  dtype: DType;
  shape: readonly number[];
  requiresGrad: boolean;
  /** A quantized array's scheme ('per_tensor_affine', 'per_channel_affine', ...). */
  qscheme?: string;
}

/** Makes arrays for a reader. Every array it returns the reader either returns or gives back to dispose(). */
export interface ArrayMaker<A> {
  /** Whether a value is one of this maker's arrays. */
  isArray(x: unknown): x is A;
  info(a: A): ArrayInfo;
  /**
   * A new C-order array of `shape`, uninitialised, and a view of its bytes (little-endian) for the reader to fill.
   * A quantized dtype's array is its integers (int8, uint8, int32), as a storage of one holds them.
   */
  empty(shape: number[], dtype: DType): { array: A; bytes: Uint8Array };
  /** A view of base's elements with these sizes, strides and offset (in elements), in bounds. */
  asStrided(base: A, shape: number[], strides: number[], offset: number): A;
  /** A quantized view of base's integers; `checkValues` checks per-channel scales and zero points now. */
  quantizedView(base: A, dtype: QuantizedDType, shape: number[], strides: number[], offset: number, q: Quantizer<A>, checkValues: boolean): A;
  /** Checks a quantized array's per-channel scales and zero points (once their storages are filled). */
  checkQuantizer(a: A): void;
  /** A C-contiguous copy (the array itself when it is one). */
  contiguous(a: A): A;
  /** Sets whether the array requires grad (a Parameter's flag), in place. */
  setRequiresGrad(a: A, flag: boolean): void;
  dispose(a: A): void;
}

/** Reads arrays for a writer. */
export interface ArraySource<A> {
  isArray(x: unknown): x is A;
  info(a: A): ArrayInfo;
  /** Calls `use` with the array's elements as C-order little-endian bytes, valid during the call. */
  withBytes<T>(a: A, use: (bytes: Uint8Array) => T): T;
}

/** Product of the dims, or null when it (or its byte count) is past 2^53: no such array fits in memory. */
export function elementCount(shape: readonly number[], dtype: DType): number | null {
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n * itemSize(dtype)) ? n : null;
}

/** Refuses bool data that is not all 0 and 1: libtorch assumes it is. */
export function checkBools(bytes: Uint8Array, fail: (message: string) => Error): void {
  const bad = bytes.findIndex((b) => b > 1);
  if (bad >= 0) throw fail(`bool element ${bad} holds the byte ${bytes[bad]}, not 0 or 1`);
}

/** Turns big-endian elements into little-endian ones, in place. */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1 || bytes.byteLength === 0) return;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 2) b.swap16();
  else if (size === 4) b.swap32();
  else if (size === 8) b.swap64();
  else throw new RangeError(`cannot swap elements of ${size} bytes`);
}

/** Column-major strides: a Fortran-ordered array is the C order of its reversed shape. */
export function fortranStrides(shape: readonly number[]): number[] {
  const strides: number[] = [];
  let step = 1;
  for (const d of shape) {
    strides.push(step);
    step *= Math.max(d, 1);
  }
  return strides;
}
