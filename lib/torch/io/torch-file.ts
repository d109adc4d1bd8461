// torch.save and torch.load, file for file.
//
// Reading: a zip archive (PyTorch >= 1.6: `<name>/data.pkl`, `<name>/data/<key>` holding each storage's raw
// little-endian bytes, `<name>/version`, maybe `<name>/byteorder`) or the legacy format (torch-legacy.ts). Each
// storage becomes one flat CPU tensor (torch.empty), and each tensor a view of it (torch-pickle.ts): tensors that
// shared a storage in Python share memory here, and loading costs about the file's size in memory. Once the pickle
// is read, every stored record is read straight into its tensor's memory in one native call (storage-io.ts), its
// CRC-32 checked on the way; loadTorchFile does that off the JS thread. Files with quantized tensors fill each
// storage as the pickle names it instead, so that per-channel quantizer parameters are checked as they are made.
// With `mmap: true` the file is mapped instead (as torch.load(mmap=True)): each storage is a view of a private,
// copy-on-write mapping of its record. Storages saved from CUDA load on the CPU; `device` moves every storage
// (once) afterwards, keeping the views.
//
// Quantized tensors (qint8, quint8, qint32; per-tensor and per-channel affine) are read and written as
// torch.save 2.13 writes them (torch-pickle.ts).
//
// Writing: what torch.save writes (PyTorch 1.13 and 2.x): `<name>/data.pkl` (protocol 2),
// `<name>/byteorder` ('little'), `<name>/data/<key>` for each storage in key order, `<name>/version` ('3\n'),
// stored, with data aligned to 64 bytes; `<name>` is the file's name without its extension, as PyTorch names it.
// Storage bytes go to the file straight from tensor memory, natively and off the JS thread (their CRC-32s computed
// meanwhile on a second thread), through a temporary file that is synced and renamed over the target.
import { cuda, parseDevice, type Device } from '../device.js';
import { native } from '../native.js';
import { rawOf, Tensor } from '../tensor.js';
import { itemSize } from '../../formats/arrays.js';
import { writeFileAtomic } from '../../formats/atomic.js';
import { BufferRange, FileRange, readAt, type ByteRange } from '../../formats/positional.js';
import { mapLeaves } from '../../formats/map-leaves.js';
import {
  MappedFile, readStorages, readStoragesSync, storageCrc32, withReportsHeld, withReportsHeldAsync, writeStorages,
  type ReadFailure, type StorageRead,
} from './storage-io.js';
import { loadLegacy, looksLegacy } from '../../formats/torch-legacy.js';
import { TorchFileError } from '../../formats/torch-error.js';
import { emptyStorage, tensors } from './tensor-arrays.js';
import { TorchStorage, readTorchPickle, writeTorchPickle } from '../../formats/torch-pickle.js';
import { isZip, openArchive } from '../../formats/torch-zip.js';
import { ZipReader, ZipWriter, type ZipEntry } from '../../formats/zip.js';

export { TorchFileError } from '../../formats/torch-error.js';

export interface LoadOptions {
  /** Where the tensors go: 'cpu' (the default, whatever device they were saved from), 'cuda', 'cuda:N'. */
  device?: Device;
  /**
   * Refuse every global outside the data allow-list (tensors, storages, dtypes, torch.Size, torch.device,
   * OrderedDict, numpy scalars and arrays, Python's own data types), naming it, as
   * torch.load(weights_only=True) does. By default such a global becomes an inert PickleObject.
   */
  strict?: boolean;
  /**
   * Map the file into memory instead of reading it, as torch.load(mmap=True) does (zip files only): each storage
   * is a view of a private, copy-on-write mapping of its record, read from the page cache when first touched,
   * so loading costs almost nothing until the tensors are used. Writing to a loaded tensor copies the page for
   * this process; the file never changes. The file may be deleted or replaced by rename (as saveTorchFile
   * replaces files) while its tensors live; it must NOT be truncated or rewritten in place (as Python's torch.save
   * over the same path does): touching a page past the new end raises SIGBUS and ends the process. The mapping
   * goes when the last tensor on it is disposed. Records that are compressed or not aligned to their element
   * size are read into memory instead. CRC-32s are not checked (as torch.load does not) unless `checkCrc: true`.
   */
  mmap?: boolean;
  /**
   * Check each storage record against its CRC-32 (a flipped byte gives a ZipError). Default: true, except with
   * `mmap` (checking reads every page). torch.load never checks them; false saves a few ms per 100 MB.
   */
  checkCrc?: boolean;
}

