// numpy's .npz files: a zip archive of .npy members, stored (np.savez) or deflated (np.savez_compressed). Stored
// members are read straight from the file into the arrays' memory, their CRC-32 computed as they are read.
import { crc32 } from 'node:zlib';

import type { ArrayMaker, ArraySource } from './arrays.js';
import { writeFileAtomicSync } from './atomic.js';
import { npyParts, readNpyRange } from './npy.js';
import { BufferRange, FileRange, SliceRange, type ByteRange } from './positional.js';
import { records, type ArrayRecord } from './records.js';
import { ZipError, ZipReader, ZipWriter, type ZipEntry } from './zip.js';

export interface LoadNpzOptions {
  /** Load only these arrays (names without `.npy`): the others, object arrays say, are not read. */
  keys?: string[];
  /** The name errors use for bytes given as a buffer. */
  name?: string;
}

export interface SaveNpzOptions {
  /** Deflate the members, as np.savez_compressed. Default: stored, as np.savez. */
  compress?: boolean;
}

/**
 * Reads the arrays of an .npz file (its path or its bytes), by name without `.npy`, in a null-prototype record:
 * a member named `__proto__`, `constructor` or `toString` is an array like any other. `maker` makes the arrays
 * (records by default).
 */
export function readNpz<A = ArrayRecord>(
  source: string | Uint8Array, opts: LoadNpzOptions = {}, maker = records as unknown as ArrayMaker<A>,
): Record<string, A> {
  const name = opts.name ?? '<buffer>';
  const where = typeof source === 'string' ? source : name;
  const zip = typeof source === 'string' ? ZipReader.open(source) : ZipReader.fromBuffer(source, name);
  const out: Record<string, A> = Object.create(null);
  let file: ByteRange | undefined;
  try {
    const fail = (m: string): ZipError => new ZipError(m);
    file = typeof source === 'string' ? new FileRange(source, fail) : new BufferRange(source, name, fail);
    for (const entry of membersToLoad(zip, opts.keys, where)) out[entry.name.slice(0, -4)] = readMember(zip, file, entry, where, maker);
    return out;
  } catch (e) {
    for (const t of Object.values(out)) maker.dispose(t);
    throw e;
  } finally {
    file?.close();
    zip.close();
  }
}

/** Writes arrays as an .npz file that np.load reads, atomically. */
export function writeNpz<A>(arrays: Record<string, A>, path: string, source: ArraySource<A>, opts: SaveNpzOptions = {}): void {
  const members = Object.entries(arrays).map(([key, t]) => [`${key}.npy`, npyParts(t, `${path}: '${key}'`, source)] as const);
  writeFileAtomicSync(path, (fd) => {
    // Stored members get their array data 64-byte aligned in the file (the .npy header is a multiple of 64).
    const zip = new ZipWriter(fd, { align: 64 });
    for (const [member, parts] of members) parts((header, data) => zip.add(member, [header, data], opts));
    zip.finish();
  });
}

function membersToLoad(zip: ZipReader, keys: string[] | undefined, where: string): ZipEntry[] {
  if (keys === undefined) {
    const other = zip.entries.find((e) => !e.name.endsWith('.npy'));
    if (other) throw new ZipError(`${where}: member '${other.name}' is not a .npy array`);
    return zip.entries;
  }
  return keys.map((key) => {
    const entry = zip.entry(`${key}.npy`);
    if (!entry) {
      const present = zip.entries.map((e) => e.name.replace(/\.npy$/, '')).join(', ');
      throw new ZipError(`${where}: no array '${key}' (it holds ${present})`);
    }
    return entry;
  });
}

function readMember<A>(zip: ZipReader, file: ByteRange, entry: ZipEntry, where: string, maker: ArrayMaker<A>): A {
  const name = `${where}:${entry.name}`;
  if (entry.method !== 0) return readNpyRange(new BufferRange(zip.read(entry), name), maker);
  let crc = 0;
  const tensor = readNpyRange(new SliceRange(file, entry.dataOffset, entry.size, name, (b) => (crc = crc32(b, crc))), maker);
  if (crc >>> 0 !== entry.crc32) {
    maker.dispose(tensor);
    throw new ZipError(`${where}: entry '${entry.name}' fails its CRC-32 check`);
  }
  return tensor;
}
