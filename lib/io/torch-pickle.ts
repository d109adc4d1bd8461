// The PyTorch layer over the generic pickle reader and writer: how torch.save puts tensors into a pickle.
//
// Reading: a storage is a persistent id ('storage', torch.FloatStorage, '<key>', 'cpu', numel[, view]); the
// caller's `storage(key, dtype, numel)` makes each one ONCE as a flat CPU tensor (filled straight from the file),
// and `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` becomes
// `storage.asStrided(size, stride, offset)`, so tensors that shared a storage in Python share memory here.
// Parameters become plain tensors (requiresGrad kept); OrderedDict, torch.Size, torch.device and dtypes become
// plain values; numpy values go through numpy-pickle.ts. Anything else stays an inert PickleObject, or with
// `strict` is refused, as torch.load(weights_only=True) refuses it.
//
// Writing: each Tensor becomes `_rebuild_tensor_v2(persistent id, offset, size, stride, requires_grad,
// OrderedDict())` exactly as torch.save writes it, each storage listed once (keys '0', '1', ... in order of
// first use) for the caller to write as `data/<key>`.
import {
  PickleGlobal, PickleObject, PersistentRef, isPlainObject, orderedDict, pythonClass, tuple, tupleFrom,
} from './pickle/values.js';
import { chainGlobals, pythonGlobals } from './pickle/python-globals.js';
import { readPickle, type GlobalHandler, type GlobalResolver, type ReadResult } from './pickle/reader.js';
import { dumps } from './pickle/writer.js';
import { numpyGlobals } from './numpy-pickle.js';
import { parseDType, type DType } from '../dtype.js';
import { native } from '../native.js';
import { Tensor, rawOf } from '../tensor.js';
import { empty } from '../torch.js';

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
  bool: 'BoolStorage',
};

const ELEMENT_SIZE: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function elementSize(dtype: DType): number {
  return ELEMENT_SIZE[dtype];
}

// torch.<name> dtypes as pickled (torch.dtype's __reduce__ gives its attribute name).
const DTYPE_NAMES = new Set(['float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long',
  'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool', 'complex32', 'complex64', 'cfloat', 'complex128',
  'cdouble', 'chalf', 'qint8', 'quint8', 'qint32', 'quint4x2', 'quint2x4', 'uint16', 'uint32', 'uint64',
  'float8_e4m3fn', 'float8_e5m2']);

/** A torch.*Storage class named in a persistent id; `dtype` is a string lvmtorch may not support. */
export class TorchStorageType {
  constructor(readonly name: string, readonly dtype: DType | string) {}
}

/** A storage loaded from the file: its key, dtype and element count, and the flat CPU tensor holding it. */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly location: string,
    readonly tensor: Tensor,
  ) {}
}

// ---- reading ----

/** Makes the flat storage tensor for one key, once; the caller fills it from the file. */
export type StorageFactory = (key: string, dtype: DType, numel: number, location: string) => Tensor;

/** A new flat CPU tensor of `numel` elements, uninitialised: the memory a storage's bytes are read into. */
export function emptyStorage(dtype: DType, numel: number): Tensor {
  return empty([numel], { dtype });
}

export interface TorchReadOptions {
  storage: StorageFactory;
  /** Refuse globals outside the torch/numpy/Python data allow-list, as weights_only=True (default false). */
  strict?: boolean;
  /** Extra handlers, consulted before torch's own. */
  globals?: GlobalResolver;
  offset?: number;
}

/** Reads the pickle of a torch.save file (data.pkl, or the legacy format's object pickle). */
export function readTorchPickle(data: Uint8Array, opts: TorchReadOptions): ReadResult {
  const storages = new Map<string, TorchStorage>();
  return readPickle(data, {
    globals: chainGlobals(opts.globals, torchGlobals, numpyGlobals, pythonGlobals),
    strict: opts.strict,
    offset: opts.offset,
    persistentLoad: (pid) => loadStorage(pid, storages, opts.storage),
  });
}

// ('storage', storage_type, key, location, numel) and the legacy format's extra view_metadata; the legacy
// format's ('module', cls, source_file, source) of a pickled nn.Module is just the class (an inert reference).
function loadStorage(pid: unknown, storages: Map<string, TorchStorage>, make: StorageFactory): unknown {
  if (Array.isArray(pid) && pid.length === 4 && asText(pid[0]) === 'module') return pid[1];
  if (!Array.isArray(pid) || pid.length < 5 || asText(pid[0]) !== 'storage') {
    throw new TypeError(`unknown persistent id ${describePid(pid)}; torch.save writes ('storage', type, key, location, numel)`);
  }
  const [, type, rawKey, rawLocation, numel, view] = pid;
  if (!(type instanceof TorchStorageType)) throw new TypeError('a persistent id without a torch.*Storage type');
  const key = String(asText(rawKey));
  const location = String(asText(rawLocation));
  const dtype = supportedDType(type);
  if (!Number.isSafeInteger(numel) || (numel as number) < 0 || !Number.isSafeInteger((numel as number) * ELEMENT_SIZE[dtype])) {
    throw new TypeError(`storage ${key} has numel ${String(numel)}`);
  }
  let storage = storages.get(key);
  if (!storage) {
    storage = new TorchStorage(key, dtype, numel as number, location, make(key, dtype, numel as number, location));
    storages.set(key, storage);
  } else if (storage.dtype !== dtype) {
    throw new TypeError(`storage ${key} is read as both ${storage.dtype} and ${dtype}`);
  }
  return view ? storageView(storage, view) : storage;
}

