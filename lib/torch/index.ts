// The `torch` namespace, as PyTorch's: the module-level functions (tensor factories, ops, grad mode, memory scopes,
// seeds, threads; ./functions.ts), files (torch.load and torch.save for every format, and each format's own
// functions), torch.optim, torch.nn, torch.cuda and torch.linalg. This file only re-exports.
export * from './functions.js';
export type { Dim, NestedArray, Scalar } from './tensor.js';
export type { TypedArray } from '../formats/dtype.js';
export type { Disposable } from './scope.js';
export { load, loadBytes, save, type LoadFileOptions, type SaveFileOptions } from './io/load.js';
export { loadTorchFile, loadTorchFileSync, loadTorchBuffer, saveTorchFile, type LoadOptions } from './io/torch-file.js';
export { loadNpy, saveNpy, loadNpz, saveNpz, loadSafetensors, saveSafetensors } from './io/tensor-formats.js';
export { mappedFiles } from './io/storage-io.js';
export * as optim from './optim/index.js';
export * as nn from './nn/index.js';
