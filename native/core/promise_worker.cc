#include "promise_worker.h"

#include <ATen/Parallel.h>

#include <mutex>
#include <unordered_map>

#include "protect.h"

namespace lvm {

// One per environment: the thread-safe function through which the lanes hand finished jobs back to its JS thread.
struct PromiseWorker::Settler {
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  // Held by a lane while it calls tsfn and by the environment's cleanup while it closes tsfn: no lane calls a
  // closed one.
  std::mutex mutex;
  bool open = true;
  // JS thread only. tsfn keeps the event loop alive while this is > 0, and only then.
  int64_t inFlight = 0;
};

namespace {

// An environment lives on one thread (the main thread, or a worker_threads Worker's).
thread_local std::unordered_map<napi_env, std::shared_ptr<PromiseWorker::Settler>> settlers;

void closeSettler(void* arg) {
  auto* settler = static_cast<PromiseWorker::Settler*>(arg);
  {
    std::lock_guard<std::mutex> lock(settler->mutex);
    settler->open = false;
  }
  // Jobs already handed over are given back with no environment (settleOnJsThread frees them); jobs still running
  // free themselves (PromiseWorker::run).
  napi_release_threadsafe_function(settler->tsfn, napi_tsfn_abort);
  settlers.erase(settler->env);  // the jobs in flight hold the settler until they end
}

}  // namespace

void PromiseWorker::settleOnJsThread(napi_env env, napi_value, void*, void* data) {
  auto* worker = static_cast<PromiseWorker*>(data);
  if (env == nullptr) {  // the environment is closing: nothing left to settle
    delete worker;
    return;
  }
  worker->settle(Napi::Env(env));
}

std::shared_ptr<PromiseWorker::Settler> PromiseWorker::settlerOf(Napi::Env env) {
  auto found = settlers.find(env);
  if (found != settlers.end()) return found->second;
  auto settler = std::make_shared<Settler>();
  settler->env = env;
  napi_value name = Napi::String::New(env, "lvmtorch.settle");
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, settleOnJsThread,
                                      &settler->tsfn) != napi_ok) {
    throw Napi::Error::New(env);
  }
  napi_unref_threadsafe_function(env, settler->tsfn);  // no job in flight yet: the process may exit
  // Registered after tsfn, so it runs before tsfn's own cleanup (hooks run in reverse order).
  napi_add_env_cleanup_hook(env, closeSettler, settler.get());
  settlers.emplace(env, settler);
  return settler;
}

PromiseWorker::PromiseWorker(Napi::Env env, Lane& lane)
    : lane_(lane), deferred_(Napi::Promise::Deferred::New(env)), threads_(at::get_num_threads()) {}

Napi::Promise PromiseWorker::queue() {
  std::unique_ptr<PromiseWorker> self(this);  // freed here unless posted
  Napi::Env env = deferred_.Env();
  settler_ = settlerOf(env);
  // The compute lane is about to run: a team the JS thread grew for sync work would throttle its team.
  if (lane_.isCompute()) releaseOpenMpTeam();
  if (settler_->inFlight++ == 0) napi_ref_threadsafe_function(env, settler_->tsfn);
  Napi::Promise promise = deferred_.Promise();
  lane_.post(self.release());
  return promise;
}

void PromiseWorker::run() noexcept {
  try {
    if (lane_.isCompute()) at::set_num_threads(threads_);
    compute();
  } catch (...) {
    error_ = std::current_exception();
  }
  std::shared_ptr<Settler> settler = settler_;  // the JS thread may free this worker as soon as it has it
  {
    std::lock_guard<std::mutex> lock(settler->mutex);
    if (settler->open && napi_call_threadsafe_function(settler->tsfn, this, napi_tsfn_nonblocking) == napi_ok) return;
  }
  delete this;  // its environment closed meanwhile: nobody is waiting
}

void PromiseWorker::settle(Napi::Env env) {
  std::unique_ptr<PromiseWorker> self(this);
  Settler& settler = *settler_;
  try {
    Napi::HandleScope scope(env);
    if (!error_) {
      try {
        deferred_.Resolve(resolve(env));
      } catch (...) {
        error_ = std::current_exception();
      }
    }
    if (error_) deferred_.Reject(toJsError(env, error_).Value());
  } catch (...) {
    // Only N-API failing itself gets here (the environment is going away); the Promise stays pending.
  }
  if (--settler.inFlight == 0) napi_unref_threadsafe_function(env, settler.tsfn);
}

}  // namespace lvm
