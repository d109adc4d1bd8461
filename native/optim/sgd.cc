// SGD with momentum, dampening, Nesterov and weight decay, as torch.optim's _single_tensor_sgd.
#include "optimizer.h"

namespace lvm::optim {

void sgdStep(Group& group, ParamState* state) {
  const Hyper& h = group.hyper;
  for (size_t i = 0; i < group.params.size(); ++i) {
    at::Tensor param = group.params[i];
    const at::Tensor& rawGrad = param.grad();
    if (!rawGrad.defined()) continue;
    ParamState& s = state[i];
    s.present = true;  // torch.optim stores momentum_buffer (None without momentum) for every param it stepped

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
