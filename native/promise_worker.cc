#include "promise_worker.h"

#include <ATen/Parallel.h>

#include <stdexcept>

#include "compute_thread.h"
#include "protect.h"

namespace lvm {

PromiseWorker::PromiseWorker(Napi::Env env, const char* name)
    : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), threads_(at::get_num_threads()) {}

Napi::Promise PromiseWorker::queue() {
  Napi::Promise promise = deferred_.Promise();
  // The compute thread is about to run: a team the JS thread grew for sync work would throttle its team.
  releaseOpenMpTeam();
  Queue();
  return promise;
}

void PromiseWorker::Execute() {
  try {
    runOnComputeThread([this] {
      at::set_num_threads(threads_);
      compute();
    });
  } catch (...) {
    error_ = std::current_exception();
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  if (error_) {
    deferred_.Reject(rejection(env, error_).Value());
    return;
  }
  try {
    deferred_.Resolve(resolve(env));
  } catch (...) {
    deferred_.Reject(toJsError(env, std::current_exception()).Value());
  }
}

Napi::Error PromiseWorker::rejection(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::invalid_argument& e) {
    return Napi::RangeError::New(env, e.what());
  } catch (...) {
    return toJsError(env, std::current_exception());
  }
}

}  // namespace lvm
