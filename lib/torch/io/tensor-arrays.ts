// The torch layer's side of the file formats (arrays.ts): readers make Tensors, writers read Tensors. A reader
// fills a new tensor's memory in place; a writer writes a tensor's elements from where they lie, copying only a
// non-contiguous or non-CPU tensor.
import { dtypeCode, isQuantizedDType, underlyingDType, type DType } from '../../formats/dtype.js';
import { native } from '../native.js';
import { fromRaw, rawOf, Tensor } from '../tensor.js';
import * as torch from '../functions.js';
import { itemSize, type ArrayInfo, type ArrayMaker } from '../../formats/arrays.js';
import type { TorchArraySource } from '../../formats/torch-pickle.js';

/** Tensors, as the formats' readers make arrays and their writers read them. */
export const tensors: ArrayMaker<Tensor> & TorchArraySource<Tensor> = {
  isArray: (x): x is Tensor => x instanceof Tensor,
  info: (t): ArrayInfo => ({
    dtype: t.dtype, shape: t.shape, requiresGrad: t.requiresGrad, qscheme: t.isQuantized ? t.qscheme() : undefined,
  }),
  empty(shape, dtype) {
    const tensor = emptyStorage(shape, dtype);
    return { array: tensor, bytes: bytesOf(tensor) };
  },
  asStrided: (base, shape, strides, offset) => base.asStrided(shape, strides, offset),
  quantizedView(base, dtype, shape, strides, offset, q, checkValues) {
    const code = dtypeCode(dtype);
    if (q.scheme === 'per_tensor_affine') {
      return fromRaw(native().perTensorQuantizedView(rawOf(base), code, shape, strides, offset, q.scale, q.zeroPoint));
    }
    return fromRaw(native().perChannelQuantizedView(
      rawOf(base), code, shape, strides, offset, rawOf(q.scales), rawOf(q.zeroPoints), q.axis, checkValues,
    ));
  },
  checkQuantizer: (t) => native().checkQuantizerValues(rawOf(t)),
  contiguous: (t) => t.contiguous(),
  setRequiresGrad: (t, flag) => void t.requiresGrad_(flag),
  dispose: (t) => t.dispose(),

  withBytes: withTensorBytes,
  isDisposed: (t) => t.isDisposed,
  layout(t) {
    const [strides, offset, nbytes, storage] = native().layout(rawOf(t));
    return { strides, offset, nbytes, storage, device: t.device };
  },
  cpuStorage(t, numel) {
    if (t.device === 'cpu') return { array: t, owned: false };
    const detached = t.detach();
    const whole = detached.asStrided([numel], [1], 0);
    const cpu = whole.to('cpu');
    whole.dispose();
    detached.dispose();
    return { array: cpu, owned: true };
  },
  quantizer(t) {
    const scheme = t.qscheme();
    if (scheme === 'per_tensor_affine') return { scheme, scale: t.qScale(), zeroPoint: t.qZeroPoint() };
    if (scheme === 'per_channel_affine' || scheme === 'per_channel_affine_float_qparams') {
      return { scheme, scales: t.qPerChannelScales(), zeroPoints: t.qPerChannelZeroPoints(), axis: t.qPerChannelAxis() };
    }
    return { scheme };
  },
};

/**
 * A new flat, uninitialised CPU tensor: the memory a storage's bytes are read into. A quantized dtype's is its
 * integers (int8, uint8, int32), on which quantized views are made.
 */
export function emptyStorage(shape: number[], dtype: DType): Tensor {
  return torch.empty(shape, { dtype: isQuantizedDType(dtype) ? underlyingDType(dtype) : dtype });
}

/**
 * Calls `use` with the tensor's elements as C-order bytes (little-endian, as libtorch keeps them on every platform
 * it runs on here). The bytes are the tensor's own memory when it is a contiguous CPU tensor, else a copy that is
 * freed afterwards; either way they are valid only during the call.
 */
export function withTensorBytes<T>(t: Tensor, use: (bytes: Uint8Array) => T): T {
  const cpu = t.device === 'cpu' ? t : t.to('cpu');
  const flat = cpu.contiguous(); // a new handle on the same memory when already contiguous
  try {
    return use(bytesOf(flat));
  } finally {
    flat.dispose();
    if (cpu !== t) cpu.dispose();
  }
}

/** The bytes of a CPU tensor's whole storage, without a copy. */
export function storageBytes(t: Tensor): Uint8Array {
  return new Uint8Array(native().storageView(rawOf(t)));
}

/** The bytes of a contiguous CPU tensor's elements (not the whole storage it may view). */
function bytesOf(t: Tensor): Uint8Array {
  const size = itemSize(t.dtype);
  if (t.numel === 0) return new Uint8Array(0);
  const storage = native().storageView(rawOf(t));
  return new Uint8Array(storage, t.storageOffset() * size, t.numel * size);
}