/**
 * Loads a file written by Python's torch.save (or by saveTorchFile). Python values come back as plain JS values
 * (see pickle/values.ts), tensors as Tensors. A file that is no torch.save file, or a damaged one, throws a
 * TorchFileError, ZipError or PickleError whose message names the file. The storages are read off the JS thread.
 */
export async function loadTorchFile<T = unknown>(path: string, opts: LoadOptions = {}): Promise<T> {
  const options = checkOptions(opts);
  return namedAsync(path, () => withReportsHeldAsync(async () => {
    const reader = openZip(path, options);
    if (!reader) return finish(loadLegacyFile(path, options), options.device) as T;
    try {
      const parsed = parseZip(reader, path, options);
      try {
        const fd = reader.nativeSource().source as number;
        readFailed(reader, parsed.reads, await readStorages(fd, parsed.reads));
      } catch (e) {
        for (const t of parsed.loaded.storages) t.dispose();
        throw e;
      }
      return finish(parsed.loaded, options.device) as T;
    } finally {
      reader.close();
    }
  }));
}

/** loadTorchFile, synchronously. */
export function loadTorchFileSync<T = unknown>(path: string, opts: LoadOptions = {}): T {
  const options = checkOptions(opts);
  return named(path, () => withReportsHeld(() => {
    const reader = openZip(path, options);
    if (!reader) return finish(loadLegacyFile(path, options), options.device) as T;
    try {
      return finish(loadZipSync(reader, path, options), options.device) as T;
    } finally {
      reader.close();
    }
  }));
}

/** Loads torch.save bytes held in memory. */
export function loadTorchBuffer<T = unknown>(data: Uint8Array, opts: LoadOptions & { name?: string } = {}): T {
  const options = checkOptions(opts);
  if (options.mmap) throw new TypeError('mmap needs a file: loadTorchFile(path, { mmap: true })');
  const name = opts.name ?? '<buffer>';
  if (!(data instanceof Uint8Array)) throw new TypeError('loadTorchBuffer() takes a Buffer or Uint8Array');
  return named(name, () => withReportsHeld(() => {
    if (isZip(data)) {
      const reader = ZipReader.fromBuffer(data, name);
      try {
        return finish(loadZipSync(reader, name, options), options.device) as T;
      } finally {
        reader.close();
      }
    }
    return finish(loadFromLegacy(new BufferRange(data, name, (m) => new TorchFileError(m)), name, options), options.device) as T;
  }));
}

/**
 * Writes `obj` as torch.save does, so that Python's torch.load reads it (also with weights_only=True, as far as
 * the values allow: PyTorch 1.13's weights_only refuses floats). Values are pickled as pickle/writer.ts says;
 * Tensors are written with their storages, each storage once, so that tensors sharing memory here share a
 * storage in Python. A dict whose values are all Tensors, at the top level or directly inside it (a state dict,
 * as in `{ model_state_dict: sd }`), is written as a collections.OrderedDict, as module.state_dict() returns;
 * mark any other dict with orderedDict(d). The file is replaced atomically and durably (writeFileAtomic); the
 * tensor bytes are written off the JS thread, straight from tensor memory.
 */
export async function saveTorchFile(obj: unknown, path: string): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError('saveTorchFile() needs a file path');
  return withReportsHeldAsync(() => saveTorch(obj, path));
}

async function saveTorch(obj: unknown, path: string): Promise<void> {
  const { pickle, storages } = writeTorchPickle(obj, tensors);
  try {
    const archive = archiveName(path);
    await writeFileAtomic(path, async (fd) => {
      const zip = new ZipWriter(fd, { align: 64 });
      zip.add(`${archive}/data.pkl`, pickle);
      zip.add(`${archive}/byteorder`, Buffer.from('little'));
      // torch.save writes the records in the sorted order of their keys (as strings: 0, 1, 10, 11, 2, ...).
      const records = [...storages].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((s) => {
        const nbytes = s.numel * itemSize(s.dtype);
        return { tensor: s.tensor, nbytes, entry: zip.reserve(`${archive}/data/${s.key}`, nbytes) };
      });
      const crcs = await writeStorages(fd, records.map((r) => ({ tensor: r.tensor, position: r.entry.dataOffset, nbytes: r.nbytes })));
      records.forEach((r, i) => r.entry.commit(crcs[i]));
      zip.add(`${archive}/version`, Buffer.from('3\n'));
      zip.finish();
    });
  } finally {
    for (const s of storages) if (s.owned) s.tensor.dispose();
  }
}

