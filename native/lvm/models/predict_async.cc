// A model's prediction off the JS thread, for serving (lib/lvm/models/module.ts predictAsync):
// modelPredictAsync(model, x, wantRaw) returns a Promise of [raw | undefined, normalised] and runs the forward on
// the compute lane with grad mode off (native/core/promise_worker.h, native/core/lane.h). The worker holds its own references
// to the model and to x, so disposing either from JS meanwhile frees nothing the forward uses. It rejects with the
// error the synchronous forward throws for the same input (RangeError for a bad shape, dtype or device: protect.h).
//
// Several may run at once on one model. That is safe because a forward here only reads the module: torch::nn's
// Linear, LayerNorm, LSTM and GRU forwards read their parameters, options and training flag and write no member
// (the C++ RNN modules keep flat_weights_ from construction and to(), and unlike Python's do not flatten in
// forward), and our own modules (transformer, mamba2, latent_mamba) keep no caches. The writers — train(), to(),
// loadStateDict(), a train step — are refused by lib/lvm/models/module.ts while calls are in flight; the train/eval
// flag is set on the JS thread before the first worker starts and restored after the last one ends.
#include <ATen/core/grad_mode.h>

#include <exception>
#include <memory>
#include <stdexcept>

#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/promise_worker.h"
#include "../../core/protect.h"
#include "model_binding.h"
#include "predictor.h"

namespace lvm {

namespace {

class PredictWorker : public PromiseWorker {
 public:
  PredictWorker(Napi::Env env, std::shared_ptr<models::Predictor> model, at::Tensor x, bool wantRaw)
      : PromiseWorker(env), model_(std::move(model)), x_(std::move(x)), wantRaw_(wantRaw) {}

 protected:
  void compute() override {
    // The model and input are no longer needed after the forward: let a dispose() that came meanwhile free them.
    auto model = std::move(model_);
    auto x = std::move(x_);
    at::NoGradGuard noGrad;  // grad mode is per thread
    out_ = model->predict(x);
    if (!wantRaw_) out_.raw = at::Tensor();
  }

  Napi::Value resolve(Napi::Env env) override {
    auto result = Napi::Array::New(env, 2);
    result.Set(0u, wantRaw_ ? wrap(env, std::move(out_.raw)) : env.Undefined());
    result.Set(1u, wrap(env, std::move(out_.normalised)));
    return result;
  }

 private:
  std::shared_ptr<models::Predictor> model_;
  at::Tensor x_;
  bool wantRaw_;
  models::Output out_;
};

// modelPredictAsync(model, x, wantRaw) -> Promise<[raw | undefined, normalised]>
Napi::Value predictAsync(const Napi::CallbackInfo& info) {
  auto model = sharedModel(info[0]);
  const at::Tensor& x = unwrap(info[1], "x");
  bool wantRaw = toBool(info[2], "raw");
  return (new PredictWorker(info.Env(), std::move(model), x, wantRaw))->queue();
}

}  // namespace

void initPredictAsync(Napi::Env env, Napi::Object exports) {
  exportFunction<predictAsync>(env, exports, "modelPredictAsync");
}

}  // namespace lvm
