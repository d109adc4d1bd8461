// What a prediction scores against the true next vectors: mean cosine, the seed's val_loss (MSE of the normalised
// prediction against the target) and retrieval (is the true next vector the nearest of all the split's targets?).
// Computed by one native job on a worker thread (native/train/eval.cc): the event loop stays free meanwhile.
import { native, type NativeScore } from '../native.js';
import { rawOf, type Tensor } from '../tensor.js';

export interface Metrics {
  /** Mean cosine similarity of prediction and target. */
  cosine: number;
  /** mean((normalize(pred) - target)^2): the seed's val_loss. */
  mse: number;
  /** Share of rows whose true target is the most similar (cosine) of all the split's targets. */
  top1: number;
  /** Share of rows whose true target is among the 5 most similar. */
  top5: number;
  /** Rows scored. */
  count: number;
}

/**
 * Scores pred [N, D] against target [N, D] (row i predicts target i); ranks against all N targets: a row's rank is
 * how many targets are strictly more similar to its prediction than its own (ties count in its favour). The job
 * holds both tensors: disposing them before the Promise settles is safe.
 */
export async function scorePredictions(pred: Tensor, target: Tensor): Promise<Metrics> {
  if (pred.ndim !== 2 || target.ndim !== 2 || pred.shape[0] !== target.shape[0] || pred.shape[1] !== target.shape[1]) {
    throw new RangeError(`pred and target must both be [N, D], got [${pred.shape}] and [${target.shape}]`);
  }
  if (pred.shape[0] === 0) throw new RangeError('no rows to score');
  return metricsOf(await native().scoreAsync(rawOf(pred), rawOf(target)));
}

/** @internal The native job's [cosine, mse, top-1 count, top-5 count, rows] as Metrics. */
export function metricsOf([cosine, mse, top1, top5, count]: NativeScore): Metrics {
  return { cosine, mse, top1: top1 / count, top5: top5 / count, count };
}
