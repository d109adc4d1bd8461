// Optimisers as torch.optim runs them (its fused CPU kernels on libtorch 2.x, its single-tensor path otherwise):
// Adam, AdamW and SGD over groups of parameters, with per-parameter state laid out as torch.optim's state_dict
// names it. Plain C++, no N-API, so a native train step can run step() off the JS thread; optim_binding.cc is the
// JS side.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace lvm::optim {

enum class Kind { Adam, AdamW, SGD };

// A group's hyperparameters: the union of the three algorithms' (each reads its own).
struct Hyper {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, AdamW
  double weightDecay = 0;
  double momentum = 0, dampening = 0;              // SGD
  bool amsgrad = false;                            // Adam, AdamW
  bool nesterov = false;                           // SGD
  bool maximize = false;
  // PyTorch's fused CPU kernel where libtorch has one (2.x) and the tensors allow it (adam.cc, sgd.cc); false: the
  // single-tensor path, torch.optim's default on the CPU, bit for bit. No effect on 1.13.
  bool fused = true;
};

struct Group {
  std::vector<at::Tensor> params;
  Hyper hyper;
};

// torch.optim's per-parameter state. `present` once the parameter has had a step with a gradient (torch.optim
// creates the state then); SGD without momentum keeps momentum_buffer None (undefined here).
struct ParamState {
  bool present = false;
  at::Tensor step;            // float32 0-d, as torch >= 1.12 stores it
  at::Tensor expAvg, expAvgSq, maxExpAvgSq;
  at::Tensor momentumBuffer;
};

class Optimizer {
 public:
  Optimizer(Kind kind, std::vector<Group> groups);

  void step();
  // set_to_none (PyTorch 2.x's default) drops the gradients; otherwise they are zeroed in place (detached first).
  void zeroGrad(bool setToNone);

  Kind kind() const { return kind_; }
  std::vector<Group>& groups() { return groups_; }
  // Indexed by the parameter's position over all groups in order, as state_dict numbers them.
  std::vector<ParamState>& state() { return state_; }
  size_t paramCount() const { return state_.size(); }

 private:
  Kind kind_;
  std::vector<Group> groups_;
  std::vector<ParamState> state_;
};

// The step of one group; `state` has one entry per param of the group.
void adamStep(Group& group, ParamState* state, bool decoupledWeightDecay);
void sgdStep(Group& group, ParamState* state);

// torch.nn.utils.clip_grad_norm_: the norm of all gradients together (as one vector), scaled down in place to at
// most maxNorm; returns the norm before clipping. normType may be infinite.
at::Tensor clipGradNorm(const std::vector<at::Tensor>& params, double maxNorm, double normType,
                        bool errorIfNonfinite);

}  // namespace lvm::optim
