// The legacy torch.save format (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`): five pickles in a
// row, then the storages' bytes:
//   MAGIC_NUMBER (0x1950a86a20f9469cfc6c), PROTOCOL_VERSION (1001), sys_info {little_endian, type_sizes, ...},
//   the object (its storages as persistent ids), the sorted list of storage keys;
//   then per key in that order: an 8-byte little-endian element count and the storage's raw bytes.
// Storages are made as the object pickle names them and filled afterwards, each straight into its array's memory.
// (Files older still, PyTorch < 0.4's tar archives, are not read.)
import { PickleError } from './pickle/errors.js';
import { readPickle } from './pickle/reader.js';
import { checkQuantizedValues, readTorchPickle } from './torch-pickle.js';
import { readAt, type ByteRange } from './positional.js';
import { TorchFileError } from './torch-error.js';
import type { DType } from './dtype.js';
import { itemSize, type ArrayMaker } from './arrays.js';

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

export interface LegacyOptions<A> {
  /** The file's name, for messages. */
  name: string;
  strict?: boolean;
  maker: ArrayMaker<A>;
}

export interface LegacyResult<A> {
  value: unknown;
  /** The flat storage arrays made, one per storage key (the caller disposes those it no longer needs). */
  storages: A[];
}

interface Made<A> {
  array: A;
  bytes: Uint8Array;
  dtype: DType;
  numel: number;
  filled: boolean;
}

/** Whether bytes start like a legacy torch.save file (a pickle of the magic number). */
export function looksLegacy(head: Uint8Array): boolean {
  try {
    return readPickle(head).value === LEGACY_MAGIC;
  } catch {
    return false;
  }
}

export function loadLegacy<A>(src: ByteRange, opts: LegacyOptions<A>): LegacyResult<A> {
  const made = new Map<string, Made<A>>();
  try {
    const { value, keys, end } = readHeader(src, opts, made);
    let pos = end;
    for (const key of keys) {
      const s = made.get(key);
      if (!s) throw new TorchFileError(`${opts.name}: the storage list names ${JSON.stringify(key)}, which the object never uses`);
      pos = readStorage(src, pos, key, s, opts.name);
    }
    const unfilled = [...made].filter(([, s]) => !s.filled).map(([k]) => k);
    if (unfilled.length) {
      throw new TorchFileError(`${opts.name}: storages ${unfilled.join(', ')} are used by the object but have no data in the file`);
    }
    // Per-channel quantizer parameters are storages too, filled only now.
    checkQuantizedValues(value, opts.maker, (m) => new TorchFileError(`${opts.name}: ${m}`));
    return { value, storages: [...made.values()].map((s) => s.array) };
  } catch (e) {
    for (const s of made.values()) opts.maker.dispose(s.array);
    throw e;
  }
}

// The five pickles. They usually take a few KB at the file's start: read a prefix, and a larger one only when a
// pickle runs past it.
function readHeader<A>(src: ByteRange, opts: LegacyOptions<A>, made: Map<string, Made<A>>) {
  for (let n = Math.min(src.size, 1 << 20); ; n = Math.min(src.size, n * 4)) {
    const head = readAt(src, 0, n);
    try {
      return parseHeader(head, src.size, opts, made);
    } catch (e) {
      if (!(e instanceof PickleError && e.endOfData) || n >= src.size) throw e;
      for (const s of made.values()) opts.maker.dispose(s.array);
      made.clear();
    }
  }
}

function parseHeader<A>(head: Uint8Array, fileSize: number, opts: LegacyOptions<A>, made: Map<string, Made<A>>) {
  const magic = readPickle(head);
  if (magic.value !== LEGACY_MAGIC) throw new TorchFileError(`${opts.name}: not a torch.save file: no magic number`);
  const protocol = readPickle(head, { offset: magic.end });
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new TorchFileError(`${opts.name}: legacy torch file protocol ${String(protocol.value)}, expected ${LEGACY_PROTOCOL}`);
  }
  const sysInfo = readPickle(head, { offset: protocol.end });
  const info = sysInfo.value as Record<string, unknown> | null;
  if (info && typeof info === 'object' && info.little_endian === false) {
    throw new TorchFileError(`${opts.name}: written on a big-endian machine; only little-endian files are supported`);
  }
  // Every storage's bytes are in the file: what the object asks for cannot exceed it (a lying numel would
  // otherwise allocate before anything is read).
  let total = 0;
  const obj = readTorchPickle(head, {
    strict: opts.strict,
    offset: sysInfo.end,
    storagesFilledLater: true,
    maker: opts.maker,
    storage: (key, dtype, numel) => {
      total += numel * itemSize(dtype);
      if (total > fileSize) {
        throw new TorchFileError(`${opts.name}: storage ${key} of ${numel} ${dtype} elements does not fit in a file of ${fileSize} bytes`);
      }
      const { array, bytes } = opts.maker.empty([numel], dtype);
      made.set(key, { array, bytes, dtype, numel, filled: false });
      return array;
    },
  });
  const keys = readPickle(head, { offset: obj.end });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new TorchFileError(`${opts.name}: the storage key list is not a list of strings`);
  }
  return { value: obj.value, keys: keys.value as string[], end: keys.end };
}

// One record: int64 element count, then the bytes, read straight into the storage's memory.
function readStorage<A>(src: ByteRange, pos: number, key: string, s: Made<A>, name: string): number {
  const nbytes = s.numel * itemSize(s.dtype);
  if (pos + 8 + nbytes > src.size) {
    throw new TorchFileError(`${name}: storage ${key} needs ${nbytes} bytes at offset ${pos + 8}, but the file ends at byte ${src.size} (truncated?)`);
  }
  if (s.filled) throw new TorchFileError(`${name}: storage ${key} is listed twice`);
  const count = readAt(src, pos, 8).readBigInt64LE(0);
  if (count !== BigInt(s.numel)) {
    throw new TorchFileError(`${name}: storage ${key} holds ${count} elements in the file, the object expects ${s.numel}`);
  }
  // Only a file that shrank since it was opened ends early: the sizes were checked against it above.
  if (nbytes > 0) src.readInto(pos + 8, s.bytes);
  s.filled = true;
  return pos + 8 + nbytes;
}
