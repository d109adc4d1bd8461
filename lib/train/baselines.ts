// The baselines every run is judged against, fitted on the train split only and scored on the others:
//   mean       the normalised mean of the train targets, predicted for every row (the seed's 48.16% line);
//   copy-last  the last context vector, as it is;
//   ridge      closed-form ridge regression from the flattened context to the target, with an intercept, its
//              strength chosen on the val split;
//   oracle     the data's own oracle prediction, where the data has one (the synthetic corpus): the ceiling.
// A model that does not beat mean, copy-last and ridge on held-out data has learnt nothing worth its cost.
import type { Dataset } from '../data/dataset.js';
import * as linalg from '../linalg.js';
import { keep, tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import * as torch from '../torch.js';
import { scorePredictions, type Metrics } from './metrics.js';

export type BaselineName = 'mean' | 'copy-last' | 'ridge' | 'oracle';

export interface BaselineResult {
  /** Per baseline (oracle only where the data has one), per split name. */
  scores: Partial<Record<BaselineName, Record<string, Metrics>>>;
  /** The ridge strength chosen on val, as a multiple of the mean eigenvalue of the centred Gram matrix. */
  ridgeLambda: number;
}

// Ridge strengths tried, relative to trace(X^T X) / p (so they mean the same at any data scale).
const RIDGE_GRID = [1e-3, 1e-2, 1e-1, 1];
const ROWS = 2048;  // rows gathered at once

/** Fits the baselines on `train` and scores them on every split given (val picks the ridge strength). */
export function computeBaselines(train: Dataset, splits: Record<string, Dataset> & { val: Dataset }): BaselineResult {
  const scores: BaselineResult['scores'] = { mean: {}, 'copy-last': {}, ridge: {} };
  const mean = tidy(() => meanTarget(train));
  const ridge = fitRidge(train, splits.val);
  try {
    for (const [name, ds] of Object.entries(splits)) {
      tidy(() => {
        const y = targets(ds);
        scores.mean![name] = scorePredictions(mean.unsqueeze(0).expand([ds.size, mean.shape[0]]), y);
        scores['copy-last']![name] = scorePredictions(lastContext(ds), y);
        scores.ridge![name] = scorePredictions(ridge.predict(ds), y);
        if (ds.oracle) (scores.oracle ??= {})[name] = scorePredictions(ds.oracle, y);
      });
    }
  } finally {
    mean.dispose();
    ridge.dispose();
  }
  return { scores, ridgeLambda: ridge.lambda };
}

function rowRanges(n: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < n; s += ROWS) out.push(Array.from({ length: Math.min(ROWS, n - s) }, (_, i) => s + i));
  return out;
}

function targets(ds: Dataset): Tensor {
  return torch.cat(rowRanges(ds.size).map((rows) => ds.batch(rows).y));
}

function lastContext(ds: Dataset): Tensor {
  return torch.cat(rowRanges(ds.size).map((rows) => ds.batch(rows).x.select(1, -1)));
}

function meanTarget(train: Dataset): Tensor {
  return keep(targets(train).mean([0]).normalize({ dim: 0 }));
}

interface Ridge {
  lambda: number;
  predict(ds: Dataset): Tensor;
  dispose(): void;
}

// Ridge with an intercept on the centred flattened context, in float64: W = (Xc^T Xc + lambda I)^-1 Xc^T Yc, the
// same W as Xc^T (Xc Xc^T + lambda I)^-1 Yc. The first form solves p x p systems (p = T * D), the second N x N: each
// is used where it is the smaller. lambda is relative to trace(Xc^T Xc) / p, so the grid means the same at any
// scale; the one with the best val cosine wins.
function fitRidge(train: Dataset, val: Dataset): Ridge {
  const system = train.size > train.context * train.dim ? primalSystem(train) : dualSystem(train);
  const { xMean, yMean, matrix, rhs, scale } = system;
  const n = matrix.shape[0];
  let best: { lambda: number; w: Tensor; cosine: number } | undefined;
  const yVal = targets(val);
  try {
    for (const rel of RIDGE_GRID) {
      const w = tidy(() => {
        const factor = linalg.cholesky(matrix.add(torch.eye(n, n, { dtype: 'float64' }).mul(rel * scale)));
        return keep(system.weights(linalg.choleskySolve(rhs, factor)));
      });
      const cosine = tidy(() => scorePredictions(applyRidge(val, w, xMean, yMean), yVal).cosine);
      if (!best || cosine > best.cosine) {
        best?.w.dispose();
        best = { lambda: rel, w, cosine };
      } else {
        w.dispose();
      }
    }
  } finally {
    yVal.dispose();
    system.dispose();
  }
  const { lambda, w } = best!;
  return {
    lambda,
    predict: (ds) => applyRidge(ds, w, xMean, yMean),
    dispose: () => {
      w.dispose();
      xMean.dispose();
      yMean.dispose();
    },
  };
}

