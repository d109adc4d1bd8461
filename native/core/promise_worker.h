// A computation off the JS thread that settles a Promise (the baton of STYLE.md, after sharp's pipeline): the
// subclass copies what it needs on the JS thread in its constructor, computes in compute() on a lane (lane.h: the
// compute lane, or the I/O lane for file I/O and waiting; no N-API call there), and turns its result into JS in
// resolve() back on the JS thread. No libuv worker waits for the job: the lane runs it and hands it back to its JS
// thread through one thread-safe function per environment, which keeps the event loop alive only while jobs are in
// flight. An exception from compute() or resolve() rejects with toJsError() (protect.h), the error a sync entry
// point would throw for it. OpenMP's thread count is per calling thread: a compute job applies the one JS set.
#pragma once

#include <napi.h>

#include <exception>
#include <memory>

#include "lane.h"

namespace lvm {

class PromiseWorker : private Lane::Job {
 public:
  /** Posts the job to its lane; the worker deletes itself once the Promise is settled. */
  Napi::Promise queue();

 protected:
  explicit PromiseWorker(Napi::Env env, Lane& lane = Lane::compute());
  /** On the lane's thread. */
  virtual void compute() = 0;
  /** On the JS thread, after compute() succeeded. */
  virtual Napi::Value resolve(Napi::Env env) = 0;

 public:
  struct Settler;  // promise_worker.cc

 private:
  static std::shared_ptr<Settler> settlerOf(Napi::Env env);
  static void settleOnJsThread(napi_env env, napi_value, void*, void* data);
  void run() noexcept final;
  void settle(Napi::Env env);

  Lane& lane_;
  Napi::Promise::Deferred deferred_;
  int threads_;
  std::exception_ptr error_;
  std::shared_ptr<Settler> settler_;
};

}  // namespace lvm
