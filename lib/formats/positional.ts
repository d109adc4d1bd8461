// Positional reads and writes (pread/pwrite through readSync/writeSync with a position): the file offset is never
// moved, so a reader can jump between a zip's directory and its entries, and a writer can put a tensor's bytes
// at their place straight from the tensor's memory.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

/** readSync and writeSync take at most 2 GiB - 1 at a time. */
const MAX_IO = 1 << 30;

type Fail = (message: string) => Error;
const plainError: Fail = (m) => new Error(m);

/** Bytes that can be read at any offset: a file, a Buffer, or a window of either. */
export interface ByteRange {
  /** The name errors show: the file path, `<buffer>`, or `file.npz:member.npy`. */
  readonly name: string;
  readonly size: number;
  /** Fills `target` with the bytes at `position`; the caller has checked that they lie inside `size`. */
  readInto(position: number, target: Uint8Array): void;
  /**
   * Where native code reads these bytes (straight into tensor memory): an open file's descriptor or a buffer, and
   * the offset in it of this range's first byte.
   */
  nativeSource(): NativeSource;
  close(): void;
}

export interface NativeSource {
  source: number | Uint8Array;
  offset: number;
}

export function readAt(source: ByteRange, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  source.readInto(position, out);
  return out;
}

/** Writes all of `data` at `position` of `fd`; returns the position after it. */
export function writeAt(fd: number, data: Uint8Array, position: number): number {
  for (let done = 0; done < data.byteLength;) {
    const n = writeSync(fd, data, done, Math.min(data.byteLength - done, MAX_IO), position + done);
    // An I/O error (EIO), so that writeFileAtomic names the file it was writing.
    if (n <= 0) throw Object.assign(new Error(`a write at offset ${position + done} wrote nothing`), { code: 'EIO' });
    done += n;
  }
  return position + data.byteLength;
}

export class FileRange implements ByteRange {
  readonly size: number;
  #fd: number | null;

  /** `fail` makes the errors of the format being read (ZipError, NpyError, ...). */
  constructor(readonly name: string, private readonly fail: Fail = plainError) {
    this.#fd = openSync(name, 'r');
    try {
      const stat = fstatSync(this.#fd);
      if (!stat.isFile()) throw fail(`${name}: not a regular file`);
      this.size = stat.size;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  readInto(position: number, target: Uint8Array): void {
    if (this.#fd === null) throw this.fail(`${this.name}: the file is closed`);
    let done = 0;
    while (done < target.byteLength) {
      const n = readSync(this.#fd, target, done, Math.min(target.byteLength - done, MAX_IO), position + done);
      // The file shrank after it was opened: say so rather than leave part of the target unread.
      if (n === 0) throw this.fail(`${this.name}: unexpected end of file at offset ${position + done}`);
      done += n;
    }
  }

  nativeSource(): NativeSource {
    if (this.#fd === null) throw this.fail(`${this.name}: the file is closed`);
    return { source: this.#fd, offset: 0 };
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

export class BufferRange implements ByteRange {
  readonly size: number;
  #buf: Uint8Array | null;

  constructor(buf: Uint8Array, readonly name: string, private readonly fail: Fail = plainError) {
    this.#buf = buf;
    this.size = buf.byteLength;
  }

  readInto(position: number, target: Uint8Array): void {
    if (this.#buf === null) throw this.fail(`${this.name}: the buffer is closed`);
    if (position + target.byteLength > this.size) throw this.fail(`${this.name}: unexpected end of data at offset ${this.size}`);
    target.set(this.#buf.subarray(position, position + target.byteLength));
  }

  nativeSource(): NativeSource {
    if (this.#buf === null) throw this.fail(`${this.name}: the buffer is closed`);
    return { source: this.#buf, offset: 0 };
  }

  close(): void {
    this.#buf = null;
  }
}

/** `length` bytes of another range from `offset` on: a stored zip member, say. Closing it leaves the base open. */
export class SliceRange implements ByteRange {
  constructor(
    private readonly base: ByteRange,
    private readonly offset: number,
    readonly size: number,
    readonly name: string,
    /** Sees every byte read, in the order read (to compute a CRC). */
    private readonly observe?: (bytes: Uint8Array) => void,
  ) {}

  readInto(position: number, target: Uint8Array): void {
    if (position + target.byteLength > this.size) throw new RangeError(`${this.name}: read past its end`);
    this.base.readInto(this.offset + position, target);
    this.observe?.(target);
  }

  /** Native reads are not observed: give a SliceRange with an observer to no native reader. */
  nativeSource(): NativeSource {
    const base = this.base.nativeSource();
    return { source: base.source, offset: base.offset + this.offset };
  }

  close(): void {}
}
