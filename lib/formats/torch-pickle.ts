// The PyTorch layer over the generic pickle reader and writer: how torch.save puts tensors into a pickle. Arrays
// are made and read through the caller's ArrayMaker / TorchArraySource (arrays.ts): Tensors in the torch layer,
// records with no libtorch.
//
// Reading: a storage is a persistent id ('storage', torch.FloatStorage, '<key>', 'cpu', numel[, view]); the
// caller's `storage(key, dtype, numel)` makes each one ONCE as a flat array (filled straight from the file),
// and `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` becomes
// `asStrided(storage, size, stride, offset)`, so tensors that shared a storage in Python share memory here.
// Parameters become plain tensors (requiresGrad kept); OrderedDict, torch.Size, torch.device and dtypes become
// plain values; numpy values go through numpy-pickle.ts. Anything else stays an inert PickleObject, or with
// `strict` is refused, as torch.load(weights_only=True) refuses it.
//
// Quantized tensors: a torch.QInt8Storage / QUInt8Storage / QInt32Storage is held as a flat int8 / uint8 / int32
// tensor, and `torch._utils._rebuild_qtensor(storage, offset, size, stride, quantizer_params, requires_grad,
// hooks)` becomes a quantized tensor on that memory (as Python's set_() makes it), with quantizer_params
// `(torch.per_tensor_affine, scale, zero_point)` or `(torch.per_channel_affine, scales, zero_points, axis)`
// (scales float64 and zero points int64 tensors, or lists in old files; float32 zero points for
// per_channel_affine_float_qparams, which PyTorch writes under the per_channel_affine name). Every parameter is
// checked as PyTorch 2.13's _rebuild_qtensor checks it, and more (scales positive and finite, zero points inside
// the dtype's range); the symmetric schemes are refused, as PyTorch refuses them.
//
// Writing: each Tensor becomes `_rebuild_tensor_v2(persistent id, offset, size, stride, requires_grad,
// OrderedDict())` exactly as torch.save writes it, each storage listed once (keys '0', '1', ... in order of
// first use) for the caller to write as `data/<key>`; a quantized tensor becomes `_rebuild_qtensor(...)` as
// torch.save 2.13 writes it, its per-channel scales and zero points as tensors of their own storages.
import {
  PickleGlobal, PickleObject, PersistentRef, isPlainObject, orderedDict, pyFloat, pythonClass, tuple, tupleFrom,
} from './pickle/values.js';
import { chainGlobals, pythonGlobals } from './pickle/python-globals.js';
import { readPickle, type GlobalHandler, type GlobalResolver, type ReadResult } from './pickle/reader.js';
import { dumps } from './pickle/writer.js';
import { numpyGlobals } from './numpy-pickle.js';
import { mapLeaves } from './map-leaves.js';
import { isQuantizedDType, parseDType, type DType, type QuantizedDType } from './dtype.js';
import { itemSize, type ArrayMaker, type ArraySource, type Quantizer } from './arrays.js';
import { DisposedError } from '../errors.js';

// ---- dtypes ----

const STORAGE_DTYPES: Record<string, DType | string> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', UntypedStorage: 'uint8',
  ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128', QInt8Storage: 'qint8',
  QUInt8Storage: 'quint8', QInt32Storage: 'qint32', QUInt4x2Storage: 'quint4x2', QUInt2x4Storage: 'quint2x4',
};

const STORAGE_OF: Record<DType, string> = {
  float32: 'FloatStorage', float64: 'DoubleStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage',
  int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage', uint8: 'ByteStorage',
  bool: 'BoolStorage', qint8: 'QInt8Storage', quint8: 'QUInt8Storage', qint32: 'QInt32Storage',
};

// torch.<name> dtypes as pickled (torch.dtype's __reduce__ gives its attribute name).
const DTYPE_NAMES = new Set(['float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long',
  'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool', 'complex32', 'complex64', 'cfloat', 'complex128',
  'cdouble', 'chalf', 'qint8', 'quint8', 'qint32', 'quint4x2', 'quint2x4', 'uint16', 'uint32', 'uint64',
  'float8_e4m3fn', 'float8_e5m2']);

