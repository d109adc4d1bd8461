// Judging a model on held-out data: its scores on each split, and the baselines fitted on train, side by side.
// The Trainer scores every epoch and at the end of fit(); `lvmtorch eval` runs evaluate() on a checkpoint. The
// forwards (predictAsync) and the scoring run on worker threads: the event loop stays free meanwhile.
import type { Dataset } from '../data/dataset.js';
import { splitByDocument } from '../data/index.js';
import { predict } from '../models/trainable.js';
import type { Module } from '../../torch/nn/module.js';
import type { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { computeBaselines, type BaselineResult } from './baselines.js';
import { scorePredictions, targetMean, type CentredMetrics, type Metrics } from './metrics.js';

const ROWS = 1024;

/**
 * The model's scores on a dataset, in eval mode and without a graph: predictAsync per 1,024 rows (which leaves the
 * model's train/eval mode as it was), then one native scoring job; the centred cosine about `opts.centre` ([D],
 * the train targets' mean: targetMean(train)) where given; the retrieval in each row's document where `ds` knows
 * its documents.
 */
export async function scoreModel(model: Module, ds: Dataset, opts: { centre: Tensor }): Promise<CentredMetrics>;
export async function scoreModel(model: Module, ds: Dataset, opts?: { centre?: Tensor }): Promise<Metrics>;
export async function scoreModel(model: Module, ds: Dataset, opts: { centre?: Tensor } = {}): Promise<Metrics> {
  const parts: Tensor[] = [];
  try {
    const preds: Tensor[] = [];
    const ys: Tensor[] = [];
    for (let s = 0; s < ds.size; s += ROWS) {
      const { x, y } = ds.batch(Array.from({ length: Math.min(ROWS, ds.size - s) }, (_, i) => s + i));
      parts.push(x, y);
      ys.push(y);
      const pred = await predict(model, x);
      parts.push(pred);
      preds.push(pred);
    }
    const pred = torch.cat(preds);
    parts.push(pred);
    const target = torch.cat(ys);
    parts.push(target);
    return await scorePredictions(pred, target, { ...opts, rows: ds });
  } finally {
    for (const t of parts) t.dispose();
  }
}

export interface Evaluation {
  /** The model's scores; the centred cosine about the train split's target mean, as the baselines'. */
  scores: { train: CentredMetrics; val: CentredMetrics; test?: CentredMetrics };
  baselines: BaselineResult;
  warnings: string[];
}

/**
 * Splits `data` by document as the Trainer does (same seed and fractions give the same split, so a checkpoint is
 * judged on the documents it never saw), then scores the model and the baselines.
 */
export async function evaluate(model: Module, data: Dataset,
  opts: { seed?: number; split?: { train: number; val: number; test: number } } = {}): Promise<Evaluation> {
  const s = splitByDocument(data, { ...(opts.split ?? { train: 0.8, val: 0.1, test: 0.1 }), seed: opts.seed ?? 0 });
  let centre: Tensor | undefined;
  try {
    centre = targetMean(s.train);  // once: the model and the baselines are centred on the same vector
    // One after the other: each job uses every intra-op thread.
    const train = await scoreModel(model, s.train, { centre });
    const val = await scoreModel(model, s.val, { centre });
    const test = await scoreModel(model, s.test, { centre });
    return {
      scores: { train, val, test },
      baselines: await computeBaselines(s.train, { val: s.val, test: s.test }, { centre }),
      warnings: s.warnings,
    };
  } finally {
    centre?.dispose();
    for (const d of [s.train, s.val, s.test]) d.dispose();
  }
}
