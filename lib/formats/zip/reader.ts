// Reads zip archives: the central directory when opened, an entry's bytes when asked for. Every size and offset
// is checked against the file before it is used, so a corrupt or hostile archive ends in a ZipError, never in a
// huge allocation or a read outside the file.
import { constants as bufferConstants } from 'node:buffer';
import { crc32, inflateRawSync } from 'node:zlib';

import { ZipError } from './error.js';
import { decodeCp437, EXTRA, FLAG, MAX16, MAX32, METHOD, safeNumber, SIG, SIZE } from './format.js';
import { BufferRange, FileRange, readAt, type ByteRange, type NativeSource } from '../positional.js';

export interface ZipEntry {
  readonly name: string;
  /** Bytes once uncompressed. */
  readonly size: number;
  readonly compressedSize: number;
  /** 0 stored, 8 deflated. */
  readonly method: 0 | 8;
  readonly crc32: number;
  /** Absolute offset of the entry's (compressed) data in the file; read from its local header on first use. */
  readonly dataOffset: number;
}

/** Deflate cannot expand data more than about 1032 times; a declared size beyond that is a lie. */
const MAX_DEFLATE_RATIO = 1032;
/** How much of a local header's extra field #locate reads with the header itself. */
const LOCAL_EXTRA_GUESS = 128;

const utf8 = new TextDecoder('utf-8', { fatal: true });

interface CentralRecord {
  name: string;
  nameBytes: Buffer;
  size: number;
  compressedSize: number;
  method: 0 | 8;
  crc32: number;
  headerOffset: number;
}

class Entry implements ZipEntry {
  readonly name: string;
  readonly size: number;
  readonly compressedSize: number;
  readonly method: 0 | 8;
  readonly crc32: number;
  /** @internal */ readonly headerOffset: number;
  /** @internal */ readonly nameBytes: Buffer;
  /** @internal Where the next local header (or the central directory) starts: the data must end before it. */
  limit = 0;
  #dataOffset: number | undefined;
  readonly #locate: (e: Entry) => number;

  constructor(r: CentralRecord, locate: (e: Entry) => number) {
    this.name = r.name;
    this.size = r.size;
    this.compressedSize = r.compressedSize;
    this.method = r.method;
    this.crc32 = r.crc32;
    this.headerOffset = r.headerOffset;
    this.nameBytes = r.nameBytes;
    this.#locate = locate;
  }

  get dataOffset(): number {
    return (this.#dataOffset ??= this.#locate(this));
  }

  toJSON(): object {
    const { name, size, compressedSize, method, crc32 } = this;
    return { name, size, compressedSize, method, crc32 };
  }
}

export class ZipReader implements Disposable {
  readonly entries: ZipEntry[];
  readonly #source: ByteRange;
  readonly #byName = new Map<string, Entry>();

  /** Opens a zip file and reads its central directory (not the rest of the file). */
  static open(path: string): ZipReader {
    const source = new FileRange(path, (m) => new ZipError(m));
    try {
      return new ZipReader(source);
    } catch (e) {
      source.close();
      throw e;
    }
  }

  static fromBuffer(buf: Uint8Array, name = '<buffer>'): ZipReader {
    return new ZipReader(new BufferRange(buf, name, (m) => new ZipError(m)));
  }

