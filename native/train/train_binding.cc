// The native train step from JS (lib/train/step.ts): trainStep(model, optimizer, x, y, weights, clipNorm) returns
// a Promise and runs the whole step on a libuv worker thread, so the event loop stays free while it computes.
// The worker holds its own references to the model, optimiser and tensors: disposing them from JS meanwhile
// cannot free what the step is using.
#include <ATen/Parallel.h>

#include <exception>
#include <memory>
#include <stdexcept>

#include "../args.h"
#include "../handle.h"
#include "../models/model_binding.h"
#include "../optim/optim_binding.h"
#include "../protect.h"
#include "step.h"

namespace lvm {

namespace {

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<models::Predictor> model, std::shared_ptr<optim::Optimizer> optimizer,
             at::Tensor x, at::Tensor y, train::StepOptions options)
      : Napi::AsyncWorker(env, "lvmtorch.trainStep"),
        deferred_(Napi::Promise::Deferred::New(env)),
        model_(std::move(model)),
        optimizer_(std::move(optimizer)),
        x_(std::move(x)),
        y_(std::move(y)),
        options_(options),
        threads_(at::get_num_threads()) {}

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      at::set_num_threads(threads_);  // OpenMP's thread count is per calling thread: use the one JS set
      result_ = train::trainStep(*model_, *optimizer_, x_, y_, options_);
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_) {
      deferred_.Reject(rejection(env).Value());
      return;
    }
    auto out = Napi::Array::New(env, loss::kComponents + 1);
    for (uint32_t i = 0; i < loss::kComponents; ++i) out.Set(i, result_.loss[i]);
    out.Set(uint32_t{loss::kComponents}, result_.gradNorm);
    deferred_.Resolve(out);
  }

 private:
  Napi::Error rejection(Napi::Env env) {
    try {
      std::rethrow_exception(error_);
    } catch (const loss::NonFiniteLoss& e) {
      auto err = Napi::Error::New(env, e.what());
      err.Set("code", Napi::String::New(env, "ERR_LOSS_NOT_FINITE"));
      return err;
    } catch (const std::invalid_argument& e) {
      return Napi::RangeError::New(env, e.what());
    } catch (...) {
      return toJsError(env, std::current_exception());
    }
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<models::Predictor> model_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  at::Tensor x_, y_;
  train::StepOptions options_;
  int threads_;
  train::StepResult result_;
  std::exception_ptr error_;
};

loss::CompositeWeights readWeights(Napi::Value v) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 6) throw TypeError("weights must be [tau, info, moment, variance, mse, cosMse]");
  auto a = v.As<Napi::Array>();
  loss::CompositeWeights w;
  w.tau = toDouble(a.Get(0u), "tau");
  w.info = toDouble(a.Get(1u), "info");
  w.moment = toDouble(a.Get(2u), "moment");
  w.variance = toDouble(a.Get(3u), "variance");
  w.mse = toDouble(a.Get(4u), "mse");
  w.cosMse = toDouble(a.Get(5u), "cosMse");
  return w;
}

// trainStep(model, optimizer, x, y, [tau, info, moment, variance, mse, cosMse], clipNorm)
//   -> Promise<[total, info, moment, variance, mse, cosMse, cosine, gradNorm]>
Napi::Value trainStep(const Napi::CallbackInfo& info) {
  train::StepOptions options;
  options.weights = readWeights(info[4]);
  options.clipNorm = toDouble(info[5], "clipNorm");
  auto* worker = new StepWorker(info.Env(), sharedModel(info[0]), sharedOptimizer(info[1]), unwrap(info[2], "x"),
                                unwrap(info[3], "y"), options);
  Napi::Promise promise = worker->promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return promise;
}

}  // namespace

void initTrain(Napi::Env env, Napi::Object exports) {
  exportFunction<trainStep>(env, exports, "trainStep");
}

}  // namespace lvm