// The system to solve for each lambda: (matrix + lambda * scale * I) S = rhs, then W = weights(S).
interface RidgeSystem {
  xMean: Tensor;
  yMean: Tensor;
  matrix: Tensor;
  rhs: Tensor;
  scale: number;
  weights(solution: Tensor): Tensor;
  dispose(): void;
}

// p x p: the Gram matrix Xc^T Xc and Xc^T Yc, accumulated batch by batch (the [N, p] design matrix never exists).
function primalSystem(train: Dataset): RidgeSystem {
  const { xMean, yMean, gram, cross, squares } = centredMoments(train);
  const trace = squares - train.size * (tidy(() => xMean.square().sum().item()) as number);
  return {
    xMean, yMean, matrix: gram, rhs: cross, scale: trace / gram.shape[0],
    weights: (solution) => solution,
    dispose: () => { gram.dispose(); cross.dispose(); },
  };
}

// N x N: the kernel Xc Xc^T and Yc, for N <= p (small data: a few hundred windows of 3,840 numbers).
function dualSystem(train: Dataset): RidgeSystem {
  return tidy(() => {
    const X = torch.cat(rowRanges(train.size).map((rows) => train.batch(rows).x.flatten(1).double()));
    const Y = targets(train).double();
    const xMean = X.mean([0]);
    const yMean = Y.mean([0]);
    const Xc = X.sub(xMean);
    const kernel = Xc.matmul(Xc.t());
    const yc = Y.sub(yMean);
    const trace = Xc.square().sum().item() as number;
    return {
      xMean, yMean, matrix: kernel, rhs: yc, scale: trace / X.shape[1], Xc,
      weights: (solution: Tensor) => Xc.t().matmul(solution),
      dispose: () => { kernel.dispose(); yc.dispose(); Xc.dispose(); },
    };
  });
}

// Sums over the train split, batch by batch (each batch's temporaries freed before the next), then centred:
// sum (x - m)(x - m)^T = sum x x^T - n m m^T.
function centredMoments(train: Dataset) {
  let sums: Tensor[] | undefined;  // [sum x, sum y, sum x x^T, sum x y^T]
  let squares = 0;  // sum of ||x||^2: the trace of the Gram matrix
  for (const rows of rowRanges(train.size)) {
    const next = tidy(() => {
      const { x, y } = train.batch(rows);
      const X = x.flatten(1).double();
      const Y = y.double();
      squares += X.square().sum().item() as number;
      const terms = [X.sum([0]), Y.sum([0]), X.t().matmul(X), X.t().matmul(Y)];
      return sums ? terms.map((t, i) => t.add(sums![i])) : terms;
    });
    sums?.forEach((t) => t.dispose());
    sums = next;
  }
  const n = train.size;
  const [sx, sy, g, c] = sums!;
  const result = tidy(() => {
    const xMean = sx.div(n);
    const yMean = sy.div(n);
    return {
      xMean, yMean,
      gram: g.sub(xMean.unsqueeze(1).matmul(xMean.unsqueeze(0)).mul(n)),
      cross: c.sub(xMean.unsqueeze(1).matmul(yMean.unsqueeze(0)).mul(n)),
    };
  });
  sums!.forEach((t) => t.dispose());
  return { ...result, squares };
}

function applyRidge(ds: Dataset, w: Tensor, xMean: Tensor, yMean: Tensor): Tensor {
  return torch.cat(rowRanges(ds.size).map((rows) =>
    ds.batch(rows).x.flatten(1).double().sub(xMean).matmul(w).add(yMean).float()));
}
