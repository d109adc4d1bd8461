// The native train step from JS (lib/lvm/train/step.ts): trainStep(model, optimizer, x, y, weights, clipNorm) returns
// a Promise and runs the whole step off the JS thread (on the compute lane, native/core/lane.h), so the
// event loop stays free while it computes.
// The worker holds its own references to the model, optimiser and tensors: disposing them from JS meanwhile
// cannot free what the step is using.
#include <memory>

#include "../../core/args.h"
#include "../../torch/distributed/process_group_binding.h"
#include "../../core/handle.h"
#include "../../core/lane.h"
#include "../loss/loss_binding.h"
#include "../models/model_binding.h"
#include "../../torch/optim/optim_binding.h"
#include "../../core/promise_worker.h"
#include "../../core/protect.h"
#include "step.h"

namespace lvm {

void initEval(Napi::Env env, Napi::Object exports);  // eval_binding.cc

namespace {

class StepWorker : public PromiseWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<models::Predictor> model, std::shared_ptr<optim::Optimizer> optimizer,
             at::Tensor x, at::Tensor y, train::StepOptions options)
      : PromiseWorker(env),
        model_(std::move(model)),
        optimizer_(std::move(optimizer)),
        x_(std::move(x)),
        y_(std::move(y)),
        options_(options) {}

 protected:
  void compute() override { result_ = train::trainStep(*model_, *optimizer_, x_, y_, options_); }

  Napi::Value resolve(Napi::Env env) override {
    Napi::Object out = lossValues(env, result_.loss);
    out.Set("gradNorm", result_.gradNorm);
    return out;
  }

 private:
  std::shared_ptr<models::Predictor> model_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  at::Tensor x_, y_;
  train::StepOptions options_;
  train::StepResult result_;
};

// trainStep(model, optimizer, x, y, [tau, info, moment, variance, mse, cosMse, document], clipNorm, bf16,
//           processGroup?, candidates?) -> Promise<{ total, info, moment, variance, mse, cosMse, document, cosine, gradNorm }>
Napi::Value trainStep(const Napi::CallbackInfo& info) {
  train::StepOptions options;
  options.weights = readWeights(info[4]);
  options.clipNorm = toDouble(info[5], "clipNorm");
  options.bf16 = info.Length() > 6 && toBool(info[6], "bf16");
  options.world = sharedProcessGroup(info[7]);
  options.candidates = readCandidates(info[8]);
  return (new StepWorker(info.Env(), sharedModel(info[0]), sharedOptimizer(info[1]), unwrap(info[2], "x"),
                         unwrap(info[3], "y"), options))->queue();
}

// The second half of a torch.nn module's step (lib/lvm/train/step.ts): its forward and loss ran on the JS thread.
class BackwardStepWorker : public PromiseWorker {
 public:
  BackwardStepWorker(Napi::Env env, at::Tensor loss, std::shared_ptr<optim::Optimizer> optimizer, double clipNorm)
      : PromiseWorker(env), loss_(std::move(loss)), optimizer_(std::move(optimizer)), clipNorm_(clipNorm) {}

 protected:
  void compute() override {
    at::Tensor loss = std::move(loss_);  // the graph is freed here, on this thread, as soon as backward has run
    gradNorm_ = train::backwardAndStep(loss, *optimizer_, clipNorm_);
    // The JS thread computes next (the module's next forward): this lane's team would throttle its team (lane.h).
    releaseOpenMpTeam();
  }
  Napi::Value resolve(Napi::Env env) override { return Napi::Number::New(env, gradNorm_); }

 private:
  at::Tensor loss_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  double clipNorm_;
  double gradNorm_ = 0;
};

// backwardAndStep(loss, optimizer, clipNorm) -> Promise<gradNorm (NaN when not clipped)>: backward, clipping, step.
Napi::Value backwardAndStep(const Napi::CallbackInfo& info) {
  const at::Tensor& loss = unwrap(info[0], "loss");
  if (loss.numel() != 1 || !loss.requires_grad()) throw TypeError("backwardAndStep needs a scalar loss that requires grad");
  return (new BackwardStepWorker(info.Env(), loss, sharedOptimizer(info[1]), toDouble(info[2], "clipNorm")))->queue();
}

}  // namespace

void initTrain(Napi::Env env, Napi::Object exports) {
  exportFunction<trainStep>(env, exports, "trainStep");
  exportFunction<backwardAndStep>(env, exports, "backwardAndStep");
  initEval(env, exports);
}

}  // namespace lvm
