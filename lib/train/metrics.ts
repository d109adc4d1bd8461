// What a prediction scores against the true next vectors: mean cosine, the seed's val_loss (MSE of the normalised
// prediction against the target) and retrieval (is the true next vector the nearest of all the split's targets?).
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import * as torch from '../torch.js';

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

// Rows of similarities computed at once: 1024 x N floats stays small for any split.
const CHUNK = 1024;

/** Scores pred [N, D] against target [N, D] (row i predicts target i); ranks against all N targets. */
export function scorePredictions(pred: Tensor, target: Tensor): Metrics {
  if (pred.ndim !== 2 || target.ndim !== 2 || pred.shape[0] !== target.shape[0] || pred.shape[1] !== target.shape[1]) {
    throw new RangeError(`pred and target must both be [N, D], got [${pred.shape}] and [${target.shape}]`);
  }
  const n = pred.shape[0];
  if (n === 0) throw new RangeError('no rows to score');
  return tidy(() => {
    const p = pred.detach().normalize({ dim: 1 });
    const t = target.detach().normalize({ dim: 1 });
    const own = p.mul(t).sum(1);  // cosine of each row with its own target
    let top1 = 0;
    let top5 = 0;
    for (let start = 0; start < n; start += CHUNK) {
      const len = Math.min(CHUNK, n - start);
      tidy(() => {
        const sims = p.slice(0, start, start + len).matmul(t.t());
        // Rank = how many targets score strictly higher than the true one (ties count in the row's favour). The
        // true score is read from the same product, so rounding cannot rank a target above itself.
        const diag = torch.arange(start, start + len, 1, { dtype: 'int64' }).unsqueeze(1);
        const rank = sims.gt(sims.gather(1, diag)).sum(1);
        top1 += rank.eq(0).sum().item() as number;
        top5 += rank.lt(5).sum().item() as number;
      });
    }
    return {
      cosine: own.mean().item() as number,
      mse: p.sub(target).square().mean().item() as number,
      top1: top1 / n,
      top5: top5 / n,
      count: n,
    };
  });
}
