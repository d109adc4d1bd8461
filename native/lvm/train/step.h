// One training step as a single native call: forward, the fused loss, backward, gradient clipping and the
// optimiser's step, with no JS in between. Plain C++, no N-API: train_binding.cc runs it on a worker thread so
// that the event loop stays free while a step computes.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <memory>
#include <optional>

#include "../../torch/distributed/process_group.h"
#include "../loss/composite_loss.h"
#include "../models/predictor.h"
#include "../../torch/optim/optimizer.h"

namespace lvm::train {

struct StepOptions {
  loss::CompositeWeights weights;
  double clipNorm = 0;  // 0: no clipping
  bool bf16 = false;    // the forward under bf16 autocast (fp32 weights, optimiser state and loss)
  // Data-parallel: the gradients are averaged over this group's ranks between backward and clipping (DDP).
  std::shared_ptr<distributed::ProcessGroup> world;
  // What the loss's document term ranks each row against (needed when weights.document != 0).
  std::optional<loss::Candidates> candidates;
};

struct StepResult {
  std::array<double, loss::kComponents> loss{};  // total and each component (loss::kComponentNames)
  double gradNorm = 0;                           // before clipping; NaN when not clipped
};

// x [B, T, inputDim], y [B, outputDim] on the model's device. Throws loss::NonFiniteLoss (nothing is updated
// then: the step stops before backward) and whatever libtorch throws for bad shapes.
StepResult trainStep(models::Predictor& model, optim::Optimizer& optimizer, const at::Tensor& x, const at::Tensor& y,
                     const StepOptions& options);

// The rest of a step whose forward and loss ran elsewhere (a torch.nn module's, on the JS thread): backward from
// `loss`, clipping when clipNorm > 0, the optimiser's step. Returns the norm before clipping (NaN when not clipped).
double backwardAndStep(const at::Tensor& loss, optim::Optimizer& optimizer, double clipNorm);

}  // namespace lvm::train
