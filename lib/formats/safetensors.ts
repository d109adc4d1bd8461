// .safetensors files (github.com/huggingface/safetensors, its README's format section): an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}},
// then the data, every tensor's bytes little-endian, C order, the offsets relative to the end of the header.
import type { DType } from './dtype.js';
import { checkBools, elementCount, itemSize, type ArrayMaker, type ArraySource } from './arrays.js';
import { writeFileAtomicSync } from './atomic.js';
import { BufferRange, FileRange, readAt, writeAt, type ByteRange } from './positional.js';
import { records, type ArrayRecord } from './records.js';
import { LvmtorchError } from '../errors.js';

/** A .safetensors file that cannot be read, or tensors that cannot be written as one. */
export class SafetensorsError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_SAFETENSORS');
  }
}

/** The reference implementation refuses headers over 100 MB. */
export const MAX_HEADER = 100_000_000;
const METADATA_KEY = '__metadata__';

// safetensors has no quantized dtypes.
const CODES: Record<DType, string | null> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16',
  int8: 'I8', uint8: 'U8', bool: 'BOOL', qint8: null, quint8: null, qint32: null,
};
const BY_CODE = new Map(Object.entries(CODES).filter(([, code]) => code !== null).map(([dtype, code]) => [code, dtype as DType]));
/** The reference writer's order: larger dtypes first (its dtype enum, reversed), so data stays aligned; then by name. */
const WRITE_ORDER: DType[] = ['int64', 'float64', 'float32', 'int32', 'bfloat16', 'float16', 'int16', 'int8', 'uint8', 'bool'];

/** Both records have no prototype: names from the file (`__proto__`, `constructor`) are keys like any other. */
export interface Safetensors<A> {
  tensors: Record<string, A>;
  metadata: Record<string, string>;
}

export interface SaveSafetensorsOptions {
  /** Free-form string pairs, stored as the header's `__metadata__`. */
  metadata?: Record<string, string>;
}

interface Info {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** Reads every tensor of a .safetensors file (its path or its bytes) as an array `maker` makes, and its metadata. */
export function readSafetensors<A = ArrayRecord>(
  source: string | Uint8Array, name = '<buffer>', maker = records as unknown as ArrayMaker<A>,
): Safetensors<A> {
  const fail = (m: string): SafetensorsError => new SafetensorsError(m);
  const range = typeof source === 'string' ? new FileRange(source, fail) : new BufferRange(source, name, fail);
  const tensors: Record<string, A> = Object.create(null);
  try {
    const { infos, metadata, dataStart } = readHeader(range);
    for (const info of infos) tensors[info.name] = readTensor(range, info, dataStart, maker);
    return { tensors, metadata };
  } catch (e) {
    for (const t of Object.values(tensors)) maker.dispose(t);
    throw e;
  } finally {
    range.close();
  }
}

/** Writes arrays as a .safetensors file, atomically. */
export function writeSafetensors<A>(
  tensors: Record<string, A>, path: string, source: ArraySource<A>, opts: SaveSafetensorsOptions = {},
): void {
  const fail = (m: string): SafetensorsError => new SafetensorsError(`${path}: ${m}`);
  const { header, order } = buildHeader(tensors, source, opts.metadata ?? {}, fail);
  writeFileAtomicSync(path, (fd) => {
    let position = writeAt(fd, header, 0);
    for (const key of order) position = source.withBytes(tensors[key], (bytes) => writeAt(fd, bytes, position));
  });
}

function readHeader(range: ByteRange): { infos: Info[]; metadata: Record<string, string>; dataStart: number } {
  const fail = (m: string): SafetensorsError => new SafetensorsError(`${range.name}: ${m}`);
  if (range.size < 8) throw fail(`not a safetensors file: only ${range.size} bytes`);
  const length = readAt(range, 0, 8).readBigUInt64LE(0);
  if (length > BigInt(MAX_HEADER)) throw fail(`the header length field says ${length} bytes, more than the ${MAX_HEADER} allowed`);
  const n = Number(length);
  if (8 + n > range.size) throw fail(`truncated: the header length field says ${n} bytes, the file has ${range.size - 8} after it`);
  const json = parseJson(readAt(range, 8, n), fail);
  const metadata = readMetadata(json[METADATA_KEY], fail);
  const infos = Object.entries(json).filter(([key]) => key !== METADATA_KEY).map(([key, v]) => readInfo(key, v, fail));
  checkLayout(infos, range.size - 8 - n, fail);
  return { infos, metadata, dataStart: 8 + n };
}

function parseJson(bytes: Buffer, fail: (m: string) => SafetensorsError): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw fail(`the header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('the header is not a JSON object');
  return json as Record<string, unknown>;
}

function readMetadata(value: unknown, fail: (m: string) => SafetensorsError): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('__metadata__ is not an object');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw fail(`__metadata__ '${k}' is not a string`);
    out[k] = v;
  }
  return out;
}

function readInfo(name: string, value: unknown, fail: (m: string) => SafetensorsError): Info {
  const bad = (m: string): SafetensorsError => fail(`tensor '${name}': ${m}`);
  if (typeof value !== 'object' || value === null) throw bad('its entry is not an object');
  const { dtype: code, shape, data_offsets: offsets } = value as Record<string, unknown>;
  const dtype = BY_CODE.get(code as string);
  if (dtype === undefined) throw bad(`dtype ${JSON.stringify(code)} is not supported (${[...BY_CODE.keys()].join(' ')} are)`);
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 <= begin <= end`);
  }
  const count = elementCount(shape, dtype);
  const [begin, end] = offsets as number[];
  if (count === null || count * itemSize(dtype) !== end - begin) {
    throw bad(`shape [${shape.join(', ')}] of ${code} needs ${count === null ? 'too many' : count * itemSize(dtype)} bytes, data_offsets give ${end - begin}`);
  }
  return { name, dtype, shape, begin, end };
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** The tensors must tile the data section exactly: no gap, no overlap, nothing past its end. */
function checkLayout(infos: Info[], dataLength: number, fail: (m: string) => SafetensorsError): void {
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const info of sorted) {
    if (info.begin !== expected) {
      const what = info.begin < expected ? 'overlaps the tensor before it' : 'leaves a gap before it';
      throw fail(`tensor '${info.name}' starts at data offset ${info.begin} and ${what} (which ends at ${expected})`);
    }
    expected = info.end;
  }
  if (expected !== dataLength) {
    throw fail(`the tensors cover ${expected} bytes of data, the file holds ${dataLength} after the header`);
  }
}

