// What a prediction scores against the true next vectors: mean cosine, the centred cosine (both moved by the train
// targets' mean, so that predicting the mean direction scores about 0), the seed's val_loss (MSE of the normalised
// prediction against the target) and retrieval: where the true next vector ranks among all the split's targets,
// among its own document's sentences (what decoding by retrieval does: the honest measure on real text, where
// cosine rewards predicting the mean direction), and the contrastive accuracy of Meta's Large Concept Model.
// Computed by one native job on a worker thread (native/lvm/train/eval.cc): the event loop stays free meanwhile.
import type { Dataset } from '../data/dataset.js';
import { isFloating } from '../../formats/dtype.js';
import { native, type NativeRows, type NativeScore } from '../../torch/native.js';
import { rawOf, type Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';

export interface Metrics {
  /** Mean cosine similarity of prediction and target. */
  cosine: number;
  /**
   * Mean cos(normalize(pred) - centre, target - centre): the cosine once the direction every vector shares is taken
   * out. Real sentence embeddings are anisotropic (two random sentences of a real encoder have cosine ~0.25), so
   * the raw cosine flatters a predictor of the mean direction; here the mean baseline scores about 0. The centre is
   * the mean of the train split's target vectors, raw as stored (not normalised; for unit-norm targets, as
   * sentence encoders give and as `mse` assumes, it is the centroid on which the targets sit). Present where a
   * centre was given: always in what the Trainer, evaluate() and computeBaselines return (CentredMetrics), and in
   * scorePredictions' result only with its `centre` option.
   */
  centredCosine?: number;
  /** mean((normalize(pred) - target)^2): the seed's val_loss. */
  mse: number;
  /** Share of rows whose true target is the most similar (cosine) of all the split's targets (rank 0). */
  top1: number;
  /** Share of rows whose true target is among the 5 most similar (rank < 5). */
  top5: number;
  /** Mean reciprocal rank: the mean of 1 / (rank + 1); 1 when every row's target is its nearest. */
  mrr: number;
  /** The median of rank + 1 (1-based: 1 = its own target is the nearest); the lower median for an even count. */
  medianRank: number;
  /**
   * Contrastive accuracy (CA, as Meta's Large Concept Model reports it; 0.5 = chance): per row, the share of
   * distractors strictly less similar to the prediction than the true target, averaged over rows. The distractors
   * are the targets of other documents' rows where the documents are known (scored with `rows`), else of every
   * other row. Absent where no row has a distractor (a split of one document).
   */
  contrastiveAccuracy?: number;
  /**
   * In-document MRR: the true next sentence ranked among every distinct sentence of its own document in the split
   * (the vectors its rows use as context or target; equal vectors count once), the row's own context left out.
   * Where the documents are known (a dataset with docIds, scored with `rows`); absent otherwise.
   */
  inDocMrr?: number;
  /** Share of rows whose true next sentence is the most similar of its document's (in-document rank 0). */
  inDocTop1?: number;
  /** The mean number of sentences a row is ranked among in its document, its target included. */
  inDocCandidates?: number;
  /** Rows scored. */
  count: number;
}

/** Metrics with the centred cosine: what the Trainer, evaluate() and computeBaselines give. */
export type CentredMetrics = Metrics & { centredCosine: number };

export interface ScoreOptions {
  /** `[D]`: the centre of the centred cosine (the train targets' mean: targetMean(train)); without it none is computed. */
  centre?: Tensor;
  /**
   * The dataset whose rows `pred` predicts, in order (`target` = its targets): its documents give the in-document
   * retrieval and the contrastive accuracy over other documents. Without it neither is computed per document.
   */
  rows?: Dataset;
}

/**
 * Scores pred [N, D] against target [N, D] (row i predicts target i); ranks against all N targets: a row's rank is
 * how many targets are strictly more similar to its prediction than its own (ties count in its favour). The job
 * holds the tensors: disposing them before the Promise settles is safe.
 */
export async function scorePredictions(pred: Tensor, target: Tensor, opts: ScoreOptions & { centre: Tensor }): Promise<CentredMetrics>;
export async function scorePredictions(pred: Tensor, target: Tensor, opts?: ScoreOptions): Promise<Metrics>;
export async function scorePredictions(pred: Tensor, target: Tensor, opts: ScoreOptions = {}): Promise<Metrics> {
  if (pred.ndim !== 2 || target.ndim !== 2 || pred.shape[0] !== target.shape[0] || pred.shape[1] !== target.shape[1]) {
    throw new RangeError(`pred and target must both be [N, D], got [${pred.shape}] and [${target.shape}]`);
  }
  if (pred.shape[0] === 0) throw new RangeError('no rows to score');
  const { centre, rows } = opts;
  if (centre !== undefined) checkCentre(centre, pred.shape[1]);
  if (rows !== undefined && rows.size !== pred.shape[0]) {
    throw new RangeError(`rows has ${rows.size} rows, pred ${pred.shape[0]}: pass the dataset whose rows pred predicts`);
  }
  const r = rows && nativeRows(rows, false);
  try {
    return metricsOf(await native().scoreAsync(rawOf(pred), rawOf(target), centre && rawOf(centre), r?.rows));
  } finally {
    r?.dispose();
  }
}

/**
 * @internal A dataset's rows for a native job: its tensors, the oracle if asked, and its document ids as a tensor
 * (dispose() frees that one once the job holds it).
 */
export function nativeRows(ds: Dataset, withOracle: boolean): { rows: NativeRows; dispose: () => void } {
  const docIds = ds.docIds && torch.tensor(ds.docIds);
  const rows: NativeRows = { vectors: rawOf(ds.vectors), contextIndex: rawOf(ds.contextIndex), targetIndex: rawOf(ds.targetIndex) };
  if (withOracle && ds.oracle) rows.oracle = rawOf(ds.oracle);
  if (docIds) rows.docIds = rawOf(docIds);
  return { rows, dispose: () => docIds?.dispose() };
}

/** @internal Throws a RangeError unless `centre` is a [d] float tensor. */
export function checkCentre(centre: Tensor, d: number): void {
  if (centre.ndim !== 1 || centre.shape[0] !== d || !isFloating(centre.dtype)) {
    throw new RangeError(`the centre must be a [${d}] float tensor (the vectors' D), got [${centre.shape}] ${centre.dtype}`);
  }
}

const ROWS = 4096;

/**
 * `[D]`: the mean of a dataset's target vectors (vectors[targetIndex], raw as stored, a target counted once per row
 * that has it): the centre of the centred cosine, taken on the train split. Summed in float64 over 4,096 rows at a
 * time (no [N, D] copy), returned in the vectors' dtype, on their device; the caller owns it.
 */
export function targetMean(ds: Dataset): Tensor {
  const n = ds.size;
  if (n === 0) throw new RangeError('no rows: the target mean needs at least one');
  return torch.noGrad(() => torch.tidy(() => {
    const { vectors, targetIndex } = ds;
    let sum: Tensor | undefined;
    for (let s = 0; s < n; s += ROWS) {
      const part = vectors.indexSelect(0, targetIndex.slice(0, s, Math.min(n, s + ROWS))).double().sum(0);
      sum = sum ? sum.add(part) : part;
    }
    return sum!.div(n).to(vectors.dtype);
  }));
}

/** @internal The native job's score as Metrics: counts as shares, nulls left out. */
export function metricsOf(s: NativeScore): Metrics {
  const m: Metrics = {
    cosine: s.cosine, mse: s.mse, top1: s.top1 / s.count, top5: s.top5 / s.count, mrr: s.mrr, medianRank: s.medianRank, count: s.count,
  };
  if (s.centredCosine !== null) m.centredCosine = s.centredCosine;
  if (s.contrastiveAccuracy !== null) m.contrastiveAccuracy = s.contrastiveAccuracy;
  if (s.inDocMrr !== null) m.inDocMrr = s.inDocMrr;
  if (s.inDocTop1 !== null) m.inDocTop1 = s.inDocTop1 / s.count;
  if (s.inDocCandidates !== null) m.inDocCandidates = s.inDocCandidates;
  return m;
}

/** @internal metricsOf for a job that was given a centre. */
export function centredMetricsOf(score: NativeScore): CentredMetrics {
  const m = metricsOf(score);
  if (m.centredCosine === undefined) throw new Error('internal: a score given a centre came back without its centred cosine');
  return m as CentredMetrics;
}
