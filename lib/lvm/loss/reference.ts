// The composite loss built from Tensor ops with autograd, term by term as the seed's loss_utils.py writes it: the
// readable specification that the fused op (lib/lvm/loss/composite.ts) is tested and benchmarked against. Slower: ~40
// small ops forward and as many autograd nodes backward.
import { arange, full, tensor, tidy, zeros } from '../../torch/functions.js';
import type { Tensor } from '../../torch/tensor.js';
import { compositeWeights, type Candidates, type CompositeLossResult, type CompositeWeights } from './composite.js';

export interface ReferenceOptions extends Partial<CompositeWeights> {
  candidates?: Candidates;
  /**
   * How the transposed logits of the symmetric InfoNCE are made: 'seed' multiplies again (target_cos @
   * pred_cos.T, as loss_utils.py does: two GEMMs forward, two backward); 'transpose' transposes the first product.
   */
  logitsT?: 'seed' | 'transpose';
}

/** The composite loss from unfused Tensor ops (see compositeLoss for the definition); `finite` is not checked. */
export function compositeLossReference(predRaw: Tensor, target: Tensor, opts: ReferenceOptions = {}): CompositeLossResult {
  const w = compositeWeights(opts);
  const B = predRaw.shape[0];
  return tidy(() => {
    const predCos = predRaw.normalize({ dim: 1 });
    const targetCos = target.normalize({ dim: 1 });
    const labels = arange(0, B).view(B, 1);
    const crossEntropy = (logits: Tensor): Tensor => logits.logSoftmax(1).gather(1, labels).mean().neg();
    const logitsY2T = predCos.matmul(targetCos.t()).div(w.tau);
    const logitsT2Y = opts.logitsT === 'transpose' ? logitsY2T.t() : targetCos.matmul(predCos.t()).div(w.tau);
    const info = crossEntropy(logitsY2T).add(crossEntropy(logitsT2Y));
    const moment = predRaw.mean(0).sub(target.mean(0)).square().mean()
      .add(predRaw.std(0).sub(target.std(0)).square().mean());
    const variance = predCos.std(0).neg().add(1).relu().mean();
    const mse = predRaw.sub(target).square().mean();
    const cosMse = predCos.sub(targetCos).square().mean();
    const cosine = predCos.mul(targetCos).sum(1).mean();
    const document = opts.candidates ? documentTerm(predCos, opts.candidates, w.tau) : full([], NaN, { dtype: predRaw.dtype });

    let total: Tensor | undefined;
    for (const [weight, term] of [[w.info, info], [w.moment, moment], [w.variance, variance], [w.mse, mse],
      [w.cosMse, cosMse], [w.document, document]] as [number, Tensor][]) {
      if (weight === 0) continue;
      const weighted = term.mul(weight);
      total = total === undefined ? weighted : total.add(weighted);
    }
    total ??= zeros([], { dtype: predRaw.dtype });
    const value = total.item() as number;
    const num = (t: Tensor): number => t.item() as number;
    return {
      total, value, info: num(info), moment: num(moment), variance: num(variance), mse: num(mse),
      cosMse: num(cosMse), document: num(document), cosine: num(cosine), finite: Number.isFinite(value) && Number.isFinite(num(mse)),
    };
  });
}

// CE(predCos @ normalize(candidates).T / tau, positive) with each row's context and the other copies of its target
// (cosine >= 1 - 1e-6 with it) masked to -inf; the mask is built in JS, row by row.
function documentTerm(predCos: Tensor, c: Candidates, tau: number): Tensor {
  const cand = c.vectors.normalize({ dim: 1 });
  const [B, M] = [predCos.shape[0], cand.shape[0]];
  const T = c.context.shape[1];
  const positive = Array.from(c.positive.toTypedArray() as BigInt64Array, Number);
  const context = Array.from(c.context.toTypedArray() as BigInt64Array, Number);
  const same = cand.indexSelect(0, c.positive).matmul(cand.t()).toTypedArray() as Float32Array;
  const mask = new Uint8Array(B * M);
  for (let i = 0; i < B; i++) {
    for (let k = 0; k < T; k++) if (context[i * T + k] >= 0) mask[i * M + context[i * T + k]] = 1;
    for (let j = 0; j < M; j++) if (same[i * M + j] >= 1 - 1e-6) mask[i * M + j] = 1;
    mask[i * M + positive[i]] = 0;
  }
  const logits = predCos.matmul(cand.t()).div(tau).maskedFill(tensor(mask, { shape: [B, M], dtype: 'bool' }), -Infinity);
  return logits.logSoftmax(1).gather(1, c.positive.view(B, 1)).mean().neg();
}
