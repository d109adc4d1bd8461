// The baselines every run is judged against, fitted on the train split only and scored on the others:
//   mean       the normalised mean of the train targets, predicted for every row (the seed's 48.16% line);
//   copy-last  the last context vector, as it is;
//   context-mean  the mean of the context vectors (on real sentence embeddings it ranks the true next sentence
//              better than ridge, whose predictions are drawn towards the mean);
//   ridge      closed-form ridge regression from the flattened context to the target, with an intercept, its
//              strength chosen on the val split;
//   oracle     the data's own oracle prediction, where the data has one (the synthetic corpus): the ceiling.
// A model that does not beat all of them on held-out data has learnt nothing worth its cost. Every
// score has the centred cosine about the train targets' mean (the mean baseline's is about 0 by construction).
// Fitting and scoring are one native job on a worker thread (native/lvm/train/eval.cc): the event loop stays free.
import type { Dataset } from '../data/dataset.js';
import { native } from '../../torch/native.js';
import { fromRaw, rawOf, type Tensor } from '../../torch/tensor.js';
import { centredMetricsOf, checkCentre, nativeRows, targetMean, type CentredMetrics } from './metrics.js';

export type BaselineName = 'mean' | 'copy-last' | 'context-mean' | 'ridge' | 'oracle';

export interface BaselineResult {
  /** Per baseline (oracle only where the data has one), per split name. */
  scores: Partial<Record<BaselineName, Record<string, CentredMetrics>>>;
  /** The ridge strength chosen on val, as a multiple of the mean eigenvalue of the centred Gram matrix. */
  ridgeLambda: number;
}

// Ridge strengths tried, relative to trace(X^T X) / p (so they mean the same at any data scale).
const RIDGE_GRID = [1e-3, 1e-2, 1e-1, 1, 10, 100];
const NAMES: BaselineName[] = ['mean', 'copy-last', 'context-mean', 'ridge', 'oracle'];

/** The ridge baseline as a linear map of the flattened context: prediction = x.flatten(1) @ weight^T + bias. */
export interface RidgeMap {
  weight: Tensor;  // [D, T * D]
  bias: Tensor;    // [D]
  lambda: number;
}

/**
 * Fits the baselines on `train` and scores them on every split given (val picks the ridge strength). Ridge is
 * solved in float64: the Gram matrix of the flattened context (p = T * D) summed over chunks of rows, one Cholesky
 * factorisation per strength (or the N x N kernel where N <= p). The centred cosine is about `opts.centre`
 * (default: targetMean(train), the mean of the train targets; the Trainer and evaluate() pass the one they centre
 * the model's scores on). The job holds the datasets' tensors: disposing the datasets before the Promise settles
 * is safe.
 */
export async function computeBaselines(train: Dataset, splits: Record<string, Dataset> & { val: Dataset },
  opts: { centre?: Tensor } = {}): Promise<BaselineResult> {
  const { result, ridge } = await baselinesAndRidge(train, splits, opts);
  ridge.weight.dispose();
  ridge.bias.dispose();
  return result;
}

/** The ridge baseline (fitted on `train`, its strength chosen on `val`, as computeBaselines fits it) as a linear
 * map of the flattened context; the caller owns (disposes) its tensors. */
export async function fitRidge(train: Dataset, val: Dataset): Promise<RidgeMap> {
  return (await fit(train, val, {})).ridge;  // val picks the strength; no split is scored
}

/** computeBaselines and fitRidge from one fit: the Trainer needs both for a model with ridgeContext. */
export function baselinesAndRidge(train: Dataset, splits: Record<string, Dataset> & { val: Dataset },
  opts: { centre?: Tensor } = {}): Promise<{ result: BaselineResult; ridge: RidgeMap }> {
  return fit(train, splits.val, splits, opts);
}

async function fit(train: Dataset, val: Dataset, splits: Record<string, Dataset>,
  opts: { centre?: Tensor } = {}): Promise<{ result: BaselineResult; ridge: RidgeMap }> {
  const names = Object.keys(splits);
  if (opts.centre) checkCentre(opts.centre, train.dim);
  const centre = opts.centre ?? targetMean(train);
  const all = [nativeRows(train, false), nativeRows(val, false), ...names.map((name) => nativeRows(splits[name], true))];
  let job;
  try {
    job = native().baselinesAsync(all[0].rows, all[1].rows, all.slice(2).map((r) => r.rows), RIDGE_GRID, rawOf(centre));
  } finally {
    if (!opts.centre) centre.dispose();  // the job holds its own references
    all.forEach((r) => r.dispose());
  }
  const [ridgeLambda, perSplit, weight, bias] = await job;
  const scores: BaselineResult['scores'] = {};
  names.forEach((name, i) => perSplit[i].forEach((m, j) => { (scores[NAMES[j]] ??= {})[name] = centredMetricsOf(m); }));
  return { result: { scores, ridgeLambda }, ridge: { weight: fromRaw(weight), bias: fromRaw(bias), lambda: ridgeLambda } };
}
