// Adam and AdamW as torch.optim computes them, two ways:
// - fused (libtorch 2.x, the default): PyTorch's own CPU kernels at::_fused_adam_ / at::_fused_adamw_, what
//   torch.optim.Adam(..., fused=True) calls: one pass over memory per parameter where the single-tensor path makes
//   about ten (the seed GRU's AdamW step: ~10 ms -> ~3 ms on 2 threads). Parameters are grouped by (device, dtype)
//   as torch.optim groups them, and each step is incremented before the kernel, as torch.optim does. Equal to
//   torch.optim's fused=True to the last bit; to its default (single-tensor) path within a few float32 ulps.
// - single-tensor: torch.optim's _single_tensor_adam(w) of this libtorch's version, op for op with the same
//   Python-double scalars, so the same bits as PyTorch's default CPU path on the same libtorch. Used on 1.13
//   (which has no CPU fused kernel), where the group says fused: false, and for each parameter the fused kernel
//   cannot take (see fusedTakes).
#include <torch/version.h>

#include <cmath>
#include <stdexcept>

#include "optimizer.h"

namespace lvm::optim {

namespace {

void singleTensorStep(const Hyper& h, at::Tensor& param, const at::Tensor& rawGrad, ParamState& s, bool decoupled) {
  at::Tensor grad = h.maximize ? -rawGrad : rawGrad;
  s.step.add_(1);
  // torch 1.13's AdamW multiplies by 1 - lr * 0 = 1 too; x * 1 == x, so skipping it changes no bit.
  if (h.weightDecay != 0) {
    if (decoupled) param.mul_(1 - h.lr * h.weightDecay);
    else grad = grad.add(param, h.weightDecay);
  }
#if TORCH_VERSION_MAJOR >= 2
  s.expAvg.lerp_(grad, 1 - h.beta1);
#else
  s.expAvg.mul_(h.beta1).add_(grad, 1 - h.beta1);
#endif
  s.expAvgSq.mul_(h.beta2).addcmul_(grad, grad, 1 - h.beta2);

  const double step = s.step.item<double>();
  const double biasCorrection1 = 1 - std::pow(h.beta1, step);
  const double biasCorrection2 = 1 - std::pow(h.beta2, step);
  const double stepSize = h.lr / biasCorrection1;
#if TORCH_VERSION_MAJOR >= 2
  const double biasCorrection2Sqrt = std::pow(biasCorrection2, 0.5);  // 2.x: bias_correction2**0.5
#else
  const double biasCorrection2Sqrt = std::sqrt(biasCorrection2);      // 1.13: math.sqrt(bias_correction2)
#endif
  at::Tensor denom;
  if (h.amsgrad) {
    at::maximum_out(s.maxExpAvgSq, s.maxExpAvgSq, s.expAvgSq);
    denom = (s.maxExpAvgSq.sqrt() / biasCorrection2Sqrt).add_(h.eps);
  } else {
    denom = (s.expAvgSq.sqrt() / biasCorrection2Sqrt).add_(h.eps);
  }
  param.addcdiv_(s.expAvg, denom, -stepSize);
}

#if TORCH_VERSION_MAJOR >= 2
// What the fused CPU kernel can take. It walks raw memory with data_ptr<scalar_t>(), so param and state must be
// dense and contiguous in param's dtype (state loaded from a file is cast to that dtype, but may keep its strides),
// on the CPU (CUDA's kernel wants the steps on the GPU; ours live on the CPU, as torch.optim's non-fused ones), in
// a dtype the kernel dispatches on: float32, float64, float16, bfloat16 (the last two computed in float32 inside,
// where the single-tensor path computes in the dtype itself). A grad of another dtype, device or layout goes the
// single-tensor way; a non-contiguous grad is made contiguous first (PyTorch 2.13's kernel reads a strided grad as
// if it were contiguous: torch.optim's fused=True gives wrong results there).
bool fusedTakes(const at::Tensor& param, const at::Tensor& grad, const ParamState& s, bool amsgrad) {
  if (!param.device().is_cpu()) return false;
  switch (param.scalar_type()) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kBFloat16: break;
    default: return false;
  }
  auto fits = [&](const at::Tensor& t) {
    return t.layout() == at::kStrided && t.scalar_type() == param.scalar_type() && t.device() == param.device() &&
           t.sizes().equals(param.sizes());
  };
  auto contiguousFit = [&](const at::Tensor& t) { return fits(t) && t.is_contiguous(); };
  return contiguousFit(param) && fits(grad) && contiguousFit(s.expAvg) && contiguousFit(s.expAvgSq) &&
         (!amsgrad || contiguousFit(s.maxExpAvgSq)) && s.step.device().is_cpu() && s.step.numel() == 1;
}

// The parameters of one dtype, in the lists the fused kernel takes.
struct FusedBatch {
  at::ScalarType dtype;
  std::vector<at::Tensor> params, grads, expAvgs, expAvgSqs, maxExpAvgSqs, steps;
};
#endif

}  // namespace

