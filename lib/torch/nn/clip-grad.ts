// clip_grad_norm_, as torch.nn.utils.clip_grad_norm_ (native/torch/optim/clip_grad.cc).
import { native } from '../native.js';
import { rawOf, type Tensor } from '../tensor.js';

export interface ClipGradNormOptions {
  /** The p of the norm: 2 by default; Infinity for the largest absolute value. */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it (PyTorch's error_if_nonfinite). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients of `params` in place so that their norm, taken over all of them as one vector, is at most
 * maxNorm (coefficient maxNorm / (norm + 1e-6), clamped to 1); returns that norm before clipping, as a number
 * (PyTorch returns it as a 0-d tensor). Parameters without a gradient are skipped; none at all gives 0.
 */
export function clipGradNorm_(params: readonly Tensor[], maxNorm: number, opts: ClipGradNormOptions = {}): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new TypeError(`maxNorm must be a number, got ${maxNorm}`);
  const normType = opts.normType ?? 2;
  if (typeof normType !== 'number' || Number.isNaN(normType)) throw new TypeError(`normType must be a number, got ${normType}`);
  return native().clipGradNorm(params.map(rawOf), maxNorm, normType, opts.errorIfNonfinite ?? false);
}
