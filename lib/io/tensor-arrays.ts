// A tensor's memory as bytes, for file readers and writers: readers fill a new tensor in place, writers write a
// tensor's elements from where they lie. Only a non-contiguous or non-CPU tensor is copied.
import type { DType } from '../dtype.js';
import { native } from '../native.js';
import { rawOf, type Tensor } from '../tensor.js';
import * as torch from '../torch.js';

const ITEM_SIZE: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
  qint8: 1, quint8: 1, qint32: 4,
};

export function itemSize(dtype: DType): number {
  return ITEM_SIZE[dtype];
}

/** Product of the dims, or null when it (or its byte count) is past 2^53: no such array fits in memory. */
export function elementCount(shape: readonly number[], dtype: DType): number | null {
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n * itemSize(dtype)) ? n : null;
}

/** A new uninitialised CPU tensor and a byte view of its memory, for the caller to fill. */
export function emptyWithBytes(shape: number[], dtype: DType): { tensor: Tensor; bytes: Uint8Array } {
  const tensor = torch.empty(shape, { dtype });
  return { tensor, bytes: bytesOf(tensor) };
}

/**
 * Calls `use` with the tensor's elements as C-order bytes (little-endian, as libtorch keeps them on every platform
 * it runs on here). The bytes are the tensor's own memory when it is a contiguous CPU tensor, else a copy that is
 * freed afterwards; either way they are valid only during the call.
 */
export function withTensorBytes<T>(t: Tensor, use: (bytes: Uint8Array) => T): T {
  const cpu = t.device === 'cpu' ? t : t.to('cpu');
  const flat = cpu.contiguous(); // a new handle on the same memory when already contiguous
  try {
    return use(bytesOf(flat));
  } finally {
    flat.dispose();
    if (cpu !== t) cpu.dispose();
  }
}

/** The bytes of a contiguous CPU tensor's elements (not the whole storage it may view). */
function bytesOf(t: Tensor): Uint8Array {
  const size = itemSize(t.dtype);
  if (t.numel === 0) return new Uint8Array(0);
  const storage = native().storageView(rawOf(t));
  return new Uint8Array(storage, t.storageOffset() * size, t.numel * size);
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
