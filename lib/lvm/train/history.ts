// training_history.json in the seed's schema ({history: [...], best_val_loss, final_params, trained_at}) with
// our additions: the baselines on the same splits, the best weights' scores, and per epoch the centred cosine,
// retrieval (top-1/top-5, MRR, median rank) and speed. The train cosine per epoch is the train steps' own (the
// model in train mode, before each step): train is not scored separately per epoch, so there is no per-epoch train
// centred cosine; the final `scores.train` has it.
// Rewritten atomically after every epoch, so a killed run keeps what it had done.
import { writeFileSync } from 'node:fs';

import { writeFileAtomic } from '../../formats/atomic.js';
import type { BaselineResult } from './baselines.js';
import type { Metrics } from './metrics.js';

export interface HistoryEntry {
  epoch: number;
  train_loss: number;
  train_cosine: number;
  train_loss_info: number;
  train_loss_moment: number;
  train_loss_variance: number;
  /** Ours: the cosine-regression term (the default loss). */
  train_loss_cos_mse: number;
  /** Ours: the document term, when the loss weights it (DOCUMENT_WEIGHTS). */
  train_loss_document?: number;
  /** MSE of the normalised prediction against the target, on val: the seed's val_loss. */
  val_loss: number;
  val_cosine: number;
  /**
   * Ours: the centred cosine on val, about the train targets' mean (Metrics.centredCosine). Like the other keys
   * that are ours, absent from entries that a seed-style checkpoint's history brought in on resume.
   */
  val_centred_cosine: number;
  val_top1: number;
  val_top5: number;
  /** Ours: the mean reciprocal rank of the true target on val (Metrics.mrr). */
  val_mrr: number;
  /** Ours: the median 1-based rank of the true target on val (Metrics.medianRank). */
  val_median_rank: number;
  /** Ours: val's contrastive accuracy (Metrics.contrastiveAccuracy), where any row has a distractor. */
  val_contrastive_accuracy?: number;
  /** Ours: val's in-document MRR and top-1 (Metrics.inDocMrr, inDocTop1), where the data knows its documents. */
  val_in_doc_mrr?: number;
  val_in_doc_top1?: number;
  lr: number;
  seconds: number;
  samples_per_second: number;
}

export class HistoryFile {
  readonly entries: HistoryEntry[] = [];
  bestValLoss = Infinity;
  baselines?: BaselineResult;
  scores?: Partial<Record<'train' | 'val' | 'test', Metrics>>;
  finalParams?: number;

  constructor(readonly path?: string) {}

  add(entry: HistoryEntry, bestValLoss: number): void {
    this.entries.push(entry);
    this.bestValLoss = bestValLoss;
  }

  toJSON(): Record<string, unknown> {
    return {
      history: this.entries,
      best_val_loss: Number.isFinite(this.bestValLoss) ? this.bestValLoss : null,
      final_params: this.finalParams ?? null,
      trained_at: new Date().toISOString(),
      baselines: this.baselines?.scores ?? null,
      ridge_lambda: this.baselines?.ridgeLambda ?? null,
      scores: this.scores ?? null,
    };
  }

  /** Writes the file (when the history has a path); returns the path. */
  async write(): Promise<string | undefined> {
    if (!this.path) return undefined;
    const text = JSON.stringify(this, null, 2) + '\n';
    // writeFileSync, not one writeSync: that returns after a short write (a full disk) and would keep half a file.
    await writeFileAtomic(this.path, (fd) => { writeFileSync(fd, text); });
    return this.path;
  }
}