/** A torch.*Storage class named in a persistent id; `dtype` is a string lvmtorch may not support. */
export class TorchStorageType {
  constructor(readonly name: string, readonly dtype: DType | string) {}
}

/**
 * A torch.qscheme named in a pickle (GLOBAL torch.per_tensor_affine, ...): how a quantized tensor's integers map
 * to real values. It stays this value outside a quantized tensor's parameters and is written back as the same global.
 */
export class TorchQScheme {
  constructor(readonly name: string) {}
  toString(): string {
    return `torch.${this.name}`;
  }
}

const QSCHEMES = new Set(['per_tensor_affine', 'per_tensor_symmetric', 'per_channel_affine', 'per_channel_symmetric',
  'per_channel_affine_float_qparams']);

/**
 * A storage loaded from the file: its key, dtype and element count, and the flat array holding it (for a quantized
 * storage, qint8/quint8/qint32, the flat int8/uint8/int32 array of its integers).
 */
export class TorchStorage<A = unknown> {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly location: string,
    readonly tensor: A,
  ) {}
}

// ---- reading ----

/** Makes the flat storage array for one key, once; the caller fills it from the file. */
export type StorageFactory<A> = (key: string, dtype: DType, numel: number, location: string) => A;

export interface TorchReadOptions<A> {
  /** What tensors are made as: the torch layer's Tensors, or records (records.ts). */
  maker: ArrayMaker<A>;
  storage: StorageFactory<A>;
  /** Refuse globals outside the torch/numpy/Python data allow-list, as weights_only=True (default false). */
  strict?: boolean;
  /** Extra handlers, consulted before torch's own. */
  globals?: GlobalResolver;
  offset?: number;
  /**
   * The storages are filled only after the pickle is read: per-channel scales and zero points are then checked
   * by checkQuantizedValues() afterwards, not while the quantized tensors are made.
   */
  storagesFilledLater?: boolean;
}

/**
 * Checks the per-channel scales and zero points of every quantized array in a loaded value (as they are made, for
 * files whose storages are filled after their pickle is read); `fail` makes the error.
 */
export function checkQuantizedValues<A>(value: unknown, maker: ArrayMaker<A>, fail: (message: string) => Error): void {
  mapLeaves(value, (leaf) => {
    if (!maker.isArray(leaf)) return leaf;
    const { dtype, shape, qscheme } = maker.info(leaf);
    if (!isQuantizedDType(dtype)) return leaf;
    try {
      maker.checkQuantizer(leaf);
    } catch (e) {
      throw fail(`a ${dtype} tensor [${shape}] (${qscheme}): ${(e as Error).message}`);
    }
    return leaf;
  });
}

/** Reads the pickle of a torch.save file (data.pkl, or the legacy format's object pickle). */
export function readTorchPickle<A>(data: Uint8Array, opts: TorchReadOptions<A>): ReadResult {
  const storages = new Map<string, TorchStorage<A>>();
  return readPickle(data, {
    globals: chainGlobals(opts.globals, torchGlobals(opts.maker, !opts.storagesFilledLater), numpyGlobals(opts.maker), pythonGlobals),
    strict: opts.strict,
    offset: opts.offset,
    persistentLoad: (pid) => loadStorage(pid, storages, opts),
  });
}

