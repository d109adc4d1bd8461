// The non-numeric arrays of an .npz file, which the tensor reader (lib/formats/npz.ts) refuses: object arrays (a
// pickle of the ndarray after the .npy header, as np.save writes with allow_pickle) and fixed-width string arrays
// ('<U8', '|S8'). The seed keeps its texts, ids and metadata so. The pickle goes through our safe reader: nothing
// in it runs, and an unknown Python class stays an inert record.
import { MAGIC, MAX_HEADER, parseHeader, prefixLength } from '../../formats/npy-header.js';
import { numpyGlobals } from '../../formats/numpy-pickle.js';
import { chainGlobals, loads, PickleObject, pythonGlobals } from '../../formats/pickle/index.js';
import { tensors } from '../../torch/io/tensor-arrays.js';
import type { ZipReader } from '../../formats/zip.js';
import { DatasetError } from './errors.js';

export interface ValueArray {
  shape: number[];
  /** The elements in C order: strings, numbers, dicts (plain objects), lists, inert records. */
  values: unknown[];
}

/** The .npy header of a member: its dtype descr and shape, and where its data starts. */
export function memberHeader(bytes: Uint8Array, where: string): { descr: string; shape: number[]; fortran: boolean; offset: number } {
  const fail = (m: string): DatasetError => new DatasetError(`${where}: ${m}`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw fail('not a .npy array');
  const major = buf[6];
  if (![1, 2, 3].includes(major)) throw fail(`.npy format version ${major} is not supported`);
  const prefix = prefixLength(major);
  if (buf.length < prefix) throw fail('truncated .npy header');
  const length = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  if (length > MAX_HEADER || prefix + length > buf.length) throw fail('truncated .npy header');
  const text = buf.subarray(prefix, prefix + length).toString(major === 3 ? 'utf8' : 'latin1');
  const h = parseHeader(text, fail);
  return { descr: h.descr, shape: h.shape, fortran: h.fortranOrder, offset: prefix + length };
}

/** Reads a member holding objects or strings; undefined when it is a numeric array (read those as tensors). */
export function readValueArray(zip: ZipReader, key: string, where: string): ValueArray | undefined {
  const name = `${where}: '${key}'`;
  const bytes = zip.read(`${key}.npy`);
  const { descr, shape, fortran, offset } = memberHeader(bytes, name);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(offset);
  let values: unknown[];
  const text = /^([<>|=]?)([US])(\d+)$/.exec(descr);
  if (/^[|<>=]?O\d*$/.test(descr)) {
    values = objects(data, name);
  } else if (text) {
    values = strings(data, text[2] as 'U' | 'S', Number(text[3]), text[1] === '>', count, name);
  } else {
    return undefined;
  }
  if (values.length !== count) throw new DatasetError(`${name}: holds ${values.length} values for shape (${shape.join(', ')})`);
  if (fortran && shape.length > 1) throw new DatasetError(`${name}: Fortran-ordered object arrays are not supported`);
  return { shape, values };
}

function objects(data: Uint8Array, name: string): unknown[] {
  let array: unknown;
  try {
    array = loads(data, { globals: chainGlobals(numpyGlobals(tensors), pythonGlobals) });
  } catch (e) {
    throw new DatasetError(`${name}: cannot read its pickled objects: ${(e as Error).message}`);
  }
  // numpy pickles an ndarray as _reconstruct(ndarray, (0,), b'b') + BUILD((version, shape, dtype, fortran, items)).
  if (array instanceof PickleObject && array.module === 'numpy' && array.name === 'ndarray' && Array.isArray(array.state)) {
    return array.state;
  }
  if (Array.isArray(array)) return array;
  throw new DatasetError(`${name}: its pickle does not hold an ndarray of objects`);
}

function strings(data: Uint8Array, kind: 'U' | 'S', width: number, bigEndian: boolean, count: number, name: string): string[] {
  const itemBytes = kind === 'U' ? width * 4 : width;
  if (data.length !== count * itemBytes) throw new DatasetError(`${name}: truncated string data`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let j = 0; j < width; j++) {
      const at = i * itemBytes + (kind === 'U' ? j * 4 : j);
      const code = kind === 'U' ? view.getUint32(at, !bigEndian) : data[at];
      if (code === 0) break;
      if (code > 0x10ffff) throw new DatasetError(`${name}: item ${i} holds ${code}, not a Unicode code point`);
      s += String.fromCodePoint(code);
    }
    out.push(s);
  }
  return out;
}