// Pre-1.0 storage views: (view_key, offset, size) inside a root storage.
function storageView(root: TorchStorage, view: unknown): TorchStorage {
  if (!Array.isArray(view) || view.length !== 3) throw new TypeError('malformed storage view metadata');
  const [key, offset, size] = view as [unknown, number, number];
  const t = root.tensor.asStrided([size], [1], offset);
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
function rebuildTensor(args: unknown[]): Tensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof TorchStorage)) throw new TypeError('the first argument is not a storage');
  const dims = intList(size, 'size');
  const strides = intList(stride, 'stride');
  if (dims.length !== strides.length) throw new RangeError(`size [${dims}] and stride [${strides}] differ in length`);
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new RangeError(`storage offset ${String(offset)}`);
  checkInBounds(storage, dims, strides, offset as number);
  const t = storage.tensor.asStrided(dims, strides, offset as number);
  if (requiresGrad === true) t.requiresGrad_(true);
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

// _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is a tensor here, with the
// requires_grad the Parameter had (True unless it was made with requires_grad=False).
function rebuildParameter(args: unknown[]): Tensor {
  const [data, requiresGrad = true] = args;
  if (!(data instanceof Tensor)) throw new TypeError('a Parameter without a tensor');
  if (data.requiresGrad !== (requiresGrad === true)) data.requiresGrad_(requiresGrad === true);
  return data;
}

function deviceOf(args: unknown[]): string {
  const [type, index] = args;
  if (typeof type !== 'string') throw new TypeError('torch.device() needs a string');
  return typeof index === 'number' && !type.includes(':') ? `${type}:${index}` : type;
}

const TORCH: Record<string, GlobalHandler> = {
  'torch._utils._rebuild_tensor_v2': { call: rebuildTensor },
  'torch._utils._rebuild_tensor': { call: rebuildTensor },
  'torch._utils._rebuild_parameter': { call: rebuildParameter },
  'torch._utils._rebuild_parameter_with_state': { call: rebuildParameter },
  'torch.nn.parameter.Parameter': { call: rebuildParameter },
  // _rebuild_from_type_v2(func, new_type, args, state): a Tensor subclass; we keep the tensor func makes.
  'torch._tensor._rebuild_from_type_v2': { call: (a, _k, ctx) => ctx.call(a[0], a[2] as unknown[]) },
  'torch._tensor._rebuild_from_type': { call: (a, _k, ctx) => ctx.call(a[0], a[2] as unknown[]) },
  'torch._utils._rebuild_from_type_v2': { call: (a, _k, ctx) => ctx.call(a[0], a[2] as unknown[]) },
  'torch.Tensor': {},
  'torch._tensor.Tensor': {},
  'torch.device': { call: deviceOf },
  'torch.Size': { call: (a) => tupleFrom((a[0] ?? []) as unknown[]) },
};

const UNSUPPORTED = ['_rebuild_sparse_tensor', '_rebuild_sparse_csr_tensor', '_rebuild_qtensor', '_rebuild_nested_tensor',
  '_rebuild_meta_tensor_no_storage', '_rebuild_wrapper_subclass', '_rebuild_device_tensor_from_numpy', '_rebuild_xla_tensor',
  '_rebuild_mlc_tensor', '_rebuild_tensor_v3'];

/** torch's globals: tensors, parameters, storages, dtypes, torch.Size, torch.device. */
export const torchGlobals: GlobalResolver = (module, name) => {
  const known = TORCH[`${module}.${name}`];
  if (known) return known;
  if ((module === 'torch' || module === 'torch.cuda' || module === 'torch.storage') && name in STORAGE_DTYPES) {
    return { value: new TorchStorageType(name, STORAGE_DTYPES[name]) };
  }
  if (module === 'torch' && DTYPE_NAMES.has(name)) return { value: canonicalDType(name) };
  if (module === 'torch._utils' && UNSUPPORTED.includes(name)) {
    return { call: () => { throw new TypeError('this kind of tensor (sparse, quantized, nested, meta) is not supported'); } };
  }
  return undefined;
};

