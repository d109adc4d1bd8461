// Making quantized tensors, as torch.quantize_per_tensor / torch.quantize_per_channel (from float32 values) and
// torch._make_per_tensor_quantized_tensor / _make_per_channel_quantized_tensor (from the stored integers). The
// methods that read one back (qScale(), intRepr(), dequantize(), ...) are on Tensor. Every parameter is checked
// before libtorch sees it (native/torch/quantized.cc): a scale must be a positive finite number, a zero point must fit
// the dtype, and per-channel scales and zero points must hold one value per slice along `axis`.
import { dtypeCode, isQuantizedDType, type QuantizedDType } from '../formats/dtype.js';
import { native } from './native.js';
import { fromRaw, rawOf, Tensor } from './tensor.js';

function quantizedCode(dtype: unknown): number {
  if (!isQuantizedDType(dtype)) {
    throw new TypeError(`dtype must be 'qint8', 'quint8' or 'qint32', got ${JSON.stringify(dtype) ?? typeof dtype}`);
  }
  return dtypeCode(dtype);
}

function tensorArg(x: unknown, what: string): Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${what} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  return x;
}

// Per-channel parameters as Tensors; arrays of numbers become float64 scales and int64 zero points (as PyTorch
// keeps them), or float32 zero points when any is fractional (per_channel_affine_float_qparams).
function withParams<T>(scales: Tensor | number[], zeroPoints: Tensor | number[], use: (s: Tensor, z: Tensor) => T): T {
  const made: Tensor[] = [];
  const asTensor = (x: Tensor | number[], what: string, dtype: () => 'float64' | 'int64' | 'float32'): Tensor => {
    if (x instanceof Tensor) return x;
    if (!Array.isArray(x) || !x.every((v) => typeof v === 'number')) throw new TypeError(`${what} must be a Tensor or an array of numbers`);
    const d = dtype();
    const values = d === 'float64' ? Float64Array.from(x) : d === 'int64' ? BigInt64Array.from(x, BigInt) : Float32Array.from(x);
    const t = fromRaw(native().fromData(values, dtypeCode(d), [x.length], undefined));
    made.push(t);
    return t;
  };
  try {
    const s = asTensor(scales, 'scales', () => 'float64');
    const z = asTensor(zeroPoints, 'zeroPoints', () => ((zeroPoints as number[]).every(Number.isInteger) ? 'int64' : 'float32'));
    return use(s, z);
  } finally {
    for (const t of made) t.dispose();
  }
}

/**
 * torch.quantize_per_tensor: float32 values to `dtype` with one scale and zero point,
 * int = clamp(round(x / scale) + zeroPoint) to the dtype's range.
 */
export function quantizePerTensor(t: Tensor, scale: number, zeroPoint: number, dtype: QuantizedDType): Tensor {
  return fromRaw(native().quantizePerTensor(rawOf(tensorArg(t, 'input')), scale, zeroPoint, quantizedCode(dtype)));
}

/**
 * torch.quantize_per_channel: float32 values to `dtype` with one scale and zero point per slice along `axis`
 * (scales float64, zero points int64; float zero points give per_channel_affine_float_qparams, quint8 only).
 */
export function quantizePerChannel(
  t: Tensor, scales: Tensor | number[], zeroPoints: Tensor | number[], axis: number, dtype: QuantizedDType,
): Tensor {
  const input = rawOf(tensorArg(t, 'input'));
  const code = quantizedCode(dtype);
  return withParams(scales, zeroPoints, (s, z) => fromRaw(native().quantizePerChannel(input, rawOf(s), rawOf(z), axis, code)));
}

/**
 * torch._make_per_tensor_quantized_tensor: a quantized tensor holding these integers as they are (int8 -> qint8,
 * uint8 -> quint8, int32 -> qint32), with one scale and zero point. The integers are copied.
 */
export function makePerTensorQuantizedTensor(ints: Tensor, scale: number, zeroPoint: number): Tensor {
  return fromRaw(native().makePerTensorQuantized(rawOf(tensorArg(ints, 'input')), scale, zeroPoint));
}

/** torch._make_per_channel_quantized_tensor: the same with one scale and zero point per slice along `axis`. */
export function makePerChannelQuantizedTensor(
  ints: Tensor, scales: Tensor | number[], zeroPoints: Tensor | number[], axis: number,
): Tensor {
  const input = rawOf(tensorArg(ints, 'input'));
  return withParams(scales, zeroPoints, (s, z) => fromRaw(native().makePerChannelQuantized(input, rawOf(s), rawOf(z), axis)));
}
