// Zip archives, read and written: the container of PyTorch's .pt files and numpy's .npz files.
export { ZipError } from './zip/error.js';
export { ZipReader, type ZipEntry } from './zip/reader.js';
export { ZipWriter, type ReservedEntry, type ZipAddOptions, type ZipWriterOptions } from './zip/writer.js';