function readTensor<A>(range: ByteRange, info: Info, dataStart: number, maker: ArrayMaker<A>): A {
  const { array, bytes } = maker.empty(info.shape, info.dtype);
  try {
    if (bytes.byteLength > 0) range.readInto(dataStart + info.begin, bytes);
    if (info.dtype === 'bool') checkBools(bytes, (m) => new SafetensorsError(`${range.name}: tensor '${info.name}': ${m}`));
    return array;
  } catch (e) {
    maker.dispose(array);
    throw e;
  }
}

function buildHeader<A>(
  tensors: Record<string, A>, source: ArraySource<A>, metadata: Record<string, string>, fail: (m: string) => SafetensorsError,
): { header: Buffer; order: string[] } {
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw fail(`metadata '${k}' is not a string`);
  for (const [k, t] of Object.entries(tensors)) {
    if (!source.isArray(t)) throw fail(`'${k}' is not a Tensor`);
    const { dtype } = source.info(t);
    if (CODES[dtype] === null) {
      throw fail(`'${k}' is a ${dtype} tensor: safetensors has no quantized dtypes; save t.dequantize(), or t.intRepr() with its scale and zero point, or use a .pt file`);
    }
  }
  const info = (k: string): { dtype: DType; shape: readonly number[] } => source.info(tensors[k]);
  const rank = (k: string): number => WRITE_ORDER.indexOf(info(k).dtype);
  const order = Object.keys(tensors).sort((a, b) => rank(a) - rank(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (order.includes(METADATA_KEY)) throw fail(`'${METADATA_KEY}' cannot name a tensor`);
  // Built as text, key by key: a JS object would move keys that look like integers ("0", "1") to the front.
  const fields: string[] = [];
  if (Object.keys(metadata).length) fields.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const key of order) {
    const { dtype, shape } = info(key);
    const end = offset + shape.reduce((a, b) => a * b, 1) * itemSize(dtype);
    fields.push(`${JSON.stringify(key)}:${JSON.stringify({ dtype: CODES[dtype], shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  // Padded with spaces to a multiple of 8, as the reference writer does, so the data starts 8-byte aligned.
  const padded = Math.ceil(json.length / 8) * 8;
  const header = Buffer.alloc(8 + padded, ' ');
  header.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(header, 8);
  return { header, order };
}
