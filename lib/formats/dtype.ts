// dtypes by PyTorch's names (without `torch.`). The codes are c10::ScalarType's, which native/core/args.cc reads.

export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'
  | QuantizedDType;

/**
 * The quantized dtypes (torch.qint8, torch.quint8, torch.qint32): each element an integer (int8, uint8, int32)
 * standing for `(int - zeroPoint) * scale`. Such tensors come from files (torch.save of a quantized model) or from
 * torch.quantizePerTensor/quantizePerChannel; their data is read with `intRepr()` or `dequantize()`, not with
 * toTypedArray()/toArray() (which throw, as PyTorch's tolist() does), and most ops refuse them, as in PyTorch.
 */
export type QuantizedDType = 'qint8' | 'quint8' | 'qint32';

const CODES: Record<DType, number> = {
  uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, float32: 6, float64: 7, bool: 11, bfloat16: 15,
  qint8: 12, quint8: 13, qint32: 14,
};

const ITEM_SIZE: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
  qint8: 1, quint8: 1, qint32: 4,
};

/** Bytes per element (torch.Tensor.element_size()). */
export function itemSize(dtype: DType): number {
  return ITEM_SIZE[dtype];
}

const UNDERLYING: Record<QuantizedDType, DType> = { qint8: 'int8', quint8: 'uint8', qint32: 'int32' };

export function isQuantizedDType(dtype: unknown): dtype is QuantizedDType {
  return dtype === 'qint8' || dtype === 'quint8' || dtype === 'qint32';
}

/** The integer dtype a quantized dtype stores its elements as (qint8 -> int8, quint8 -> uint8, qint32 -> int32). */
export function underlyingDType(dtype: QuantizedDType): DType {
  return UNDERLYING[dtype];
}

/** The quantized dtype stored as an integer dtype (int8 -> qint8, uint8 -> quint8, int32 -> qint32), or undefined. */
export function quantizedDTypeOf(dtype: DType): QuantizedDType | undefined {
  return dtype === 'int8' ? 'qint8' : dtype === 'uint8' ? 'quint8' : dtype === 'int32' ? 'qint32' : undefined;
}

// PyTorch's other spellings: torch.float, torch.double, torch.half, torch.long, torch.int, torch.short.
const ALIASES: Record<string, DType> = {
  float: 'float32', double: 'float64', half: 'float16', long: 'int64', int: 'int32', short: 'int16',
};

const BY_CODE = new Map<number, DType>(Object.entries(CODES).map(([name, code]) => [code, name as DType]));

export const DTYPES = Object.keys(CODES) as DType[];

export function isDType(name: unknown): name is DType | keyof typeof ALIASES {
  return typeof name === 'string' && (Object.hasOwn(CODES, name) || Object.hasOwn(ALIASES, name));
}

export function parseDType(name: unknown): DType {
  if (typeof name === 'string') {
    // Own properties only: 'constructor' or 'toString' is no dtype.
    if (Object.hasOwn(CODES, name)) return name as DType;
    if (Object.hasOwn(ALIASES, name)) return ALIASES[name];
  }
  throw new TypeError(`unknown dtype ${JSON.stringify(name)}; expected one of ${DTYPES.join(', ')}`);
}

export function dtypeCode(name: DType): number {
  return CODES[name];
}

export function dtypeOfCode(code: number): DType {
  const name = BY_CODE.get(code);
  if (!name) throw new TypeError(`libtorch returned a tensor of unsupported scalar type ${code}`);
  return name;
}

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export type TypedArray =
  | Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/**
 * The TypedArray that holds a dtype's elements as they are stored (float16/bfloat16 as raw Uint16 bits, quantized
 * dtypes as their integers).
 */
export function storageArray(dtype: DType, buffer: ArrayBuffer): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer);
    case 'float64': return new Float64Array(buffer);
    case 'int64': return new BigInt64Array(buffer);
    case 'int32': return new Int32Array(buffer);
    case 'int16': return new Int16Array(buffer);
    case 'int8': return new Int8Array(buffer);
    case 'uint8': case 'bool': return new Uint8Array(buffer);
    case 'float16': case 'bfloat16': return new Uint16Array(buffer);
    // The stored integers of a quantized tensor (what intRepr() holds).
    case 'qint8': return new Int8Array(buffer);
    case 'quint8': return new Uint8Array(buffer);
    case 'qint32': return new Int32Array(buffer);
  }
}

/** The dtype a TypedArray's elements are, or null where it is ambiguous (Uint16Array: float16 or bfloat16 bits). */
export function dtypeOfArray(data: ArrayBufferView): DType | null {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  return null;
}

/** How a quantized tensor maps its integers to real values, by PyTorch's torch.qscheme names. */
export type QScheme =
  | 'per_tensor_affine'
  | 'per_channel_affine'
  | 'per_channel_affine_float_qparams'
  | 'per_tensor_symmetric'
  | 'per_channel_symmetric';
