// Judging predictions and fitting the baselines (lib/lvm/train/metrics.ts, lib/lvm/train/baselines.ts), as plain C++ with
// no N-API: eval_binding.cc runs them off the JS thread (the compute lane) so the event loop stays free. The caller holds a
// NoGradGuard (grad mode is per thread).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace lvm::train {

struct Score {
  double cosine = 0;  // mean cosine of each prediction with its target
  // Mean cos(normalize(pred) - centre, target - centre), where a centre was given (the train targets' mean, raw):
  // predicting the mean direction scores about 0 here, whatever the raw cosine.
  double centredCosine = 0;
  bool centred = false;  // whether centredCosine was computed
  double mse = 0;        // mean((normalize(pred) - target)^2): the seed's val_loss
  // A row's rank: how many of the N targets are strictly more similar to its prediction than its own target.
  int64_t top1 = 0;       // rows of rank 0
  int64_t top5 = 0;       // rows of rank < 5
  double mrr = 0;         // mean of 1 / (rank + 1)
  int64_t medianRank = 0; // the lower median of rank + 1 (1-based; torch.median's choice for even N)
  int64_t count = 0;
  // Contrastive accuracy (Meta's LCM): per row, the share of the distractors (the targets of other documents' rows,
  // or of every other row where no documents are known) strictly less similar to its prediction than its own
  // target; the mean over rows that have any. NaN where no row has one (one document).
  double contrastiveAccuracy = 0;
  // Retrieval in the row's own document, where documents are known (inDoc): the true next sentence ranked among
  // every distinct sentence of its document in the split (context and target vectors; equal vectors count once),
  // the row's own context left out (unless it is the target).
  bool inDoc = false;
  double inDocMrr = 0;          // mean of 1 / (rank + 1)
  int64_t inDocTop1 = 0;        // rows of rank 0
  double inDocCandidates = 0;   // the mean number of candidates a row is ranked among, its target included
};

// A dataset's rows as lib/lvm/data/dataset.ts keeps them: row i's context is vectors[contextIndex[i]] ([T, D]), its
// target vectors[targetIndex[i]]; oracle [N, D] where the data has one; docIds [N] (integers) where the documents
// are known.
struct Rows {
  at::Tensor vectors, contextIndex, targetIndex, oracle, docIds;
  int64_t size() const { return targetIndex.size(0); }
};

// pred [N, D] against target [N, D] (row i predicts target i); ranks against all N targets; the centred cosine
// where centre ([D]) is defined; with `rows` (the rows that pred predicts, target = their targets) the
// contrastive accuracy over other documents and, where rows.docIds is defined, the in-document retrieval. Throws
// std::invalid_argument for shapes that differ, no rows, a centre that is not [D], or rows that do not match.
Score score(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& centre = at::Tensor(), const Rows* rows = nullptr);

// A linear map in torch.nn.Linear's layout: y = x weight^T + bias.
struct LinearMap {
  at::Tensor weight, bias;  // float32 [D, T * D] and [D]
};

// The mean, copy-last, context-mean, ridge and oracle baselines of every split, the ridge strength that val chose,
// and the ridge itself as a map of the flattened context [N, T * D] (the start of a model with ridgeContext).
struct Baselines {
  double lambda = 0;
  // Per split, in the order given: mean, copy-last, context-mean, ridge, and the oracle where the split has one.
  std::vector<std::vector<Score>> scores;
  LinearMap ridge;
};

// Fits the baselines on train (the ridge strength: the grid's value with the best val cosine, relative to the mean
// eigenvalue of the centred Gram matrix) and scores them on each split, the centred cosine about `centre` ([D]:
// the caller passes the train targets' mean, the one it centres the model's scores on). Throws
// std::invalid_argument for rows that do not fit together or a centre that is not [D].
Baselines baselines(const Rows& train, const Rows& val, const std::vector<Rows>& splits, const std::vector<double>& grid,
                    const at::Tensor& centre);

}  // namespace lvm::train
