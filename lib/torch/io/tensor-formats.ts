// .npy, .npz and .safetensors files as Tensors: the formats' readers and writers (npy.ts, npz.ts,
// safetensors.ts) given the torch layer's arrays.
import type { Tensor } from '../tensor.js';
import { readNpy, writeNpy, type NpySource } from '../../formats/npy.js';
import { readNpz, writeNpz, type LoadNpzOptions, type SaveNpzOptions } from '../../formats/npz.js';
import { readSafetensors, writeSafetensors, type Safetensors, type SaveSafetensorsOptions } from '../../formats/safetensors.js';
import { tensors } from './tensor-arrays.js';

/** Loads a .npy file, from its path or its bytes, as a CPU tensor. */
export function loadNpy(source: NpySource, name?: string): Tensor {
  return readNpy(source, name, tensors);
}

/** Saves a tensor as a .npy file (format 1.0, or 2.0 for a huge header), written atomically. */
export function saveNpy(t: Tensor, path: string): void {
  writeNpy(t, path, tensors);
}

/**
 * Loads the arrays of an .npz file (its path or its bytes) as CPU tensors, by name without `.npy`, in a
 * null-prototype record: a member named `__proto__`, `constructor` or `toString` is an array like any other.
 */
export function loadNpz(source: string | Uint8Array, opts: LoadNpzOptions = {}): Record<string, Tensor> {
  return readNpz(source, opts, tensors);
}

/** Saves tensors as an .npz file that np.load reads, written atomically. */
export function saveNpz(arrays: Record<string, Tensor>, path: string, opts: SaveNpzOptions = {}): void {
  writeNpz(arrays, path, tensors, opts);
}

/** Loads every tensor of a .safetensors file (its path or its bytes) as a CPU tensor, and its metadata. */
export function loadSafetensors(source: string | Uint8Array, name = '<buffer>'): Safetensors<Tensor> {
  return readSafetensors(source, name, tensors);
}

/** Saves tensors as a .safetensors file, written atomically. */
export function saveSafetensors(arrays: Record<string, Tensor>, path: string, opts: SaveSafetensorsOptions = {}): void {
  writeSafetensors(arrays, path, tensors, opts);
}
