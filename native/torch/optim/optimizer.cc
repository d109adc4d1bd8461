// The optimiser object: groups, state, step() and zeroGrad(). The algorithms live in adam.cc and sgd.cc.
#include <ATen/core/grad_mode.h>

#include "optimizer.h"

#include <stdexcept>

namespace lvm::optim {

Optimizer::Optimizer(Kind kind, std::vector<Group> groups) : kind_(kind), groups_(std::move(groups)) {
  size_t n = 0;
  for (const Group& g : groups_) n += g.params.size();
  state_.resize(n);
}

void Optimizer::step() {
  at::NoGradGuard noGrad;
  size_t offset = 0;
  for (Group& g : groups_) {
    ParamState* s = state_.data() + offset;
    switch (kind_) {
      case Kind::Adam: adamStep(g, s, false); break;
      case Kind::AdamW: adamStep(g, s, true); break;
      case Kind::SGD: sgdStep(g, s); break;
    }
    offset += g.params.size();
  }
}

void Optimizer::zeroGrad(bool setToNone) {
  for (Group& g : groups_) {
    for (at::Tensor& p : g.params) {
      at::Tensor& grad = p.mutable_grad();
      if (!grad.defined()) continue;
      if (setToNone) {
        grad = at::Tensor();
      } else {
        // As torch.optim: detach the grad from any graph, then zero it in place.
        if (grad.grad_fn()) grad = grad.detach();
        else grad.requires_grad_(false);
        grad.zero_();
      }
    }
  }
}

}  // namespace lvm::optim
