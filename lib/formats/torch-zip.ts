// The zip archive of a torch.save file (PyTorch >= 1.6), as PyTorch's reader checks it: one `<name>/data.pkl`,
// `<name>/data/<key>` for each storage, a `byteorder` record that says little (or none), a format version PyTorch
// reads.
import { TorchFileError } from './torch-error.js';
import type { ZipEntry, ZipReader } from './zip.js';

/** What PyTorch's own reader accepts (caffe2/serialize/inline_container.h, kMaxSupportedFileFormatVersion). */
const MAX_FILE_FORMAT_VERSION = 10;
const ZIP_MAGIC = [0x50, 0x4b]; // 'PK'

export interface TorchArchive {
  /** The bytes of data.pkl. */
  pickle: Buffer;
  /** The record of a storage key the pickle names; throws a TorchFileError naming what is wrong. */
  storageEntry(key: string): ZipEntry;
}

/** Checks the archive's records and reads its pickle; `name` is what errors call the file. */
export function openArchive(zip: ZipReader, name: string): TorchArchive {
  const pkl = zip.entries.filter((e) => /^[^/]*\/data\.pkl$/.test(e.name) || e.name === 'data.pkl');
  if (pkl.length !== 1) {
    throw new TorchFileError(`${name}: not a torch.save file: a zip archive with ${pkl.length === 0 ? 'no' : pkl.length} data.pkl records`);
  }
  const prefix = pkl[0].name.slice(0, -'data.pkl'.length);
  checkRecords(zip, prefix, name);
  return { pickle: zip.read(pkl[0]), storageEntry: (key) => storageEntry(zip, prefix, key, name) };
}

export function isZip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === ZIP_MAGIC[0] && head[1] === ZIP_MAGIC[1];
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