function canonicalDType(name: string): string {
  try {
    return parseDType(name);
  } catch {
    return name;
  }
}

// ---- writing ----

/** One storage to write as `data/<key>`: a CPU tensor whose storage bytes are the record. */
export interface StorageRecord {
  key: string;
  dtype: DType;
  /** Elements in the storage (the persistent id's numel); the record holds numel * elementSize(dtype) bytes. */
  numel: number;
  /** A CPU tensor on the storage (the original's when on CPU, else a copy); `storageBytes(t)` gives the bytes. */
  tensor: Tensor;
  /** Whether `tensor` was made for writing (a device copy) and should be disposed afterwards. */
  owned: boolean;
}

export interface TorchPickle {
  pickle: Buffer;
  storages: StorageRecord[];
}

/**
 * Pickles `obj` as torch.save does. A dict of tensors at the top level or directly inside it (a state dict) is
 * written as a collections.OrderedDict, as `module.state_dict()` is; so is any dict marked `orderedDict(d)`.
 */
export function writeTorchPickle(obj: unknown): TorchPickle {
  const storages = new Map<string, StorageRecord>();
  const stateDicts = stateDictCandidates(obj);
  try {
    const pickle = dumps(obj, {
      reduce: (v) => {
        if (v instanceof Tensor) return reduceTensor(v, storages);
        if (stateDicts.has(v) && pythonClass(v) === undefined) return orderedDict(copyDict(v));
        return undefined;
      },
    });
    return { pickle, storages: [...storages.values()] };
  } catch (e) {
    for (const s of storages.values()) if (s.owned) s.tensor.dispose();
    throw e;
  }
}

/** The bytes of a CPU tensor's whole storage, without a copy. */
export function storageBytes(t: Tensor): Uint8Array {
  return new Uint8Array(native().storageView(rawOf(t)));
}

function reduceTensor(t: Tensor, storages: Map<string, StorageRecord>): PickleObject {
  if (t.isDisposed) throw new TypeError('cannot save a disposed tensor');
  const [strides, offset, nbytes, nativeKey] = native().layout(rawOf(t));
  const dtype = t.dtype;
  const numel = Math.floor(nbytes / ELEMENT_SIZE[dtype]);
  const identity = `${t.device}/${nativeKey}`;
  let record = storages.get(identity);
  if (!record) {
    record = { key: String(storages.size), dtype, numel, ...cpuStorage(t, numel) };
    storages.set(identity, record);
  } else if (record.dtype !== dtype) {
    // torch.save refuses this too: a storage is written as one dtype.
    throw new TypeError(`two tensors view one storage as ${record.dtype} and ${dtype}; save a copy of one of them`);
  }
  const location = t.device === 'cuda' ? 'cuda:0' : t.device; // torch.save's location_tag
  const pid = tuple<unknown>('storage', new PickleGlobal('torch', STORAGE_OF[dtype]), record.key, location, numel);
  return new PickleObject('torch._utils', '_rebuild_tensor_v2', [
    new PersistentRef(pid), offset, tuple(...t.shape), tuple(...strides), t.requiresGrad, orderedDict(new Map()),
  ]);
}

// The whole storage on the CPU: the tensor itself when it is there, else a copy of a view over all of it.
function cpuStorage(t: Tensor, numel: number): { tensor: Tensor; owned: boolean } {
  if (t.device === 'cpu') return { tensor: t, owned: false };
  const detached = t.detach();
  const whole = detached.asStrided([numel], [1], 0);
  const cpu = whole.to('cpu');
  whole.dispose();
  detached.dispose();
  return { tensor: cpu, owned: true };
}

// The rule for OrderedDicts: the top-level dict, and the dicts directly inside it, when every value is a Tensor
// (and there is at least one): state dicts, as `{ model_state_dict: sd }` holds one. Deeper dicts stay dicts
// (an optimizer's per-parameter state `{ step, exp_avg, exp_avg_sq }` is a dict in Python too); orderedDict(d)
// marks any other.
function stateDictCandidates(obj: unknown): Set<unknown> {
  const found = new Set<unknown>();
  const consider = (d: unknown): void => {
    const values = d instanceof Map ? [...d.values()] : isPlainObject(d) ? Object.values(d) : undefined;
    if (values && values.length > 0 && values.every((v) => v instanceof Tensor)) found.add(d);
  };
  consider(obj);
  const top = obj instanceof Map ? [...obj.values()] : isPlainObject(obj) ? Object.values(obj) : [];
  top.forEach(consider);
  return found;
}

function copyDict(d: unknown): Map<unknown, unknown> | Record<string, unknown> {
  return d instanceof Map ? new Map(d) : Object.assign(Object.create(null), d);
}
