// Loads the native addon (native/, built by CMake or shipped in variants/) against the libtorch that
// lib/torch/libtorch/find.ts finds, after checking that the binary was built for that libtorch. The raw addon
// interface below is internal: lib/torch/tensor.ts and friends give it types and names. A sync entry point throws, and an
// async one rejects with, the same error for the same input (native/core/protect.h; the codes are lib/errors.ts's
// NativeErrorCode); async ones run on the compute or the I/O lane (native/core/lane.h).
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

import type { QScheme } from '../formats/dtype.js';
import { LibtorchLoadError } from '../errors.js';
import { candidates, fixHint, hasBinary, readBinaryInfo, type BinaryInfo } from './libtorch/binaries.js';
import { describeSearch, findLibtorch, libtorchLibraries, type Libtorch } from './libtorch/find.js';
import { chooseCore, cpuFlags, openblasOf, type CoreChoice, type OpenblasLibrary } from './libtorch/openblas.js';

/** The id of a native slot owning one at::Tensor (native/core/handle.cc). */
export type RawTensor = number & { readonly __rawTensor: unique symbol };
type Raw = RawTensor;
/** The composite loss's values (native/lvm/loss/composite_loss.h, kComponentNames). */
export interface LossValues { total: number; info: number; moment: number; variance: number; mse: number; cosMse: number; document: number; cosine: number }
/** The loss's document candidates (lib/lvm/loss/composite.ts, Candidates). */
export interface RawCandidates { vectors: Raw; positive: Raw; context: Raw }
type Num = number | boolean;
type Other = Raw | Num;
type Dims = number | number[] | null | undefined;

export interface BlasInfo {
  /** Shared libraries loaded whose name says BLAS or MKL. */
  libraries: string[];
  /** openblas_get_config(), when OpenBLAS is loaded. */
  openblas: string | null;
  coretype: string | null;
  /** MKL's version string, when MKL is linked into libtorch (PyTorch 2.x from pip). */
  mkl: string | null;
  threads: number | null;
}

