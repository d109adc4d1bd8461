// The package's public API, `import ... from 'lvmtorch'`: what a user scripts with (torch, files, models, losses,
// optimisers, data, the Trainer); this file only re-exports. The HTTP server is 'lvmtorch/serve', process groups
// 'lvmtorch/distributed', the file formats' own readers and writers 'lvmtorch/formats': importing this one loads
// none of them.
export * as torch from './torch.js';
export { Tensor } from './tensor.js';
export type { DType, QuantizedDType } from './dtype.js';
export type { QScheme } from './dtype.js';
export type { Device } from './device.js';
export { LibtorchLoadError, LvmtorchError } from './errors.js';
export { doctor, type DoctorReport } from './doctor.js';
export { load, loadBytes, save, detectFormat, FileFormatError, type FileFormat, type LoadFileOptions, type SaveFileOptions } from './io/load.js';
export {
  loadTorchFile, loadTorchFileSync, loadTorchBuffer, saveTorchFile, TorchFileError, type LoadOptions,
} from './io/torch-file.js';
export { loadNpy, saveNpy, loadNpz, saveNpz, loadSafetensors, saveSafetensors } from './io/tensor-formats.js';
export { mappedFiles } from './io/storage-io.js';
export {
  compositeLoss, compositeWeights, NonFiniteLossError, DEFAULT_COMPOSITE_WEIGHTS, SEED_COMPOSITE_WEIGHTS,
  CONTRASTIVE_WEIGHTS, COSINE_REGRESSION_WEIGHTS, DOCUMENT_WEIGHTS, type Candidates, type CompositeWeights, type CompositeLossOptions, type CompositeLossResult,
} from './loss/composite.js';
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
