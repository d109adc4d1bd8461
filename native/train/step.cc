#include "step.h"

#include <limits>

namespace lvm::train {

namespace {

std::vector<at::Tensor> allParams(optim::Optimizer& optimizer) {
  std::vector<at::Tensor> out;
  for (auto& group : optimizer.groups()) out.insert(out.end(), group.params.begin(), group.params.end());
  return out;
}

}  // namespace

StepResult trainStep(models::Predictor& model, optim::Optimizer& optimizer, const at::Tensor& x, const at::Tensor& y,
                     const StepOptions& options) {
  at::AutoGradMode enableGrad(true);  // grad mode is per thread; a worker thread must not inherit a no_grad
  optimizer.zeroGrad(/*setToNone=*/true);
  models::Output out = model.predict(x);
  loss::CompositeLoss l = loss::compositeLoss(out.raw, y, options.weights, /*checkFinite=*/true);
  l.total.backward();
  StepResult result;
  result.loss = l.values;
  result.gradNorm = std::numeric_limits<double>::quiet_NaN();
  if (options.clipNorm > 0) {
    result.gradNorm = optim::clipGradNorm(allParams(optimizer), options.clipNorm, 2.0, false).item<double>();
  }
  optimizer.step();
  return result;
}

}  // namespace lvm::train
