// SGD with momentum, dampening, Nesterov and weight decay, two ways (as adam.cc):
// - fused (libtorch 2.x, with momentum): PyTorch's CPU kernel at::_fused_sgd_, what torch.optim.SGD(...,
//   fused=True) calls, one pass over memory; parameters grouped by dtype and by whether their momentum buffer exists
//   yet (is_first_step: the kernel then writes the buffer from the gradient, as torch.optim's clone does).
// - single-tensor: torch.optim's _single_tensor_sgd op for op (the same bits as PyTorch's default CPU path). Used
//   on 1.13, for plain SGD (one pass already), where the group says fused: false, and for what the kernel cannot
//   take (see fusedTakes).
#include <torch/version.h>

#include "optimizer.h"

namespace lvm::optim {

namespace {

void singleTensorStep(const Hyper& h, at::Tensor& param, const at::Tensor& rawGrad, ParamState& s) {
  at::Tensor dp = h.maximize ? -rawGrad : rawGrad;
  if (h.weightDecay != 0) dp = dp.add(param, h.weightDecay);
  if (h.momentum != 0) {
    if (!s.momentumBuffer.defined()) {
      s.momentumBuffer = dp.clone().detach();
    } else {
      s.momentumBuffer.mul_(h.momentum).add_(dp, 1 - h.dampening);
    }
    dp = h.nesterov ? dp.add(s.momentumBuffer, h.momentum) : s.momentumBuffer;
  }
  param.add_(dp, -h.lr);
}

#if TORCH_VERSION_MAJOR >= 2
// What PyTorch 2.13's fused CPU SGD can take: CPU float32 or float64 (its float16 / bfloat16 loop never writes the
// parameter back: only the last few elements of each tensor move, in torch.optim's fused=True too), param and
// buffer contiguous in param's dtype; a grad of another dtype, device or layout (a sparse one: torch.optim's fused
// SGD refuses those, its single-tensor path takes them) goes the single-tensor way, a non-contiguous one is made
// contiguous first (the kernel reads it as if it were).
bool fusedTakes(const at::Tensor& param, const at::Tensor& grad, const ParamState& s) {
  if (!param.device().is_cpu()) return false;
  if (param.scalar_type() != at::kFloat && param.scalar_type() != at::kDouble) return false;
  auto fits = [&](const at::Tensor& t) {
    return t.layout() == at::kStrided && t.scalar_type() == param.scalar_type() && t.device() == param.device() &&
           t.sizes().equals(param.sizes());
  };
  return fits(param) && param.is_contiguous() && fits(grad) &&
         (!s.momentumBuffer.defined() || (fits(s.momentumBuffer) && s.momentumBuffer.is_contiguous()));
}

struct FusedBatch {
  at::ScalarType dtype;
  bool firstStep;
  std::vector<at::Tensor> params, grads, buffers;
};
#endif

}  // namespace

void sgdStep(Group& group, ParamState* state) {
  const Hyper& h = group.hyper;
#if TORCH_VERSION_MAJOR >= 2
  std::vector<FusedBatch> batches;
#endif
  for (size_t i = 0; i < group.params.size(); ++i) {
    at::Tensor& param = group.params[i];
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    ParamState& s = state[i];
    // torch.optim 1.13 stores momentum_buffer (None without momentum) for every param it stepped; 2.x only when
    // there is momentum.
#if TORCH_VERSION_MAJOR >= 2
    if (h.momentum != 0) s.present = true;
    if (h.fused && h.momentum != 0 && fusedTakes(param, grad, s)) {
      const bool first = !s.momentumBuffer.defined();
      if (first) s.momentumBuffer = at::empty_like(param, at::MemoryFormat::Contiguous);
      FusedBatch* batch = nullptr;
      for (FusedBatch& b : batches) {
        if (b.dtype == param.scalar_type() && b.firstStep == first) batch = &b;
      }
      if (!batch) batch = &batches.emplace_back(FusedBatch{param.scalar_type(), first, {}, {}, {}});
      batch->params.push_back(param);
      batch->grads.push_back(grad.contiguous());
      batch->buffers.push_back(s.momentumBuffer);
      continue;
    }
#else
    s.present = true;
#endif
    singleTensorStep(h, param, grad, s);
  }
#if TORCH_VERSION_MAJOR >= 2
  for (FusedBatch& b : batches) {
    at::_fused_sgd_(b.params, b.grads, b.buffers, h.weightDecay, h.momentum, h.lr, h.dampening, h.nesterov,
                    h.maximize, b.firstStep);
  }
#endif
}

}  // namespace lvm::optim