export interface Addon {
  unaryOps: string[];
  binaryOps: string[];
  reduceOps: string[];
  dispose(t: Raw): void;
  /** Frees the tensors queued in the Int32Array given to setDisposeQueue. */
  flushDisposed(): void;
  setDisposeQueue(queue: Int32Array): void;
  liveTensors(): { tensors: number; bytes: number };
  /** While held (holds nest), native memory growth is reported to V8 once, net, when the last hold ends. */
  holdMemoryReports(on: boolean): void;
  fromData(data: ArrayBufferView, dtype: number, shape: number[], device: string | undefined): Raw;
  toData(t: Raw, dtype?: number): ArrayBuffer;
  describe(t: Raw): [number, string, number[]];
  item(t: Raw): number | boolean | bigint;
  layout(t: Raw): [number[], number, number, string];
  to(t: Raw, device: string | undefined, dtype: number | undefined, copy: boolean): Raw;
  numel(t: Raw): number;
  zeros(shape: number[], dtype?: number, device?: string): Raw;
  ones(shape: number[], dtype?: number, device?: string): Raw;
  full(shape: number[], value: Num, dtype?: number, device?: string): Raw;
  empty(shape: number[], dtype?: number, device?: string): Raw;
  asStrided(t: Raw, size: number[], stride: number[], storageOffset: number): Raw;
  storageView(t: Raw): ArrayBuffer;
  randn(shape: number[], dtype?: number, device?: string): Raw;
  rand(shape: number[], dtype?: number, device?: string): Raw;
  arange(start: number, end: number, step: number, dtype?: number, device?: string): Raw;
  eye(n: number, m: number | undefined, dtype?: number, device?: string): Raw;
  manualSeed(seed: number): void;
  unary(code: number, t: Raw): Raw;
  binary(code: number, a: Raw, b: Raw): Raw;
  binaryScalar(code: number, a: Raw, b: Num): Raw;
  reduce(code: number, t: Raw, dims: Dims, keepdim: boolean, extra?: Num): Raw;
  max(t: Raw, dim?: number, keepdim?: boolean): Raw | [Raw, Raw];
  min(t: Raw, dim?: number, keepdim?: boolean): Raw | [Raw, Raw];
  topk(t: Raw, k: number, dim: number, largest: boolean, sorted: boolean): [Raw, Raw];
  argmax(t: Raw, dim: number | undefined, keepdim: boolean): Raw;
  argmin(t: Raw, dim: number | undefined, keepdim: boolean): Raw;
  softmax(t: Raw, dim: number): Raw;
  logSoftmax(t: Raw, dim: number): Raw;
  normalize(t: Raw, p: number, dim: number, eps: number): Raw;
  cosineSimilarity(a: Raw, b: Raw, dim: number, eps: number): Raw;
  view(t: Raw, shape: number[]): Raw;
  reshape(t: Raw, shape: number[]): Raw;
  expand(t: Raw, shape: number[]): Raw;
  transpose(t: Raw, dim0: number, dim1: number): Raw;
  permute(t: Raw, dims: number[]): Raw;
  slice(t: Raw, dim: number, start: number | undefined, end: number | undefined, step: number): Raw;
  select(t: Raw, dim: number, index: number): Raw;
  indexSelect(t: Raw, dim: number, index: Raw): Raw;
  gather(t: Raw, dim: number, index: Raw): Raw;
  squeeze(t: Raw, dim?: number): Raw;
  unsqueeze(t: Raw, dim: number): Raw;
  flatten(t: Raw, startDim: number, endDim: number): Raw;
  cat(ts: Raw[], dim: number): Raw;
  stack(ts: Raw[], dim: number): Raw;
  chunk(t: Raw, chunks: number, dim: number): Raw[];
  split(t: Raw, size: number, dim: number): Raw[];
  where(cond: Raw, a: Raw, b: Raw): Raw;
  clamp(t: Raw, min: number | undefined, max: number | undefined): Raw;
  maskedFill(t: Raw, mask: Raw, value: Num): Raw;
  inPlace(op: string, self: Raw, other: Other | undefined, otherIsTensor: boolean, alpha?: number): void;
  requiresGrad(t: Raw): boolean;
  setRequiresGrad(t: Raw, flag: boolean): void;
  backward(t: Raw, gradient: Raw | undefined, retainGraph: boolean): void;
  /** backward() on the compute lane (native/torch/autograd.cc). */
  backwardAsync(t: Raw, gradient: Raw | undefined, retainGraph: boolean): Promise<void>;
  grad(t: Raw): Raw | null;
  setGrad(t: Raw, g: Raw | null): void;
  isGradEnabled(): boolean;
  setGradEnabled(enabled: boolean): void;
  cudaDeviceCount(): number;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  blasInfo(): BlasInfo;
  /** Relative error of a small float32 matmul against float64: a wrong BLAS kernel shows here. */
  blasSelfCheck(): number;
  setBlasThreads(n: number): boolean;
  buildInfo(): { libtorchVersion: string; cudaBuilt: boolean; config: string; parallel: string };
  // ---- loss (native/lvm/loss/) ----
  /** weights [tau, info, moment, variance, mse, cosMse, document] -> the total with its graph, and every value */
  compositeLoss(pred: Raw, target: Raw, weights: number[], checkFinite: boolean, candidates?: RawCandidates):
    { tensor: Raw; values: LossValues };
  // ---- models (native/lvm/models/) ----
  modelCreate(kind: string, config: object): ModelHandle;
  /** [raw, normalised] */
  modelForward(m: ModelHandle, x: Raw): [Raw, Raw];
  /** The forward with grad off on the compute lane (native/core/lane.h): [raw (when asked for), normalised] */
  modelPredictAsync(m: ModelHandle, x: Raw, raw: boolean): Promise<[Raw | undefined, Raw]>;
  /** [name, tensor sharing the module's, isBuffer] in state_dict order */
  modelState(m: ModelHandle): [string, Raw, boolean][];
  modelTrain(m: ModelHandle, on: boolean): void;
  modelTo(m: ModelHandle, device: string | undefined, dtype: number | undefined): void;
  modelDispose(m: ModelHandle): void;
  // ---- optimisers (native/torch/optim/) ----
  optimCreate(kind: 'adam' | 'adamw' | 'sgd', groups: NativeParamGroup[]): OptimizerHandle;
  optimStep(h: OptimizerHandle): void;
  optimZeroGrad(h: OptimizerHandle, setToNone: boolean): void;
  optimSetHyper(h: OptimizerHandle, group: number, hyper: NativeHyper): void;
  /** Per parameter (flat over the groups): null, or its state tensors under torch.optim's names. */
  optimGetState(h: OptimizerHandle): (Record<string, Raw | null> | null)[];
  /** Replaces the whole state: one entry per parameter (null for none), all checked before any is installed. */
  optimLoadState(h: OptimizerHandle, entries: (Record<string, Raw | null> | null)[]): void;
  optimDispose(h: OptimizerHandle): void;
  clipGradNorm(params: Raw[], maxNorm: number, normType: number, errorIfNonfinite: boolean): number;
  // ---- linear algebra (native/torch/linalg.cc) ----
  linalgSolve(a: Raw, b: Raw): Raw;
  linalgCholesky(a: Raw, upper: boolean): Raw;
  choleskySolve(b: Raw, l: Raw, upper: boolean): Raw;
  // ---- torch.nn.functional and torch.nn.init (native/torch/nn_functional.cc) ----
  nnLinear(x: Raw, weight: Raw, bias: Raw | undefined): Raw;
  nnLayerNorm(x: Raw, normalizedShape: number[], weight: Raw | undefined, bias: Raw | undefined, eps: number): Raw;
  nnDropout(x: Raw, p: number, training: boolean): Raw;
  nnGelu(x: Raw, approximate: string): Raw;
  nnEmbedding(weight: Raw, indices: Raw, paddingIdx: number): Raw;
  nnMseLoss(input: Raw, target: Raw, reduction: string): Raw;
  nnCrossEntropy(input: Raw, target: Raw, weight: Raw | undefined, ignoreIndex: number, reduction: string, labelSmoothing: number): Raw;
  nnPad(x: Raw, pad: number[], value: number): Raw;
  nnConv1d(x: Raw, weight: Raw, bias: Raw | undefined, stride: number, padding: number | string, dilation: number, groups: number): Raw;
  nnUniform_(t: Raw, a: number, b: number): void;
  nnNormal_(t: Raw, mean: number, std: number): void;
  nnOrthogonal_(t: Raw, gain: number): void;
  /** nn.GRU ([output, h_n]) and nn.LSTM ([output, h_n, c_n]) on a batched input (native/torch/rnn/rnn_binding.cc). */
  nnRnn(mode: 'GRU' | 'LSTM', x: Raw, hx: Raw[], params: Raw[], bias: boolean, numLayers: number, dropout: number,
    training: boolean, bidirectional: boolean, batchFirst: boolean): Raw[];
  /** nn.GRUCell ([h']) and nn.LSTMCell ([h', c']) on [batch, inputSize]. */
  nnRnnCell(mode: 'GRU' | 'LSTM', x: Raw, hx: Raw[], wIh: Raw, wHh: Raw, bIh: Raw | undefined, bHh: Raw | undefined): Raw[];
  /** Moves and casts in place (set_data): the id stays valid, the gradient moves too. */
  nnTo_(t: Raw, device: string | undefined, dtype: number | undefined): void;
  // ---- quantized tensors (native/torch/quantized.cc) ----
  quantizePerTensor(t: Raw, scale: number, zeroPoint: number, dtype: number): Raw;
  quantizePerChannel(t: Raw, scales: Raw, zeroPoints: Raw, axis: number, dtype: number): Raw;
  makePerTensorQuantized(t: Raw, scale: number, zeroPoint: number): Raw;
  makePerChannelQuantized(t: Raw, scales: Raw, zeroPoints: Raw, axis: number): Raw;
  /** A quantized tensor on the memory of `storage` (an integer tensor), as torch._utils._rebuild_qtensor. */
  perTensorQuantizedView(storage: Raw, dtype: number, size: number[], stride: number[], offset: number,
    scale: number, zeroPoint: number): Raw;
  /** Without `checkValues` (default true), the scales and zero points are checked by shape only. */
  perChannelQuantizedView(storage: Raw, dtype: number, size: number[], stride: number[], offset: number,
    scales: Raw, zeroPoints: Raw, axis: number, checkValues?: boolean): Raw;
  /** Throws unless a per-channel tensor's scales are positive and finite and its zero points fit its dtype. */
  checkQuantizerValues(t: Raw): void;
  qscheme(t: Raw): QScheme;
  qScale(t: Raw): number;
  qZeroPoint(t: Raw): number;
  qPerChannelScales(t: Raw): Raw;
  qPerChannelZeroPoints(t: Raw): Raw;
  qPerChannelAxis(t: Raw): number;
  intRepr(t: Raw): Raw;
  dequantize(t: Raw): Raw;
  // ---- serving (native/lvm/serve/) ----
  /** The k best rows of queries [B, D] @ bank [N, D]^T, on the compute lane: [values [B, k], indices [B, k]]. */
  bankSearchAsync(bank: Raw, queries: Raw, k: number): Promise<[Raw, Raw]>;
  // ---- training (native/lvm/train/) ----
  /** Forward, loss, backward, clip, step on the compute lane: the loss's values and the gradient norm before clipping */
  backwardAndStep(loss: Raw, o: OptimizerHandle, clipNorm: number): Promise<number>;
  trainStep(m: ModelHandle, o: OptimizerHandle, x: Raw, y: Raw, weights: number[], clipNorm: number, bf16: boolean,
    world?: ProcessGroupHandle, candidates?: RawCandidates): Promise<LossValues & { gradNorm: number }>;
  // ---- torch.distributed (native/torch/distributed/) ----
  /** The rendezvous on the I/O lane: rank 0 hosts the TCPStore at masterAddr:port. Rejects with code ERR_DISTRIBUTED. */
  processGroupInit(masterAddr: string, port: number, rank: number, worldSize: number, timeoutMs: number): Promise<ProcessGroupHandle>;
  /** In place on the compute lane (in order with train steps): all-reduce ('sum' | 'mean'), 'broadcast' from root, or 'barrier'. */
  processGroupCollective(h: ProcessGroupHandle, op: 'sum' | 'mean' | 'broadcast' | 'barrier', tensors: Raw[], root: number): Promise<void>;
  processGroupClose(h: ProcessGroupHandle): void;
  /**
   * pred [N, D] against target [N, D] on the compute lane, the centred cosine about centre [D] where given, the
   * contrastive accuracy and the in-document retrieval from `rows` (the rows pred predicts) where given.
   */
  scoreAsync(pred: Raw, target: Raw, centre?: Raw | null, rows?: NativeRows): Promise<NativeScore>;
  /**
   * The baselines fitted on train (ridge strength chosen on val from grid) and scored on each split (centred cosine
   * about centre [D]), on the compute lane:
   * [lambda, per split [mean, copy-last, context-mean, ridge, oracle?], the ridge as a linear map of the flattened
   * context: weight [D, T * D], bias [D]].
   */
  baselinesAsync(train: NativeRows, val: NativeRows, splits: NativeRows[], grid: number[], centre: Raw): Promise<[number, NativeScore[][], Raw, Raw]>;
  // ---- storages to and from files (native/torch/storage_io.cc, native/torch/mapped_file.cc) ----
  /** Fills each storage from [position, nbytes, crc or -1] of `places`; null, or the first failure. */
  readStorages(source: number | Uint8Array, tensors: Raw[], places: Float64Array, threads: number): StorageReadFailure | null;
  /** readStorages on the I/O lane. */
  readStoragesAsync(fd: number, tensors: Raw[], places: Float64Array, threads: number): Promise<StorageReadFailure | null>;
  /** Writes each storage's first nbytes at position ([position, nbytes] in `places`), on the I/O lane; each record's CRC-32. */
  writeStorages(fd: number, tensors: Raw[], places: Float64Array, threads: number): Promise<number[]>;
  storageCrc32(t: Raw, nbytes: number): number;
  mapFile(fd: number, size: number): FileMapping;
  mappedStorage(m: FileMapping, offset: number, nbytes: number, dtype: number): Raw;
  mappingRelease(m: FileMapping): void;
  mappedFiles(): { mappings: number; bytes: number };
}

