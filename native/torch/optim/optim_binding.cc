// The optimisers' entry points from JS (lib/torch/optim/). An optimiser crosses to JS as a SharedHandle, so a native
// train step can hold it too; lib/torch/optim/optimizer.ts keeps the hyperparameters' JS mirror and writes every change
// through.
#include <memory>
#include <string>

#include "../../core/args.h"
#include "../shape.h"
#include "../../core/handle.h"
#include "../../core/protect.h"
#include "../../core/shared_handle.h"
#include "optim_binding.h"
#include "optimizer.h"

namespace lvm {

namespace {

using optim::Optimizer;

constexpr napi_type_tag kOptimizerTag = {0x6c766d746f726368ULL, 0x6f7074696d697a72ULL};
constexpr SharedHandle<Optimizer> kOptimizers(&kOptimizerTag, "an optimizer", "the optimizer was disposed and can no longer be used");

Optimizer& optimizerOf(Napi::Value v) { return kOptimizers.get(v); }

void readHyper(Napi::Object o, optim::Hyper& h) {
  auto num = [&](const char* key, double& field) {
    if (o.Has(key)) field = toDouble(o.Get(key), key);
  };
  auto flag = [&](const char* key, bool& field) {
    if (o.Has(key)) field = toBool(o.Get(key), key);
  };
  num("lr", h.lr);
  num("beta1", h.beta1);
  num("beta2", h.beta2);
  num("eps", h.eps);
  num("weightDecay", h.weightDecay);
  num("momentum", h.momentum);
  num("dampening", h.dampening);
  flag("amsgrad", h.amsgrad);
  flag("nesterov", h.nesterov);
  flag("maximize", h.maximize);
  flag("fused", h.fused);
}

optim::Kind kindOf(const std::string& name) {
  if (name == "adam") return optim::Kind::Adam;
  if (name == "adamw") return optim::Kind::AdamW;
  if (name == "sgd") return optim::Kind::SGD;
  throw RangeError("unknown optimizer kind '" + name + "' (adam, adamw, sgd)");
}

// optimCreate(kind, [{ params: tensor[], lr, beta1, ... }, ...]) -> handle
Napi::Value create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw TypeError("kind must be a string");
  optim::Kind kind = kindOf(info[0].As<Napi::String>().Utf8Value());
  if (!info[1].IsArray()) throw TypeError("groups must be an array");
  auto array = info[1].As<Napi::Array>();
  std::vector<optim::Group> groups;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value g = array.Get(i);
    if (!g.IsObject()) throw TypeError("each param group must be an object");
    optim::Group group;
    group.params = unwrapList(g.As<Napi::Object>().Get("params"), "params");
    for (const at::Tensor& p : group.params) {
      if (!p.is_leaf()) throw RangeError("an optimizer can only optimize leaf tensors (not the result of an op)");
      if (!at::isFloatingType(p.scalar_type())) {
        throw TypeError(std::string("an optimizer needs floating point parameters, got ") +
                        c10::toString(p.scalar_type()));
      }
    }
    readHyper(g.As<Napi::Object>(), group.hyper);
    groups.push_back(std::move(group));
  }
  return kOptimizers.wrap(env, std::make_shared<Optimizer>(kind, std::move(groups)));
}

Napi::Value step(const Napi::CallbackInfo& info) {
  optimizerOf(info[0]).step();
  return info.Env().Undefined();
}

Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
  optimizerOf(info[0]).zeroGrad(toBool(info[1], "setToNone"));
  return info.Env().Undefined();
}

// optimSetHyper(handle, groupIndex, { lr?, beta1?, ... })
Napi::Value setHyper(const Napi::CallbackInfo& info) {
  Optimizer& o = optimizerOf(info[0]);
  int64_t g = toInt(info[1], "group");
  if (g < 0 || g >= static_cast<int64_t>(o.groups().size())) throw RangeError("no param group " + std::to_string(g));
  if (!info[2].IsObject()) throw TypeError("hyperparameters must be an object");
  readHyper(info[2].As<Napi::Object>(), o.groups()[g].hyper);
  return info.Env().Undefined();
}

// The state as torch.optim's state_dict()['state'] holds it, one entry per parameter (null when it has none
// yet): { step, exp_avg, exp_avg_sq[, max_exp_avg_sq] } or { momentum_buffer }, tensors as new handles sharing
// the optimiser's memory (as state_dict() shares it in Python).
Napi::Value getState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Optimizer& o = optimizerOf(info[0]);
  auto out = Napi::Array::New(env, o.paramCount());
  for (size_t i = 0; i < o.paramCount(); ++i) {
    const optim::ParamState& s = o.state()[i];
    if (!s.present) {
      out.Set(i, env.Null());
      continue;
    }
    auto entry = Napi::Object::New(env);
    if (o.kind() == optim::Kind::SGD) {
      entry.Set("momentum_buffer", s.momentumBuffer.defined() ? wrap(env, s.momentumBuffer) : env.Null());
    } else {
      entry.Set("step", wrap(env, s.step));
      entry.Set("exp_avg", wrap(env, s.expAvg));
      entry.Set("exp_avg_sq", wrap(env, s.expAvgSq));
      if (s.maxExpAvgSq.defined()) entry.Set("max_exp_avg_sq", wrap(env, s.maxExpAvgSq));
    }
    out.Set(i, entry);
  }
  return out;
}