// ('storage', storage_type, key, location, numel) and the legacy format's extra view_metadata; the legacy
// format's ('module', cls, source_file, source) of a pickled nn.Module is just the class (an inert reference).
function loadStorage<A>(pid: unknown, storages: Map<string, TorchStorage<A>>, opts: TorchReadOptions<A>): unknown {
  if (Array.isArray(pid) && pid.length === 4 && asText(pid[0]) === 'module') return pid[1];
  if (!Array.isArray(pid) || pid.length < 5 || asText(pid[0]) !== 'storage') {
    throw new TypeError(`unknown persistent id ${describePid(pid)}; torch.save writes ('storage', type, key, location, numel)`);
  }
  const [, type, rawKey, rawLocation, numel, view] = pid;
  if (!(type instanceof TorchStorageType)) throw new TypeError('a persistent id without a torch.*Storage type');
  const key = String(asText(rawKey));
  const location = String(asText(rawLocation));
  const dtype = supportedDType(type);
  if (!Number.isSafeInteger(numel) || (numel as number) < 0 || !Number.isSafeInteger((numel as number) * itemSize(dtype))) {
    throw new TypeError(`storage ${key} has numel ${String(numel)}`);
  }
  let storage = storages.get(key);
  if (!storage) {
    storage = new TorchStorage(key, dtype, numel as number, location, opts.storage(key, dtype, numel as number, location));
    storages.set(key, storage);
  } else if (storage.dtype !== dtype) {
    throw new TypeError(`storage ${key} is read as both ${storage.dtype} and ${dtype}`);
  }
  return view ? storageView(storage, view, opts.maker) : storage;
}

// Pre-1.0 storage views: (view_key, offset, size) inside a root storage.
function storageView<A>(root: TorchStorage<A>, view: unknown, maker: ArrayMaker<A>): TorchStorage<A> {
  if (!Array.isArray(view) || view.length !== 3) throw new TypeError('malformed storage view metadata');
  const [key, offset, size] = view as [unknown, number, number];
  const t = maker.asStrided(root.tensor, [size], [1], offset);
  return new TorchStorage(String(asText(key)), root.dtype, size, root.location, t);
}

function supportedDType(type: TorchStorageType): DType {
  try {
    return parseDType(type.dtype);
  } catch {
    throw new TypeError(`torch.${type.name} (${type.dtype}) is not a dtype lvmtorch supports`);
  }
}

function asText(x: unknown): unknown {
  return x instanceof Uint8Array ? new TextDecoder('latin1').decode(x) : x;
}

function describePid(pid: unknown): string {
  return Array.isArray(pid) ? `(${pid.slice(0, 2).map((x) => JSON.stringify(asText(x)) ?? typeof x).join(', ')}, ...)` : typeof pid;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
function rebuildTensor<A>(args: unknown[], maker: ArrayMaker<A>): A {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) throw new TypeError('the first argument is not a storage');
  if (isQuantizedDType(storage.dtype)) {
    throw new TypeError(`storage ${storage.key} is a torch.${STORAGE_OF[storage.dtype]}: quantized tensors are rebuilt by _rebuild_qtensor, with their scale and zero point`);
  }
  const dims = intList(size, 'size');
  const strides = intList(stride, 'stride');
  if (dims.length !== strides.length) throw new RangeError(`size [${dims}] and stride [${strides}] differ in length`);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new RangeError(`storage offset ${String(offset)}`);
  checkInBounds(storage, dims, strides, offset as number);
  const t = maker.asStrided(storage.tensor as A, dims, strides, offset as number);
  if (requiresGrad === true) maker.setRequiresGrad(t, true);
  return t;
}

function intList(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || !x.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TypeError(`${what} must be a tuple of non-negative ints`);
  }
  return x as number[];
}

// libtorch checks this too; checking first gives a message that names the storage.
function checkInBounds(storage: TorchStorage, size: number[], stride: number[], offset: number): void {
  if (size.some((d) => d === 0)) return;
  const last = size.reduce((acc, d, i) => acc + (d - 1) * stride[i], offset);
  if (last >= storage.numel) {
    throw new RangeError(`a view [${size}] (stride [${stride}], offset ${offset}) reaches past storage ${storage.key} of ${storage.numel} elements`);
  }
}

