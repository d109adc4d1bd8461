// Tensor storages to and from files, natively (native/torch/storage_io.cc, native/torch/mapped_file.cc): every storage of a
// file is read into (or written from) its tensor's own memory in one native call, with its CRC-32 checked or
// computed there, optionally off the JS thread; or a file is mapped and its storages are views of the mapping.
// No JS buffer views tensor memory on the way (an ArrayBuffer over a storage would keep it alive until the GC).
import { availableParallelism } from 'node:os';
import { getSystemErrorMap } from 'node:util';

import { dtypeCode, isQuantizedDType, underlyingDType, type DType } from '../../formats/dtype.js';
import { native, type FileMapping } from '../native.js';
import { fromRaw, rawOf, type Tensor } from '../tensor.js';

/** One storage to fill: its first `nbytes` bytes from `position` of the source, checked against `crc32` if given. */
export interface StorageRead {
  tensor: Tensor;
  position: number;
  nbytes: number;
  crc32: number | null;
}

/** One storage to write: its first `nbytes` bytes at `position` of the file. */
export interface StorageWrite {
  tensor: Tensor;
  position: number;
  nbytes: number;
}

/** The first read that failed: the source ended at `value` ('eof'), or the bytes have CRC-32 `value` ('crc'). */
export interface ReadFailure {
  index: number;
  kind: 'eof' | 'crc';
  value: number;
}

// Reads and writes of large files run on two threads (native/torch/storage_io.cc splits the work only past a few MB:
// the copy from the page cache is bound by one core's memory bandwidth) where there are two cores and
// torch.setNumThreads allows two: that setting says how many cores lvmtorch may keep busy.
function ioThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism(), native().getNumThreads()));
}

/** Fills the storages from a file descriptor or a buffer, on this thread. */
export function readStoragesSync(source: number | Uint8Array, reads: StorageRead[]): ReadFailure | null {
  if (reads.length === 0) return null;
  return failure(native().readStorages(source, reads.map((r) => rawOf(r.tensor)), readPlaces(reads), ioThreads()));
}

/** Fills the storages from a file descriptor, off the JS thread; the fd must stay open until this settles. */
export async function readStorages(fd: number, reads: StorageRead[]): Promise<ReadFailure | null> {
  if (reads.length === 0) return null;
  return failure(await native().readStoragesAsync(fd, reads.map((r) => rawOf(r.tensor)), readPlaces(reads), ioThreads()));
}

/**
 * Writes the storages at their positions, off the JS thread, starting the disk's writeback as it goes; gives each
 * record's CRC-32. The fd must stay open until this settles.
 */
export async function writeStorages(fd: number, writes: StorageWrite[]): Promise<number[]> {
  if (writes.length === 0) return [];
  const places = new Float64Array(writes.length * 2);
  writes.forEach((w, i) => {
    places[2 * i] = w.position;
    places[2 * i + 1] = w.nbytes;
  });
  try {
    return await native().writeStorages(fd, writes.map((w) => rawOf(w.tensor)), places, ioThreads());
  } catch (e) {
    throw withErrnoCode(e);
  }
}

// The native writer fails with "write at offset N: <strerror>" (or "a write at offset N wrote nothing") and code
// ERR_TORCH: give it the system error's code (ENOSPC, EDQUOT, EFBIG, ...; EIO where the text is not one libuv
// knows), as Node's own writes have, so that callers can test it and writeFileAtomic names the file.
function withErrnoCode(e: unknown): unknown {
  const m = e instanceof Error ? /^(?:a )?write at offset \d+(?:: (.*)| wrote nothing)$/.exec(e.message) : null;
  if (!m) return e;
  const text = m[1]?.toLowerCase();
  let code = 'EIO';
  let errno: number | undefined;
  if (text !== undefined) {
    for (const [n, [name, message]] of getSystemErrorMap()) {
      if (message.toLowerCase() === text) {
        code = name;
        errno = n;
        break;
      }
    }
  }
  return Object.assign(e as Error, { code, syscall: 'write', ...(errno !== undefined && { errno }) });
}

/** The CRC-32 of the first `nbytes` bytes of t's storage. */
export function storageCrc32(t: Tensor, nbytes: number): number {
  return native().storageCrc32(rawOf(t), nbytes);
}

/**
 * An open file mapped into memory, private and copy-on-write: storage() makes tensors over its bytes, and the
 * mapping lasts until release() and the last of those tensors is gone.
 */
export class MappedFile {
  #handle: FileMapping | null;

  constructor(fd: number, size: number) {
    this.#handle = native().mapFile(fd, size);
  }

  /**
   * A flat tensor of nbytes / itemsize elements over the bytes at `offset`, a multiple of the item size (a
   * quantized dtype's storage: its integers).
   */
  storage(offset: number, nbytes: number, dtype: DType): Tensor {
    if (this.#handle === null) throw new Error('the file mapping was released');
    const flat = isQuantizedDType(dtype) ? underlyingDType(dtype) : dtype;
    return fromRaw(native().mappedStorage(this.#handle, offset, nbytes, dtypeCode(flat)));
  }

  release(): void {
    if (this.#handle !== null) native().mappingRelease(this.#handle);
    this.#handle = null;
  }
}

/** The file mappings alive in this process (those of tensors loaded with `mmap: true`) and the bytes they map. */
export function mappedFiles(): { mappings: number; bytes: number } {
  native().flushDisposed(); // dispose() may queue a tensor for the next native call (lib/torch/lifetime.ts)
  return native().mappedFiles();
}

/**
 * Runs `fn` with the native memory reports to V8 held (native/core/handle.cc, holdMemoryReports): a file reader or
 * writer makes hundreds of tensors at once, and reported one by one each step past V8's external memory limit
 * costs a 5-10 ms marking step on this thread. V8 hears the net growth once, at the end.
 */
export function withReportsHeld<T>(fn: () => T): T {
  native().holdMemoryReports(true);
  try {
    return fn();
  } finally {
    native().holdMemoryReports(false);
  }
}

/**
 * withReportsHeld for async work: V8 hears the net growth on the next turn of the event loop, once the caller has
 * its result (the report may start a GC: the GC then runs after the caller's await, not inside it).
 */
export async function withReportsHeldAsync<T>(fn: () => Promise<T>): Promise<T> {
  native().holdMemoryReports(true);
  try {
    return await fn();
  } finally {
    setImmediate(() => native().holdMemoryReports(false));
  }
}

function readPlaces(reads: StorageRead[]): Float64Array {
  const places = new Float64Array(reads.length * 3);
  reads.forEach((r, i) => {
    places[3 * i] = r.position;
    places[3 * i + 1] = r.nbytes;
    places[3 * i + 2] = r.crc32 === null ? -1 : r.crc32 >>> 0;
  });
  return places;
}

function failure(f: [number, 'eof' | 'crc', number] | null): ReadFailure | null {
  return f === null ? null : { index: f[0], kind: f[1], value: f[2] };
}
