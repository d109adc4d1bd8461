// Linear algebra (torch.linalg): the solves that closed-form ridge regression needs (lib/lvm/train/baselines.ts).
// LAPACK's failures (a singular or non positive-definite matrix) come back from libtorch as its own errors, which
// protect() turns into JS Errors with libtorch's message.
#include <string>

#include "../core/args.h"
#include "../core/handle.h"
#include "../core/protect.h"

namespace lvm {

namespace {

using at::Tensor;

void requireSquare(const Tensor& a, const char* what) {
  if (a.dim() < 2 || a.size(-1) != a.size(-2)) {
    std::string shape;
    for (int64_t d = 0; d < a.dim(); ++d) shape += (d ? ", " : "") + std::to_string(a.size(d));
    throw RangeError(std::string(what) + " must be a square matrix (or a batch of them), got shape [" + shape + "]");
  }
}

void requireFloating(const Tensor& a, const char* what) {
  if (!at::isFloatingType(a.scalar_type()) || a.scalar_type() == at::kHalf || a.scalar_type() == at::kBFloat16) {
    throw TypeError(std::string(what) + " must be float32 or float64, got " + c10::toString(a.scalar_type()));
  }
}

// linalgSolve(A, B) -> X with A X = B, as torch.linalg.solve(A, B).
Napi::Value linalgSolve(const Napi::CallbackInfo& info) {
  const Tensor& a = unwrap(info[0], "A");
  const Tensor& b = unwrap(info[1], "B");
  requireSquare(a, "A");
  requireFloating(a, "A");
  requireFloating(b, "B");
  return wrap(info.Env(), at::linalg_solve(a, b));
}

// linalgCholesky(A, upper) -> L with A = L L^T (or U^T U), as torch.linalg.cholesky(A, upper=upper).
Napi::Value linalgCholesky(const Napi::CallbackInfo& info) {
  const Tensor& a = unwrap(info[0], "A");
  requireSquare(a, "A");
  requireFloating(a, "A");
  return wrap(info.Env(), at::linalg_cholesky(a, toBool(info[1], "upper")));
}

// choleskySolve(B, L, upper) -> X with (L L^T) X = B, as torch.cholesky_solve(B, L, upper=upper).
Napi::Value choleskySolve(const Napi::CallbackInfo& info) {
  const Tensor& b = unwrap(info[0], "B");
  const Tensor& l = unwrap(info[1], "L");
  requireSquare(l, "L");
  requireFloating(l, "L");
  requireFloating(b, "B");
  return wrap(info.Env(), at::cholesky_solve(b, l, toBool(info[2], "upper")));
}

}  // namespace

void initLinalg(Napi::Env env, Napi::Object exports) {
  exportFunction<linalgSolve>(env, exports, "linalgSolve");
  exportFunction<linalgCholesky>(env, exports, "linalgCholesky");
  exportFunction<choleskySolve>(env, exports, "choleskySolve");
}

}  // namespace lvm
