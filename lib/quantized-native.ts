// The native functions of native/quantized.cc, typed. They are registered on the addon like every other part's,
// but declared here rather than in lib/native.ts's Addon interface, which belongs to the loader.
import { native, type RawTensor } from './native.js';

/** How a quantized tensor maps its integers to real values, by PyTorch's torch.qscheme names. */
export type QScheme =
  | 'per_tensor_affine'
  | 'per_channel_affine'
  | 'per_channel_affine_float_qparams'
  | 'per_tensor_symmetric'
  | 'per_channel_symmetric';

export interface QuantizedAddon {
  quantizePerTensor(t: RawTensor, scale: number, zeroPoint: number, dtype: number): RawTensor;
  quantizePerChannel(t: RawTensor, scales: RawTensor, zeroPoints: RawTensor, axis: number, dtype: number): RawTensor;
  makePerTensorQuantized(t: RawTensor, scale: number, zeroPoint: number): RawTensor;
  makePerChannelQuantized(t: RawTensor, scales: RawTensor, zeroPoints: RawTensor, axis: number): RawTensor;
  /** A quantized tensor on the memory of `storage` (an integer tensor), as torch._utils._rebuild_qtensor. */
  perTensorQuantizedView(storage: RawTensor, dtype: number, size: number[], stride: number[], offset: number,
    scale: number, zeroPoint: number): RawTensor;
  /** Without `checkValues` (default true), the scales and zero points are checked by shape only. */
  perChannelQuantizedView(storage: RawTensor, dtype: number, size: number[], stride: number[], offset: number,
    scales: RawTensor, zeroPoints: RawTensor, axis: number, checkValues?: boolean): RawTensor;
  /** Throws unless a per-channel tensor's scales are positive and finite and its zero points fit its dtype. */
  checkQuantizerValues(t: RawTensor): void;
  qscheme(t: RawTensor): QScheme;
  qScale(t: RawTensor): number;
  qZeroPoint(t: RawTensor): number;
  qPerChannelScales(t: RawTensor): RawTensor;
  qPerChannelZeroPoints(t: RawTensor): RawTensor;
  qPerChannelAxis(t: RawTensor): number;
  intRepr(t: RawTensor): RawTensor;
  dequantize(t: RawTensor): RawTensor;
}

let addon: QuantizedAddon | undefined;

/** The addon's quantized functions; a binary built before native/quantized.cc existed is told to be rebuilt. */
export function quantizedNative(): QuantizedAddon {
  if (addon) return addon;
  const a = native() as unknown as Partial<QuantizedAddon>;
  if (typeof a.perTensorQuantizedView !== 'function') {
    throw new Error('the native addon has no quantized tensor functions (native/quantized.cc): rebuild it (npm run build:native)');
  }
  return (addon = a as QuantizedAddon);
}
