// A computation off the JS thread that settles a Promise (the baton of STYLE.md, after sharp's pipeline): the
// subclass copies what it needs on the JS thread in its constructor, computes in compute() off the JS thread (no
// N-API call there), and turns its result into JS in resolve(). compute() runs on the one compute thread
// (compute_thread.h says why) while a libuv worker waits for it. An exception from compute() rejects: RangeError for
// std::invalid_argument (our shape checks), libtorch's message otherwise, unless the subclass's rejection() says
// more. OpenMP's thread count is per calling thread: the one JS set is applied in the worker.
#pragma once

#include <napi.h>

#include <exception>

namespace lvm {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  /** Queues the work; the worker deletes itself once the Promise is settled. */
  Napi::Promise queue();

 protected:
  PromiseWorker(Napi::Env env, const char* name);
  /** On the worker thread. */
  virtual void compute() = 0;
  /** On the JS thread, after compute() succeeded. */
  virtual Napi::Value resolve(Napi::Env env) = 0;
  /** On the JS thread, after compute() threw. */
  virtual Napi::Error rejection(Napi::Env env, std::exception_ptr error);

 private:
  void Execute() final;
  void OnOK() final;

  Napi::Promise::Deferred deferred_;
  int threads_;
  std::exception_ptr error_;
};

}  // namespace lvm
