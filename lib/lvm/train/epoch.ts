// One epoch of a fit(): the train split's batches (this rank's share, shuffled by (seed, epoch)), one native train
// step each (lib/lvm/train/step.ts), the cosine schedule stepped after each; the epoch's mean losses over every rank's
// rows; and its history entry once val is scored.
import type { Dataset } from '../data/dataset.js';
import type { World } from '../../torch/distributed/world.js';
import { LvmtorchError } from '../../errors.js';
import { NonFiniteLossError, type CompositeWeights } from '../loss/composite.js';
import type { Module } from '../../torch/nn/module.js';
import type { HistoryEntry } from './history.js';
import type { CentredMetrics } from './metrics.js';
import { afterStep, type Scheduler, type TrainOptimizer } from './optimizer-setup.js';
import type { TrainerCallbacks } from './options.js';
import { epochSeed, epochShare } from './split-data.js';
import { trainStep, type Precision } from './step.js';

/** Raised when training cannot go on (a NaN loss): the message names the epoch and batch. */
export class TrainingError extends LvmtorchError {
  constructor(message: string, readonly epoch: number, readonly batch: number) {
    super(message, 'ERR_TRAINING');
  }
}

/** torch's generator for an epoch's dropout: from (seed, epoch), apart from the shuffle's epochSeed(seed, epoch). */
export function dropoutSeed(seed: number, epoch: number): number {
  return 2 ** 48 + (((epochSeed(seed, epoch) % 2 ** 48) + 2 ** 48) % 2 ** 48);
}

export type EpochRun = {
  model: Module; optimizer: TrainOptimizer; scheduler: Scheduler; weights: CompositeWeights;
  batchSize: number; clipNorm: number; precision: Precision; seed: number; world?: World; callbacks: TrainerCallbacks;
};

/** An epoch's means per row of the train steps' losses and cosine, its lr and speed. */
export interface EpochStats {
  loss: number; info: number; moment: number; variance: number; cosMse: number; document: number; cosine: number;
  lr: number; seconds: number; samplesPerSecond: number;
}

export async function trainEpoch(train: Dataset, epoch: number, run: EpochRun): Promise<EpochStats> {
  const { model, optimizer, world } = run;
  model.train();
  const lr = optimizer.lr;
  const sums = { loss: 0, info: 0, moment: 0, variance: 0, cosMse: 0, document: 0, cosine: 0 };
  let rows = 0;
  let done = 0;
  const seed = epochSeed(run.seed, epoch);
  const share = epochShare(train, world, seed);
  const batchSize = run.batchSize / (world?.worldSize ?? 1);
  const steps = Math.ceil(share.size / batchSize);
  const start = performance.now();
  // A last batch of one row has no std for the moment and variance terms: it is dropped then.
  const dropLast = share.size % batchSize === 1;
  try {
    // The document term ranks each row among its documents' sentences: batches of a few whole documents, so that
    // a batch's candidates stay few (a document's windows are spread over one or two batches).
    const byDocument = run.weights.document > 0;
    const batches = share.batches({ batchSize, shuffle: true, seed, dropLast, group: byDocument ? 'document' : 'none', candidates: byDocument });
    for (const { x, y, candidates } of batches) {
      const n = x.shape[0];
      let r;
      try {
        r = await trainStep(model, optimizer, x, y, { weights: run.weights, clipNorm: run.clipNorm, precision: run.precision, world, candidates });
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          throw new TrainingError(`the loss is not finite at epoch ${epoch}, batch ${done + 1} of ${steps}: ${e.message}. ` +
            'Nothing was updated by that batch; final_model.pt holds the last finished epoch, best_model.pt the best one', epoch, done + 1);
        }
        throw e;
      } finally {
        x.dispose();
        y.dispose();
        if (candidates) for (const t of Object.values(candidates)) t.dispose();
      }
      afterStep(run.scheduler);
      rows += n;
      done++;
      for (const k of Object.keys(sums) as (keyof typeof sums)[]) sums[k] += (k === 'loss' ? r.loss : r[k]) * n;
      await run.callbacks.onBatchEnd?.(done, {
        epoch, done, steps, size: n, loss: r.loss, cosine: r.cosine,
        samplesPerSecond: rows * (world?.worldSize ?? 1) / ((performance.now() - start) / 1000),
      });
    }
  } finally {
    if (share !== train) share.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  if (world) {  // the epoch's means over every rank's rows
    const keys = Object.keys(sums) as (keyof typeof sums)[];
    const total = await world.allReduceNumbers([...keys.map((k) => sums[k]), rows]);
    keys.forEach((k, i) => { sums[k] = total[i]; });
    rows = total[keys.length];
  }
  const mean = (v: number) => v / rows;
  return {
    loss: mean(sums.loss), info: mean(sums.info), moment: mean(sums.moment), variance: mean(sums.variance),
    cosMse: mean(sums.cosMse), document: mean(sums.document), cosine: mean(sums.cosine), lr, seconds, samplesPerSecond: rows / seconds,
  };
}

/** The epoch's line of training_history.json: its train steps' means and its val scores. */
export function historyEntry(epoch: number, train: EpochStats, val: CentredMetrics, weights: CompositeWeights): HistoryEntry {
  return {
    epoch, train_loss: train.loss, train_cosine: train.cosine, train_loss_info: train.info,
    train_loss_moment: train.moment, train_loss_variance: train.variance, train_loss_cos_mse: train.cosMse,
    ...(weights.document > 0 && { train_loss_document: train.document }),
    val_loss: val.mse, val_cosine: val.cosine, val_centred_cosine: val.centredCosine, val_top1: val.top1,
    val_top5: val.top5, val_mrr: val.mrr, val_median_rank: val.medianRank,
    ...(val.contrastiveAccuracy !== undefined && { val_contrastive_accuracy: val.contrastiveAccuracy }),
    ...(val.inDocMrr !== undefined && { val_in_doc_mrr: val.inDocMrr, val_in_doc_top1: val.inDocTop1 }),
    lr: train.lr,
    seconds: train.seconds, samples_per_second: train.samplesPerSecond,
  };
}
