// SGD with momentum, dampening, Nesterov and weight decay, as torch.optim's _single_tensor_sgd.
#include <torch/version.h>

#include "optimizer.h"

namespace lvm::optim {

void sgdStep(Group& group, ParamState* state) {
  const Hyper& h = group.hyper;
  for (size_t i = 0; i < group.params.size(); ++i) {
    at::Tensor param = group.params[i];
    const at::Tensor& rawGrad = param.grad();
    if (!rawGrad.defined()) continue;
    ParamState& s = state[i];
    // torch.optim 1.13 stores momentum_buffer (None without momentum) for every param it stepped; 2.x only when
    // there is momentum.
#if TORCH_VERSION_MAJOR >= 2
    if (h.momentum != 0) s.present = true;
#else
    s.present = true;
#endif

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
}

}  // namespace lvm::optim
