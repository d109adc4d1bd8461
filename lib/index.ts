// The package's public API; this file only re-exports.
export * as torch from './torch.js';
export { Tensor } from './tensor.js';
export type { DType, QuantizedDType } from './dtype.js';
export type { QScheme } from './dtype.js';
export type { Device } from './device.js';
export { LibtorchLoadError } from './errors.js';
export { doctor, type DoctorReport } from './doctor.js';
export { load, loadBytes, save, detectFormat, FileFormatError, type FileFormat, type LoadFileOptions, type SaveFileOptions } from './io/load.js';
export {
  loadTorchFile, loadTorchFileSync, loadTorchBuffer, saveTorchFile, TorchFileError, type LoadOptions,
} from './io/torch-file.js';
export {
  PickleError, PickleObject, PickleGlobal, Tuple, tuple, isTuple, FrozenSet, PyComplex, PyFloat, pyFloat, orderedDict,
  pythonClass, pythonAttrs,
} from './io/pickle/index.js';
export {
  ZipError, ZipReader, ZipWriter, type ZipEntry, type ZipWriterOptions, type ZipAddOptions, type ReservedEntry,
} from './io/zip.js';
export { writeFileAtomic, writeFileAtomicSync } from './io/atomic.js';
export { mappedFiles } from './io/storage-io.js';
export { loadNpy, saveNpy, NpyError } from './io/npy.js';
export { loadNpz, saveNpz, type LoadNpzOptions, type SaveNpzOptions } from './io/npz.js';
export {
  loadSafetensors, saveSafetensors, SafetensorsError, type Safetensors, type SaveSafetensorsOptions,
} from './io/safetensors.js';
export {
  compositeLoss, compositeWeights, NonFiniteLossError, DEFAULT_COMPOSITE_WEIGHTS, SEED_COMPOSITE_WEIGHTS,
  CONTRASTIVE_WEIGHTS, COSINE_REGRESSION_WEIGHTS, DOCUMENT_WEIGHTS, type Candidates, type CompositeWeights, type CompositeLossOptions, type CompositeLossResult,
} from './loss/composite.js';
export { compositeLossReference, type ReferenceOptions } from './loss/reference.js';
export {
  Optimizer, type ParamGroup, type ParamsInput, type OptimizerStateDict, type LoadableStateDict,
} from './optim/optimizer.js';
export { Adam, type AdamOptions } from './optim/adam.js';
export { AdamW } from './optim/adamw.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { clipGradNorm, type ClipGradNormOptions } from './optim/clip.js';
export {
  ReduceLROnPlateau, CosineWarmupLR, type ReduceLROnPlateauOptions, type CosineWarmupOptions, type LrGroups,
} from './optim/schedulers.js';
export * as models from './models/index.js';
export { Module, type ModelConfig, type ModelKind, type LoadStateDictOptions } from './models/module.js';
export {
  Trainer, TrainingError, type TrainerOptions, type TrainerCallbacks, type TrainBeginInfo, type BatchLogs, type FitResult,
  type SplitScores,
} from './train/trainer.js';
export { trainStep, type Precision, type TrainStepOptions, type TrainStepResult } from './train/step.js';
export { World, DistributedError, type WorldOptions, type ReduceOp } from './distributed/world.js';
export { launch, type LaunchOptions } from './distributed/launch.js';
export { scorePredictions, targetMean, type CentredMetrics, type Metrics, type ScoreOptions } from './train/metrics.js';
export { computeBaselines, fitRidge, type BaselineResult, type BaselineName, type RidgeMap } from './train/baselines.js';
export { evaluate, scoreModel, type Evaluation } from './train/evaluate.js';
export { readCheckpoint, writeCheckpoint, type BestEpoch, type Checkpoint, type LoadedCheckpoint } from './train/checkpoint.js';
export type { HistoryEntry } from './train/history.js';
export { formatSummary, summaryColumns, summaryRows, type SummaryColumn, type SummaryRow } from './train/summary.js';
export { MONITORS, type Monitor } from './train/monitor.js';
export * as datasets from './data/index.js';
export {
  Dataset, DatasetError, type DatasetInit, type Batch, type BatchesOptions, type Splits, type SplitOptions,
  type SynthesizeOptions, type SyntheticCorpus, type SyntheticStats,
} from './data/index.js';
export { createServer, lvmtorchServe, ServingState, DEFAULT_TIMEOUTS, type LvmtorchServer, type ServeOptions, type ServeTimeouts } from './serve/server.js';
export { ServedModel } from './serve/served-model.js';
export { VectorBank, type Neighbour } from './serve/bank.js';
