// Which format a file holds, told from its bytes, not its name: checkpoints are often named .bin, .ckpt or
// nothing at all.
import { closeSync, openSync, readSync } from 'node:fs';

import { LvmtorchError } from '../errors.js';
import { ZipReader } from './zip.js';

export type FileFormat = 'torch' | 'npy' | 'npz' | 'safetensors';

const HEAD_BYTES = 16;

/** A file that is none of the formats lvmtorch reads; the message names the file and its first bytes. */
export class FileFormatError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_FILE_FORMAT');
  }
}

/** Which format a file holds, from its first bytes (and, for zip archives, their entry names). */
export function detectFormat(path: string): FileFormat {
  return formatOf(readHead(path), path, () => entryNames(ZipReader.open(path)));
}

// The names of a zip's entries; closes it.
export function entryNames(zip: ZipReader): string[] {
  try {
    return zip.entries.map((e) => e.name);
  } finally {
    zip.close();
  }
}

// `zipNames` is asked only for a zip archive: a torch.save archive holds `<name>/data.pkl`, an .npz only
// `<array>.npy` members.
export function formatOf(head: Uint8Array, name: string, zipNames: () => string[]): FileFormat {
  const bytes = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, HEAD_BYTES));
  if (bytes.subarray(0, 6).equals(Buffer.from('\x93NUMPY', 'latin1'))) return 'npy';
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    const names = zipNames();
    if (names.some((n) => n === 'data.pkl' || n.endsWith('/data.pkl'))) return 'torch';
    if (names.length > 0 && names.every((n) => n.endsWith('.npy'))) return 'npz';
    throw new FileFormatError(`${name}: a zip archive that is neither a torch.save file (no data.pkl) nor an .npz ` +
      `(members other than .npy: ${names.filter((n) => !n.endsWith('.npy')).slice(0, 3).join(', ')})`);
  }
  // Legacy torch.save files start with a pickle (protocol 2) of the magic number.
  if (bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) return 'torch';
  // safetensors: an 8-byte little-endian header length, then the JSON header.
  if (bytes.length > 8 && bytes[8] === 0x7b /* { */) return 'safetensors';
  throw new FileFormatError(`${name}: not a torch.save, .npy, .npz or .safetensors file (it starts with ${hex(bytes)})`);
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    return head.subarray(0, readSync(fd, head, 0, HEAD_BYTES, 0));
  } finally {
    closeSync(fd);
  }
}

function hex(bytes: Buffer): string {
  return bytes.length === 0 ? 'nothing: it is empty' : bytes.subarray(0, 8).toString('hex').replace(/(..)/g, '$1 ').trim();
}
