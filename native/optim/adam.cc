// Adam and AdamW, step for step as torch.optim's _single_tensor_adam / _single_tensor_adamw (torch 1.13; 2.x
// computes the same): the same ATen calls in the same order with the same Python-double scalars, so the results
// match PyTorch's to the last bit on the same libtorch.
#include <cmath>

#include "optimizer.h"

namespace lvm::optim {

void adamStep(Group& group, ParamState* state, bool decoupled) {
  const Hyper& h = group.hyper;
  for (size_t i = 0; i < group.params.size(); ++i) {
    at::Tensor param = group.params[i];
    const at::Tensor& rawGrad = param.grad();
    if (!rawGrad.defined()) continue;
    if (rawGrad.is_sparse()) throw std::runtime_error("Adam does not support sparse gradients");
    ParamState& s = state[i];
    if (!s.present) {
      s.present = true;
      s.step = at::zeros({}, at::TensorOptions().dtype(at::kFloat));  // torch.tensor(0.)
      s.expAvg = at::zeros_like(param, at::MemoryFormat::Preserve);
      s.expAvgSq = at::zeros_like(param, at::MemoryFormat::Preserve);
    }
    // torch.optim would fail on a missing key when amsgrad is switched on later; it starts from zeros here.
    if (h.amsgrad && !s.maxExpAvgSq.defined()) s.maxExpAvgSq = at::zeros_like(param, at::MemoryFormat::Preserve);

    at::Tensor grad = h.maximize ? -rawGrad : rawGrad;
    s.step.add_(1);
    if (decoupled) {
      param.mul_(1 - h.lr * h.weightDecay);
    } else if (h.weightDecay != 0) {
      grad = grad.add(param, h.weightDecay);
    }
    s.expAvg.mul_(h.beta1).add_(grad, 1 - h.beta1);
    s.expAvgSq.mul_(h.beta2).addcmul_(grad, grad, 1 - h.beta2);

    const double step = s.step.item<double>();
    const double biasCorrection1 = 1 - std::pow(h.beta1, step);
    const double biasCorrection2 = 1 - std::pow(h.beta2, step);
    const double stepSize = h.lr / biasCorrection1;
    const double biasCorrection2Sqrt = std::sqrt(biasCorrection2);
    at::Tensor denom;
    if (h.amsgrad) {
      at::maximum_out(s.maxExpAvgSq, s.maxExpAvgSq, s.expAvgSq);
      denom = (s.maxExpAvgSq.sqrt() / biasCorrection2Sqrt).add_(h.eps);
    } else {
      denom = (s.expAvgSq.sqrt() / biasCorrection2Sqrt).add_(h.eps);
    }
    param.addcdiv_(s.expAvg, denom, -stepSize);
  }
}

}  // namespace lvm::optim
