#include "grad_reducer.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <numeric>

namespace lvm::distributed {

GradReducer::GradReducer(ProcessGroup& group, std::vector<at::Tensor> params) : group_(group) {
  at::NoGradGuard noGrad;
  // A frozen parameter gets no gradient on any rank (and takes no hook).
  for (at::Tensor& p : params) {
    if (p.requires_grad()) params_.push_back(std::move(p));
  }
  slots_.resize(params_.size());
  std::vector<size_t> reverse(params_.size());
  std::iota(reverse.rbegin(), reverse.rend(), size_t{0});
  std::vector<std::vector<size_t>> assigned = assignBuckets(params_, reverse, kFirstBucketBytes, kBucketBytes);
  buckets_.resize(assigned.size());
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    bucket.params = std::move(assigned[b]);
    int64_t numel = 0;
    for (size_t k : bucket.params) {
      slots_[k] = {b, numel};
      numel += params_[k].numel();
    }
    bucket.flat = group_.bucketBuffer(b, numel + static_cast<int64_t>(bucket.params.size()), params_[bucket.params.front()].options());
    bucket.flat.slice(0, numel).fill_(1);  // the flags: 1 until finish() finds a parameter without a gradient
    bucket.missing = bucket.params.size();
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    hooks_.push_back(params_[k].register_hook([this, k](const at::Tensor& grad) { arrived(k, grad); }));
  }
}

GradReducer::~GradReducer() {
  for (size_t k = 0; k < hooks_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

void GradReducer::arrived(size_t param, const at::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slots_[param];
  Bucket& bucket = buckets_[slot.bucket];
  at::NoGradGuard noGrad;
  int64_t n = params_[param].numel();
  bucket.flat.slice(0, slot.offset, slot.offset + n).copy_(grad.reshape({-1}));
  if (!slot.arrived) {
    slot.arrived = true;
    --bucket.missing;
  }
  launchReady();
}

// The buckets that are full, in order from the next one not yet sent.
void GradReducer::launchReady() {
  while (nextToLaunch_ < buckets_.size() && buckets_[nextToLaunch_].missing == 0) {
    Bucket& bucket = buckets_[nextToLaunch_++];
    bucket.sent.push_back(group_.allReduceAsync(bucket.flat));
  }
}

void GradReducer::finish() {
  at::NoGradGuard noGrad;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A parameter backward did not reach: zeros and flag 0.
    for (size_t k = 0; k < params_.size(); ++k) {
      if (slots_[k].arrived) continue;
      Bucket& bucket = buckets_[slots_[k].bucket];
      int64_t gradients = bucket.flat.numel() - static_cast<int64_t>(bucket.params.size());
      bucket.flat.slice(0, slots_[k].offset, slots_[k].offset + params_[k].numel()).zero_();
      auto position = std::find(bucket.params.begin(), bucket.params.end(), k) - bucket.params.begin();
      bucket.flat[gradients + position].zero_();
      slots_[k].arrived = true;
      --bucket.missing;
    }
    launchReady();
  }
  // Each .grad becomes a view of its bucket (DDP's gradient_as_bucket_view): no copy back.
  for (Bucket& bucket : buckets_) {
    bucket.sent.front().wait();
    int64_t gradients = bucket.flat.numel() - static_cast<int64_t>(bucket.params.size());
    at::Tensor flags = bucket.flat.slice(0, gradients).cpu();
    bucket.flat.slice(0, 0, gradients).div_(group_.size());
    for (size_t j = 0; j < bucket.params.size(); ++j) {
      size_t k = bucket.params[j];
      bool someRankHasIt = flags[static_cast<int64_t>(j)].item<double>() != 0;
      params_[k].mutable_grad() = someRankHasIt
          ? bucket.flat.slice(0, slots_[k].offset, slots_[k].offset + params_[k].numel()).view(params_[k].sizes())
          : at::Tensor();
    }
  }
}

}  // namespace lvm::distributed
