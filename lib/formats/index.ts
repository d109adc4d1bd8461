// `import ... from 'lvmtorch/formats'`: the file formats on their own, with no libtorch: zip archives, the pickle
// object model, torch.save files, .npy, .npz and .safetensors, atomic writes, and `inspect`'s tree. Readers give
// tensors as ArrayRecords (dtype, shape, strides, offset, the bytes) unless given another ArrayMaker; writers read
// arrays through an ArraySource. The root entry point's load() and save() are these with libtorch's Tensors.
/** @module lvmtorch/formats */
export {
  PickleError, PickleObject, PickleGlobal, Tuple, tuple, isTuple, FrozenSet, PyComplex, PyFloat, pyFloat, orderedDict,
  pythonClass, pythonAttrs,
} from './pickle/index.js';
export {
  ZipError, ZipReader, ZipWriter, type ZipEntry, type ZipWriterOptions, type ZipAddOptions, type ReservedEntry,
} from './zip.js';
export { writeFileAtomic, writeFileAtomicSync } from './atomic.js';
export { itemSize, type ArrayInfo, type ArrayMaker, type ArraySource, type Quantizer } from './arrays.js';
export { ArrayRecord, records } from './records.js';
export { detectFormat, FileFormatError, type FileFormat } from './detect.js';
export { readRecords, type ReadRecordsOptions } from './read-records.js';
export { TorchFileError } from './torch-error.js';
export { readNpy, writeNpy, NpyError, type NpySource } from './npy.js';
export { readNpz, writeNpz, type LoadNpzOptions, type SaveNpzOptions } from './npz.js';
export {
  readSafetensors, writeSafetensors, SafetensorsError, type Safetensors, type SaveSafetensorsOptions,
} from './safetensors.js';
export { tree, formatTree, tensorIndex, type TreeLine, type TensorSummary, type QuantizationSummary } from './tree.js';
