// Writes zip archives with positional writes. Stored entries are written straight from the caller's memory: a
// tensor's bytes go to the file with no copy; or the caller writes an entry's data itself where reserve() made
// room for it, and commits its CRC-32 afterwards (saveTorchFile: natively, off the JS thread). Deflated entries
// (for .npz files) are compressed in memory first. Data can be aligned the way PyTorch's writer aligns it
// (caffe2/serialize/inline_container.cc): an extra field "FB" in the local header, padded with 'Z's, so that the
// data starts at a multiple of `align` and can be mapped or read in place.
import { crc32, deflateRawSync } from 'node:zlib';

import { writeAt } from '../positional.js';
import { ZipError } from './error.js';
import { DOS_DATE, DOS_TIME, EXTRA, FLAG, MAX16, MAX32, METHOD, SIG, SIZE } from './format.js';

export interface ZipWriterOptions {
  /** Start each entry's data at a multiple of this many bytes (PyTorch uses 64). Default: no padding. */
  align?: number;
  /** Write ZIP64 records even where the sizes fit in 32 bits (for tests of readers). */
  forceZip64?: boolean;
}

/** An entry ZipWriter.reserve() made room for: its data goes at dataOffset, then commit(crc32) writes its header. */
export interface ReservedEntry {
  readonly dataOffset: number;
  commit(crc32: number): void;
}

export interface ZipAddOptions {
  /** Deflate this entry (alignment then does not apply). Default: stored. */
  compress?: boolean;
}
const VERSION = { plain: 20, zip64: 45 } as const;
const PADDING_ID = 0x4246; // "FB", as PyTorch writes it
const MAX_ALIGN = 0x8000;

interface Written {
  nameBytes: Buffer;
  flags: number;
  method: 0 | 8;
  crc32: number;
  size: number;
  compressedSize: number;
  offset: number;
}

export class ZipWriter {
  readonly #fd: number;
  readonly #align: number;
  readonly #forceZip64: boolean;
  readonly #written: Written[] = [];
  readonly #names = new Set<string>();
  readonly #reserved = new Set<Written>();
  #position = 0;
  #finished = false;

  /** Writes to `fd` from offset 0 on; the caller opens and closes it (see writeFileAtomic). */
  constructor(fd: number, opts: ZipWriterOptions = {}) {
    const align = opts.align ?? 1;
    if (!Number.isInteger(align) || align < 1 || align > MAX_ALIGN) {
      throw new RangeError(`align must be an integer from 1 to ${MAX_ALIGN}, got ${align}`);
    }
    this.#fd = fd;
    this.#align = align;
    this.#forceZip64 = opts.forceZip64 ?? false;
  }

  /** Adds one entry whose bytes are `data`, or the chunks of `data` one after another. */
  add(name: string, data: Uint8Array | Uint8Array[], opts: ZipAddOptions = {}): this {
    if (this.#finished) throw new ZipError(`cannot add '${name}': the zip archive is already finished`);
    const chunks = Array.isArray(data) ? data : [data];
    const nameBytes = this.#checkName(name);
    let size = 0;
    let crc = 0;
    for (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError(`data of '${name}' must be Uint8Arrays`);
      size += chunk.byteLength;
      crc = crc32(chunk, crc);
    }
    const flags = /^[\x00-\x7f]*$/.test(name) ? 0 : FLAG.utf8;
    const payload = opts.compress ? [deflateRawSync(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))] : chunks;
    const w: Written = {
      nameBytes, flags, method: opts.compress ? METHOD.deflated : METHOD.stored, crc32: crc >>> 0, size,
      compressedSize: opts.compress ? payload[0].byteLength : size, offset: this.#position,
    };
    this.#write(this.#localHeader(w));
    for (const chunk of payload) this.#write(chunk);
    this.#written.push(w);
    return this;
  }

