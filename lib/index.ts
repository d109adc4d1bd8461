// The package's public API, `import ... from 'lvmtorch'`: what a user scripts with. PyTorch's names under `torch`
// (torch.load, torch.save, torch.optim.AdamW, torch.nn.utils.clipGradNorm_; `nn` and `optim` are also here on their
// own), then the LVM application: models, the composite loss, the Trainer, evaluation, checkpoints, datasets. This
// file only re-exports. The HTTP server is 'lvmtorch/serve', process groups 'lvmtorch/distributed', the file
// formats' own readers and writers 'lvmtorch/formats': importing this one loads none of them.
/** @module lvmtorch */
export * as torch from './torch/index.js';
export { nn, optim } from './torch/index.js';
export { Tensor } from './torch/tensor.js';
export type { DType, QuantizedDType, QScheme } from './formats/dtype.js';
export type { Device } from './torch/device.js';
export { doctor, type DoctorReport, type BlasReport } from './torch/doctor.js';
export { DisposedError, LvmtorchError, LibtorchLoadError, type NativeErrorCode } from './errors.js';
export { FileFormatError, type FileFormat } from './formats/detect.js';
export { TorchFileError } from './formats/torch-error.js';

export * as models from './lvm/models/index.js';
export { Module } from './torch/nn/module.js';
export type { ModelConfig, ModelKind } from './lvm/models/config.js';
export type { ModelConfigOf } from './lvm/models/trainable.js';
export {
  compositeLoss, compositeWeights, LOSS_PRESETS, NonFiniteLossError, type LossPreset, type Candidates,
  type CompositeWeights, type CompositeLossOptions, type CompositeLossResult,
} from './lvm/loss/composite.js';
export {
  Trainer, TrainingError, type TrainerOptions, type TrainerCallbacks, type TrainBeginInfo, type BatchLogs, type FitResult,
  type SplitScores, type TrainerSplits, type ResolvedTrainerOptions, type UndefaultedTrainerOption,
} from './lvm/train/trainer.js';
export type { Monitor } from './lvm/train/monitor.js';
export type { HistoryEntry } from './lvm/train/history.js';
export { trainStep, type Precision, type TrainStepOptions, type TrainStepResult } from './lvm/train/step.js';
export { evaluate, scoreModel, type Evaluation } from './lvm/train/evaluate.js';
export { scorePredictions, type CentredMetrics, type Metrics, type ScoreOptions } from './lvm/train/metrics.js';
export { computeBaselines, type BaselineResult, type BaselineName } from './lvm/train/baselines.js';
export { formatSummary } from './lvm/train/summary.js';
export { readCheckpoint, writeCheckpoint, type BestEpoch, type Checkpoint, type LoadedCheckpoint } from './lvm/train/checkpoint.js';
export * as datasets from './lvm/data/index.js';
export {
  Dataset, DatasetError, type DatasetInit, type Batch, type BatchesOptions, type Splits, type SplitOptions,
} from './lvm/data/index.js';