// _rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params, requires_grad, backward_hooks), as
// torch/_utils.py: a quantized tensor on the storage's memory, checked as PyTorch 2.13 checks it and more.
function rebuildQTensor<A>(args: unknown[], maker: ArrayMaker<A>, checkValues: boolean): A {
  if (args.length !== 7) {
    throw new TypeError(`takes 7 arguments (storage, storage_offset, size, stride, quantizer_params, requires_grad, backward_hooks), got ${args.length}`);
  }
  const [storage, offset, size, stride, params, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) throw new TypeError('the first argument is not a storage');
  if (!isQuantizedDType(storage.dtype)) {
    throw new TypeError(`storage ${storage.key} is a ${storage.dtype} storage; a quantized tensor needs a QInt8Storage, QUInt8Storage or QInt32Storage`);
  }
  const dims = intList(size, 'size');
  const strides = intList(stride, 'stride');
  if (dims.length !== strides.length) throw new RangeError(`size [${dims}] and stride [${strides}] differ in length`);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new RangeError(`storage offset ${String(offset)}`);
  checkInBounds(storage, dims, strides, offset as number);
  const describe = (x: unknown): string => describeArg(x, maker);
  if (typeof requiresGrad !== 'boolean') throw new TypeError(`requires_grad must be True or False, got ${describe(requiresGrad)}`);
  // PyTorch's own rebuild fails here too: only floating tensors can require grad.
  if (requiresGrad) throw new TypeError('a quantized tensor cannot require grad');
  if (!Array.isArray(params) || params.length === 0) {
    throw new TypeError(`quantizer_params must be a tuple (qscheme, ...), got ${describe(params)}`);
  }
  const scheme = params[0];
  if (!(scheme instanceof TorchQScheme)) {
    throw new TypeError(`quantizer_params[0] must be a torch.qscheme (torch.per_tensor_affine, torch.per_channel_affine), got ${describe(scheme)}`);
  }
  const where = `a ${storage.dtype} tensor [${dims}] with qscheme ${scheme}`;
  const view = (q: Quantizer<A>): A =>
    maker.quantizedView(storage.tensor as A, storage.dtype as QuantizedDType, dims, strides, offset as number, q, checkValues);
  if (scheme.name === 'per_tensor_affine') {
    if (params.length !== 3) throw new TypeError(`${where}: quantizer_params must be (qscheme, scale, zero_point), got ${params.length} items`);
    const [, scale, zeroPoint] = params;
    if (typeof scale !== 'number') throw new TypeError(`${where}: scale must be a float, got ${describe(scale)}`);
    if (!Number.isFinite(scale) || !(scale > 0)) throw new RangeError(`${where}: scale must be a positive finite number, got ${scale}`);
    if (!Number.isSafeInteger(zeroPoint)) throw new TypeError(`${where}: zero_point must be an int, got ${describe(zeroPoint)}`);
    return view({ scheme: 'per_tensor_affine', scale, zeroPoint: zeroPoint as number });
  }
  if (scheme.name === 'per_channel_affine' || scheme.name === 'per_channel_affine_float_qparams') {
    if (params.length !== 4) throw new TypeError(`${where}: quantizer_params must be (qscheme, scales, zero_points, axis), got ${params.length} items`);
    const [, scales, zeroPoints, axis] = params;
    if (!Number.isSafeInteger(axis) || (axis as number) < 0 || (axis as number) >= dims.length) {
      throw new RangeError(`${where}: per_channel axis ${describe(axis)} is out of range for size (${dims})`);
    }
    const channels = dims[axis as number];
    const made: A[] = [];
    try {
      const floatQParams = scheme.name === 'per_channel_affine_float_qparams';
      const s = channelParam(scales, 'scales', floatQParams ? 'float32' : 'float64', where, maker, made);
      const z = channelParam(zeroPoints, 'zero_points', floatQParams ? 'float32' : 'int64', where, maker, made);
      if (Array.isArray(scales) !== Array.isArray(zeroPoints)) {
        throw new TypeError(`${where}: scales and zero_points must both be tensors or both be lists`);
      }
      const [ss, zs] = [maker.info(s).shape, maker.info(z).shape];
      if (ss.length !== 1 || zs.length !== 1 || ss[0] !== channels || zs[0] !== channels) {
        throw new RangeError(`${where}: per_channel scales/zero_points must be 1-d of length size[axis]=${channels}, got scales [${ss}], zero_points [${zs}]`);
      }
      return view({ scheme: scheme.name, scales: s, zeroPoints: z, axis: axis as number });
    } finally {
      for (const t of made) maker.dispose(t);
    }
  }
  throw new TypeError(`cannot rebuild a quantized tensor with qscheme ${scheme} (PyTorch cannot either)`);
}