// ---- reading ----

interface Loaded {
  value: unknown;
  /** Every flat storage tensor made; those the value does not hold (as a bare storage) are disposed. */
  storages: Tensor[];
}

interface Options {
  device: Device | undefined;
  strict: boolean | undefined;
  mmap: boolean;
  checkCrc: boolean;
}

// A device that is not there is refused before anything is read.
function checkOptions(opts: LoadOptions): Options {
  if (opts === null || typeof opts !== 'object') throw new TypeError('the options must be an object');
  for (const key of ['mmap', 'checkCrc'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new TypeError(`the ${key} option must be true or false`);
  }
  const mmap = opts.mmap ?? false;
  const options: Options = { device: undefined, strict: opts.strict, mmap, checkCrc: opts.checkCrc ?? !mmap };
  if (opts.device === undefined) return options;
  const device = parseDevice(opts.device);
  if (device !== 'cpu') {
    const index = device === 'cuda' ? 0 : Number(device.slice(5));
    const count = cuda.deviceCount();
    if (index >= count) {
      throw new RangeError(`device ${device}: ${count === 0 ? 'no CUDA device is available (a CPU build of libtorch, or no GPU)' : `only ${count} CUDA devices`}`);
    }
  }
  options.device = device;
  return options;
}

// The file's zip reader, or null for a legacy file (read by loadLegacyFile).
function openZip(path: string, options: Options): ZipReader | null {
  const file = new FileRange(path, (m) => new TorchFileError(m));
  try {
    if (!isZip(readAt(file, 0, Math.min(2, file.size)))) {
      if (options.mmap) {
        throw new TorchFileError(`${path}: mmap needs a zip file (PyTorch >= 1.6, _use_new_zipfile_serialization=True); this one is in the legacy format`);
      }
      return null;
    }
  } finally {
    file.close();
  }
  return ZipReader.open(path);
}

function loadLegacyFile(path: string, options: Options): Loaded {
  const file = new FileRange(path, (m) => new TorchFileError(m));
  try {
    return loadFromLegacy(file, path, options);
  } finally {
    file.close();
  }
}

function loadZipSync(zip: ZipReader, name: string, options: Options): Loaded {
  const parsed = parseZip(zip, name, options);
  try {
    readFailed(zip, parsed.reads, readStoragesSync(zip.nativeSource().source, parsed.reads));
  } catch (e) {
    for (const t of parsed.loaded.storages) t.dispose();
    throw e;
  }
  return parsed.loaded;
}

interface ParsedZip {
  loaded: Loaded;
  /** The stored records still to read into their storages (every storage is made, but not all are filled). */
  reads: RecordRead[];
}

interface RecordRead extends StorageRead {
  entry: ZipEntry;
}

// Reads the pickle and makes the storages it names. A stored record is read later, with all the others in one
// native call, unless the file holds quantized tensors: then each is read as it is named, since a per-channel
// tensor's scales are checked as it is made (torch-pickle.ts). With a mapping, stored aligned records are views
// of it; compressed ones are read now.
function parseZip(zip: ZipReader, name: string, options: Options): ParsedZip {
  const { pickle, storageEntry } = openArchive(zip, name);
  const readNow = pickle.includes('_rebuild_qtensor');
  const { source, offset: base } = zip.nativeSource();
  const storages: Tensor[] = [];
  const reads: RecordRead[] = [];
  const mapping = options.mmap ? new MappedFile(source as number, zip.size) : null;
  try {
    const { value } = readTorchPickle(pickle, {
      maker: tensors,
      strict: options.strict,
      storage: (key, dtype, numel) => {
        const entry = storageEntry(key);
        const nbytes = numel * itemSize(dtype);
        if (entry.size !== nbytes) {
          throw new TorchFileError(`${name}: record ${entry.name} holds ${entry.size} bytes; its storage needs ${nbytes} (${numel} ${dtype} elements)`);
        }
        const stored = nbytes > 0 ? zip.storedData(entry) : null;
        if (mapping && stored && stored.offset % itemSize(dtype) === 0) {
          const tensor = mapping.storage(base + stored.offset, nbytes, dtype);
          storages.push(tensor);
          if (options.checkCrc) {
            const crc = storageCrc32(tensor, nbytes);
            if (crc !== stored.crc32) throw zip.crcError(entry, crc);
          }
          return tensor;
        }
        const tensor = emptyStorage([numel], dtype);
        storages.push(tensor);
        if (nbytes === 0) return tensor;
        if (!stored) {
          // Deflated (torch.save never compresses, other zip tools may): inflated and CRC-checked by read().
          readFailed(zip, [], readStoragesSync(zip.read(entry), [{ tensor, position: 0, nbytes, crc32: null }]));
          return tensor;
        }
        const read: RecordRead = { entry, tensor, position: base + stored.offset, nbytes, crc32: options.checkCrc ? stored.crc32 : null };
        if (readNow) readFailed(zip, [read], readStoragesSync(source, [read]));
        else reads.push(read);
        return tensor;
      },
    });
    return { loaded: { value, storages }, reads };
  } catch (e) {
    for (const t of storages) t.dispose();
    throw e;
  } finally {
    mapping?.release();
  }
}

// Words a failed read as ZipReader.read() would have.
function readFailed(zip: ZipReader, reads: RecordRead[], failure: ReadFailure | null): void {
  if (failure === null) return;
  if (failure.kind === 'crc') throw zip.crcError(reads[failure.index].entry, failure.value);
  throw zip.endError(failure.value);
}




function loadFromLegacy(src: ByteRange, name: string, opts: { strict?: boolean }): Loaded {
  if (!looksLegacy(readAt(src, 0, Math.min(64, src.size)))) {
    throw new TorchFileError(`${name}: not a torch.save file (neither a zip archive nor PyTorch's legacy format)`);
  }
  return loadLegacy(src, { name, strict: opts.strict, maker: tensors });
}

// The flat storage handles go (the views keep the memory), except those of bare storages in the value; then the
// move to `device`, if asked.
function finish(loaded: Loaded, device: Device | undefined): unknown {
  const held = new Set<Tensor>();
  mapLeaves(loaded.value, (leaf) => {
    if (leaf instanceof TorchStorage) held.add(leaf.tensor as Tensor);
    return leaf;
  });
  for (const t of loaded.storages) if (!held.has(t)) t.dispose();
  if (device === undefined || device === 'cpu') return loaded.value;
  return moveTo(loaded.value, device);
}

// Each storage is moved once and every view is made again on the moved one, so views still share memory.
function moveTo(value: unknown, device: Device): unknown {
  const moved = new Map<string, Tensor>();
  const flatOn = (t: Tensor): { flat: Tensor; strides: number[]; offset: number } => {
    const [strides, offset, nbytes, key] = native().layout(rawOf(t));
    let flat = moved.get(key);
    if (!flat) {
      const detached = t.detach();
      const whole = detached.asStrided([Math.floor(nbytes / itemSize(t.dtype))], [1], 0);
      flat = whole.to(device);
      whole.dispose();
      detached.dispose();
      moved.set(key, flat);
    }
    return { flat, strides, offset };
  };
  try {
    return mapLeaves(value, (leaf) => {
      // A quantized tensor moves on its own (libtorch makes no quantized views by strides on another device).
      if (leaf instanceof Tensor && leaf.isQuantized) {
        const out = leaf.to(device);
        leaf.dispose();
        return out;
      }
      if (leaf instanceof Tensor) {
        const { flat, strides, offset } = flatOn(leaf);
        const out = flat.asStrided([...leaf.shape], strides, offset);
        if (leaf.requiresGrad) out.requiresGrad_(true);
        leaf.dispose();
        return out;
      }
      if (leaf instanceof TorchStorage) {
        const { flat } = flatOn(leaf.tensor as Tensor);
        const out = new TorchStorage(leaf.key, leaf.dtype, leaf.numel, leaf.location, flat.asStrided([leaf.numel], [1], 0));
        (leaf.tensor as Tensor).dispose();
        return out;
      }
      return leaf;
    });
  } finally {
    for (const t of moved.values()) t.dispose();
  }
}

// Errors name the file: a ZipError already does; others gain it in front of their message.
function named<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw withName(e, name);
  }
}

async function namedAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw withName(e, name);
  }
}

function withName(e: unknown, name: string): unknown {
  if (e instanceof Error && !e.message.includes(name)) e.message = `${name}: ${e.message}`;
  return e;
}

// As PyTorch's writer names the folder inside the archive: the file's name (after the last / or \) up to its
// last dot, or 'archive' when that leaves nothing.
function archiveName(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot >= 0 ? base.slice(0, dot) : base;
  return stem === '' ? 'archive' : stem;
}