  /**
   * Adds a stored entry of `size` bytes that the caller writes itself, at `dataOffset` of the fd (from memory of
   * its own, on another thread, say), then calls `commit(crc32)` with their CRC-32, which writes the entry's local
   * header. finish() refuses an archive with an entry reserved and never committed.
   */
  reserve(name: string, size: number): ReservedEntry {
    if (this.#finished) throw new ZipError(`cannot add '${name}': the zip archive is already finished`);
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`the size of '${name}' must be an integer >= 0, got ${size}`);
    const nameBytes = this.#checkName(name);
    const flags = /^[\x00-\x7f]*$/.test(name) ? 0 : FLAG.utf8;
    const w: Written = { nameBytes, flags, method: METHOD.stored, crc32: 0, size, compressedSize: size, offset: this.#position };
    const dataOffset = w.offset + this.#localHeader(w).length; // the header's length does not depend on the CRC
    this.#position = dataOffset + size;
    this.#written.push(w);
    this.#reserved.add(w);
    return {
      dataOffset,
      commit: (crc: number) => {
        if (!this.#reserved.delete(w)) throw new ZipError(`entry '${name}' is already committed`);
        w.crc32 = crc >>> 0;
        writeAt(this.#fd, this.#localHeader(w), w.offset);
      },
    };
  }

  /** Writes the central directory and the end records. The caller still closes the fd. */
  finish(): void {
    if (this.#finished) throw new ZipError('the zip archive is already finished');
    if (this.#reserved.size > 0) {
      const names = [...this.#reserved].map((w) => `'${w.nameBytes.toString('utf8')}'`);
      throw new ZipError(`entries ${names.join(', ')} were reserved and never committed`);
    }
    this.#finished = true;
    const cdOffset = this.#position;
    const cd = Buffer.concat(this.#written.map((w) => this.#centralHeader(w)));
    this.#write(cd);
    const count = this.#written.length;
    const zip64 = this.#forceZip64 || count >= MAX16 || cdOffset >= MAX32 || cd.length >= MAX32;
    if (zip64) this.#write(zip64End(count, cd.length, cdOffset, this.#position));
    const end = Buffer.alloc(SIZE.end);
    end.writeUInt32LE(SIG.end, 0);
    end.writeUInt16LE(zip64 ? MAX16 : count, 8);
    end.writeUInt16LE(zip64 ? MAX16 : count, 10);
    end.writeUInt32LE(zip64 ? MAX32 : cd.length, 12);
    end.writeUInt32LE(zip64 ? MAX32 : cdOffset, 16);
    this.#write(end);
  }

  #checkName(name: string): Buffer {
    if (typeof name !== 'string' || name === '') throw new TypeError(`a zip entry name must be a non-empty string`);
    if (this.#names.has(name)) throw new ZipError(`duplicate zip entry name '${name}'`);
    const bytes = Buffer.from(name, 'utf8');
    if (bytes.length > MAX16) throw new ZipError(`zip entry name '${name.slice(0, 40)}...' is longer than 65535 bytes`);
    this.#names.add(name);
    return bytes;
  }

  #localHeader(w: Written): Buffer {
    const { nameBytes } = w;
    const zip64 = this.#forceZip64 || w.size >= MAX32 || w.compressedSize >= MAX32;
    const zip64Extra = zip64 ? 4 + 16 : 0;
    const padded = this.#align > 1 && w.method === METHOD.stored;
    const dataStart = w.offset + SIZE.localHeader + nameBytes.length + zip64Extra + (padded ? 4 : 0);
    const padding = padded ? (this.#align - (dataStart % this.#align)) % this.#align : 0;
    const extraLength = zip64Extra + (padded ? 4 + padding : 0);
    const h = Buffer.alloc(SIZE.localHeader + nameBytes.length + extraLength);
    h.writeUInt32LE(SIG.localHeader, 0);
    h.writeUInt16LE(zip64 ? VERSION.zip64 : VERSION.plain, 4);
    h.writeUInt16LE(w.flags, 6);
    h.writeUInt16LE(w.method, 8);
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    h.writeUInt32LE(w.crc32, 14);
    h.writeUInt32LE(zip64 ? MAX32 : w.compressedSize, 18);
    h.writeUInt32LE(zip64 ? MAX32 : w.size, 22);
    h.writeUInt16LE(nameBytes.length, 26);
    h.writeUInt16LE(extraLength, 28);
    let p = SIZE.localHeader + nameBytes.copy(h, SIZE.localHeader);
    if (zip64) p = writeZip64Extra(h, p, [w.size, w.compressedSize]);
    if (padded) {
      h.writeUInt16LE(PADDING_ID, p);
      h.writeUInt16LE(padding, p + 2);
      h.fill('Z', p + 4, p + 4 + padding);
    }
    return h;
  }

  #centralHeader(w: Written): Buffer {
    const bigSize = this.#forceZip64 || w.size >= MAX32 || w.compressedSize >= MAX32;
    const bigOffset = this.#forceZip64 || w.offset >= MAX32;
    const zip64Fields = [...(bigSize ? [w.size, w.compressedSize] : []), ...(bigOffset ? [w.offset] : [])];
    const extraLength = zip64Fields.length ? 4 + 8 * zip64Fields.length : 0;
    const version = zip64Fields.length ? VERSION.zip64 : VERSION.plain;
    const h = Buffer.alloc(SIZE.centralHeader + w.nameBytes.length + extraLength);
    h.writeUInt32LE(SIG.centralHeader, 0);
    h.writeUInt16LE(version, 4); // made by MS-DOS: no Unix permissions to get wrong
    h.writeUInt16LE(version, 6);
    h.writeUInt16LE(w.flags, 8);
    h.writeUInt16LE(w.method, 10);
    h.writeUInt16LE(DOS_TIME, 12);
    h.writeUInt16LE(DOS_DATE, 14);
    h.writeUInt32LE(w.crc32, 16);
    h.writeUInt32LE(bigSize ? MAX32 : w.compressedSize, 20);
    h.writeUInt32LE(bigSize ? MAX32 : w.size, 24);
    h.writeUInt16LE(w.nameBytes.length, 28);
    h.writeUInt16LE(extraLength, 30);
    h.writeUInt32LE(bigOffset ? MAX32 : w.offset, 42);
    const p = SIZE.centralHeader + w.nameBytes.copy(h, SIZE.centralHeader);
    if (zip64Fields.length) writeZip64Extra(h, p, zip64Fields);
    return h;
  }

  #write(data: Uint8Array): void {
    this.#position = writeAt(this.#fd, data, this.#position);
  }
}

function writeZip64Extra(h: Buffer, at: number, values: number[]): number {
  h.writeUInt16LE(EXTRA.zip64, at);
  h.writeUInt16LE(8 * values.length, at + 2);
  values.forEach((v, i) => h.writeBigUInt64LE(BigInt(v), at + 4 + 8 * i));
  return at + 4 + 8 * values.length;
}

/** The ZIP64 end of central directory record and its locator. */
function zip64End(count: number, cdSize: number, cdOffset: number, at: number): Buffer {
  const b = Buffer.alloc(SIZE.zip64End + SIZE.zip64Locator);
  b.writeUInt32LE(SIG.zip64End, 0);
  b.writeBigUInt64LE(BigInt(SIZE.zip64End - 12), 4); // the record's size, less its first 12 bytes
  b.writeUInt16LE(VERSION.zip64, 12);
  b.writeUInt16LE(VERSION.zip64, 14);
  b.writeBigUInt64LE(BigInt(count), 24);
  b.writeBigUInt64LE(BigInt(count), 32);
  b.writeBigUInt64LE(BigInt(cdSize), 40);
  b.writeBigUInt64LE(BigInt(cdOffset), 48);
  const l = SIZE.zip64End;
  b.writeUInt32LE(SIG.zip64Locator, l);
  b.writeBigUInt64LE(BigInt(at), l + 8);
  b.writeUInt32LE(1, l + 16); // total number of disks
  return b;
}
