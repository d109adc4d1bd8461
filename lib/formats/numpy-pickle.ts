// numpy values inside pickles (a checkpoint's `val_cosine: np.float64(...)`, arrays kept in `args`): numpy
// scalars become numbers (bigints beyond 2^53, booleans, PyComplex), numeric arrays become the caller's arrays
// (Tensors, or records). Three
// globals do it, under `numpy.core` (numpy 1) and `numpy._core` (numpy 2):
//   numpy.dtype(code, align, copy) + BUILD(state)                    -> a NumpyDType
//   numpy.core.multiarray.scalar(dtype, bytes)                       -> a number
//   numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD((version, shape, dtype, fortran, bytes))
//   numpy.core.numeric._frombuffer(bytes, dtype, shape, order)       (protocol 5)  -> an array
// Arrays are C-contiguous (Fortran-ordered ones are copied).
// An array of a dtype lvmtorch lacks (uint16, strings, objects) stays an inert PickleObject with its bytes.
import type { GlobalHandler, GlobalResolver } from './pickle/reader.js';
import { BUILD_HOOK, PickleObject, PyComplex, type Buildable } from './pickle/values.js';
import type { DType } from './dtype.js';
import { fortranStrides, swapBytes, type ArrayMaker } from './arrays.js';
import { halfToNumber } from './records.js';

/** A numpy dtype as pickled: its type code ('f8', 'i4', 'b1', 'U5', ...) and byte order. */
export class NumpyDType implements Buildable {
  byteorder = '<';
  constructor(readonly code: string) {}

  get kind(): string {
    return this.code[0];
  }
  get itemsize(): number {
    return Number(this.code.slice(1)) || 0;
  }
  get bigEndian(): boolean {
    return this.byteorder === '>';
  }

  // numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags).
  [BUILD_HOOK](state: unknown): this {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteorder = state[1];
    return this;
  }
}

const TORCH_DTYPES: Record<string, DType> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64', u1: 'uint8', b1: 'bool',
};

/** The lvmtorch dtype of a numpy dtype code, or undefined where there is none. */
export function torchDTypeOfNumpy(code: string): DType | undefined {
  return Object.hasOwn(TORCH_DTYPES, code) ? TORCH_DTYPES[code] : undefined;
}

// An ndarray made by _reconstruct: complete only when BUILD brings its shape, dtype and bytes.
class PendingArray<A> implements Buildable {
  constructor(private readonly maker: ArrayMaker<A>) {}

  [BUILD_HOOK](state: unknown): unknown {
    if (!Array.isArray(state)) throw new TypeError('an ndarray state must be a tuple');
    const [shape, dtype, fortran, data] = state.length === 5 ? state.slice(1) : state;
    return arrayOf(data, dtype, shape, fortran === true, this.maker);
  }
}

function dtypeOf(args: unknown[]): NumpyDType {
  const [code] = args;
  if (typeof code !== 'string') throw new TypeError('numpy.dtype() needs a type code');
  return new NumpyDType(code);
}

function scalarOf(args: unknown[]): unknown {
  const [dtype, data] = args;
  const bytes = typeof data === 'string' ? latin1Bytes(data) : data;
  if (!(dtype instanceof NumpyDType) || !(bytes instanceof Uint8Array)) {
    return new PickleObject('numpy.core.multiarray', 'scalar', args);
  }
  if (bytes.length !== dtype.itemsize) throw new RangeError(`a ${dtype.code} scalar of ${bytes.length} bytes`);
  return decodeScalar(dtype, bytes) ?? new PickleObject('numpy.core.multiarray', 'scalar', args);
}

function decodeScalar(dtype: NumpyDType, bytes: Uint8Array): unknown {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const le = !dtype.bigEndian;
  switch (dtype.code) {
    case 'f2': return halfToNumber(v.getUint16(0, le));
    case 'f4': return v.getFloat32(0, le);
    case 'f8': return v.getFloat64(0, le);
    case 'i1': return v.getInt8(0);
    case 'i2': return v.getInt16(0, le);
    case 'i4': return v.getInt32(0, le);
    case 'i8': return safe(v.getBigInt64(0, le));
    case 'u1': return v.getUint8(0);
    case 'u2': return v.getUint16(0, le);
    case 'u4': return v.getUint32(0, le);
    case 'u8': return safe(v.getBigUint64(0, le));
    case 'b1': return v.getUint8(0) !== 0;
    case 'c8': return new PyComplex(v.getFloat32(0, le), v.getFloat32(4, le));
    case 'c16': return new PyComplex(v.getFloat64(0, le), v.getFloat64(8, le));
    default: return undefined;
  }
}

function safe(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function arrayOf<A>(data: unknown, dtype: unknown, shape: unknown, fortran: boolean, maker: ArrayMaker<A>): unknown {
  const dims = checkShape(shape);
  const bytes = typeof data === 'string' ? latin1Bytes(data) : data;
  const torchDType = dtype instanceof NumpyDType ? torchDTypeOfNumpy(dtype.code) : undefined;
  if (!torchDType || !(bytes instanceof Uint8Array) || !(dtype instanceof NumpyDType)) {
    const inert = new PickleObject('numpy', 'ndarray', [shape, dtype]);
    inert.state = data;
    return inert;
  }
  const numel = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== numel * dtype.itemsize) {
    throw new RangeError(`an ndarray of shape [${dims}] ${dtype.code} needs ${numel * dtype.itemsize} bytes, got ${bytes.length}`);
  }
  const flat = fortran && dims.length >= 2;
  const { array, bytes: into } = maker.empty(flat ? [numel] : dims, torchDType);
  try {
    into.set(bytes);
    if (dtype.bigEndian) swapBytes(into, dtype.itemsize);
    if (!flat) return array;
    // Fortran order: the bytes are the transpose's C order. Made contiguous, as every array we load is.
    const view = maker.asStrided(array, dims, fortranStrides(dims), 0);
    const out = maker.contiguous(view);
    if (out !== view) maker.dispose(view);
    return out;
  } finally {
    if (flat) maker.dispose(array);
  }
}

function checkShape(shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError('an ndarray shape must be a tuple of non-negative ints');
  }
  return shape as number[];
}

function latin1Bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

/** Resolves numpy's scalar, dtype and array globals (numpy.core.* and numpy._core.*), arrays made by `maker`. */
export function numpyGlobals<A>(maker: ArrayMaker<A>): GlobalResolver {
  const handlers: Record<string, GlobalHandler> = {
    'numpy.dtype': { call: dtypeOf },
    'numpy.ndarray': {}, // only an argument of _reconstruct
    'multiarray.scalar': { call: scalarOf },
    'multiarray._reconstruct': { call: () => new PendingArray(maker) },
    'numeric._frombuffer': { call: (a) => arrayOf(a[0], a[1], a[2], a[3] === 'F', maker) },
  };
  const find = (key: string): GlobalHandler | undefined => (Object.hasOwn(handlers, key) ? handlers[key] : undefined);
  return (module, name) => {
    if (module === 'numpy') return find(`numpy.${name}`);
    const m = /^numpy\.(?:_core|core)\.(multiarray|numeric)$/.exec(module);
    return m ? find(`${m[1]}.${name}`) : undefined;
  };
}
