// The loss functions' entry points from JS (lib/lvm/loss/).
#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/protect.h"
#include "loss_binding.h"

namespace lvm {

loss::CompositeWeights readWeights(Napi::Value v) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 7) {
    throw TypeError("weights must be [tau, info, moment, variance, mse, cosMse, document]");
  }
  auto a = v.As<Napi::Array>();
  loss::CompositeWeights w;
  w.tau = toDouble(a.Get(0u), "tau");
  w.info = toDouble(a.Get(1u), "info");
  w.moment = toDouble(a.Get(2u), "moment");
  w.variance = toDouble(a.Get(3u), "variance");
  w.mse = toDouble(a.Get(4u), "mse");
  w.cosMse = toDouble(a.Get(5u), "cosMse");
  w.document = toDouble(a.Get(6u), "document");
  return w;
}

Napi::Object lossValues(Napi::Env env, const std::array<double, loss::kComponents>& values) {
  auto out = Napi::Object::New(env);
  for (size_t i = 0; i < loss::kComponents; ++i) out.Set(loss::kComponentNames[i], values[i]);
  return out;
}

std::optional<loss::Candidates> readCandidates(Napi::Value v) {
  if (isMissing(v)) return std::nullopt;
  if (!v.IsObject()) throw TypeError("candidates must be { vectors, positive, context }");
  auto o = v.As<Napi::Object>();
  return loss::Candidates{unwrap(o.Get("vectors"), "candidates.vectors"), unwrap(o.Get("positive"), "candidates.positive"),
                          unwrap(o.Get("context"), "candidates.context")};
}

namespace {

// compositeLoss(predRaw, target, [tau, info, moment, variance, mse, cosMse, document], checkFinite, candidates?)
//   -> { tensor: the total with its graph, values: { total, info, moment, variance, mse, cosMse, document, cosine } }
Napi::Value compositeLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& pred = unwrap(info[0], "predRaw");
  const at::Tensor& target = unwrap(info[1], "target");
  loss::CompositeWeights w = readWeights(info[2]);
  bool checkFinite = toBool(info[3], "checkFinite");
  std::optional<loss::Candidates> candidates = readCandidates(info[4]);
  loss::CompositeLoss result = loss::compositeLoss(pred, target, w, checkFinite, candidates ? &*candidates : nullptr);
  auto out = Napi::Object::New(env);
  out.Set("tensor", wrap(env, std::move(result.total)));
  out.Set("values", lossValues(env, result.values));
  return out;
}

}  // namespace

void initLoss(Napi::Env env, Napi::Object exports) {
  exportFunction<compositeLoss>(env, exports, "compositeLoss");
}

}  // namespace lvm