/** A dataset's rows as native/lvm/train/eval.h's Rows reads them; docIds [N] integers where the documents are known. */
export interface NativeRows {
  vectors: Raw;
  contextIndex: Raw;
  targetIndex: Raw;
  oracle?: Raw;
  docIds?: Raw;
}

/** native/lvm/train/eval.h's Score: top1, top5 and inDocTop1 are counts of rows; null where not computed. */
export interface NativeScore {
  cosine: number;
  mse: number;
  top1: number;
  top5: number;
  count: number;
  centredCosine: number | null;
  mrr: number;
  medianRank: number;
  contrastiveAccuracy: number | null;
  inDocMrr: number | null;
  inDocTop1: number | null;
  inDocCandidates: number | null;
}

/** [index of the place, 'eof' (value: where the data ended) or 'crc' (value: the CRC-32 computed), value] */
export type StorageReadFailure = [number, 'eof' | 'crc', number];

/** A file mapped into memory (native/torch/mapped_file.cc): an External. */
export type FileMapping = object & { readonly __mapping: unique symbol };

/** A native model (native/lvm/models/model_binding.cc): an External. */
export type ModelHandle = object & { readonly __model: unique symbol };

/** A native optimiser (native/torch/optim/optim_binding.cc): an External. */
export type OptimizerHandle = object & { readonly __optimizer: unique symbol };
export type ProcessGroupHandle = object & { readonly __processGroup: unique symbol };

