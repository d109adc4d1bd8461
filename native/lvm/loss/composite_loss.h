// The fused composite loss (../shared/DESIGN.md, "Composite loss"): one autograd node whose backward is written
// by hand from the intermediates its forward saved. Plain C++, no N-API, so a native train step can call it off
// the JS thread.
#pragma once
#include <ATen/ATen.h>

#include <array>

namespace lvm::loss {

struct CompositeWeights {
  double tau = 0.07;       // InfoNCE temperature
  double info = 1;         // symmetric InfoNCE over pred_cos @ target_cos.T / tau
  double moment = 0;       // batch means and (unbiased) stds of pred_raw vs target
  double variance = 0;     // mean(relu(1 - std0(pred_cos)))
  double mse = 0;          // mse(pred_raw, target)
  double cosMse = 0;       // mse(normalize(pred_raw), normalize(target)): "cosine regression"
  double document = 0;     // InfoNCE of each row against its own documents' sentences (Candidates), context masked
};

// What the document term ranks each row's prediction against: the sentences of the batch's documents, the true
// next sentence among them, and the row's context left out (what in-document retrieval leaves out when it scores).
struct Candidates {
  at::Tensor vectors;   // [M, D], pred's dtype and device
  at::Tensor positive;  // [B] int64: the row of `vectors` that is each row's target
  at::Tensor context;   // [B, T] int64: the rows of `vectors` that are each row's context, -1 where absent
};

// Every term, weighted or not (the unweighted ones are diagnostics), as doubles read back from the device.
enum Component : int { kTotal, kInfo, kMoment, kVariance, kMse, kCosMse, kDocument, kCosine, kComponents };
inline constexpr std::array<const char*, kComponents> kComponentNames = {
    "total", "info", "moment", "variance", "mse", "cosMse", "document", "cosine"};

struct CompositeLoss {
  at::Tensor total;                              // 0-d, carries the autograd graph when an input requires grad
  std::array<double, kComponents> values{};      // NaN for moment and variance when the batch has one row, and
                                                 // for document without candidates
};

// pred_raw and target are [B, D] of one floating dtype and device. Throws std::invalid_argument on bad shapes or
// weights (B = 1 with moment or variance weighted: the std over one row is undefined; document weighted without
// candidates), and NonFiniteLoss when checkFinite and an input or the total is NaN or infinite.
CompositeLoss compositeLoss(const at::Tensor& predRaw, const at::Tensor& target, const CompositeWeights& w,
                            bool checkFinite = true, const Candidates* candidates = nullptr);

struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lvm::loss
