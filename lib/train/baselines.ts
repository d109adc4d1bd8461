// The baselines every run is judged against, fitted on the train split only and scored on the others:
//   mean       the normalised mean of the train targets, predicted for every row (the seed's 48.16% line);
//   copy-last  the last context vector, as it is;
//   ridge      closed-form ridge regression from the flattened context to the target, with an intercept, its
//              strength chosen on the val split;
//   oracle     the data's own oracle prediction, where the data has one (the synthetic corpus): the ceiling.
// A model that does not beat mean, copy-last and ridge on held-out data has learnt nothing worth its cost.
// Fitting and scoring are one native job on a worker thread (native/train/eval.cc): the event loop stays free.
import type { Dataset } from '../data/dataset.js';
import { native, type RawTensor } from '../native.js';
import { rawOf } from '../tensor.js';
import { metricsOf, type Metrics } from './metrics.js';

export type BaselineName = 'mean' | 'copy-last' | 'ridge' | 'oracle';

export interface BaselineResult {
  /** Per baseline (oracle only where the data has one), per split name. */
  scores: Partial<Record<BaselineName, Record<string, Metrics>>>;
  /** The ridge strength chosen on val, as a multiple of the mean eigenvalue of the centred Gram matrix. */
  ridgeLambda: number;
}

// Ridge strengths tried, relative to trace(X^T X) / p (so they mean the same at any data scale).
const RIDGE_GRID = [1e-3, 1e-2, 1e-1, 1];
const NAMES: BaselineName[] = ['mean', 'copy-last', 'ridge', 'oracle'];

/**
 * Fits the baselines on `train` and scores them on every split given (val picks the ridge strength). Ridge is
 * solved in float64: the Gram matrix of the flattened context (p = T * D) summed over chunks of rows, one Cholesky
 * factorisation per strength (or the N x N kernel where N <= p). The job holds the datasets' tensors: disposing
 * the datasets before the Promise settles is safe.
 */
export async function computeBaselines(train: Dataset, splits: Record<string, Dataset> & { val: Dataset }): Promise<BaselineResult> {
  const names = Object.keys(splits);
  const [ridgeLambda, perSplit] = await native().baselinesAsync(rows(train, false), rows(splits.val, false),
    names.map((name) => rows(splits[name], true)), RIDGE_GRID);
  const scores: BaselineResult['scores'] = {};
  names.forEach((name, i) => perSplit[i].forEach((m, j) => { (scores[NAMES[j]] ??= {})[name] = metricsOf(m); }));
  return { scores, ridgeLambda };
}

function rows(ds: Dataset, withOracle: boolean): RawTensor[] {
  const out = [rawOf(ds.vectors), rawOf(ds.contextIndex), rawOf(ds.targetIndex)];
  if (withOracle && ds.oracle) out.push(rawOf(ds.oracle));
  return out;
}
