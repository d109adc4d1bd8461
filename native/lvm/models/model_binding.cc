// The models' entry points from JS (lib/lvm/models/). A model crosses to JS as a SharedHandle, so a native train
// step can hold it too. Its parameters and buffers cross as ordinary tensor ids that share the module's tensors:
// what JS writes into them (loadStateDict) is what the module computes with.
#include <memory>
#include <string>

#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/protect.h"
#include "../../core/shared_handle.h"
#include "model_binding.h"
#include "predictor.h"

namespace lvm {

namespace {

using models::Predictor;

constexpr napi_type_tag kModelTag = {0x6c766d746f726368ULL, 0x6d6f64656c686e64ULL};
constexpr SharedHandle<Predictor> kModels(&kModelTag, "a model", "the model was disposed and can no longer be used");

Predictor& modelOf(Napi::Value v) { return kModels.get(v); }

// Every field the kind reads is required: lib/lvm/models/config.ts holds the only defaults and passes them all (a
// missing field here would otherwise take a second default that could disagree with that table).
models::Config readConfig(Napi::Value kind, Napi::Value v) {
  if (!v.IsObject()) throw TypeError("model config must be an object");
  auto o = v.As<Napi::Object>();
  models::Config c;
  c.kind = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
  auto given = [&](const char* key) { return o.Has(key) && !o.Get(key).IsUndefined(); };
  auto require = [&](const char* key) {
    if (!given(key)) throw TypeError("a " + c.kind + " model's config needs " + key + " (lib/lvm/models/config.ts has the defaults)");
  };
  // The sizes a kind reads are required; another kind's are read when given (and unused).
  auto size = [&](const char* key, int64_t& field, bool required) {
    if (required) require(key);
    if (given(key)) field = toInt(o.Get(key), key);
  };
  const bool transformer = c.kind == "transformer", mamba2 = c.kind == "mamba2";
  size("inputDim", c.inputDim, true);
  size("outputDim", c.outputDim, true);
  size("dModel", c.dModel, true);
  size("numLayers", c.numLayers, true);
  size("heads", c.heads, transformer);
  size("ffDim", c.ffDim, transformer);
  size("maxLen", c.maxLen, transformer);
  size("dState", c.dState, mamba2);
  size("dConv", c.dConv, mamba2);
  size("expand", c.expand, mamba2);
  size("headdim", c.headdim, mamba2);
  size("ngroups", c.ngroups, mamba2);
  size("chunkSize", c.chunkSize, mamba2);
  size("ridgeContext", c.ridgeContext, false);  // optional: 0 (none) unless given
  require("dropout");
  c.dropout = toDouble(o.Get("dropout"), "dropout");
  return c;
}

// modelCreate(kind, config) -> handle
Napi::Value create(const Napi::CallbackInfo& info) {
  return kModels.wrap(info.Env(), models::makePredictor(readConfig(info[0], info[1])));
}

// modelForward(model, x) -> [raw, normalised]
Napi::Value forward(const Napi::CallbackInfo& info) {
  Predictor& model = modelOf(info[0]);
  const at::Tensor& x = unwrap(info[1], "x");
  models::Output out = model.predict(x);
  auto result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, wrap(info.Env(), out.raw));
  result.Set(1u, wrap(info.Env(), out.normalised));
  return result;
}

// modelState(model) -> [[name, tensor, isBuffer], ...] in state_dict order: module by module (pre-order, in
// registration order), each module's own parameters, then its buffers, as PyTorch's state_dict() walks them.
Napi::Value state(const Napi::CallbackInfo& info) {
  Predictor& model = modelOf(info[0]);
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env);
  auto add = [&](const std::string& name, const at::Tensor& t, bool isBuffer) {
    auto entry = Napi::Array::New(env, 3);
    entry.Set(0u, name);
    entry.Set(1u, wrap(env, t));
    entry.Set(2u, isBuffer);
    out.Set(out.Length(), entry);
  };
  for (const auto& m : model.named_modules("", /*include_self=*/true)) {
    std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) add(prefix + p.key(), p.value(), false);
    for (const auto& b : m.value()->named_buffers(/*recurse=*/false)) add(prefix + b.key(), b.value(), true);
  }
  return out;
}

// modelTrain(model, on): dropout on or off.
Napi::Value train(const Napi::CallbackInfo& info) {
  modelOf(info[0]).train(toBool(info[1], "on"));
  return info.Env().Undefined();
}

// modelTo(model, device?, dtype?): moves and casts in place; tensor ids of parameters stay valid (set_data).
Napi::Value to(const Napi::CallbackInfo& info) {
  Predictor& model = modelOf(info[0]);
  at::Device device = isMissing(info[1]) ? model.parameters().front().device() : toDevice(info[1]);
  if (isMissing(info[2])) {
    model.to(device);
  } else {
    at::ScalarType dtype = toDtype(info[2]);
    if (!at::isFloatingType(dtype)) throw TypeError(std::string("a model's dtype must be floating, not ") + c10::toString(dtype));
    model.to(device, dtype);
  }
  return info.Env().Undefined();
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  if (kModels.isOurs(info[0])) kModels.dispose(info[0]);
  return info.Env().Undefined();
}

}  // namespace

std::shared_ptr<Predictor> sharedModel(Napi::Value v) {
  return kModels.shared(v);
}

void initModels(Napi::Env env, Napi::Object exports) {
  exportFunction<create>(env, exports, "modelCreate");
  exportFunction<forward>(env, exports, "modelForward");
  exportFunction<state>(env, exports, "modelState");
  exportFunction<train>(env, exports, "modelTrain");
  exportFunction<to>(env, exports, "modelTo");
  exportFunction<dispose>(env, exports, "modelDispose");
  initPredictAsync(env, exports);
}

}  // namespace lvm
