// Arrays as plain records: what a file's readers make when no libtorch is asked for (`lvmtorch inspect`, the
// `lvmtorch/formats` entry point). A record is a view (sizes, strides, offset in elements) over bytes that other
// records of the same storage share, as tensors of one storage share memory; values() reads its elements as
// numbers, dequantized as libtorch's scalar path dequantizes them.
import { isQuantizedDType, underlyingDType, type DType, type QuantizedDType } from './dtype.js';
import { fortranStrides, itemSize, type ArrayInfo, type ArrayMaker, type Quantizer } from './arrays.js';

export class ArrayRecord {
  constructor(
    /** The element type; a quantized record's storage holds its integers (int8, uint8, int32). */
    readonly dtype: DType,
    readonly shape: number[],
    readonly strides: number[],
    /** Where the first element is in `storage`, in elements. */
    readonly offset: number,
    /** The storage's bytes, little-endian; shared by every view of it. */
    readonly storage: Uint8Array,
    public requiresGrad = false,
    readonly quantizer?: Quantizer<ArrayRecord>,
  ) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The elements in C order, as numbers (int64 ones past 2^53 rounded; quantized ones dequantized). */
  values(): Float64Array {
    const out = new Float64Array(this.numel);
    if (out.length === 0) return out;
    const read = reader(this.dtype, this.storage);
    const dequantize = this.quantizer ? dequantizer(this.quantizer, this.shape) : undefined;
    let i = 0;
    forEachIndex(this.shape, this.strides, this.offset, (at, index) => {
      const v = read(at);
      out[i++] = dequantize ? dequantize(v, index) : v;
    });
    return out;
  }
}

/** The record maker: arrays of plain bytes. */
export const records: ArrayMaker<ArrayRecord> = {
  isArray: (x): x is ArrayRecord => x instanceof ArrayRecord,
  info: (a): ArrayInfo => ({ dtype: a.dtype, shape: a.shape, requiresGrad: a.requiresGrad, qscheme: a.quantizer?.scheme }),
  empty(shape, dtype) {
    const flat = isQuantizedDType(dtype) ? underlyingDType(dtype) : dtype;
    const bytes = new Uint8Array(shape.reduce((a, b) => a * b, 1) * itemSize(flat));
    return { array: new ArrayRecord(flat, [...shape], contiguousStrides(shape), 0, bytes), bytes };
  },
  asStrided: (base, shape, strides, offset) => new ArrayRecord(base.dtype, shape, strides, offset, base.storage),
  quantizedView: (base, dtype, shape, strides, offset, q, checkValues) => {
    // PyTorch writes float qparams under per_channel_affine's name; their zero points are floats.
    const float = q.scheme !== 'per_tensor_affine' && (q.zeroPoints.dtype === 'float32' || q.zeroPoints.dtype === 'float64');
    const scheme: Quantizer<ArrayRecord> = float ? { ...q, scheme: 'per_channel_affine_float_qparams' } : q;
    const r = new ArrayRecord(dtype, shape, strides, offset, base.storage, false, scheme);
    if (checkValues) checkQuantizer(r);
    return r;
  },
  checkQuantizer,
  contiguous(a) {
    if (a.strides.every((s, i) => s === contiguousStrides(a.shape)[i]) && a.offset === 0) return a;
    const size = itemSize(a.dtype);
    const bytes = new Uint8Array(a.numel * size);
    let i = 0;
    forEachIndex(a.shape, a.strides, a.offset, (at) => {
      bytes.set(a.storage.subarray(at * size, (at + 1) * size), i);
      i += size;
    });
    return new ArrayRecord(a.dtype, [...a.shape], contiguousStrides(a.shape), 0, bytes, a.requiresGrad, a.quantizer);
  },
  setRequiresGrad(a, flag) {
    a.requiresGrad = flag;
  },
  dispose() {},
};

function contiguousStrides(shape: readonly number[]): number[] {
  return fortranStrides([...shape].reverse()).reverse();
}

// Calls fn with each element's place in the storage (in elements) and its index, in C order.
function forEachIndex(shape: readonly number[], strides: readonly number[], offset: number, fn: (at: number, index: number[]) => void): void {
  if (shape.some((d) => d === 0)) return;
  const index = shape.map(() => 0);
  let at = offset;
  for (;;) {
    fn(at, index);
    let d = shape.length - 1;
    for (; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        at += strides[d];
        break;
      }
      at -= (shape[d] - 1) * strides[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

function reader(dtype: DType, bytes: Uint8Array): (at: number) => number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (isQuantizedDType(dtype) ? underlyingDType(dtype) : dtype) {
    case 'float32': return (at) => view.getFloat32(at * 4, true);
    case 'float64': return (at) => view.getFloat64(at * 8, true);
    case 'float16': return (at) => halfToNumber(view.getUint16(at * 2, true));
    case 'bfloat16': return (at) => new Float32Array(new Uint32Array([view.getUint16(at * 2, true) << 16]).buffer)[0];
    case 'int64': return (at) => Number(view.getBigInt64(at * 8, true));
    case 'int32': return (at) => view.getInt32(at * 4, true);
    case 'int16': return (at) => view.getInt16(at * 2, true);
    case 'int8': return (at) => view.getInt8(at);
    default: return (at) => view.getUint8(at); // uint8, bool
  }
}

/** An IEEE 754 half's bits as a number. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// float(scale) * (q - zero_point) in float32, as libtorch's dequantize_val; q * scale + zero_point for float
// qparams (their zero point is a float offset).
function dequantizer(q: Quantizer<ArrayRecord>, shape: readonly number[]): (v: number, index: number[]) => number {
  if (q.scheme === 'per_tensor_affine') {
    const scale = Math.fround(q.scale);
    return (v) => Math.fround(scale * (v - q.zeroPoint));
  }
  const scales = Float32Array.from(q.scales.values());
  const zeroPoints = q.zeroPoints.values();
  if (scales.length !== shape[q.axis]) throw new RangeError(`${scales.length} scales for ${shape[q.axis]} channels`);
  if (q.scheme === 'per_channel_affine_float_qparams') {
    return (v, index) => Math.fround(Math.fround(v * scales[index[q.axis]]) + zeroPoints[index[q.axis]]);
  }
  return (v, index) => Math.fround(scales[index[q.axis]] * (v - zeroPoints[index[q.axis]]));
}

const INT_RANGE: Record<QuantizedDType, [number, number]> = { qint8: [-128, 127], quint8: [0, 255], qint32: [-(2 ** 31), 2 ** 31 - 1] };

function checkQuantizer(r: ArrayRecord): void {
  const q = r.quantizer;
  if (!q || q.scheme === 'per_tensor_affine') return;
  const scales = q.scales.values();
  const bad = scales.findIndex((s) => !Number.isFinite(s) || !(s > 0));
  if (bad >= 0) throw new RangeError(`scale ${bad} is ${scales[bad]}; scales must be positive and finite`);
  if (q.scheme !== 'per_channel_affine') return;
  const [lo, hi] = INT_RANGE[r.dtype as QuantizedDType];
  const zeroPoints = q.zeroPoints.values();
  const out = zeroPoints.findIndex((z) => z < lo || z > hi);
  if (out >= 0) throw new RangeError(`zero point ${out} is ${zeroPoints[out]}, outside ${r.dtype}'s range ${lo}..${hi}`);
}