/** The hyperparameters native/torch/optim/optimizer.h knows; each optimiser reads its own. */
export interface NativeHyper {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  dampening?: number;
  amsgrad?: boolean;
  nesterov?: boolean;
  maximize?: boolean;
  fused?: boolean;
}

export interface NativeParamGroup extends NativeHyper {
  params: Raw[];
}

export interface LoadedAddon {
  addon: Addon;
  libtorch: Libtorch;
  binary: BinaryInfo;
  searched: string;
  /** The candidates refused before this binary loaded, and why (say, LVMTORCH_BINARY_DIR built for another libtorch). */
  skipped: string[];
  /** The OpenBLAS this libtorch uses and the core chosen for it before it loaded; null without OpenBLAS. */
  openblas: { library: OpenblasLibrary; choice: CoreChoice } | null;
  /** The thread counts set at load, and why (or that the user's environment decided). */
  threads: { intraOp: number; blas: number | null; by: 'lvmtorch' | 'environment'; reason: string };
}

export type { BinaryInfo };

const require = createRequire(import.meta.url);
let loaded: LoadedAddon | undefined;

const onLoadHooks: ((addon: Addon) => void)[] = [];

/** The addon, loaded on first use: reading files (lib/io) never needs libtorch. */
export function native(): Addon {
  return (loaded ?? load()).addon;
}

