// torch.nn.functional.normalize: x / max(||x||_p, eps) along dim, with the same ops in the same order, so that
// results match PyTorch's bit for bit.
#pragma once
#include <ATen/ATen.h>

namespace lvm {

constexpr double kNormalizeEps = 1e-12;  // F.normalize's default

inline at::Tensor normalize(const at::Tensor& x, int64_t dim, const at::Scalar& p = 2, double eps = kNormalizeEps) {
  return x / at::norm(x, p, {dim}, /*keepdim=*/true).clamp_min(eps).expand_as(x);
}

}  // namespace lvm