  private constructor(source: ByteRange) {
    this.#source = source;
    const end = readEnd(source);
    const records = readCentralDirectory(source, end);
    const entries = records.map((r) => new Entry(r, (e) => this.#locate(e)));
    for (const e of entries) {
      if (this.#byName.has(e.name)) throw this.#error(`duplicate entry name '${e.name}'`);
      this.#byName.set(e.name, e);
    }
    setLimits(entries, end.cdOffset, (msg) => this.#error(msg));
    this.entries = entries;
  }

  entry(name: string): ZipEntry | undefined {
    return this.#byName.get(name);
  }

  /** The entry's bytes, uncompressed and CRC-checked. */
  read(name: string | ZipEntry): Buffer {
    const e = this.#find(name);
    if (e.method === METHOD.deflated) return this.#checked(e, this.#inflate(e));
    const out = Buffer.allocUnsafe(e.size);
    this.#readStored(e, out);
    return out;
  }

  /** Reads the entry straight into `target` (a tensor's memory, say), which must be exactly its size. */
  readInto(name: string | ZipEntry, target: Uint8Array): void {
    const e = this.#find(name);
    if (target.byteLength !== e.size) {
      throw this.#error(`entry '${e.name}' holds ${e.size} bytes, the target ${target.byteLength}`);
    }
    if (e.method === METHOD.deflated) target.set(this.#checked(e, this.#inflate(e)));
    else this.#readStored(e, target);
  }

  /** The archive's size in bytes. */
  get size(): number {
    return this.#source.size;
  }

  /** @internal Where native readers find the archive's bytes (see ByteRange.nativeSource). */
  nativeSource(): NativeSource {
    return this.#source.nativeSource();
  }

  /**
   * Where a stored entry's bytes lie in the archive, for a reader that fills memory of its own with them (a
   * tensor's, natively) or maps them: the offset of its data, checked against its local header as read() checks
   * it, and the CRC-32 they must have (crcError() words a mismatch as read() does). null for a deflated entry:
   * read() that one.
   */
  storedData(name: string | ZipEntry): { offset: number; size: number; crc32: number } | null {
    const e = this.#find(name);
    if (e.method !== METHOD.stored) return null;
    return { offset: e.dataOffset, size: e.size, crc32: e.crc32 };
  }

  /** The error read() throws when an entry's bytes fail their CRC-32 check (`computed` is their CRC). */
  crcError(name: string | ZipEntry, computed: number): ZipError {
    const e = this.#find(name);
    return this.#error(`entry '${e.name}' fails its CRC-32 check (stored ${hex(e.crc32)}, computed ${hex(computed >>> 0)})`);
  }

  /** The error read() throws when the archive ends before an entry's data does (it shrank after it was opened). */
  endError(offset: number): ZipError {
    return this.#error(`unexpected end of ${this.#source instanceof FileRange ? 'file' : 'data'} at offset ${offset}`);
  }

  close(): void {
    this.#source.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #find(name: string | ZipEntry): Entry {
    const key = typeof name === 'string' ? name : name?.name;
    const e = typeof key === 'string' ? this.#byName.get(key) : undefined;
    if (!e) throw this.#error(`no entry named '${String(key)}'`);
    return e;
  }

  #readStored(e: Entry, target: Uint8Array): void {
    this.#source.readInto(e.dataOffset, target);
    this.#checked(e, target);
  }

  #inflate(e: Entry): Buffer {
    if (e.size > bufferConstants.MAX_LENGTH) {
      throw this.#error(`entry '${e.name}' is too large to inflate in memory (${e.size} bytes)`);
    }
    const compressed = readAt(this.#source, e.dataOffset, e.compressedSize);
    let out: Buffer;
    try {
      // maxOutputLength stops a zip bomb at its declared size instead of at the end of memory.
      out = inflateRawSync(compressed, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        throw this.#error(`entry '${e.name}' inflates to more than its declared size of ${e.size} bytes`);
      }
      throw this.#error(`entry '${e.name}' has corrupt deflate data: ${(err as Error).message}`);
    }
    if (out.length !== e.size) {
      throw this.#error(`entry '${e.name}' inflates to ${out.length} bytes, its header declares ${e.size}`);
    }
    return out;
  }

  #checked<T extends Uint8Array>(e: Entry, data: T): T {
    const actual = crc32(data) >>> 0;
    if (actual !== e.crc32) throw this.crcError(e, actual);
    return data;
  }

  /** Reads the entry's local header, checks it against the central one and returns where its data starts. */
  #locate(e: Entry): number {
    const at = e.headerOffset;
    const where = `entry '${e.name}' (local header at offset ${at})`;
    // One read for the header, its name and (usually) its extra field: the name is as long as the central
    // directory's, and the extra field of PyTorch's alignment padding is under 128 bytes.
    const guess = Math.min(SIZE.localHeader + e.nameBytes.length + LOCAL_EXTRA_GUESS, e.limit - at);
    const first = readAt(this.#source, at, Math.max(guess, Math.min(SIZE.localHeader, this.#source.size - at)));
    if (first.length < SIZE.localHeader) throw this.#error(`${where}: no local header signature`);
    const h = first.subarray(0, SIZE.localHeader);
    if (h.readUInt32LE(0) !== SIG.localHeader) throw this.#error(`${where}: no local header signature`);
    const flags = h.readUInt16LE(6);
    const method = h.readUInt16LE(8);
    const nameLength = h.readUInt16LE(26);
    const extraLength = h.readUInt16LE(28);
    const dataOffset = at + SIZE.localHeader + nameLength + extraLength;
    if (dataOffset + e.compressedSize > e.limit) {
      throw this.#error(`${where}: its data (${e.compressedSize} bytes at offset ${dataOffset}) runs past ` +
        `offset ${e.limit}, where the next record starts`);
    }
    const tail = SIZE.localHeader + nameLength + extraLength <= first.length
      ? first.subarray(SIZE.localHeader, SIZE.localHeader + nameLength + extraLength)
      : readAt(this.#source, at + SIZE.localHeader, nameLength + extraLength);
    if (method !== e.method) throw this.#error(`${where}: method ${method} differs from the central directory's ${e.method}`);
    if (!tail.subarray(0, nameLength).equals(e.nameBytes)) {
      throw this.#error(`${where}: its name differs from the central directory's`);
    }
    // With a data descriptor the local CRC and sizes are zeros and the central directory's are the real ones.
    if (!(flags & FLAG.dataDescriptor)) checkLocalSizes(e, h, tail.subarray(nameLength), (m) => this.#error(`${where}: ${m}`));
    return dataOffset;
  }

  #error(message: string): ZipError {
    return new ZipError(`${this.#source.name}: ${message}`);
  }
}

function checkLocalSizes(e: Entry, h: Buffer, extra: Buffer, fail: (m: string) => ZipError): void {
  const crc = h.readUInt32LE(14);
  let compressedSize: number | bigint = h.readUInt32LE(18);
  let size: number | bigint = h.readUInt32LE(22);
  if (crc !== e.crc32) throw fail(`CRC-32 ${hex(crc)} differs from the central directory's ${hex(e.crc32)}`);
  if (size === MAX32 || compressedSize === MAX32) {
    const wanted = [size === MAX32, compressedSize === MAX32];
    const values = zip64Values(extra, wanted.filter(Boolean).length, fail);
    if (wanted[0]) size = values.shift()!;
    if (wanted[1]) compressedSize = values.shift()!;
  }
  if (Number(size) !== e.size || Number(compressedSize) !== e.compressedSize) {
    throw fail(`sizes ${size}/${compressedSize} differ from the central directory's ${e.size}/${e.compressedSize}`);
  }
}

interface End {
  count: number;
  cdOffset: number;
  cdSize: number;
}

/** Finds the end of central directory record (and its ZIP64 twin) at the end of the file. */
function readEnd(source: ByteRange): End {
  const fail = (m: string): ZipError => new ZipError(`${source.name}: ${m}`);
  const tailLength = Math.min(source.size, SIZE.end + MAX16);
  const tailStart = source.size - tailLength;
  const tail = readAt(source, tailStart, tailLength);
  let at = -1;
  // The record ends the file, followed only by its comment, whose length it states.
  for (let i = tailLength - SIZE.end; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG.end && i + SIZE.end + tail.readUInt16LE(i + 20) === tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) throw fail(`not a zip file, or truncated: no end of central directory record in its last ${tailLength} bytes`);
  const endOffset = tailStart + at;
  const r = tail.subarray(at, at + SIZE.end);
  let disk = r.readUInt16LE(4), cdDisk = r.readUInt16LE(6);
  let diskCount: number | bigint = r.readUInt16LE(8), count: number | bigint = r.readUInt16LE(10);
  let cdSize: number | bigint = r.readUInt32LE(12), cdOffset: number | bigint = r.readUInt32LE(16);
  let cdLimit = endOffset;

  const locatorOffset = endOffset - SIZE.zip64Locator;
  const locator = locatorOffset >= 0 ? readAt(source, locatorOffset, SIZE.zip64Locator) : null;
  if (locator && locator.readUInt32LE(0) === SIG.zip64Locator) {
    const z64Offset = safeNumber(locator.readBigUInt64LE(8));
    if (z64Offset === null || z64Offset + SIZE.zip64End > locatorOffset) {
      throw fail(`ZIP64 end of central directory offset ${locator.readBigUInt64LE(8)} is outside the file`);
    }
    const z = readAt(source, z64Offset, SIZE.zip64End);
    if (z.readUInt32LE(0) !== SIG.zip64End) throw fail(`no ZIP64 end of central directory record at offset ${z64Offset}`);
    disk = z.readUInt32LE(16);
    cdDisk = z.readUInt32LE(20);
    diskCount = z.readBigUInt64LE(24);
    count = z.readBigUInt64LE(32);
    cdSize = z.readBigUInt64LE(40);
    cdOffset = z.readBigUInt64LE(48);
    cdLimit = z64Offset;
  } else if (count === MAX16 || cdSize === MAX32 || cdOffset === MAX32) {
    throw fail('the end of central directory record points to ZIP64 records, and there is no ZIP64 locator');
  }
  if (disk !== 0 || cdDisk !== 0 || diskCount !== count) throw fail('multi-disk (split) zip archives are not supported');
  const n = safeNumber(count), size = safeNumber(cdSize), offset = safeNumber(cdOffset);
  if (n === null || size === null || offset === null || offset + size > cdLimit) {
    throw fail(`the central directory (${cdSize} bytes at offset ${cdOffset}) does not fit before offset ${cdLimit}`);
  }
  // Each record takes at least 46 bytes, so a lying count cannot make us loop or allocate beyond the file.
  if (n * SIZE.centralHeader > size) throw fail(`the central directory is ${size} bytes, too small for ${n} entries`);
  return { count: n, cdOffset: offset, cdSize: size };
}

function readCentralDirectory(source: ByteRange, end: End): CentralRecord[] {
  const cd = readAt(source, end.cdOffset, end.cdSize);
  const records: CentralRecord[] = [];
  let p = 0;
  for (let i = 0; i < end.count; i++) {
    const fail = (m: string): ZipError =>
      new ZipError(`${source.name}: central directory record ${i} (offset ${end.cdOffset + p}): ${m}`);
    if (p + SIZE.centralHeader > cd.length) throw fail('truncated');
    if (cd.readUInt32LE(p) !== SIG.centralHeader) throw fail('no central directory signature');
    const nameLength = cd.readUInt16LE(p + 28), extraLength = cd.readUInt16LE(p + 30);
    const next = p + SIZE.centralHeader + nameLength + extraLength + cd.readUInt16LE(p + 32);
    if (next > cd.length) throw fail('runs past the end of the central directory');
    const nameBytes = cd.subarray(p + SIZE.centralHeader, p + SIZE.centralHeader + nameLength);
    const extra = cd.subarray(p + SIZE.centralHeader + nameLength, p + SIZE.centralHeader + nameLength + extraLength);
    records.push(centralRecord(cd.subarray(p, p + SIZE.centralHeader), nameBytes, extra, fail, end.cdOffset));
    p = next;
  }
  return records;
}

function centralRecord(h: Buffer, nameBytes: Buffer, extra: Buffer, fail: (m: string) => ZipError, cdOffset: number): CentralRecord {
  const flags = h.readUInt16LE(8);
  const name = decodeName(nameBytes, flags, fail);
  const failIn = (m: string): ZipError => fail(`entry '${name}': ${m}`);
  if (flags & FLAG.encrypted) throw failIn('encrypted entries are not supported');
  const method = h.readUInt16LE(10);
  if (method !== METHOD.stored && method !== METHOD.deflated) {
    throw failIn(`compression method ${method} is not supported (only 0 stored and 8 deflated)`);
  }
  let compressedSize: number | bigint = h.readUInt32LE(20);
  let size: number | bigint = h.readUInt32LE(24);
  let headerOffset: number | bigint = h.readUInt32LE(42);
  const disk = h.readUInt16LE(34);
  const full = [size === MAX32, compressedSize === MAX32, headerOffset === MAX32, disk === MAX16];
  if (full.some(Boolean)) {
    const values = zip64Values(extra, full.filter(Boolean).length - (full[3] ? 1 : 0), failIn);
    if (full[0]) size = values.shift()!;
    if (full[1]) compressedSize = values.shift()!;
    if (full[2]) headerOffset = values.shift()!;
  }
  if (disk !== 0 && disk !== MAX16) throw failIn('multi-disk (split) zip archives are not supported');
  const s = safeNumber(size), cs = safeNumber(compressedSize), off = safeNumber(headerOffset);
  if (s === null || cs === null || off === null) throw failIn('a size or offset is beyond 2^53');
  if (method === METHOD.stored && s !== cs) throw failIn(`stored, yet its size ${s} differs from its compressed size ${cs}`);
  if (method === METHOD.deflated && s > cs * MAX_DEFLATE_RATIO + 1024) {
    throw failIn(`declares ${s} bytes from ${cs} deflated bytes, more than deflate can expand`);
  }
  if (off + SIZE.localHeader + nameBytes.length + cs > cdOffset) {
    throw failIn(`its data (${cs} bytes after the local header at offset ${off}) runs into the central directory at offset ${cdOffset}`);
  }
  return { name, nameBytes, size: s, compressedSize: cs, method, crc32: h.readUInt32LE(16), headerOffset: off };
}

function decodeName(bytes: Buffer, flags: number, fail: (m: string) => ZipError): string {
  if (!(flags & FLAG.utf8)) return decodeCp437(bytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw fail(`entry name is flagged UTF-8 but is not valid UTF-8 (${bytes.toString('hex')})`);
  }
}

/** The first `count` 64-bit values of the ZIP64 extra field. */
function zip64Values(extra: Buffer, count: number, fail: (m: string) => ZipError): bigint[] {
  for (let p = 0; p + 4 <= extra.length;) {
    const id = extra.readUInt16LE(p), length = extra.readUInt16LE(p + 2);
    if (p + 4 + length > extra.length) break;
    if (id === EXTRA.zip64) {
      if (length < 8 * count) throw fail(`the ZIP64 extra field holds ${length} bytes, ${8 * count} needed`);
      return Array.from({ length: count }, (_, k) => extra.readBigUInt64LE(p + 4 + 8 * k));
    }
    p += 4 + length;
  }
  throw fail('a size or offset is 0xFFFFFFFF and there is no ZIP64 extra field holding it');
}

/** Sets each entry's limit (its data must end before the next local header) and refuses overlapping entries. */
function setLimits(entries: Entry[], cdOffset: number, fail: (m: string) => ZipError): void {
  const byOffset = [...entries].sort((a, b) => a.headerOffset - b.headerOffset);
  byOffset.forEach((e, i) => {
    e.limit = i + 1 < byOffset.length ? byOffset[i + 1].headerOffset : cdOffset;
    if (e.headerOffset + SIZE.localHeader + e.nameBytes.length + e.compressedSize > e.limit) {
      throw fail(`entry '${e.name}' (local header at offset ${e.headerOffset}) overlaps the next record at offset ${e.limit}`);
    }
  });
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