/** Runs fn with the addon as soon as it is loaded (now, if it is). */
export function onLoad(fn: (addon: Addon) => void): void {
  if (loaded) fn(loaded.addon);
  else onLoadHooks.push(fn);
}

export function loadedAddon(): LoadedAddon {
  return loaded ?? load();
}

/** The major version of the libtorch in use (1 for Debian's 1.13, 2 for PyTorch 2.x). */
export function libtorchMajor(): number {
  return Number(loadedAddon().libtorch.version.split('.')[0]);
}

function load(): LoadedAddon {
  const search = findLibtorch(process.env, { hasBinary: (v) => hasBinary(v) });
  const searched = describeSearch(search);
  const lt = search.libtorch;
  if (!lt) {
    throw new LibtorchLoadError(
      `lvmtorch: libtorch not found. Searched, in order:\n${searched}\n${fixHint(null)}\n` +
        'Or point at one: LIBTORCH=<a libtorch folder, a Python torch package folder or a TorchConfig.cmake folder>, ' +
        'or LIBTORCH_PYTHON=<a python whose torch to use>.',
    );
  }
  const openblas = prepareOpenblas(lt);
  const failures: string[] = [];
  for (const c of candidates(lt.variant)) {
    if (typeof c.node !== 'string') {
      failures.push(`  ${c.label}: ${c.node.missing}`);
      continue;
    }
    const info = readBinaryInfo(c.node);
    if (typeof info === 'string') {
      failures.push(`  ${c.label}: ${info}`);
      continue;
    }
    if (info.variant !== lt.variant) {
      failures.push(`  ${c.label}: built for libtorch ${info.libtorchVersion} (${info.variant}), but the libtorch found is ${lt.version} (${lt.variant})`);
      continue;
    }
    try {
      const preload = require(info.preload) as { preload(paths: string[]): void };
      preload.preload(libtorchLibraries(lt));
      const addon = require(info.path) as Addon;
      for (const hook of onLoadHooks) hook(addon);  // a hook refusing a stale binary moves on to the next
      const threads = defaultThreads(addon, openblas !== null);
      loaded = { addon, libtorch: lt, binary: info, searched, skipped: failures.map((f) => f.trim()), openblas, threads };
      if (openblas) checkBlas(addon, openblas.choice);
      return loaded;
    } catch (e) {
      if (e instanceof LibtorchLoadError) throw e;
      const message = (e as Error).message.split('\n')[0];
      const cudaLib = lt.cuda ? missingCudaLibrary(message) : null;
      if (cudaLib) throw cudaLibraryMissing(lt, cudaLib);  // libtorch itself cannot load: no other binary helps
      failures.push(`  ${c.label}: ${message}`);
    }
  }
  throw new LibtorchLoadError(
    `lvmtorch: no lvmtorch binary fits libtorch ${lt.version} (${lt.source}, ${lt.libDir}).\n` +
      `libtorch search:\n${searched}\nbinaries tried:\n${failures.join('\n')}\n${fixHint(lt.variant)}`,
  );
}

