// `import ... from 'lvmtorch/formats'`: the file formats' own readers and writers, beneath load() and save(): zip
// archives, the pickle object model, .npy, .npz and .safetensors, atomic writes and the memory-mapped files.
export {
  PickleError, PickleObject, PickleGlobal, Tuple, tuple, isTuple, FrozenSet, PyComplex, PyFloat, pyFloat, orderedDict,
  pythonClass, pythonAttrs,
} from './io/pickle/index.js';
export {
  ZipError, ZipReader, ZipWriter, type ZipEntry, type ZipWriterOptions, type ZipAddOptions, type ReservedEntry,
} from './io/zip.js';
export { writeFileAtomic, writeFileAtomicSync } from './io/atomic.js';
export { mappedFiles } from './io/storage-io.js';
export { loadNpy, saveNpy, NpyError } from './io/npy.js';
export { loadNpz, saveNpz, type LoadNpzOptions, type SaveNpzOptions } from './io/npz.js';
export {
  loadSafetensors, saveSafetensors, SafetensorsError, type Safetensors, type SaveSafetensorsOptions,
} from './io/safetensors.js';