// A per-channel parameter: a tensor (not quantized) or, in old files, a list of numbers made into one.
function channelParam<A>(x: unknown, what: string, listDType: DType, where: string, maker: ArrayMaker<A>, made: A[]): A {
  if (maker.isArray(x)) {
    const { dtype } = maker.info(x);
    if (isQuantizedDType(dtype) || dtype === 'bool') throw new TypeError(`${where}: ${what} must be a float or int tensor, got ${dtype}`);
    return x;
  }
  if (Array.isArray(x) && x.every((v) => typeof v === 'number')) {
    const { array, bytes } = maker.empty([x.length], listDType);
    made.push(array);
    const typed = listDType === 'float64' ? Float64Array.from(x) : listDType === 'float32' ? Float32Array.from(x) : BigInt64Array.from(x, (v) => BigInt(Math.trunc(v)));
    bytes.set(new Uint8Array(typed.buffer));
    return array;
  }
  throw new TypeError(`${where}: ${what} must be a tensor or a list of numbers, got ${describeArg(x, maker)}`);
}

function describeArg<A>(x: unknown, maker: ArrayMaker<A>): string {
  if (x === null) return 'None';
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return `${typeof x} ${String(x)}`;
  if (typeof x === 'string') return `the str ${JSON.stringify(x.slice(0, 40))}`;
  if (maker.isArray(x)) return `a ${maker.info(x).dtype} tensor`;
  if (x instanceof PickleObject) return `a ${x.qualifiedName} object`;
  if (x instanceof PickleGlobal) return x.qualifiedName;
  if (Array.isArray(x)) return `a sequence of ${x.length}`;
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : typeof x;
}

// _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is a tensor here, with the
// requires_grad the Parameter had (True unless it was made with requires_grad=False).
function rebuildParameter<A>(args: unknown[], maker: ArrayMaker<A>): A {
  const [data, requiresGrad = true] = args;
  if (!maker.isArray(data)) throw new TypeError('a Parameter without a tensor');
  if (maker.info(data).requiresGrad !== (requiresGrad === true)) maker.setRequiresGrad(data, requiresGrad === true);
  return data;
}

function deviceOf(args: unknown[]): string {
  const [type, index] = args;
  if (typeof type !== 'string') throw new TypeError('torch.device() needs a string');
  return typeof index === 'number' && !type.includes(':') ? `${type}:${index}` : type;
}

function torchHandlers<A>(maker: ArrayMaker<A>, checkValues: boolean): Record<string, GlobalHandler> {
  const parameter: GlobalHandler = { call: (a) => rebuildParameter(a, maker) };
  const subclass: GlobalHandler = { call: (a, _k, ctx) => ctx.call(a[0], a[2] as unknown[]) };
  return {
    'torch._utils._rebuild_tensor_v2': { call: (a) => rebuildTensor(a, maker) },
    'torch._utils._rebuild_tensor': { call: (a) => rebuildTensor(a, maker) },
    'torch._utils._rebuild_qtensor': { call: (a) => rebuildQTensor(a, maker, checkValues) },
    'torch._utils._rebuild_parameter': parameter,
    'torch._utils._rebuild_parameter_with_state': parameter,
    'torch.nn.parameter.Parameter': parameter,
    // _rebuild_from_type_v2(func, new_type, args, state): a Tensor subclass; we keep the tensor func makes.
    'torch._tensor._rebuild_from_type_v2': subclass,
    'torch._tensor._rebuild_from_type': subclass,
    'torch._utils._rebuild_from_type_v2': subclass,
    'torch.Tensor': {},
    'torch._tensor.Tensor': {},
    'torch.device': { call: deviceOf },
    'torch.Size': { call: (a) => tupleFrom((a[0] ?? []) as unknown[]) },
  };
}

const UNSUPPORTED = ['_rebuild_sparse_tensor', '_rebuild_sparse_csr_tensor', '_rebuild_nested_tensor',
  '_rebuild_meta_tensor_no_storage', '_rebuild_wrapper_subclass', '_rebuild_device_tensor_from_numpy', '_rebuild_xla_tensor',
  '_rebuild_mlc_tensor', '_rebuild_tensor_v3'];

