// The composite loss of ../shared/DESIGN.md ("Composite loss"), fused: one native op (native/lvm/loss/composite_loss.cc)
// with a hand-written backward. lib/lvm/loss/reference.ts builds the same loss from Tensor ops; the tests hold the two
// (and the seed's Python compute_losses) equal.
import { native } from '../../torch/native.js';
import { fromRaw, rawOf, Tensor } from '../../torch/tensor.js';
import { LvmtorchError, nativeCode } from '../../errors.js';

/** The weights and temperature of the composite loss; each weight multiplies one term of the total. */
export interface CompositeWeights {
  /** InfoNCE temperature. */
  tau: number;
  /** Symmetric InfoNCE: CE(pred_cos @ target_cos.T / tau, diag) + CE(its transpose, diag). */
  info: number;
  /** mean((mean0(pred_raw) - mean0(target))^2) + mean((std0(pred_raw) - std0(target))^2), std unbiased. */
  moment: number;
  /** mean(relu(1 - std0(pred_cos))). */
  variance: number;
  /** mse(pred_raw, target). */
  mse: number;
  /** mse(normalize(pred_raw), normalize(target)): "cosine regression", the recipe that wins on held-out data. */
  cosMse: number;
  /**
   * InfoNCE of each row against its documents' sentences (`candidates`): CE(pred_cos @ normalize(candidates).T /
   * tau, the target's position), the row's context and any other copy of its target masked, what in-document
   * retrieval scores. Needs candidates.
   */
  document: number;
}

/**
 * What the document term ranks each row's prediction against (Dataset.batches' `candidates` builds them): the
 * sentences of the batch's documents, data without a gradient.
 */
export interface Candidates {
  /** [M, D], the prediction's dtype and device. */
  vectors: Tensor;
  /** [B] int64: the row of `vectors` that is each row's target. */
  positive: Tensor;
  /** [B, T] int64: the rows of `vectors` that are each row's context (-1 where one is not among them), left out. */
  context: Tensor;
}

export interface CompositeLossOptions extends Partial<CompositeWeights> {
  /** The document term's candidates (needed when its weight is not 0). */
  candidates?: Candidates;
  /**
   * What a NaN or an infinity in the inputs, or a non-finite total, does: 'throw' (the default) throws a
   * NonFiniteLossError naming the input and the first bad element; 'report' returns the result with `finite: false`.
   */
  onNonFinite?: 'throw' | 'report';
}

export interface CompositeLossResult {
  /** The weighted total, a 0-d tensor carrying the autograd graph (call total.backward()). */
  total: Tensor;
  /** The total as a number. */
  value: number;
  /** Every term, weighted in the total or not (the others are diagnostics). */
  info: number;
  /** NaN for a batch of one row (the std over one row is undefined), where the term must have weight 0. */
  moment: number;
  /** NaN for a batch of one row, as moment. */
  variance: number;
  mse: number;
  cosMse: number;
  /** NaN without candidates. */
  document: number;
  /** Mean cosine similarity of the rows of pred_raw and target (a diagnostic, weighted nowhere). */
  cosine: number;
  /** Whether the total and the inputs are finite (always true with onNonFinite 'throw'). */
  finite: boolean;
}

/** The seed's defaults (tau 0.07, InfoNCE only): every weight not given is one of these. */
export const DEFAULT_COMPOSITE_WEIGHTS: Readonly<CompositeWeights> = Object.freeze({
  tau: 0.07, info: 1, moment: 0, variance: 0, mse: 0, cosMse: 0, document: 0,
});

/** The seed report's weights: InfoNCE 1, moment 0.1, variance 0.01. */
const SEED_COMPOSITE_WEIGHTS: Readonly<CompositeWeights> = Object.freeze({
  ...DEFAULT_COMPOSITE_WEIGHTS, moment: 0.1, variance: 0.01,
});

/** Cosine regression: MSE of the normalised output only (DESIGN.md: 0.895 held-out cosine vs 0.59 for the seed's loss). */
const COSINE_REGRESSION_WEIGHTS: Readonly<CompositeWeights> = Object.freeze({
  ...DEFAULT_COMPOSITE_WEIGHTS, info: 0, cosMse: 1,
});

/**
 * Contrastive: symmetric InfoNCE with in-batch negatives at tau 0.05 (DESIGN.md, "Retrieval is the honest quality
 * metric"): it ranks the true next sentence above the others, where cosine regression predicts their average.
 */
const CONTRASTIVE_WEIGHTS: Readonly<CompositeWeights> = Object.freeze({
  ...DEFAULT_COMPOSITE_WEIGHTS, tau: 0.05, info: 1,
});

/**
 * In-document contrastive: InfoNCE of each row against the sentences of its own document (and of the few other
 * documents in its batch), its context left out, at tau 0.05: the loss asks for what in-document retrieval scores
 * (bench/quality.md, "Judged by retrieval"). Needs documents (docIds); the Trainer then batches by document.
 */
