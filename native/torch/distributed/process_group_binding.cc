// The process group's entry points from JS (lib/torch/distributed/). A group crosses to JS as a SharedHandle, as an
// optimiser does; the rendezvous and every collective run off the JS thread. The rendezvous only waits (up to the
// timeout, 300 s by default) and has no group yet, so it runs on the I/O lane (native/core/lane.h), where it holds up no
// forward. The collectives run on the compute lane, in order with the train steps that all-reduce their gradients
// through the same group: Gloo needs every rank to issue its collectives in one order, and one lane keeps JS's.
#include "process_group_binding.h"

#include <string>

#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/promise_worker.h"
#include "../../core/protect.h"
#include "../../core/shared_handle.h"

namespace lvm {

namespace {

using distributed::ProcessGroup;

constexpr napi_type_tag kGroupTag = {0x6c766d746f726368ULL, 0x7072636772707570ULL};
constexpr SharedHandle<ProcessGroup> kGroups(&kGroupTag, "a process group", "the process group was closed and can no longer be used");

// A DistributedError rejects with code ERR_DISTRIBUTED (protect.h), which lib/torch/distributed/world.ts makes a
// DistributedError.
class RendezvousWorker : public PromiseWorker {
 public:
  RendezvousWorker(Napi::Env env, distributed::WorldOptions options)
      : PromiseWorker(env, Lane::io()), options_(std::move(options)) {}

 protected:
  void compute() override { group_ = ProcessGroup::rendezvous(options_); }
  Napi::Value resolve(Napi::Env env) override {
    return kGroups.wrap(env, std::move(group_));
  }

 private:
  distributed::WorldOptions options_;
  std::shared_ptr<ProcessGroup> group_;
};

// allReduce, broadcast and barrier: one collective on the group's tensors, in place.
class CollectiveWorker : public PromiseWorker {
 public:
  enum class Op { AllReduceSum, AllReduceMean, Broadcast, Barrier };
  CollectiveWorker(Napi::Env env, std::shared_ptr<ProcessGroup> group, Op op, std::vector<at::Tensor> tensors, int root)
      : PromiseWorker(env), group_(std::move(group)), op_(op), tensors_(std::move(tensors)), root_(root) {}

 protected:
  void compute() override {
    switch (op_) {
      case Op::AllReduceSum: group_->allReduce(tensors_, false); break;
      case Op::AllReduceMean: group_->allReduce(tensors_, true); break;
      case Op::Broadcast: group_->broadcast(tensors_, root_); break;
      case Op::Barrier: group_->barrier(); break;
    }
  }
  Napi::Value resolve(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<ProcessGroup> group_;
  Op op_;
  std::vector<at::Tensor> tensors_;
  int root_;
};

// processGroupInit(masterAddr, port, rank, worldSize, timeoutMs) -> Promise<handle>
Napi::Value init(const Napi::CallbackInfo& info) {
  distributed::WorldOptions o;
  if (!info[0].IsString()) throw TypeError("masterAddr must be a string");
  o.masterAddr = info[0].As<Napi::String>().Utf8Value();
  o.port = static_cast<int>(toInt(info[1], "port"));
  o.rank = static_cast<int>(toInt(info[2], "rank"));
  o.worldSize = static_cast<int>(toInt(info[3], "worldSize"));
  o.timeout = std::chrono::milliseconds(toInt(info[4], "timeoutMs"));
  return (new RendezvousWorker(info.Env(), o))->queue();
}

// processGroupCollective(handle, op, tensors, root) -> Promise<void>; op: "sum", "mean", "broadcast", "barrier"
Napi::Value collective(const Napi::CallbackInfo& info) {
  auto group = kGroups.shared(info[0]);
  if (!info[1].IsString()) throw TypeError("op must be a string");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  using Op = CollectiveWorker::Op;
  Op op = name == "sum" ? Op::AllReduceSum : name == "mean" ? Op::AllReduceMean : name == "broadcast" ? Op::Broadcast
        : name == "barrier" ? Op::Barrier : throw RangeError("unknown collective '" + name + "'");
  std::vector<at::Tensor> tensors = op == Op::Barrier ? std::vector<at::Tensor>{} : unwrapList(info[2], "tensors");
  int root = op == Op::Broadcast ? static_cast<int>(toInt(info[3], "root")) : 0;
  return (new CollectiveWorker(info.Env(), std::move(group), op, std::move(tensors), root))->queue();
}

// Leaves the group now (its threads and sockets), not at garbage collection; a step still running keeps it alive.
Napi::Value close(const Napi::CallbackInfo& info) {
  kGroups.dispose(info[0]);
  return info.Env().Undefined();
}

}  // namespace

std::shared_ptr<distributed::ProcessGroup> sharedProcessGroup(Napi::Value v) {
  if (isMissing(v)) return nullptr;
  return kGroups.shared(v);
}

void initDistributed(Napi::Env env, Napi::Object exports) {
  exportFunction<init>(env, exports, "processGroupInit");
  exportFunction<collective>(env, exports, "processGroupCollective");
  exportFunction<close>(env, exports, "processGroupClose");
}

}  // namespace lvm