/**
 * torch's globals: tensors (plain and quantized, made by `maker`), parameters, storages, dtypes, qschemes,
 * torch.Size, torch.device. `checkValues`: check per-channel quantizer values as each tensor is made (false where
 * storages are filled after the pickle is read).
 */
export function torchGlobals<A>(maker: ArrayMaker<A>, checkValues = true): GlobalResolver {
  const handlers = torchHandlers(maker, checkValues);
  return (module, name) => {
    const key = `${module}.${name}`;
    if (Object.hasOwn(handlers, key)) return handlers[key];
    if ((module === 'torch' || module === 'torch.cuda' || module === 'torch.storage') && Object.hasOwn(STORAGE_DTYPES, name)) {
      return { value: new TorchStorageType(name, STORAGE_DTYPES[name]) };
    }
    if (module === 'torch' && DTYPE_NAMES.has(name)) return { value: canonicalDType(name) };
    if (module === 'torch' && QSCHEMES.has(name)) return { value: new TorchQScheme(name) };
    if (module === 'torch._utils' && UNSUPPORTED.includes(name)) {
      return { call: () => { throw new TypeError('this kind of tensor (sparse, nested, meta, subclass) is not supported'); } };
    }
    return undefined;
  };
}

function canonicalDType(name: string): string {
  try {
    return parseDType(name);
  } catch {
    return name;
  }
}

// ---- writing ----

/** What the torch pickle writer reads from an array besides its bytes: how it lies in its storage. */
export interface TorchArraySource<A> extends ArraySource<A> {
  isDisposed(a: A): boolean;
  /**
   * a's strides and offset (in elements) in its storage, the storage's size in bytes, the storage's identity
   * (the same for every array on it) and the array's device ('cpu', 'cuda', 'cuda:1').
   */
  layout(a: A): { strides: number[]; offset: number; nbytes: number; storage: string; device: string };
  /** a's whole storage on the CPU: a itself when it is there, else a new copy of all `numel` elements (owned). */
  cpuStorage(a: A, numel: number): { array: A; owned: boolean };
  /** A quantized array's scheme and parameters; per-channel scales and zero points are new arrays (owned). */
  quantizer(a: A): Quantizer<A> | { scheme: string };
  dispose(a: A): void;
}

/** One storage to write as `data/<key>`: a CPU array whose storage bytes are the record. */
export interface StorageRecord<A> {
  key: string;
  dtype: DType;
  /** Elements in the storage (the persistent id's numel); the record holds numel * itemSize(dtype) bytes. */
  numel: number;
  /** A CPU array on the storage (the original's when on CPU, else a copy). */
  tensor: A;
  /** Whether `tensor` was made for writing (a device copy) and should be disposed afterwards. */
  owned: boolean;
}

export interface TorchPickle<A> {
  pickle: Buffer;
  storages: StorageRecord<A>[];
}

/**
 * Pickles `obj` as torch.save does. A dict of arrays at the top level or directly inside it (a state dict) is
 * written as a collections.OrderedDict, as `module.state_dict()` is; so is any dict marked `orderedDict(d)`.
 */
export function writeTorchPickle<A>(obj: unknown, source: TorchArraySource<A>): TorchPickle<A> {
  const storages = new Map<string, StorageRecord<A>>();
  const stateDicts = stateDictCandidates(obj, source);
  try {
    const pickle = dumps(obj, {
      reduce: (v) => {
        if (source.isArray(v)) return reduceTensor(v, storages, source);
        if (v instanceof TorchQScheme) return new PickleGlobal('torch', v.name);
        if (stateDicts.has(v) && pythonClass(v) === undefined) return orderedDict(copyDict(v));
        return undefined;
      },
    });
    return { pickle, storages: [...storages.values()] };
  } catch (e) {
    for (const s of storages.values()) if (s.owned) source.dispose(s.tensor);
    throw e;
  }
}