// A copy of a loaded state tensor, as torch.optim's load_state_dict casts it: to the parameter's dtype (when that
// is floating) and device; `step` is copied as it is.
at::Tensor loadedLike(Napi::Object o, const char* key, const at::Tensor& param, bool required) {
  if (!o.Has(key) || isMissing(o.Get(key))) {
    if (required) throw RangeError(std::string("the loaded state lacks '") + key + "'");
    return at::Tensor();
  }
  const at::Tensor& t = unwrap(o.Get(key), key);
  if (!t.sizes().equals(param.sizes())) {
    throw RangeError(std::string("the loaded '") + key + "' has shape " + shapeOf(t) + ", its parameter " +
                     shapeOf(param));
  }
  return t.detach().to(param.options().requires_grad(false), false, /*copy=*/true);
}

// optimLoadState(handle, entries): replaces the whole state, one entry per parameter (flat over the groups; null
// for none), each checked and copied before any is installed, so a bad entry leaves the old state as it was.
Napi::Value loadState(const Napi::CallbackInfo& info) {
  Optimizer& o = optimizerOf(info[0]);
  if (!info[1].IsArray()) throw TypeError("the state must be an array of entries");
  auto entries = info[1].As<Napi::Array>();
  if (entries.Length() != o.paramCount()) {
    throw RangeError("the state has " + std::to_string(entries.Length()) + " entries for " +
                     std::to_string(o.paramCount()) + " parameters");
  }
  std::vector<optim::ParamState> loaded(o.paramCount());
  size_t index = 0;
  for (const optim::Group& g : o.groups()) {
    for (const at::Tensor& param : g.params) {
      Napi::Value e = entries.Get(static_cast<uint32_t>(index));
      optim::ParamState& s = loaded[index++];
      if (isMissing(e)) continue;
      if (!e.IsObject()) throw TypeError("a parameter's state must be an object");
      auto entry = e.As<Napi::Object>();
      s.present = true;
      if (o.kind() == optim::Kind::SGD) {
        s.momentumBuffer = loadedLike(entry, "momentum_buffer", param, false);
        continue;
      }
      if (!entry.Has("step") || isMissing(entry.Get("step"))) throw RangeError("the loaded state lacks 'step'");
      const at::Tensor& step = unwrap(entry.Get("step"), "step");
      if (step.numel() != 1) throw RangeError("the loaded 'step' must hold one number");
      s.step = step.detach().clone();
      s.expAvg = loadedLike(entry, "exp_avg", param, true);
      s.expAvgSq = loadedLike(entry, "exp_avg_sq", param, true);
      s.maxExpAvgSq = loadedLike(entry, "max_exp_avg_sq", param, false);
    }
  }
  o.state() = std::move(loaded);
  return info.Env().Undefined();
}

// Frees the state now (and the optimiser's references to its parameters) rather than at garbage collection.
Napi::Value dispose(const Napi::CallbackInfo& info) {
  kOptimizers.dispose(info[0]);
  return info.Env().Undefined();
}

// clipGradNorm(params, maxNorm, normType, errorIfNonfinite) -> the total norm before clipping
Napi::Value clipGradNorm(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> params = unwrapList(info[0], "params");
  at::Tensor total = optim::clipGradNorm(params, toDouble(info[1], "maxNorm"), toDouble(info[2], "normType"),
                                         toBool(info[3], "errorIfNonfinite"));
  return Napi::Number::New(info.Env(), total.item<double>());
}

}  // namespace

std::shared_ptr<optim::Optimizer> sharedOptimizer(Napi::Value v) {
  return kOptimizers.shared(v);
}

void initOptim(Napi::Env env, Napi::Object exports) {
  exportFunction<create>(env, exports, "optimCreate");
  exportFunction<step>(env, exports, "optimStep");
  exportFunction<zeroGrad>(env, exports, "optimZeroGrad");
  exportFunction<setHyper>(env, exports, "optimSetHyper");
  exportFunction<getState>(env, exports, "optimGetState");
  exportFunction<loadState>(env, exports, "optimLoadState");
  exportFunction<dispose>(env, exports, "optimDispose");
  exportFunction<clipGradNorm>(env, exports, "clipGradNorm");
}

}  // namespace lvm