void adamStep(Group& group, ParamState* state, bool decoupled) {
  const Hyper& h = group.hyper;
  // As torch.optim's _init_group: refuse before any parameter has changed.
  for (const at::Tensor& param : group.params) {
    if (param.grad().defined() && param.grad().is_sparse()) {
      throw std::runtime_error("Adam does not support sparse gradients, please consider SparseAdam instead");
    }
  }
#if TORCH_VERSION_MAJOR >= 2
  std::vector<FusedBatch> batches;  // in order of first appearance, as torch.optim's grouping
#endif
  for (size_t i = 0; i < group.params.size(); ++i) {
    at::Tensor& param = group.params[i];
    const at::Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    ParamState& s = state[i];
    if (!s.present) {
      s.present = true;
      s.step = at::zeros({}, at::TensorOptions().dtype(at::kFloat));  // torch.tensor(0.)
      s.expAvg = at::zeros_like(param, at::MemoryFormat::Preserve);
      s.expAvgSq = at::zeros_like(param, at::MemoryFormat::Preserve);
    }
    // torch.optim would fail on a missing key when amsgrad is switched on later; it starts from zeros here.
    if (h.amsgrad && !s.maxExpAvgSq.defined()) s.maxExpAvgSq = at::zeros_like(param, at::MemoryFormat::Preserve);
#if TORCH_VERSION_MAJOR >= 2
    if (h.fused && fusedTakes(param, grad, s, h.amsgrad)) {
      FusedBatch* batch = nullptr;
      for (FusedBatch& b : batches) {
        if (b.dtype == param.scalar_type()) batch = &b;
      }
      if (!batch) batch = &batches.emplace_back(FusedBatch{param.scalar_type(), {}, {}, {}, {}, {}, {}});
      batch->params.push_back(param);
      batch->grads.push_back(grad.contiguous());
      batch->expAvgs.push_back(s.expAvg);
      batch->expAvgSqs.push_back(s.expAvgSq);
      if (h.amsgrad) batch->maxExpAvgSqs.push_back(s.maxExpAvgSq);
      batch->steps.push_back(s.step);
      continue;
    }
#endif
    singleTensorStep(h, param, grad, s, decoupled);
  }
#if TORCH_VERSION_MAJOR >= 2
  for (FusedBatch& b : batches) {
    for (at::Tensor& step : b.steps) step.add_(1);  // torch._foreach_add_(device_state_steps, 1)
    if (decoupled) {
      at::_fused_adamw_(b.params, b.grads, b.expAvgs, b.expAvgSqs, b.maxExpAvgSqs, b.steps, h.lr, h.beta1, h.beta2,
                        h.weightDecay, h.eps, h.amsgrad, h.maximize);
    } else {
      at::_fused_adam_(b.params, b.grads, b.expAvgs, b.expAvgSqs, b.maxExpAvgSqs, b.steps, h.lr, h.beta1, h.beta2,
                       h.weightDecay, h.eps, h.amsgrad, h.maximize);
    }
  }
#endif
}

}  // namespace lvm::optim
