// Judging a model on held-out data: its scores on each split, and the baselines fitted on train, side by side.
// The Trainer runs this at the end of fit(); `lvmtorch eval` runs it on a checkpoint.
import type { Dataset } from '../data/dataset.js';
import { splitByDocument } from '../data/index.js';
import type { Module } from '../models/module.js';
import { tidy } from '../scope.js';
import * as torch from '../torch.js';
import { computeBaselines, type BaselineResult } from './baselines.js';
import { scorePredictions, type Metrics } from './metrics.js';

const ROWS = 1024;

/** The model's scores on a dataset, in eval mode and without a graph; its train/eval mode is restored after. */
export function scoreModel(model: Module, ds: Dataset): Metrics {
  const wasTraining = model.training;
  model.eval();
  try {
    return tidy(() => {
      const preds = [];
      const ys = [];
      for (let s = 0; s < ds.size; s += ROWS) {
        const { x, y } = ds.batch(Array.from({ length: Math.min(ROWS, ds.size - s) }, (_, i) => s + i));
        preds.push(model.predict(x));
        ys.push(y);
      }
      return scorePredictions(torch.cat(preds), torch.cat(ys));
    });
  } finally {
    model.train(wasTraining);
  }
}

export interface Evaluation {
  scores: { train: Metrics; val: Metrics; test?: Metrics };
  baselines: BaselineResult;
  warnings: string[];
}

/**
 * Splits `data` by document as the Trainer does (same seed and fractions give the same split, so a checkpoint is
 * judged on the documents it never saw), then scores the model and the baselines.
 */
export function evaluate(model: Module, data: Dataset,
  opts: { seed?: number; split?: { train: number; val: number; test: number } } = {}): Evaluation {
  const s = splitByDocument(data, { ...(opts.split ?? { train: 0.8, val: 0.1, test: 0.1 }), seed: opts.seed ?? 0 });
  try {
    return {
      scores: { train: scoreModel(model, s.train), val: scoreModel(model, s.val), test: scoreModel(model, s.test) },
      baselines: computeBaselines(s.train, { val: s.val, test: s.test }),
      warnings: s.warnings,
    };
  } finally {
    for (const d of [s.train, s.val, s.test]) d.dispose();
  }
}
