#include "step.h"

#include "../../torch/autocast.h"
#include "../../torch/distributed/grad_reducer.h"

#include <limits>
#include <optional>

namespace lvm::train {

namespace {

std::vector<at::Tensor> allParams(optim::Optimizer& optimizer) {
  std::vector<at::Tensor> out;
  for (auto& group : optimizer.groups()) out.insert(out.end(), group.params.begin(), group.params.end());
  return out;
}

// Clipping (when clipNorm > 0) and the optimiser's step; the norm before clipping, NaN when not clipped.
double clipAndStep(optim::Optimizer& optimizer, double clipNorm) {
  double norm = std::numeric_limits<double>::quiet_NaN();
  if (clipNorm > 0) norm = optim::clipGradNorm(allParams(optimizer), clipNorm, 2.0, false).item<double>();
  optimizer.step();
  return norm;
}

}  // namespace

StepResult trainStep(models::Predictor& model, optim::Optimizer& optimizer, const at::Tensor& x, const at::Tensor& y,
                     const StepOptions& options) {
  at::AutoGradMode enableGrad(true);  // grad mode is per thread; a worker thread must not inherit a no_grad
  optimizer.zeroGrad(/*setToNone=*/true);
  at::Tensor raw;
  {
    Bf16Autocast autocast(options.bf16, x.device().type());
    raw = model.predict(x).raw;
  }
  // The loss in fp32, as autocast runs reductions and norms: a bf16 prediction is widened first. Any other
  // mismatch of y with the model is compositeLoss's error, as for the sync forward + compositeLoss.
  if (options.bf16 && raw.scalar_type() == at::kBFloat16) raw = raw.to(y.scalar_type());
  loss::CompositeLoss l = loss::compositeLoss(raw, y, options.weights, /*checkFinite=*/true,
                                             options.candidates ? &*options.candidates : nullptr);
  // Data-parallel: the buckets' all-reduces run while backward computes the rest (DDP).
  std::optional<distributed::GradReducer> reducer;
  if (options.world) reducer.emplace(*options.world, allParams(optimizer));
  l.total.backward();
  if (reducer) reducer->finish();
  StepResult result;
  result.loss = l.values;
  result.gradNorm = clipAndStep(optimizer, options.clipNorm);
  return result;
}

double backwardAndStep(const at::Tensor& loss, optim::Optimizer& optimizer, double clipNorm) {
  at::AutoGradMode enableGrad(true);
  loss.backward();
  return clipAndStep(optimizer, clipNorm);
}

}  // namespace lvm::train
