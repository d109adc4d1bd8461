// The loss functions' entry points from JS (lib/loss/).
#include "../args.h"
#include "../handle.h"
#include "../protect.h"
#include "composite_loss.h"

namespace lvm {

namespace {

// compositeLoss(predRaw, target, tau, info, moment, variance, mse, cosMse, checkFinite)
//   -> [total tensor, total, info, moment, variance, mse, cosMse, cosine]
Napi::Value compositeLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& pred = unwrap(info[0], "predRaw");
  const at::Tensor& target = unwrap(info[1], "target");
  loss::CompositeWeights w;
  w.tau = toDouble(info[2], "tau");
  w.info = toDouble(info[3], "info");
  w.moment = toDouble(info[4], "moment");
  w.variance = toDouble(info[5], "variance");
  w.mse = toDouble(info[6], "mse");
  w.cosMse = toDouble(info[7], "cosMse");
  bool checkFinite = toBool(info[8], "checkFinite");
  loss::CompositeLoss result;
  try {
    result = loss::compositeLoss(pred, target, w, checkFinite);
  } catch (const std::invalid_argument& e) {
    throw RangeError(e.what());
  } catch (const loss::NonFiniteLoss& e) {
    auto err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, "ERR_LOSS_NOT_FINITE"));
    throw err;
  }
  auto out = Napi::Array::New(env, 1 + loss::kComponents);
  out.Set(uint32_t{0}, wrap(env, std::move(result.total)));
  for (uint32_t i = 0; i < loss::kComponents; ++i) out.Set(i + 1, Napi::Number::New(env, result.values[i]));
  return out;
}

}  // namespace

void initLoss(Napi::Env env, Napi::Object exports) {
  exportFunction<compositeLoss>(env, exports, "compositeLoss");
}

}  // namespace lvm
