// A model's prediction off the JS thread, for serving (lib/models/module.ts predictAsync):
// modelPredictAsync(model, x, wantRaw) returns a Promise of [raw | undefined, normalised] and runs the forward on
// a libuv worker thread with grad mode off. Everything the worker needs is copied into it on the JS thread: its
// own references to the model and to x (disposing either from JS meanwhile frees nothing the forward uses) and
// the thread count; Execute() makes no N-API call. Errors reject with libtorch's message (RangeError for a bad
// shape, dtype or device, as the synchronous forward throws).
//
// Several may run at once on one model. That is safe because a forward here only reads the module: torch::nn's
// Linear, LayerNorm, LSTM and GRU forwards read their parameters, options and training flag and write no member
// (the C++ RNN modules keep flat_weights_ from construction and to(), and unlike Python's do not flatten in
// forward), and our own modules (transformer, mamba2, latent_mamba) keep no caches. The writers — train(), to(),
// loadStateDict(), a train step — are refused by lib/models/module.ts while calls are in flight; the train/eval
// flag is set on the JS thread before the first worker starts and restored after the last one ends.
#include <ATen/Parallel.h>

#include <exception>
#include <memory>
#include <stdexcept>

#include "../args.h"
#include "../handle.h"
#include "../protect.h"
#include "model_binding.h"
#include "predictor.h"

namespace lvm {

namespace {

class PredictWorker : public Napi::AsyncWorker {
 public:
  PredictWorker(Napi::Env env, std::shared_ptr<models::Predictor> model, at::Tensor x, bool wantRaw)
      : Napi::AsyncWorker(env, "lvmtorch.predictAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        x_(std::move(x)),
        wantRaw_(wantRaw),
        threads_(at::get_num_threads()) {}

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      at::set_num_threads(threads_);  // OpenMP's thread count is per calling thread: use the one JS set
      at::NoGradGuard noGrad;          // grad mode is per thread too
      out_ = model_->predict(x_);
      if (!wantRaw_) out_.raw = at::Tensor();
    } catch (...) {
      error_ = std::current_exception();
    }
    // The model and input are no longer needed: let a dispose() that came meanwhile free them now.
    model_.reset();
    x_ = at::Tensor();
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_) {
      deferred_.Reject(rejection(env).Value());
      return;
    }
    try {
      auto result = Napi::Array::New(env, 2);
      result.Set(0u, wantRaw_ ? wrap(env, std::move(out_.raw)) : env.Undefined());
      result.Set(1u, wrap(env, std::move(out_.normalised)));
      deferred_.Resolve(result);
    } catch (...) {
      deferred_.Reject(toJsError(env, std::current_exception()).Value());
    }
  }

 private:
  Napi::Error rejection(Napi::Env env) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::invalid_argument& e) {
      return Napi::RangeError::New(env, e.what());
    } catch (...) {
      return toJsError(env, std::current_exception());
    }
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<models::Predictor> model_;
  at::Tensor x_;
  bool wantRaw_;
  int threads_;
  models::Output out_;
  std::exception_ptr error_;
};

// modelPredictAsync(model, x, wantRaw) -> Promise<[raw | undefined, normalised]>
Napi::Value predictAsync(const Napi::CallbackInfo& info) {
  auto model = sharedModel(info[0]);
  const at::Tensor& x = unwrap(info[1], "x");
  bool wantRaw = toBool(info[2], "raw");
  auto* worker = new PredictWorker(info.Env(), std::move(model), x, wantRaw);
  Napi::Promise promise = worker->promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return promise;
}

}  // namespace

void initPredictAsync(Napi::Env env, Napi::Object exports) {
  exportFunction<predictAsync>(env, exports, "modelPredictAsync");
}

}  // namespace lvm
