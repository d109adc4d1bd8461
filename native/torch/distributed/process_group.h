// A torch.distributed process group from C++: c10d's TCPStore for the rendezvous (MASTER_ADDR:MASTER_PORT, rank 0
// hosts it) and ProcessGroupGloo for the collectives, PyTorch's own engine (a Python rank with the same libtorch can
// join). Plain C++, no N-API: the native train step all-reduces its gradients through it off the JS thread.
#pragma once
#include <ATen/ATen.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lvm::distributed {

struct WorldOptions {
  std::string masterAddr = "127.0.0.1";
  int port = 29500;
  int rank = 0;
  int worldSize = 1;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // the rendezvous and every collective
};

// A collective or the rendezvous failed: a rank died, is unreachable, disagrees on the world, or timed out.
struct DistributedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// DDP's bucket assignment: the indices of `tensors`, taken in `order`, into buckets of at most firstCapBytes (the
// first) and capBytes (the others); a new bucket also where the dtype or the device changes. A tensor bigger than
// the cap is a bucket alone.
std::vector<std::vector<size_t>> assignBuckets(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& order,
                                               int64_t firstCapBytes, int64_t capBytes);

class ProcessGroup {
 public:
  // Blocks until every rank has joined (or the timeout): rank 0 hosts the store, the others connect to it.
  static std::shared_ptr<ProcessGroup> rendezvous(const WorldOptions& options);
  ~ProcessGroup();

  int rank() const { return options_.rank; }
  int size() const { return options_.worldSize; }

  // A collective in flight; wait() rethrows its failure as DistributedError. Waited for once; a Pending dropped
  // unwaited leaves the collective to finish in Gloo's threads.
  class Pending {
   public:
    explicit Pending(std::function<void()> wait) : wait_(std::move(wait)) {}
    void wait() {
      if (auto w = std::exchange(wait_, nullptr)) w();
    }

   private:
    std::function<void()> wait_;
  };

  // In place: the sum over the ranks of one tensor, sent now (Gloo's threads carry it), waited for by the caller.
  // Every rank must start its collectives in the same order.
  Pending allReduceAsync(at::Tensor flat);
  // In place on every rank: the sum (or the mean) over the ranks. The tensors are packed into flat buckets of at
  // most kBucketBytes (DDP's default bucket_cap_mb), all sent before the first is waited for.
  void allReduce(const std::vector<at::Tensor>& tensors, bool mean);
  // In place: root's values on every rank.
  void broadcast(const std::vector<at::Tensor>& tensors, int root);
  void barrier();

  // A flat buffer kept between steps for gradient bucket `slot` (DDP keeps its buckets: no allocation and no page
  // faults per step), reallocated only when its size or options change. Its contents are whatever was left there.
  at::Tensor bucketBuffer(size_t slot, int64_t numel, const at::TensorOptions& options);

  static constexpr int64_t kBucketBytes = 25 << 20;

 private:
  struct Impl;
  ProcessGroup(WorldOptions options, std::unique_ptr<Impl> impl);
  void run(const char* name, const std::function<void()>& issue);
  std::string diagnose();
  WorldOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lvm::distributed