// `temporary`: t was made for this file (a quantized tensor's scales) and is disposed once written.
function reduceTensor<A>(t: A, storages: Map<string, StorageRecord<A>>, source: TorchArraySource<A>, temporary = false): PickleObject {
  if (source.isDisposed(t)) throw new DisposedError('cannot save a disposed tensor');
  const { strides, offset, nbytes, storage, device } = source.layout(t);
  const { dtype, shape, requiresGrad } = source.info(t);
  const numel = Math.floor(nbytes / itemSize(dtype));
  const identity = `${device}/${storage}`;
  let record = storages.get(identity);
  let keep = false; // whether the record holds the temporary t itself
  try {
    if (!record) {
      const cpu = source.cpuStorage(t, numel);
      keep = cpu.array === t;
      record = { key: String(storages.size), dtype, numel, tensor: cpu.array, owned: cpu.owned || (temporary && keep) };
      storages.set(identity, record);
    } else if (record.dtype !== dtype) {
      // torch.save refuses this too: a storage is written as one dtype.
      throw new TypeError(`two tensors view one storage as ${record.dtype} and ${dtype}; save a copy of one of them`);
    }
    const location = device === 'cuda' ? 'cuda:0' : device; // torch.save's location_tag
    // Tuples only the writer sees: not frozen (freezing an array costs more than pickling it).
    const pid = new PersistentRef(tupleFrom<unknown>(['storage', new PickleGlobal('torch', STORAGE_OF[dtype]), record.key, location, numel]));
    if (isQuantizedDType(dtype)) {
      return new PickleObject('torch._utils', '_rebuild_qtensor', [
        pid, offset, tupleFrom(shape), tupleFrom(strides), quantizerParams(t, storages, source), false, orderedDict(new Map()),
      ]);
    }
    return new PickleObject('torch._utils', '_rebuild_tensor_v2', [
      pid, offset, tupleFrom(shape), tupleFrom(strides), requiresGrad, orderedDict(new Map()),
    ]);
  } finally {
    if (temporary && !keep) source.dispose(t);
  }
}

// As Tensor.__reduce_ex__ of PyTorch 2.13 writes them: (per_tensor_affine, scale, zero_point), or
// (per_channel_affine, scales, zero_points, axis) for both per-channel schemes (float qparams are told apart by
// their float zero points).
function quantizerParams<A>(t: A, storages: Map<string, StorageRecord<A>>, source: TorchArraySource<A>): unknown {
  const q = source.quantizer(t);
  if (q.scheme === 'per_tensor_affine' && 'scale' in q) {
    return tuple<unknown>(new PickleGlobal('torch', 'per_tensor_affine'), pyFloat(q.scale), q.zeroPoint);
  }
  if ('scales' in q) {
    const scales = reduceTensor(q.scales, storages, source, true);
    const zeroPoints = reduceTensor(q.zeroPoints, storages, source, true);
    return tuple<unknown>(new PickleGlobal('torch', 'per_channel_affine'), scales, zeroPoints, q.axis);
  }
  throw new TypeError(`cannot save a quantized tensor with qscheme ${q.scheme} (torch.save cannot either)`);
}

// The rule for OrderedDicts: the top-level dict, and the dicts directly inside it, when every value is a Tensor
// (and there is at least one): state dicts, as `{ model_state_dict: sd }` holds one. Deeper dicts stay dicts
// (an optimizer's per-parameter state `{ step, exp_avg, exp_avg_sq }` is a dict in Python too); orderedDict(d)
// marks any other.
function stateDictCandidates<A>(obj: unknown, source: ArraySource<A>): Set<unknown> {
  const found = new Set<unknown>();
  const consider = (d: unknown): void => {
    const values = d instanceof Map ? [...d.values()] : isPlainObject(d) ? Object.values(d) : undefined;
    if (values && values.length > 0 && values.every((v) => source.isArray(v))) found.add(d);
  };
  consider(obj);
  const top = obj instanceof Map ? [...obj.values()] : isPlainObject(obj) ? Object.values(obj) : [];
  top.forEach(consider);
  return found;
}

function copyDict(d: unknown): Map<unknown, unknown> | Record<string, unknown> {
  return d instanceof Map ? new Map(d) : Object.assign(Object.create(null), d);
}