const DOCUMENT_WEIGHTS: Readonly<CompositeWeights> = Object.freeze({
  ...DEFAULT_COMPOSITE_WEIGHTS, tau: 0.05, info: 0, document: 1,
});

/**
 * The named weightings (`lvmtorch train --loss NAME`): cosine regression (the Trainer's default), contrastive,
 * in-document contrastive and the seed report's.
 */
export const LOSS_PRESETS = Object.freeze({
  cosine: COSINE_REGRESSION_WEIGHTS, contrastive: CONTRASTIVE_WEIGHTS, document: DOCUMENT_WEIGHTS, seed: SEED_COMPOSITE_WEIGHTS,
});

/** A name of LOSS_PRESETS. */
export type LossPreset = keyof typeof LOSS_PRESETS;

/** Thrown when the loss or its inputs are not finite (code ERR_LOSS_NOT_FINITE). */
export class NonFiniteLossError extends LvmtorchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_LOSS_NOT_FINITE', options);
  }
}

const WEIGHT_KEYS = ['info', 'moment', 'variance', 'mse', 'cosMse', 'document'] as const;

/** The complete weights for `opts` (what a checkpoint should record), checked. */
export function compositeWeights(opts: Partial<CompositeWeights> = {}): CompositeWeights {
  const w: CompositeWeights = {
    tau: opts.tau ?? DEFAULT_COMPOSITE_WEIGHTS.tau,
    info: opts.info ?? DEFAULT_COMPOSITE_WEIGHTS.info,
    moment: opts.moment ?? DEFAULT_COMPOSITE_WEIGHTS.moment,
    variance: opts.variance ?? DEFAULT_COMPOSITE_WEIGHTS.variance,
    mse: opts.mse ?? DEFAULT_COMPOSITE_WEIGHTS.mse,
    cosMse: opts.cosMse ?? DEFAULT_COMPOSITE_WEIGHTS.cosMse,
    document: opts.document ?? DEFAULT_COMPOSITE_WEIGHTS.document,
  };
  if (typeof w.tau !== 'number') throw new TypeError(`tau must be a number, got ${typeof w.tau}`);
  if (!(w.tau > 0) || !Number.isFinite(w.tau)) throw new RangeError(`tau must be a finite number > 0, got ${w.tau}`);
  for (const k of WEIGHT_KEYS) {
    if (typeof w[k] !== 'number') throw new TypeError(`weight ${k} must be a number, got ${typeof w[k]}`);
    if (!(w[k] >= 0) || !Number.isFinite(w[k])) throw new RangeError(`weight ${k} must be a finite number >= 0, got ${w[k]}`);
  }
  return w;
}

/** @internal The weights in the native order. */
export function weightArray(w: CompositeWeights): number[] {
  return [w.tau, w.info, w.moment, w.variance, w.mse, w.cosMse, w.document];
}

/** @internal The candidates' native handles. */
export function rawCandidates(c: Candidates | undefined) {
  return c && { vectors: rawOf(c.vectors), positive: rawOf(c.positive), context: rawOf(c.context) };
}

/**
 * The composite loss of `predRaw` (the model's raw output, [B, D]) against `target` ([B, D]), fused into one
 * native op with a hand-written backward. pred_cos = normalize(predRaw) is computed inside (eps 1e-12, as
 * F.normalize). Gradients flow to predRaw and, when it requires grad, to target.
 *
 * Edge cases: a batch of one row has no std, so the moment and variance terms need B >= 2 (a RangeError
 * otherwise; with weight 0 they are reported as NaN and left out of the total). Zero rows normalise to zero, as
 * F.normalize. Identical rows give a std of 0, whose gradient is 0 (as PyTorch's). Any tau > 0 is stable (the
 * softmaxes are taken in log space). NaN or infinite inputs throw NonFiniteLossError (or see onNonFinite).
 */
export function compositeLoss(predRaw: Tensor, target: Tensor, opts: CompositeLossOptions = {}): CompositeLossResult {
  const w = compositeWeights(opts);
  const onNonFinite = opts.onNonFinite ?? 'throw';
  if (onNonFinite !== 'throw' && onNonFinite !== 'report') {
    throw new RangeError(`onNonFinite must be 'throw' or 'report', got ${String(onNonFinite)}`);
  }
  let r: ReturnType<ReturnType<typeof native>['compositeLoss']>;
  try {
    r = native().compositeLoss(rawOf(predRaw), rawOf(target), weightArray(w), onNonFinite === 'throw',
      rawCandidates(opts.candidates));
  } catch (e) {
    if (nativeCode(e) === 'ERR_LOSS_NOT_FINITE') throw new NonFiniteLossError((e as Error).message, { cause: e });
    throw e;
  }
  const { total: value, ...terms } = r.values;
  return { total: fromRaw(r.tensor), value, ...terms, finite: Number.isFinite(value) && Number.isFinite(terms.mse) };
}
