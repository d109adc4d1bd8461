// One entry point for every file format lvmtorch reads: the format is told from the bytes, not the name, since
// checkpoints are often named .bin, .ckpt or nothing at all. save() goes by the extension, which says what the
// user wants to write.
import { extname } from 'node:path';

import type { Device } from '../device.js';
import { Tensor } from '../tensor.js';
import { mapLeaves } from '../../formats/map-leaves.js';
import { loadNpy, loadNpz, loadSafetensors, saveNpy, saveNpz, saveSafetensors } from './tensor-formats.js';
import { loadTorchBuffer, loadTorchFile, saveTorchFile } from './torch-file.js';
import { detectFormat, entryNames, formatOf, type FileFormat } from '../../formats/detect.js';
import { ZipReader } from '../../formats/zip.js';

export { detectFormat, FileFormatError, type FileFormat } from '../../formats/detect.js';

export interface LoadFileOptions {
  /** Where tensors go; they load on the CPU by default, whatever device they were saved from. */
  device?: Device;
  /** torch files: refuse every Python global outside the data allow-list, as weights_only=True does. */
  strict?: boolean;
  /** torch files (zip format) only: map the file instead of reading it, as torch.load(mmap=True); see LoadOptions. */
  mmap?: boolean;
  /** torch files: check each storage record's CRC-32 (default true, false with mmap); see LoadOptions. */
  checkCrc?: boolean;
}

export interface SaveFileOptions {
  /** .npz: deflate the arrays, as np.savez_compressed does. */
  compress?: boolean;
  /** .safetensors: the `__metadata__` string map. */
  metadata?: Record<string, string>;
}

/**
 * Loads a torch.save file (zip or legacy), a .npy (a Tensor), a .npz (a record of Tensors) or a .safetensors
 * file (a record of Tensors; loadSafetensors also gives its metadata).
 */
export async function load<T = unknown>(path: string, opts: LoadFileOptions = {}): Promise<T> {
  if (typeof path !== 'string' || path === '') throw new TypeError('load() needs a file path');
  const format = detectFormat(path);
  if (format === 'torch') return loadTorchFile<T>(path, opts);
  if (opts.mmap) throw new TypeError(`${path}: mmap is supported for torch.save files, and this is a ${format} file`);
  const value = format === 'npy' ? loadNpy(path) : format === 'npz' ? loadNpz(path) : loadSafetensors(path).tensors;
  return (opts.device === undefined ? value : toDevice(value, opts.device)) as T;
}

/**
 * load() for a file's bytes held in memory (readRegularFile reads them without blocking the event loop); `name`
 * is what errors call the file.
 */
export function loadBytes<T = unknown>(bytes: Uint8Array, name: string, opts: Omit<LoadFileOptions, 'mmap'> = {}): T {
  const format: FileFormat = formatOf(bytes, name, () => entryNames(ZipReader.fromBuffer(bytes, name)));
  if (format === 'torch') return loadTorchBuffer<T>(bytes, { ...opts, name });
  const value = format === 'npy' ? loadNpy(bytes, name) : format === 'npz' ? loadNpz(bytes, { name }) : loadSafetensors(bytes, name).tensors;
  return (opts.device === undefined ? value : toDevice(value, opts.device)) as T;
}

/**
 * Writes `obj` in the format the path's extension names: .pt/.pth/.ckpt/.bin (torch.save), .npy (one Tensor),
 * .npz or .safetensors (a record of Tensors). Every format is written atomically.
 */
export async function save(obj: unknown, path: string, opts: SaveFileOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new TypeError('save() needs a file path');
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.npy':
      if (!(obj instanceof Tensor)) throw new TypeError(`${path}: a .npy file holds one Tensor, got ${what(obj)}`);
      return saveNpy(obj, path);
    case '.npz':
      return saveNpz(tensorRecord(obj, path), path, { compress: opts.compress });
    case '.safetensors':
      return saveSafetensors(tensorRecord(obj, path), path, { metadata: opts.metadata });
    case '.pt': case '.pth': case '.ckpt': case '.bin': case '.tar':
      return saveTorchFile(obj, path);
    default:
      throw new RangeError(`${path}: save() writes .pt/.pth/.ckpt/.bin, .npy, .npz or .safetensors, not "${ext}" ` +
        '(use torch.saveTorchFile, saveNpy, saveNpz or saveSafetensors to choose the format yourself)');
  }
}


function toDevice(value: Tensor | Record<string, Tensor>, device: Device): Tensor | Record<string, Tensor> {
  return mapLeaves(value, (leaf) => {
    if (!(leaf instanceof Tensor)) return leaf;
    const moved = leaf.to(device);
    leaf.dispose();
    return moved;
  }) as Tensor | Record<string, Tensor>;
}

function tensorRecord(obj: unknown, path: string): Record<string, Tensor> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || obj instanceof Tensor)
    throw new TypeError(`${path}: needs a record of name -> Tensor, got ${what(obj)}`);
  for (const [k, v] of Object.entries(obj)) {
    if (!(v instanceof Tensor)) throw new TypeError(`${path}: "${k}" is ${what(v)}, not a Tensor`);
  }
  return obj as Record<string, Tensor>;
}

function what(x: unknown): string {
  if (x instanceof Tensor) return 'a Tensor';
  if (Array.isArray(x)) return 'an array';
  return x === null ? 'null' : typeof x;
}