// "cannot load libcublas.so.13: cannot open shared object file": a CUDA library libtorch_cuda needs.
function missingCudaLibrary(message: string): string | null {
  return /^cannot load (lib(?:cu|nv|nccl)[\w-]*\.so[.\d]*): cannot open shared object file/.exec(message)?.[1] ?? null;
}

function cudaLibraryMissing(lt: Libtorch, lib: string): LibtorchLoadError {
  return new LibtorchLoadError(
    `lvmtorch: libtorch ${lt.version} (${lt.source}, ${lt.libDir}) is built with CUDA and needs ${lib}, which this ` +
      'machine does not have.\nFix, one of:\n' +
      `  - install PyTorch with its CUDA libraries (pip install torch==${lt.version.replace(/\+.*/, '')}: its nvidia-* ` +
      'packages are found beside it), or put a CUDA installation\'s libraries on LD_LIBRARY_PATH;\n' +
      '  - on a machine without CUDA, use a CPU libtorch: LIBTORCH=<its folder> or LIBTORCH_PYTHON=<a python with CPU torch>.',
  );
}

// OpenBLAS reads OPENBLAS_CORETYPE once, when it loads: chosen here, before libtorch is opened.
function prepareOpenblas(lt: Libtorch): LoadedAddon['openblas'] {
  const library = openblasOf(lt);
  if (!library) return null;
  const choice = chooseCore(library, process.env, cpuFlags());
  if (choice.by === 'lvmtorch' && choice.core) process.env.OPENBLAS_CORETYPE = choice.core;
  return { library, choice };
}

// The thread defaults, measured on 2-core machines (docs/install.md, "BLAS and threads"): MKL runs on OpenMP's threads, so
// one intra-op thread a core; OpenBLAS has a pool of its own, and OpenMP's beside it made the two fight (a seed
// GRU step at batch 64 in PyTorch 1.13: OMP 1 + BLAS 2 100 ms, OMP 2 + BLAS 2 250 ms), so one intra-op thread and
// one BLAS thread a core. The user's OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS are left to rule.
function defaultThreads(addon: Addon, openblas: boolean): LoadedAddon['threads'] {
  const cores = availableParallelism();
  const env = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'].filter((v) => process.env[v]);
  if (env.length) {
    return { intraOp: addon.getNumThreads(), blas: addon.blasInfo().threads, by: 'environment', reason: `${env.join(', ')} set` };
  }
  if (openblas) {
    addon.setNumThreads(1);
    addon.setBlasThreads(cores);
    return { intraOp: 1, blas: cores, by: 'lvmtorch', reason: 'OpenBLAS has its own pool: 1 OpenMP thread, 1 OpenBLAS thread a core' };
  }
  addon.setNumThreads(cores);
  return { intraOp: cores, blas: null, by: 'lvmtorch', reason: 'one OpenMP thread a core (MKL runs on them)' };
}

// A wrong kernel gives wrong numbers, not an error: one small matmul against float64 says which it is.
function checkBlas(addon: Addon, choice: CoreChoice): void {
  const error = addon.blasSelfCheck();
  if (error <= 1e-4) return;
  const who = choice.by === 'user' ? 'your OPENBLAS_CORETYPE' : choice.by === 'lvmtorch' ? 'lvmtorch\'s choice' : 'its own choice';
  throw new LibtorchLoadError(
    `lvmtorch: OpenBLAS's ${addon.blasInfo().coretype} kernels (${who}) compute a float32 matmul wrong here ` +
      `(relative error ${error.toExponential(2)} against float64). Set OPENBLAS_CORETYPE to an older core (Haswell, say).`,
  );
}
