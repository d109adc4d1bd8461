// torch.linalg: the solves that closed-form ridge regression needs (lib/lvm/train/baselines.ts), named as PyTorch
// names them. A singular or non positive-definite matrix is libtorch's error, with its message.
import { native } from './native.js';
import { fromRaw, rawOf, type Tensor } from './tensor.js';

/** X with A X = B (A square, float32 or float64), as torch.linalg.solve(A, B). */
export function solve(a: Tensor, b: Tensor): Tensor {
  return fromRaw(native().linalgSolve(rawOf(a), rawOf(b)));
}

/** L with A = L L^T (or U with A = U^T U when upper), as torch.linalg.cholesky(A, upper=upper). */
export function cholesky(a: Tensor, opts: { upper?: boolean } = {}): Tensor {
  return fromRaw(native().linalgCholesky(rawOf(a), opts.upper ?? false));
}

/** X with (L L^T) X = B, from cholesky()'s factor, as torch.cholesky_solve(B, L, upper=upper). */
export function choleskySolve(b: Tensor, l: Tensor, opts: { upper?: boolean } = {}): Tensor {
  return fromRaw(native().choleskySolve(rawOf(b), rawOf(l), opts.upper ?? false));
}
