// torch.save and torch.load, file for file.
//
// Reading: a zip archive (PyTorch >= 1.6: `<name>/data.pkl`, `<name>/data/<key>` holding each storage's raw
// little-endian bytes, `<name>/version`, maybe `<name>/byteorder`) or the legacy format (torch-legacy.ts). Each
// storage becomes one flat CPU tensor (torch.empty), its record read straight into that tensor's memory, and
// each tensor a view of it (torch-pickle.ts): tensors that shared a storage in Python share memory here, and
// loading costs about the file's size in memory. Storages saved from CUDA load on the CPU; `device` moves
// every storage (once) afterwards, keeping the views.
//
// Quantized tensors (qint8, quint8, qint32; per-tensor and per-channel affine) are read and written as
// torch.save 2.13 writes them (torch-pickle.ts).
//
// Writing: what torch.save writes (PyTorch 1.13 and 2.x): `<name>/data.pkl` (protocol 2),
// `<name>/byteorder` ('little'), `<name>/data/<key>` for each storage in key order, `<name>/version` ('3\n'),
// stored, with data aligned to 64 bytes; `<name>` is the file's name without its extension, as PyTorch names it.
// Storage bytes go to the file straight from tensor memory, through a temporary file renamed over the target.
import { cuda, parseDevice, type Device } from '../device.js';
import { native } from '../native.js';
import { rawOf, Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';
import { BufferRange, FileRange, readAt, type ByteRange } from './positional.js';
import { mapLeaves } from './map-leaves.js';
import { loadLegacy, looksLegacy } from './torch-legacy.js';
import { TorchFileError } from './torch-error.js';
import {
  TorchStorage, elementSize, emptyStorage, readTorchPickle, storageBytes, writeTorchPickle,
} from './torch-pickle.js';
import { ZipReader, ZipWriter, type ZipEntry } from './zip.js';

export { TorchFileError } from './torch-error.js';

export interface LoadOptions {
  /** Where the tensors go: 'cpu' (the default, whatever device they were saved from), 'cuda', 'cuda:N'. */
  device?: Device;
  /**
   * Refuse every global outside the data allow-list (tensors, storages, dtypes, torch.Size, torch.device,
   * OrderedDict, numpy scalars and arrays, Python's own data types), naming it, as
   * torch.load(weights_only=True) does. By default such a global becomes an inert PickleObject.
   */
  strict?: boolean;
}

/** What PyTorch's own reader accepts (caffe2/serialize/inline_container.h, kMaxSupportedFileFormatVersion). */
const MAX_FILE_FORMAT_VERSION = 10;
const ZIP_MAGIC = [0x50, 0x4b]; // 'PK'

/**
 * Loads a file written by Python's torch.save (or by saveTorchFile). Python values come back as plain JS values
 * (see pickle/values.ts), tensors as Tensors. A file that is no torch.save file, or a damaged one, throws a
 * TorchFileError, ZipError or PickleError whose message names the file.
 */
export async function loadTorchFile<T = unknown>(path: string, opts: LoadOptions = {}): Promise<T> {
  return loadTorchFileSync<T>(path, opts);
}

/** loadTorchFile, synchronously. */
export function loadTorchFileSync<T = unknown>(path: string, opts: LoadOptions = {}): T {
  const device = checkOptions(opts);
  return named(path, () => {
    const file = new FileRange(path, (m) => new TorchFileError(m));
    try {
      if (!isZip(readAt(file, 0, Math.min(2, file.size)))) return finish(loadFromLegacy(file, path, opts), device) as T;
    } finally {
      file.close();
    }
    const reader = ZipReader.open(path);
    try {
      return finish(loadFromZip(reader, path, opts), device) as T;
    } finally {
      reader.close();
    }
  });
}

/** Loads torch.save bytes held in memory. */
export function loadTorchBuffer<T = unknown>(data: Uint8Array, opts: LoadOptions & { name?: string } = {}): T {
  const device = checkOptions(opts);
  const name = opts.name ?? '<buffer>';
  if (!(data instanceof Uint8Array)) throw new TypeError('loadTorchBuffer() takes a Buffer or Uint8Array');
  return named(name, () => {
    if (isZip(data)) {
      const reader = ZipReader.fromBuffer(data, name);
      try {
        return finish(loadFromZip(reader, name, opts), device) as T;
      } finally {
        reader.close();
      }
    }
    return finish(loadFromLegacy(new BufferRange(data, name, (m) => new TorchFileError(m)), name, opts), device) as T;
  });
}

/**
 * Writes `obj` as torch.save does, so that Python's torch.load reads it (also with weights_only=True, as far as
 * the values allow: PyTorch 1.13's weights_only refuses floats). Values are pickled as pickle/writer.ts says;
 * Tensors are written with their storages, each storage once, so that tensors sharing memory here share a
 * storage in Python. A dict whose values are all Tensors, at the top level or directly inside it (a state dict,
 * as in `{ model_state_dict: sd }`), is written as a collections.OrderedDict, as module.state_dict() returns;
 * mark any other dict with orderedDict(d). The file is replaced atomically.
 */
export async function saveTorchFile(obj: unknown, path: string): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError('saveTorchFile() needs a file path');
  const { pickle, storages } = writeTorchPickle(obj);
  try {
    const archive = archiveName(path);
    await writeFileAtomic(path, (fd) => {
      const zip = new ZipWriter(fd, { align: 64 });
      zip.add(`${archive}/data.pkl`, pickle);
      zip.add(`${archive}/byteorder`, Buffer.from('little'));
      // torch.save writes the records in the sorted order of their keys (as strings: 0, 1, 10, 11, 2, ...).
      for (const s of [...storages].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
        zip.add(`${archive}/data/${s.key}`, storageBytes(s.tensor).subarray(0, s.numel * elementSize(s.dtype)));
      }
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

// A device that is not there is refused before anything is read.
function checkOptions(opts: LoadOptions): Device | undefined {
  if (opts === null || typeof opts !== 'object') throw new TypeError('the options must be an object');
  if (opts.device === undefined) return undefined;
  const device = parseDevice(opts.device);
  if (device !== 'cpu') {
    const index = device === 'cuda' ? 0 : Number(device.slice(5));
    const count = cuda.deviceCount();
    if (index >= count) {
      throw new RangeError(`device ${device}: ${count === 0 ? 'no CUDA device is available (a CPU build of libtorch, or no GPU)' : `only ${count} CUDA devices`}`);
    }
  }
  return device;
}

function loadFromZip(zip: ZipReader, name: string, opts: LoadOptions): Loaded {
  const pkl = zip.entries.filter((e) => /^[^/]*\/data\.pkl$/.test(e.name) || e.name === 'data.pkl');
  if (pkl.length !== 1) {
    throw new TorchFileError(`${name}: not a torch.save file: a zip archive with ${pkl.length === 0 ? 'no' : pkl.length} data.pkl records`);
  }
  const prefix = pkl[0].name.slice(0, -'data.pkl'.length);
  checkRecords(zip, prefix, name);
  const storages: Tensor[] = [];
  try {
    const { value } = readTorchPickle(zip.read(pkl[0]), {
      strict: opts.strict,
      storage: (key, dtype, numel) => {
        const entry = storageEntry(zip, prefix, key, name);
        const nbytes = numel * elementSize(dtype);
        if (entry.size !== nbytes) {
          throw new TorchFileError(`${name}: record ${entry.name} holds ${entry.size} bytes; its storage needs ${nbytes} (${numel} ${dtype} elements)`);
        }
        const tensor = emptyStorage(dtype, numel);
        storages.push(tensor);
        if (nbytes > 0) zip.readInto(entry, storageBytes(tensor));
        return tensor;
      },
    });
    return { value, storages };
  } catch (e) {
    for (const t of storages) t.dispose();
    throw e;
  }
}

function storageEntry(zip: ZipReader, prefix: string, key: string, name: string): ZipEntry {
  if (key.includes('/') || key === '..' || key === '.') throw new TorchFileError(`${name}: storage key ${JSON.stringify(key)} is not a record name`);
  const entry = zip.entry(`${prefix}data/${key}`);
  if (!entry) throw new TorchFileError(`${name}: the pickle names storage ${JSON.stringify(key)}, but there is no record ${prefix}data/${key}`);
  return entry;
}

// byteorder (PyTorch >= 2.0; absent means little) and version, as PyTorch checks them.
function checkRecords(zip: ZipReader, prefix: string, name: string): void {
  const byteorder = zip.entry(`${prefix}byteorder`);
  if (byteorder) {
    const order = zip.read(byteorder).toString('latin1');
    if (order === 'big') throw new TorchFileError(`${name}: written on a big-endian machine (byteorder 'big'); only little-endian files are supported`);
    if (order !== 'little') throw new TorchFileError(`${name}: unknown byteorder record ${JSON.stringify(order.slice(0, 20))}`);
  }
  const versionEntry = zip.entry(`${prefix}version`) ?? zip.entry(`${prefix}.data/version`);
  if (versionEntry && versionEntry.size < 32) {
    const text = zip.read(versionEntry).toString('latin1').trim();
    const version = Number(text);
    if (!Number.isInteger(version) || version < 1 || version > MAX_FILE_FORMAT_VERSION) {
      throw new TorchFileError(`${name}: file format version ${JSON.stringify(text)} is not one this reader knows (1 to ${MAX_FILE_FORMAT_VERSION})`);
    }
  }
}

function isZip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === ZIP_MAGIC[0] && head[1] === ZIP_MAGIC[1];
}

function loadFromLegacy(src: ByteRange, name: string, opts: LoadOptions): Loaded {
  if (!looksLegacy(readAt(src, 0, Math.min(64, src.size)))) {
    throw new TorchFileError(`${name}: not a torch.save file (neither a zip archive nor PyTorch's legacy format)`);
  }
  return loadLegacy(src, { name, strict: opts.strict });
}

// The flat storage handles go (the views keep the memory), except those of bare storages in the value; then the
// move to `device`, if asked.
function finish(loaded: Loaded, device: Device | undefined): unknown {
  const held = new Set<Tensor>();
  mapLeaves(loaded.value, (leaf) => {
    if (leaf instanceof TorchStorage) held.add(leaf.tensor);
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
      const whole = detached.asStrided([Math.floor(nbytes / elementSize(t.dtype))], [1], 0);
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
        const { flat } = flatOn(leaf.tensor);
        const out = new TorchStorage(leaf.key, leaf.dtype, leaf.numel, leaf.location, flat.asStrided([leaf.numel], [1], 0));
        leaf.tensor.dispose();
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
    if (e instanceof Error && !e.message.includes(name)) {
      e.message = `${name}: ${e.message}`;
    }
    throw e;
  }
}

// As PyTorch's writer names the folder inside the archive: the file's name (after the last / or \) up to its
// last dot, or 'archive' when that leaves nothing.
function archiveName(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot >= 0 ? base.slice(0, dot) : base;
  return stem === '' ? 'archive' : stem;
}
