// numpy's .npy files (numpy/lib/format.py): format versions 1.0, 2.0 and 3.0; C or Fortran order; little- or
// big-endian numbers, bool. Arrays are made by the caller's ArrayMaker (Tensors in the torch layer, records
// otherwise), the file's bytes read straight into their memory.
import type { DType } from './dtype.js';
import { writeFileAtomicSync } from './atomic.js';
import {
  checkBools, elementCount, fortranStrides, itemSize, swapBytes, type ArrayMaker, type ArraySource,
} from './arrays.js';
import { formatHeader, MAGIC, MAX_HEADER, parseHeader, prefixLength } from './npy-header.js';
import { BufferRange, FileRange, readAt, writeAt, type ByteRange } from './positional.js';
import { records, type ArrayRecord } from './records.js';
import { LvmtorchError } from '../errors.js';

/** A .npy file that cannot be read, or a tensor that cannot be written as one. */
export class NpyError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_NPY');
  }
}

// numpy's type codes (kind + item size) and the dtypes they load as.
const FROM_NUMPY: Record<string, DType> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64', u1: 'uint8', b1: 'bool',
};
const TO_NUMPY: Record<DType, string | null> = {
  float16: '<f2', float32: '<f4', float64: '<f8', int8: '|i1', int16: '<i2', int32: '<i4', int64: '<i8', uint8: '|u1',
  bool: '|b1', bfloat16: null, qint8: null, quint8: null, qint32: null,
};
const WHY_NOT: [RegExp, string][] = [
  [/^O/, 'an object array holds pickled Python objects, and loading those needs pickle (allow_pickle is not supported)'],
  [/^u[248]$/, 'libtorch 1.13 has no unsigned integer dtype but uint8'],
  [/^c\d+$/, 'complex numbers are not supported'],
  [/^[USa]/, 'strings are not supported'],
  [/^[Mm]/, 'datetimes and timedeltas are not supported'],
  [/^V/, 'raw void data is not supported (bfloat16 from ml_dtypes is saved so: convert it to float32 in Python first)'],
];

export type NpySource = string | Uint8Array;

/** Reads a .npy file, from its path or its bytes, as an array `maker` makes (a record by default). */
export function readNpy<A = ArrayRecord>(source: NpySource, name?: string, maker = records as unknown as ArrayMaker<A>): A {
  const fail = (m: string): NpyError => new NpyError(m);
  const range = typeof source === 'string' ? new FileRange(source, fail) : new BufferRange(source, name ?? '<buffer>', fail);
  try {
    return readNpyRange(range, maker);
  } finally {
    range.close();
  }
}

/** Reads a .npy array from a range of bytes (a file, a buffer, a zip member), each byte once, in order. */
export function readNpyRange<A>(range: ByteRange, maker: ArrayMaker<A>): A {
  const fail = (m: string): NpyError => new NpyError(`${range.name}: ${m}`);
  if (range.size < 10) throw fail(`not a .npy file: only ${range.size} bytes`);
  const head = readAt(range, 0, 8);
  if (!head.subarray(0, 6).equals(MAGIC)) throw fail('not a .npy file (it does not start with \\x93NUMPY)');
  const [major, minor] = [head[6], head[7]];
  if (![1, 2, 3].includes(major) || minor !== 0) throw fail(`.npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`);
  const prefix = prefixLength(major);
  const lengthField = readAt(range, 8, prefix - 8);
  const headerLength = major === 1 ? lengthField.readUInt16LE(0) : lengthField.readUInt32LE(0);
  if (headerLength > MAX_HEADER) throw fail(`the header claims ${headerLength} bytes, more than the ${MAX_HEADER} allowed`);
  if (prefix + headerLength > range.size) throw fail(`truncated: the header claims ${headerLength} bytes, the file has ${range.size - prefix} after the prefix`);
  const text = decodeHeader(readAt(range, prefix, headerLength), major, fail);
  const header = parseHeader(text, fail);
  const { dtype, bigEndian } = dtypeOf(header.descr, fail);
  const count = elementCount(header.shape, dtype);
  if (count === null) throw fail(`shape (${header.shape.join(', ')}) is too large`);
  const dataOffset = prefix + headerLength;
  const needed = count * itemSize(dtype);
  const present = range.size - dataOffset;
  if (present !== needed) {
    const what = present < needed ? 'truncated' : 'trailing bytes';
    throw fail(`${what}: shape (${header.shape.join(', ')}) of ${header.descr} needs ${needed} bytes of data, the file has ${present}`);
  }
  // Fortran order is C order of the reversed shape: read it flat, then view it with column-major strides.
  const shape = header.fortranOrder ? [count] : header.shape;
  const { array, bytes } = maker.empty(shape, dtype);
  try {
    if (needed > 0) range.readInto(dataOffset, bytes);
    if (bigEndian) swapBytes(bytes, itemSize(dtype));
    if (dtype === 'bool') checkBools(bytes, fail);
    if (!header.fortranOrder) return array;
    const view = maker.asStrided(array, header.shape, fortranStrides(header.shape), 0);
    maker.dispose(array);
    return view;
  } catch (e) {
    maker.dispose(array);
    throw e;
  }
}

/** Writes an array as a .npy file (format 1.0, or 2.0 for a huge header), atomically. */
export function writeNpy<A>(a: A, path: string, source: ArraySource<A>): void {
  const parts = npyParts(a, path, source);
  writeFileAtomicSync(path, (fd) => {
    parts((header, data) => writeAt(fd, data, writeAt(fd, header, 0)));
  });
}

/**
 * The header of `a` as a .npy file, and a function that calls `use` with the header and the array's bytes (its own
 * memory where it is a contiguous CPU tensor). For writers that put the array inside another file (.npz).
 */
export function npyParts<A>(a: A, where: string, source: ArraySource<A>): <T>(use: (header: Buffer, data: Uint8Array) => T) => T {
  if (!source.isArray(a)) throw new TypeError(`${where}: expected a Tensor`);
  const { dtype, shape } = source.info(a);
  const descr = TO_NUMPY[dtype];
  if (descr === null) {
    const how = dtype.startsWith('q') ? 't.dequantize() or t.intRepr()' : "t.to('float32')";
    throw new NpyError(`${where}: numpy has no ${dtype} dtype; convert the tensor first (${how})`);
  }
  const header = formatHeader({ descr, fortranOrder: false, shape: [...shape] });
  return (use) => source.withBytes(a, (data) => use(header, data));
}

function decodeHeader(bytes: Buffer, major: number, fail: (m: string) => NpyError): string {
  if (major < 3) return bytes.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw fail('the version 3.0 header is not valid UTF-8');
  }
}

function dtypeOf(descr: string, fail: (m: string) => NpyError): { dtype: DType; bigEndian: boolean } {
  const order = '<>|='.includes(descr[0]) ? descr[0] : '=';
  const code = order === descr[0] ? descr.slice(1) : descr;
  const dtype = Object.hasOwn(FROM_NUMPY, code) ? FROM_NUMPY[code] : undefined;
  if (dtype === undefined) {
    const why = WHY_NOT.find(([re]) => re.test(code))?.[1] ?? 'unknown type code';
    throw fail(`numpy dtype '${descr}' cannot be loaded: ${why} (supported: ${Object.keys(FROM_NUMPY).join(' ')})`);
  }
  // '=' is the writer's native order; every machine numpy and libtorch run on here is little-endian.
  return { dtype, bigEndian: order === '>' };
}
