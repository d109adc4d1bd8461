// clip_grad_norm_, as torch.nn.utils.clip_grad_norm_ computes it (torch 1.13): the p-norm of the per-gradient
// p-norms, a coefficient max_norm / (norm + 1e-6) clamped to 1, every gradient multiplied by it.
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <string>

#include "optimizer.h"

namespace lvm::optim {

at::Tensor clipGradNorm(const std::vector<at::Tensor>& params, double maxNorm, double normType,
                        bool errorIfNonfinite) {
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return at::zeros({});
  const at::Device device = grads[0].device();
  at::Tensor total;
  if (std::isinf(normType)) {
    std::vector<at::Tensor> norms;
    for (const at::Tensor& g : grads) norms.push_back(g.detach().abs().max().to(device));
    total = norms.size() == 1 ? norms[0] : at::stack(norms).max();
  } else {
    std::vector<at::Tensor> norms;
    for (const at::Tensor& g : grads) {
      at::Tensor d = g.detach();
      std::vector<int64_t> all(d.dim());
      for (int64_t k = 0; k < d.dim(); ++k) all[k] = k;
      norms.push_back(at::norm(d, normType, all, false).to(device));
    }
    total = at::norm(at::stack(norms), normType, std::vector<int64_t>{0}, false);
  }
  if (errorIfNonfinite && at::logical_or(total.isnan(), total.isinf()).item<bool>()) {
    throw std::runtime_error("The total norm of order " + std::to_string(normType) +
                             " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable "
                             "this error and scale the gradients by the non-finite norm anyway, set "
                             "errorIfNonfinite to false");
  }
  // Python's `max_norm / (total_norm + 1e-6)` is Tensor.__rtruediv__: reciprocal, then a multiply.
  at::Tensor coef = at::clamp((total + 1e-6).reciprocal() * maxNorm, c10::nullopt, 1.0);
  for (const at::Tensor& g : grads) g.detach().mul_(coef.to(g.device()));
  return total;
}

}  // namespace lvm::optim
