// DistributedDataParallel's gradient reduction for one backward: each parameter's gradient is copied into its
// bucket as autograd produces it (a hook on the parameter), and a bucket's all-reduce starts as soon as the bucket
// is full, while backward goes on computing the rest. finish() sends what is left and writes the mean over the
// ranks into every .grad.
//
// Buckets follow DDP's: the parameters in reverse order (backward reaches the last layers first), the first bucket
// at most 1 MiB so that communication starts early, the others at most 25 MiB; each bucket is launched only after
// the one before it, so that every rank starts its collectives in the same order whatever order its gradients came
// in. Each bucket ends with one flag per parameter (1: this rank has its gradient): a parameter that no rank gave a
// gradient keeps none, as in one process, and the optimiser skips it.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "process_group.h"

namespace lvm::distributed {

class GradReducer {
 public:
  // Registers the hooks; `params` must have no gradient yet (zero_grad(set_to_none)). Those that do not require
  // grad are left out.
  GradReducer(ProcessGroup& group, std::vector<at::Tensor> params);
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;
  ~GradReducer();  // removes the hooks

  // After backward: launches the buckets not yet full (zeros for the gradients this rank has not), waits for all,
  // and sets each .grad to the mean over the ranks.
  void finish();

  static constexpr int64_t kFirstBucketBytes = 1 << 20;
  static constexpr int64_t kBucketBytes = ProcessGroup::kBucketBytes;

 private:
  struct Slot {
    size_t bucket;
    int64_t offset;  // in the bucket's flat tensor
    bool arrived = false;
  };
  struct Bucket {
    std::vector<size_t> params;
    at::Tensor flat;  // the gradients, then one flag per parameter
    size_t missing;   // gradients not arrived yet
    std::vector<ProcessGroup::Pending> sent;  // 0 or 1
  };

  void arrived(size_t param, const at::Tensor& grad);
  void launchReady();

  ProcessGroup& group_;
  std::vector<at::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  size_t nextToLaunch_ = 0;
  std::mutex mutex_;  // hooks run on autograd's threads (one per device)
};

}  // namespace lvm::distributed
