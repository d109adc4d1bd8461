// What a Trainer is told: its options (each default the seed's), the callbacks it calls, and the checks that refuse
// bad options when it is made.
import type { World } from '../../torch/distributed/world.js';
import { LOSS_PRESETS, type CompositeWeights } from '../loss/composite.js';
import type { BaselineResult } from './baselines.js';
import type { FitResult } from './fit-result.js';
import type { HistoryEntry } from './history.js';
import { checkMonitor, type Monitor } from './monitor.js';
import type { Precision } from './step.js';

export interface TrainerOptions {
  /** Epochs to run (default 20, the seed's). */
  epochs?: number;
  /** Rows per step (default 32, the seed's). */
  batchSize?: number;
  /** 'adamw' (default; weightDecay 0.01) or 'adam' (weightDecay 0; the seed's LSTM). */
  optimizer?: 'adamw' | 'adam';
  lr?: number;
  weightDecay?: number;
  /** 'plateau' (default: halve the lr after 3 epochs without a better val_loss), 'cosine' (per step, after warm-up), 'none'. */
  schedule?: 'plateau' | 'cosine' | 'none';
  /** Linear warm-up steps of the cosine schedule (default: one epoch). */
  warmupSteps?: number;
  /** Gradient clipping: max total L2 norm (default 1, the seed's; 0 turns it off). */
  clipNorm?: number;
  /**
   * 'bf16': train steps run their forward under bf16 autocast (fp32 weights and optimiser state; checkpoints stay
   * fp32); val/test scoring stays fp32. Pays on CPUs with AVX-512 BF16 or AMX (`lvmtorch doctor` says). Default 'fp32'.
   */
  precision?: Precision;
  /**
   * The composite loss's weights. Default: cosine regression (MSE of the normalised prediction), which wins on
   * held-out data; the seed's InfoNCE-led loss is LOSS_PRESETS.seed.
   */
  loss?: Partial<CompositeWeights>;
  /**
   * The val score that picks best_model.pt, counts `patience` and drives the plateau schedule, by its history key:
   * 'val_loss' (lowest; the seed's, the default) or the highest of val_cosine, val_centred_cosine, val_mrr,
   * val_in_doc_mrr, val_in_doc_top1 (these two need the documents) and val_contrastive_accuracy.
   */
  monitor?: Monitor;
  /**
   * What a model with ridgeContext learns the residual over: 'ridge' (default), the ridge fitted on train, or
   * 'copy-last', the last context vector (its linear map: the identity on the last vector): on real text it ranks
   * the next sentence in its document better than ridge does, and the model starts from it.
   */
  residualOf?: 'ridge' | 'copy-last';
  /** Stop after this many epochs without improvement of the monitored metric (default: never). */
  patience?: number;
  /** Seeds the shuffling, the split and the model's dropout (reseeded each epoch from it, so a resumed run draws the same; default 0). */
  seed?: number;
  /** Split fractions by document when fit() is given one dataset (default 0.8 / 0.1 / 0.1). */
  split?: { train: number; val: number; test: number };
  /** Where the files go; without it nothing is written. */
  outDir?: string;
  /**
   * Continue from this checkpoint (ours or a seed-style one written by Python). Ours hold everything the run needs
   * to go on as if unbroken; final_model.pt (written after every epoch) is the one to resume a killed run from. The
   * best weights are read from best_model.pt beside it when the checkpoint is not the best epoch.
   */
  resume?: string;
  /** Baselines already computed on the same split (computeBaselines), to spare fitting them again. */
  baselines?: BaselineResult;
  /**
   * Data-parallel training over a process group (World.init), with DistributedDataParallel's semantics: rank 0's
   * initial weights on every rank, each step's gradients averaged over the ranks, the train split dealt out by
   * document afresh each epoch. `batchSize` stays the global batch (each rank steps on batchSize / worldSize rows),
   * so a run gives the same dynamics at any world size. Every rank scores the whole val and test splits and reports
   * the same numbers; only rank 0 writes files. A fit that fails on one rank (a NaN loss, a throwing callback)
   * closes the world there, so that the others fail at once instead of at the timeout.
   */
  world?: World;
  /** Recorded as the checkpoints' `args` (the CLI records its options). */
  args?: Record<string, unknown>;
  callbacks?: TrainerCallbacks;
}

