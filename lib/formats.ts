// `import ... from 'lvmtorch/formats'`: the file formats on their own, with no libtorch: zip archives, the pickle
// object model, torch.save files, .npy, .npz and .safetensors, atomic writes, and `inspect`'s tree. Readers give
// tensors as ArrayRecords (dtype, shape, strides, offset, the bytes) unless given another ArrayMaker; writers read
// arrays through an ArraySource. The root entry point's load() and save() are these with libtorch's Tensors.
export {
  PickleError, PickleObject, PickleGlobal, Tuple, tuple, isTuple, FrozenSet, PyComplex, PyFloat, pyFloat, orderedDict,
  pythonClass, pythonAttrs,
} from './io/pickle/index.js';
export {
  ZipError, ZipReader, ZipWriter, type ZipEntry, type ZipWriterOptions, type ZipAddOptions, type ReservedEntry,
} from './io/zip.js';
export { writeFileAtomic, writeFileAtomicSync } from './io/atomic.js';
export { itemSize, type ArrayInfo, type ArrayMaker, type ArraySource, type Quantizer } from './io/arrays.js';
export { ArrayRecord, records } from './io/records.js';
export { detectFormat, FileFormatError, type FileFormat } from './io/detect.js';
export { readRecords, type ReadRecordsOptions } from './io/read-records.js';
export { TorchFileError } from './io/torch-error.js';
export { readNpy, writeNpy, NpyError, type NpySource } from './io/npy.js';
export { readNpz, writeNpz, type LoadNpzOptions, type SaveNpzOptions } from './io/npz.js';
export {
  readSafetensors, writeSafetensors, SafetensorsError, type Safetensors, type SaveSafetensorsOptions,
} from './io/safetensors.js';
export { tree, formatTree, tensorIndex, type TreeLine, type TensorSummary, type QuantizationSummary } from './io/tree.js';
