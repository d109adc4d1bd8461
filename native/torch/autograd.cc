// Autograd: requires_grad, backward, .grad and the thread's grad mode (noGrad in JS).
#include <ATen/core/grad_mode.h>

#include "../core/args.h"
#include "../core/handle.h"
#include "../core/promise_worker.h"
#include "../core/protect.h"
#include "shape.h"

#include <stdexcept>
#include <utility>
#include <string>

namespace lvm {

namespace {

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrap(info[0]).requires_grad());
}

Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = unwrap(info[0]);
  bool flag = toBool(info[1], "requiresGrad");
  if (flag && !at::isFloatingType(t.scalar_type())) {
    throw TypeError(std::string("only floating point tensors can require gradients, this one is ") +
                    c10::toString(t.scalar_type()));
  }
  t.requires_grad_(flag);
  return info.Env().Undefined();
}

// The gradient backward() starts from: the one given, or none (an implicit 1) for a one-element tensor.
at::Tensor startGradient(const at::Tensor& t, const Napi::Value& v) {
  at::Tensor gradient = isMissing(v) ? at::Tensor() : unwrap(v, "gradient");
  if (!gradient.defined() && t.numel() != 1) {
    throw RangeError("backward() without a gradient needs a tensor with one element, this one has shape " +
                     shapeOf(t));
  }
  return gradient;
}

// backward(t, gradient?, retainGraph)
Napi::Value backward(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  t.backward(startGradient(t, info[1]), toBool(info[2], "retainGraph"));
  return info.Env().Undefined();
}

// backwardAsync(t, gradient?, retainGraph) -> Promise<void>: backward() on the compute lane, so a long backward does
// not hold the event loop. The job holds its own references to the tensors.
class BackwardWorker : public PromiseWorker {
 public:
  BackwardWorker(Napi::Env env, at::Tensor t, at::Tensor gradient, bool retain)
      : PromiseWorker(env), t_(std::move(t)), gradient_(std::move(gradient)), retain_(retain) {}

 protected:
  void compute() override {
    at::Tensor t = std::move(t_), gradient = std::move(gradient_);
    t.backward(gradient, retain_);
  }
  Napi::Value resolve(Napi::Env env) override { return env.Undefined(); }

 private:
  at::Tensor t_, gradient_;
  bool retain_;
};

Napi::Value backwardAsync(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  return (new BackwardWorker(info.Env(), t, startGradient(t, info[1]), toBool(info[2], "retainGraph")))->queue();
}

Napi::Value grad(const Napi::CallbackInfo& info) {
  const at::Tensor& g = unwrap(info[0]).grad();
  return g.defined() ? wrap(info.Env(), g) : info.Env().Null();
}

// setGrad(t, g | null): assigning null clears the gradient, as `p.grad = None` in Python.
Napi::Value setGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = unwrap(info[0]);
  at::Tensor g = isMissing(info[1]) ? at::Tensor() : unwrap(info[1], "grad");
  // As PyTorch's `p.grad = g` checks: the next backward() would otherwise fail far from here.
  if (g.defined() && !g.sizes().equals(t.sizes())) {
    throw std::runtime_error("assigned grad has shape " + shapeOf(g) + ", the tensor has " + shapeOf(t));
  }
  if (g.defined() && g.scalar_type() != t.scalar_type()) {
    throw std::runtime_error(std::string("assigned grad is ") + c10::toString(g.scalar_type()) + ", the tensor is " +
                             c10::toString(t.scalar_type()));
  }
  if (g.defined() && g.device() != t.device()) {
    throw std::runtime_error("assigned grad is on " + g.device().str() + ", the tensor is on " + t.device().str());
  }
  t.mutable_grad() = g;
  return info.Env().Undefined();
}

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  at::GradMode::set_enabled(toBool(info[0], "enabled"));
  return info.Env().Undefined();
}

}  // namespace

void initAutograd(Napi::Env env, Napi::Object exports) {
  exportFunction<requiresGrad>(env, exports, "requiresGrad");
  exportFunction<setRequiresGrad>(env, exports, "setRequiresGrad");
  exportFunction<backward>(env, exports, "backward");
  exportFunction<backwardAsync>(env, exports, "backwardAsync");
  exportFunction<grad>(env, exports, "grad");
  exportFunction<setGrad>(env, exports, "setGrad");
  exportFunction<isGradEnabled>(env, exports, "isGradEnabled");
  exportFunction<setGradEnabled>(env, exports, "setGradEnabled");
}

}  // namespace lvm
