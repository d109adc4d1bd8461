// Any file lvmtorch reads, read with no libtorch: tensors come back as ArrayRecords (records.ts) over the file's
// bytes, everything else as load() gives it. What `lvmtorch inspect` shows; the same checks as load() (the
// torch layer's reader, torch-file.ts) apply, from the same code, but storages are read into plain memory, in
// JS, and every record's CRC-32 is checked.
import { detectFormat, type FileFormat } from './detect.js';
import { readNpy } from './npy.js';
import { readNpz } from './npz.js';
import { FileRange, readAt } from './positional.js';
import { records } from './records.js';
import { readSafetensors } from './safetensors.js';
import { TorchFileError } from './torch-error.js';
import { loadLegacy, looksLegacy } from './torch-legacy.js';
import { readTorchPickle } from './torch-pickle.js';
import { isZip, openArchive } from './torch-zip.js';
import { ZipReader } from './zip.js';
import { itemSize } from './arrays.js';

export interface ReadRecordsOptions {
  /** torch files: refuse every Python global outside the data allow-list, as weights_only=True does. */
  strict?: boolean;
}

/** Reads a torch.save, .npy, .npz or .safetensors file, its tensors as ArrayRecords. */
export function readRecords(path: string, opts: ReadRecordsOptions = {}): { format: FileFormat; value: unknown } {
  const format = detectFormat(path);
  const value = format === 'torch' ? readTorchRecords(path, opts) : format === 'npy' ? readNpy(path)
    : format === 'npz' ? readNpz(path) : readSafetensors(path).tensors;
  return { format, value };
}

function readTorchRecords(path: string, opts: ReadRecordsOptions): unknown {
  try {
    const file = new FileRange(path, (m) => new TorchFileError(m));
    try {
      if (!isZip(readAt(file, 0, Math.min(2, file.size)))) {
        if (!looksLegacy(readAt(file, 0, Math.min(64, file.size)))) {
          throw new TorchFileError(`${path}: not a torch.save file (neither a zip archive nor PyTorch's legacy format)`);
        }
        return loadLegacy(file, { name: path, strict: opts.strict, maker: records }).value;
      }
    } finally {
      file.close();
    }
    const zip = ZipReader.open(path);
    try {
      const archive = openArchive(zip, path);
      return readTorchPickle(archive.pickle, {
        maker: records,
        strict: opts.strict,
        storage: (key, dtype, numel) => {
          const entry = archive.storageEntry(key);
          const nbytes = numel * itemSize(dtype);
          if (entry.size !== nbytes) {
            throw new TorchFileError(`${path}: record ${entry.name} holds ${entry.size} bytes; its storage needs ${nbytes} (${numel} ${dtype} elements)`);
          }
          const { array, bytes } = records.empty([numel], dtype);
          if (nbytes > 0) bytes.set(zip.read(entry)); // CRC-checked
          return array;
        },
      }).value;
    } finally {
      zip.close();
    }
  } catch (e) {
    if (e instanceof Error && !e.message.includes(path)) e.message = `${path}: ${e.message}`;
    throw e;
  }
}
