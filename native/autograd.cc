// Autograd: requires_grad, backward, .grad and the thread's grad mode (noGrad in JS).
#include "args.h"
#include "handle.h"
#include "protect.h"

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

// backward(t, gradient?, retainGraph)
Napi::Value backward(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  at::Tensor gradient = isMissing(info[1]) ? at::Tensor() : unwrap(info[1], "gradient");
  if (!gradient.defined() && t.numel() != 1) {
    throw RangeError("backward() without a gradient needs a tensor with one element, this one has shape [" +
                     c10::Join(", ", t.sizes()) + "]");
  }
  t.backward(gradient, toBool(info[2], "retainGraph"));
  return info.Env().Undefined();
}

Napi::Value grad(const Napi::CallbackInfo& info) {
  const at::Tensor& g = unwrap(info[0]).grad();
  return g.defined() ? wrap(info.Env(), g) : info.Env().Null();
}

// setGrad(t, g | null): assigning null clears the gradient, as `p.grad = None` in Python.
Napi::Value setGrad(const Napi::CallbackInfo& info) {
  at::Tensor t = unwrap(info[0]);
  t.mutable_grad() = isMissing(info[1]) ? at::Tensor() : unwrap(info[1], "grad");
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
  exportFunction<grad>(env, exports, "grad");
  exportFunction<setGrad>(env, exports, "setGrad");
  exportFunction<isGradEnabled>(env, exports, "isGradEnabled");
  exportFunction<setGradEnabled>(env, exports, "setGradEnabled");
}

}  // namespace lvm
