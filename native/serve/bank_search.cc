// The exact nearest-neighbour search of a serving bank (lib/serve/bank.ts) off the JS thread: one matrix product of
// the queries with the (L2-normalised) bank and topk, on a libuv worker. A bank of 1M x 768 float32 is 3 GB read
// per search (~250 ms here, bound by memory): on the JS thread it would stall every other request.
// bankSearchAsync(bank [N, D], queries [B, D], k) -> Promise<[values [B, k], indices [B, k]]>.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <exception>
#include <tuple>

#include "../args.h"
#include "../handle.h"
#include "../protect.h"

namespace lvm {

namespace {

class SearchWorker : public Napi::AsyncWorker {
 public:
  SearchWorker(Napi::Env env, at::Tensor bank, at::Tensor queries, int64_t k)
      : Napi::AsyncWorker(env, "lvmtorch.bankSearch"),
        deferred_(Napi::Promise::Deferred::New(env)),
        bank_(std::move(bank)),
        queries_(std::move(queries)),
        k_(k),
        threads_(at::get_num_threads()) {}

  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      at::set_num_threads(threads_);  // OpenMP's thread count is per calling thread: use the one JS set
      at::NoGradGuard noGrad;
      std::tie(values_, indices_) = at::topk(at::matmul(queries_, bank_.t()), k_, 1);
    } catch (...) {
      error_ = std::current_exception();
    }
    bank_ = at::Tensor();
    queries_ = at::Tensor();
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_) {
      deferred_.Reject(toJsError(env, error_).Value());
      return;
    }
    try {
      auto result = Napi::Array::New(env, 2);
      result.Set(0u, wrap(env, std::move(values_)));
      result.Set(1u, wrap(env, std::move(indices_)));
      deferred_.Resolve(result);
    } catch (...) {
      deferred_.Reject(toJsError(env, std::current_exception()).Value());
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  at::Tensor bank_, queries_, values_, indices_;
  int64_t k_;
  int threads_;
  std::exception_ptr error_;
};

Napi::Value bankSearchAsync(const Napi::CallbackInfo& info) {
  const at::Tensor& bank = unwrap(info[0], "bank");
  const at::Tensor& queries = unwrap(info[1], "queries");
  int64_t k = toInt(info[2], "k");
  if (bank.dim() != 2 || queries.dim() != 2 || bank.size(1) != queries.size(1)) {
    throw RangeError("bank search needs a bank [N, D] and queries [B, D]");
  }
  if (k < 1 || k > bank.size(0)) throw RangeError("k must be from 1 to the bank's size");
  auto* worker = new SearchWorker(info.Env(), bank, queries, k);
  Napi::Promise promise = worker->promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return promise;
}

}  // namespace

void initServe(Napi::Env env, Napi::Object exports) {
  exportFunction<bankSearchAsync>(env, exports, "bankSearchAsync");
}

}  // namespace lvm
