// The composite loss built from Tensor ops with autograd, term by term as the seed's loss_utils.py writes it: the
// readable specification that the fused op (lib/loss/composite.ts) is tested and benchmarked against. Slower: ~40
// small ops forward and as many autograd nodes backward.
import { arange, tidy, zeros } from '../torch.js';
import type { Tensor } from '../tensor.js';
import { compositeWeights, type CompositeLossResult, type CompositeWeights } from './composite.js';

export interface ReferenceOptions extends Partial<CompositeWeights> {
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

    let total: Tensor | undefined;
    for (const [weight, term] of [[w.info, info], [w.moment, moment], [w.variance, variance], [w.mse, mse],
      [w.cosMse, cosMse]] as [number, Tensor][]) {
      if (weight === 0) continue;
      const weighted = term.mul(weight);
      total = total === undefined ? weighted : total.add(weighted);
    }
    total ??= zeros([], { dtype: predRaw.dtype });
    const value = total.item() as number;
    const num = (t: Tensor): number => t.item() as number;
    return {
      total, value, info: num(info), moment: num(moment), variance: num(variance), mse: num(mse),
      cosMse: num(cosMse), cosine: num(cosine), finite: Number.isFinite(value) && Number.isFinite(num(mse)),
    };
  });
}