/** In the style of tfjs's model.fit callbacks; each may return a Promise, which is awaited. */
export interface TrainerCallbacks {
  onTrainBegin?(info: TrainBeginInfo): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: HistoryEntry): void | Promise<void>;
  onTrainEnd?(result: FitResult): void | Promise<void>;
}

export interface TrainBeginInfo {
  epochs: number;
  firstEpoch: number;
  stepsPerEpoch: number;
  sizes: Record<string, number>;
  baselines: BaselineResult;
  warnings: string[];
}

export interface BatchLogs {
  epoch: number;
  /** Batches done in this epoch, of `steps`. */
  done: number;
  steps: number;
  size: number;
  loss: number;
  cosine: number;
  /** Rows per second over the epoch so far. */
  samplesPerSecond: number;
}

/** The TrainerOptions that have no default: they stay optional in ResolvedTrainerOptions. */
export type UndefaultedTrainerOption = 'outDir' | 'resume' | 'patience' | 'callbacks' | 'warmupSteps' | 'baselines' | 'world';

/** The options with every default filled in (Trainer.options). */
export type ResolvedTrainerOptions = Readonly<Required<Omit<TrainerOptions, UndefaultedTrainerOption>>> & Pick<TrainerOptions, UndefaultedTrainerOption>;

/** `opts` with the seed's defaults (checkOptions checks them). */
export function resolveOptions(opts: TrainerOptions): ResolvedTrainerOptions {
  const optimizer = opts.optimizer ?? 'adamw';
  return {
    epochs: opts.epochs ?? 20, batchSize: opts.batchSize ?? 32, optimizer, lr: opts.lr ?? 5e-4,
    weightDecay: opts.weightDecay ?? (optimizer === 'adamw' ? 0.01 : 0), schedule: opts.schedule ?? 'plateau',
    clipNorm: opts.clipNorm ?? 1, precision: opts.precision ?? 'fp32', loss: opts.loss ?? LOSS_PRESETS.cosine,
    monitor: opts.monitor ?? 'val_loss', residualOf: opts.residualOf ?? 'ridge',
    seed: opts.seed ?? 0, split: opts.split ?? { train: 0.8, val: 0.1, test: 0.1 }, args: opts.args ?? {},
    outDir: opts.outDir, resume: opts.resume, patience: opts.patience, callbacks: opts.callbacks,
    warmupSteps: opts.warmupSteps, baselines: opts.baselines, world: opts.world,
  };
}

/** Throws a RangeError naming the first bad option. */
export function checkOptions(o: ResolvedTrainerOptions): void {
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt(o.epochs, 'epochs');
  positiveInt(o.batchSize, 'batchSize');
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new RangeError(`lr must be a finite number > 0, got ${o.lr}`);
  if (!['adamw', 'adam'].includes(o.optimizer)) throw new RangeError(`optimizer must be 'adamw' or 'adam', got ${o.optimizer}`);
  if (!['plateau', 'cosine', 'none'].includes(o.schedule)) throw new RangeError(`schedule must be 'plateau', 'cosine' or 'none', got ${o.schedule}`);
  checkMonitor(o.monitor);
  if (!['ridge', 'copy-last'].includes(o.residualOf)) throw new RangeError(`residualOf must be 'ridge' or 'copy-last', got ${o.residualOf}`);
  if (o.patience !== undefined) positiveInt(o.patience, 'patience');
  if (o.world && o.batchSize % o.world.worldSize !== 0) {
    throw new RangeError(`batchSize (the global batch) must be a multiple of the world size ${o.world.worldSize}, got ${o.batchSize}`);
  }
}
