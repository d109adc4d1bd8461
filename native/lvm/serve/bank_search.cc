// The exact nearest-neighbour search of a serving bank (lib/lvm/serve/bank.ts) off the JS thread: one matrix product of
// the queries with the (L2-normalised) bank and topk, on the compute lane (native/core/lane.h). A bank of 1M x 768 float32 is 3 GB read
// per search (~250 ms here, bound by memory): on the JS thread it would stall every other request.
// bankSearchAsync(bank [N, D], queries [B, D], k) -> Promise<[values [B, k], indices [B, k]]>.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <tuple>

#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/promise_worker.h"
#include "../../core/protect.h"

namespace lvm {

namespace {

class SearchWorker : public PromiseWorker {
 public:
  SearchWorker(Napi::Env env, at::Tensor bank, at::Tensor queries, int64_t k)
      : PromiseWorker(env), bank_(std::move(bank)), queries_(std::move(queries)), k_(k) {}

 protected:
  void compute() override {
    at::NoGradGuard noGrad;
    std::tie(values_, indices_) = at::topk(at::matmul(queries_, bank_.t()), k_, 1);
    queries_ = at::Tensor();
  }

  Napi::Value resolve(Napi::Env env) override {
    auto result = Napi::Array::New(env, 2);
    result.Set(0u, wrap(env, std::move(values_)));
    result.Set(1u, wrap(env, std::move(indices_)));
    return result;
  }

 private:
  at::Tensor bank_, queries_, values_, indices_;
  int64_t k_;
};

Napi::Value bankSearchAsync(const Napi::CallbackInfo& info) {
  const at::Tensor& bank = unwrap(info[0], "bank");
  const at::Tensor& queries = unwrap(info[1], "queries");
  int64_t k = toInt(info[2], "k");
  if (bank.dim() != 2 || queries.dim() != 2 || bank.size(1) != queries.size(1)) {
    throw RangeError("bank search needs a bank [N, D] and queries [B, D]");
  }
  if (k < 1 || k > bank.size(0)) throw RangeError("k must be from 1 to the bank's size");
  return (new SearchWorker(info.Env(), bank, queries, k))->queue();
}

}  // namespace

void initServe(Napi::Env env, Napi::Object exports) {
  exportFunction<bankSearchAsync>(env, exports, "bankSearchAsync");
}

}  // namespace lvm
