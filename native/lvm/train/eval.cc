#include "eval.h"

#include <ATen/ATen.h>

#include "../../torch/normalize.h"
#include "../../torch/shape.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace lvm::train {

namespace {

constexpr int64_t kScoreRows = 1024;  // rows of similarities at once: 1024 x N floats stays small for any split
constexpr int64_t kRows = 2048;       // rows gathered at once: the [N, T * D] design matrix never exists
constexpr int64_t kBlock = 768;       // the Gram matrix is summed in column blocks of about this width

// The mean of each row's cosine with its own target: score()'s cosine, without the ranks.
double meanCosine(const at::Tensor& pred, const at::Tensor& target) {
  return normalize(pred, 1).mul(normalize(target, 1)).sum(1).mean().item<double>();
}

// Rows [start, start + len) of a dataset: the flattened contexts [len, T * D] and the targets [len, D], gathered
// as lib/lvm/data/dataset.ts's batch() gathers them.
at::Tensor contexts(const Rows& r, int64_t start, int64_t len) {
  return r.vectors.index_select(0, r.contextIndex.narrow(0, start, len).reshape({-1})).view({len, -1});
}

at::Tensor targets(const Rows& r) {
  return r.vectors.index_select(0, r.targetIndex);
}

void checkRows(const Rows& r, const char* name, const Rows* like) {
  auto bad = [&](const std::string& why) { return std::invalid_argument(std::string(name) + ": " + why); };
  if (!r.vectors.defined() || r.vectors.dim() != 2 || !r.vectors.is_floating_point())
    throw bad("vectors must be a [M, D] float tensor");
  if (r.contextIndex.dim() != 2 || r.contextIndex.scalar_type() != at::kLong)
    throw bad("contextIndex must be a [N, T] int64 tensor, got " + shapeOf(r.contextIndex));
  if (r.targetIndex.dim() != 1 || r.targetIndex.scalar_type() != at::kLong || r.targetIndex.size(0) != r.contextIndex.size(0))
    throw bad("targetIndex must be an [N] int64 tensor, with contextIndex's N");
  if (r.size() == 0) throw bad("no rows");
  if (like && (r.contextIndex.size(1) != like->contextIndex.size(1) || r.vectors.size(1) != like->vectors.size(1)))
    throw bad("context " + shapeOf(r.contextIndex) + " of " + std::to_string(r.vectors.size(1)) +
              "-D vectors does not match train's " + shapeOf(like->contextIndex) + " of " + std::to_string(like->vectors.size(1)));
  if (r.oracle.defined() && (r.oracle.dim() != 2 || r.oracle.size(0) != r.size() || r.oracle.size(1) != r.vectors.size(1)))
    throw bad("the oracle must be [N, D], got " + shapeOf(r.oracle));
  if (r.docIds.defined() && (r.docIds.dim() != 1 || r.docIds.size(0) != r.size() || r.docIds.is_floating_point()))
    throw bad("docIds must be [N] integers, got " + shapeOf(r.docIds));
}

// A ridge map with an intercept on the centred flattened context: predict(x) = (x - xMean) W + yMean.
struct Ridge {
  at::Tensor w, xMean, yMean;
  double lambda = 0;
};

// The mean of each row's context vectors [N, D], in chunks of rows.
at::Tensor contextMean(const Rows& r) {
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < r.size(); start += kRows) {
    const int64_t len = std::min(kRows, r.size() - start);
    parts.push_back(contexts(r, start, len).view({len, r.contextIndex.size(1), -1}).mean({1}));
  }
  return at::cat(parts);
}

at::Tensor applyRidge(const Rows& r, const Ridge& ridge) {
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < r.size(); start += kRows) {
    int64_t len = std::min(kRows, r.size() - start);
    parts.push_back(contexts(r, start, len).to(at::kDouble).sub(ridge.xMean).matmul(ridge.w).add(ridge.yMean).to(at::kFloat));
  }
  return at::cat(parts);
}

// The system to solve for each strength: (matrix + lambda * scale * I) S = rhs, then W = S (primal) or Xc^T S
// (dual). scale = trace(Xc^T Xc) / p, so the grid means the same at any data scale.
struct System {
  at::Tensor xMean, yMean, matrix, rhs, xc;  // xc: the dual's centred design matrix
  double scale = 0;
};

// p x p: the Gram matrix Xc^T Xc and Xc^T Yc, in float64, summed over row chunks and centred after:
// sum (x - m)(x - m)^T = sum x x^T - n m m^T. The Gram matrix is symmetric: only the blocks on and above the
// diagonal are multiplied (15 of 25 at p = 5 x 768), the others copied.
System primal(const Rows& train) {
  const int64_t n = train.size(), p = train.contextIndex.size(1) * train.vectors.size(1), d = train.vectors.size(1);
  auto f64 = train.vectors.options().dtype(at::kDouble);
  at::Tensor sx = at::zeros({p}, f64), sy = at::zeros({d}, f64), gram = at::zeros({p, p}, f64), cross = at::zeros({p, d}, f64);
  const int64_t blocks = (p + kBlock - 1) / kBlock;
  auto bound = [&](int64_t b) { return p * b / blocks; };
  // Column block b of a [*, p] matrix, and block (i, j) of the Gram matrix.
  auto cols = [&](const at::Tensor& t, int64_t b) { return t.narrow(1, bound(b), bound(b + 1) - bound(b)); };
  auto tile = [&](int64_t i, int64_t j) { return cols(gram, j).narrow(0, bound(i), bound(i + 1) - bound(i)); };
  for (int64_t start = 0; start < n; start += kRows) {
    const int64_t len = std::min(kRows, n - start);
    at::Tensor x = contexts(train, start, len).to(at::kDouble);
    at::Tensor y = train.vectors.index_select(0, train.targetIndex.narrow(0, start, len)).to(at::kDouble);
    sx.add_(x.sum(0));
    sy.add_(y.sum(0));
    for (int64_t i = 0; i < blocks; ++i) {
      for (int64_t j = i; j < blocks; ++j) tile(i, j).addmm_(cols(x, i).t(), cols(x, j));
    }
    cross.addmm_(x.t(), y);
  }
  for (int64_t i = 0; i < blocks; ++i) {
    for (int64_t j = i + 1; j < blocks; ++j) tile(j, i).copy_(tile(i, j).t());
  }
  System s;
  s.xMean = sx.div(n);
  s.yMean = sy.div(n);
  const double squares = gram.diagonal().sum().item<double>();  // sum of ||x||^2: the uncentred trace
  const double trace = squares - static_cast<double>(n) * s.xMean.square().sum().item<double>();
  s.scale = trace / static_cast<double>(p);
  gram.sub_(at::outer(s.xMean, s.xMean).mul_(n));
  cross.sub_(at::outer(s.xMean, s.yMean).mul_(n));
  s.matrix = std::move(gram);
  s.rhs = std::move(cross);
  return s;
}

// N x N: the kernel Xc Xc^T and Yc, for N <= p (small data: a few hundred windows of 3,840 numbers).
System dual(const Rows& train) {
  at::Tensor x = contexts(train, 0, train.size()).to(at::kDouble);
  at::Tensor y = targets(train).to(at::kDouble);
  System s;
  s.xMean = x.mean({0});
  s.yMean = y.mean({0});
  s.xc = x.sub(s.xMean);
  s.matrix = s.xc.matmul(s.xc.t());
  s.rhs = y.sub(s.yMean);
  s.scale = s.xc.square().sum().item<double>() / static_cast<double>(x.size(1));
  return s;
}

// Ridge in float64: W = (Xc^T Xc + lambda I)^-1 Xc^T Yc, the same W as Xc^T (Xc Xc^T + lambda I)^-1 Yc. The
// first form solves p x p systems (p = T * D), the second N x N: each is used where it is the smaller. One
// Cholesky factorisation per strength: at p = 3,840 one eigendecomposition (which would serve every strength) took
// 36 s here where a factorisation took 0.87 s (PyTorch 2.13, 2 threads). The strength with the best val cosine
// wins (the first, on a tie).
Ridge fitRidge(const Rows& train, const Rows& val, const std::vector<double>& grid) {
  const int64_t p = train.contextIndex.size(1) * train.vectors.size(1);
  const bool isDual = train.size() <= p;
  System system = isDual ? dual(train) : primal(train);
  const at::Tensor yVal = targets(val);
  Ridge best;
  double bestCosine = 0;
  for (double rel : grid) {
    at::Tensor a = system.matrix.clone();
    a.diagonal().add_(rel * system.scale);
    at::Tensor solution = at::cholesky_solve(system.rhs, at::linalg_cholesky(a));
    a.reset();
    Ridge candidate{isDual ? system.xc.t().matmul(solution) : solution, system.xMean, system.yMean, rel};
    double cosine = meanCosine(applyRidge(val, candidate), yVal);
    if (!best.w.defined() || cosine > bestCosine) {
      best = std::move(candidate);
      bestCosine = cosine;
    }
  }
  return best;
}

// Ranks each row's target among all N targets (rank: how many score strictly higher than its own, ties counting in
// the row's favour; a NaN prediction ranks last) from p [N, D] @ t^T (both normalised) in chunks of rows; the true
// score is read from the same product, so rounding cannot rank a target above itself. Also the contrastive
// accuracy: per row, the share of distractors (other documents' targets where docs [N] is defined, else every other
// row's) strictly less similar than its own target.
struct Ranks {
  at::Tensor ranks;      // [N] int64
  double caSum = 0;      // the sum of the rows' contrastive accuracies
  int64_t caRows = 0;    // rows that have any distractor
};

Ranks ranksOf(const at::Tensor& p, const at::Tensor& t, const at::Tensor& docs) {
  const int64_t n = p.size(0);
  const at::Tensor tt = t.t();
  at::Tensor sims = at::empty({std::min(kScoreRows, n), n}, p.options());  // one buffer for every chunk
  Ranks out;
  out.ranks = at::empty({n}, p.options().dtype(at::kLong));
  for (int64_t start = 0; start < n; start += kScoreRows) {
    const int64_t len = std::min(kScoreRows, n - start);
    at::Tensor chunk = sims.narrow(0, 0, len);
    at::mm_out(chunk, p.narrow(0, start, len), tt);
    at::Tensor own = chunk.gather(1, at::arange(start, start + len, p.options().dtype(at::kLong)).unsqueeze(1));
    at::Tensor nan = own.isnan().squeeze(1);
    out.ranks.narrow(0, start, len).copy_(at::where(nan, n - 1, chunk.gt(own).sum(1)));
    at::Tensor below = chunk.lt(own);  // never the row's own target
    at::Tensor distractors;
    if (docs.defined()) {
      at::Tensor others = docs.narrow(0, start, len).unsqueeze(1).ne(docs.unsqueeze(0));
      below.logical_and_(others);
      distractors = others.sum(1);
    } else {
      distractors = at::full({len}, n - 1, below.options().dtype(at::kLong));
    }
    at::Tensor has = distractors.gt(0);
    out.caSum += below.sum(1).to(at::kDouble).div(distractors.clamp_min(1)).masked_select(has).sum().item<double>();
    out.caRows += has.sum().item<int64_t>();
  }
  return out;
}

// Retrieval in the row's own document: each document's distinct sentences (the vectors its rows use as context or
// target, equal vectors once: a windowed file keeps a copy per row) are the candidates; a row's own context
// sentences are left out, its target kept. p: the normalised predictions [N, D] of r's rows; docs: r.docIds as
// int64 on p's device.
void inDocument(const at::Tensor& p, const Rows& r, const at::Tensor& docs, Score& s) {
  const auto [valuesIn, orderIn] = docs.sort(/*stable=*/true, 0, false);
  const at::Tensor values = valuesIn.to(at::kCPU);
  const at::Tensor order = orderIn.to(r.contextIndex.device());
  const auto v = values.accessor<int64_t, 1>();
  const int64_t n = docs.size(0), t = r.contextIndex.size(1);
  const double inf = std::numeric_limits<double>::infinity();
  double reciprocal = 0, candidates = 0;
  int64_t top1 = 0;
  for (int64_t a = 0, b = 0; a < n; a = b) {
    for (b = a + 1; b < n && v[b] == v[a]; ++b) {}
    const int64_t m = b - a;
    const at::Tensor rows = order.narrow(0, a, m);
    const at::Tensor used = at::cat({r.contextIndex.index_select(0, rows).reshape({-1}), r.targetIndex.index_select(0, rows)});
    const auto [rowsUsed, usedAt, usedCounts] = at::_unique2(used, true, true, false);
    const auto [sentences, rowAt, sentenceCounts] = at::unique_dim(r.vectors.index_select(0, rowsUsed), 0, true, true, false);
    const at::Tensor id = rowAt.index_select(0, usedAt);  // the sentence of each entry of `used`
    const at::Tensor context = id.narrow(0, 0, m * t).view({m, t});
    const at::Tensor target = id.narrow(0, m * t, m).unsqueeze(1);
    at::Tensor sims = p.index_select(0, rows).matmul(normalize(sentences.to(p.scalar_type()), 1).t());  // [m, k]
    const at::Tensor own = sims.gather(1, target);
    sims.scatter_(1, context, -inf);
    sims.scatter_(1, target, own);
    const at::Tensor counted = sims.ne(-inf).sum(1);
    const at::Tensor ranks = at::where(own.isnan().squeeze(1), counted - 1, sims.gt(own).sum(1));
    reciprocal += ranks.to(at::kDouble).add(1).reciprocal().sum().item<double>();
    top1 += ranks.eq(0).sum().item<int64_t>();
    candidates += counted.sum().item<double>();
  }
  s.inDoc = true;
  s.inDocMrr = reciprocal / static_cast<double>(n);
  s.inDocTop1 = top1;
  s.inDocCandidates = candidates / static_cast<double>(n);
}

}  // namespace

Score score(const at::Tensor& predIn, const at::Tensor& targetIn, const at::Tensor& centreIn, const Rows* rows) {
  if (predIn.dim() != 2 || targetIn.dim() != 2 || predIn.sizes() != targetIn.sizes())
    throw std::invalid_argument("pred and target must both be [N, D], got " + shapeOf(predIn) + " and " + shapeOf(targetIn));
  const int64_t n = predIn.size(0);
  if (n == 0) throw std::invalid_argument("no rows to score");
  if (centreIn.defined() && (centreIn.dim() != 1 || centreIn.size(0) != predIn.size(1)))
    throw std::invalid_argument("the centre must be [" + std::to_string(predIn.size(1)) + "] (pred's D), got " + shapeOf(centreIn));
  const at::Tensor target = targetIn.detach();
  const at::Tensor p = normalize(predIn.detach(), 1);
  const at::Tensor t = normalize(target, 1);
  Score s;
  s.count = n;
  s.cosine = p.mul(t).sum(1).mean().item<double>();
  s.mse = p.sub(target).square().mean().item<double>();
  if (centreIn.defined()) {
    // The normalised prediction (what cosine and mse judge) and the raw target, both moved by the same centre.
    const at::Tensor c = centreIn.detach().to(target.device());
    s.centredCosine = normalize(p.sub(c), 1).mul(normalize(target.sub(c), 1)).sum(1).mean().item<double>();
    s.centred = true;
  }
  if (rows) {
    checkRows(*rows, "rows", nullptr);
    if (rows->size() != n) throw std::invalid_argument("rows has " + std::to_string(rows->size()) + " rows, pred " + std::to_string(n));
  }
  const at::Tensor docs = rows && rows->docIds.defined() ? rows->docIds.to(p.device()).to(at::kLong) : at::Tensor();
  const auto [ranks, caSum, caRows] = ranksOf(p, t, docs);
  s.contrastiveAccuracy = caRows > 0 ? caSum / static_cast<double>(caRows) : std::numeric_limits<double>::quiet_NaN();
  if (docs.defined()) inDocument(p, *rows, docs, s);
  s.top1 = ranks.eq(0).sum().item<int64_t>();
  s.top5 = ranks.lt(5).sum().item<int64_t>();
  s.mrr = ranks.to(at::kDouble).add(1).reciprocal().mean().item<double>();
  s.medianRank = ranks.median().item<int64_t>() + 1;
  return s;
}

Baselines baselines(const Rows& train, const Rows& val, const std::vector<Rows>& splits, const std::vector<double>& grid,
                    const at::Tensor& centre) {
  checkRows(train, "train", nullptr);
  checkRows(val, "val", &train);
  for (const Rows& r : splits) checkRows(r, "a split", &train);
  if (grid.empty()) throw std::invalid_argument("the ridge grid is empty");
  if (!centre.defined()) throw std::invalid_argument("no centre given: the train targets' mean, [D]");
  if (centre.dim() != 1 || centre.size(0) != train.vectors.size(1))
    throw std::invalid_argument("the centre must be [" + std::to_string(train.vectors.size(1)) + "] (the vectors' D), got " +
                                shapeOf(centre));
  const int64_t last = train.contextIndex.size(1) - 1;
  // The normalised mean of the train targets, predicted for every row.
  const at::Tensor mean = normalize(targets(train).mean({0}), 0);
  const Ridge ridge = fitRidge(train, val, grid);
  Baselines out;
  out.lambda = ridge.lambda;
  // (x - xMean) W + yMean = x W + (yMean - xMean W), as torch.nn.Linear keeps it: weight = W^T.
  out.ridge = {ridge.w.t().to(at::kFloat).contiguous(), ridge.yMean.sub(ridge.xMean.matmul(ridge.w)).to(at::kFloat)};
  for (const Rows& r : splits) {
    const at::Tensor y = targets(r);
    std::vector<Score> scores;
    scores.push_back(score(mean.unsqueeze(0).expand({r.size(), mean.size(0)}), y, centre, &r));
    scores.push_back(score(r.vectors.index_select(0, r.contextIndex.select(1, last)), y, centre, &r));  // copy-last
    scores.push_back(score(contextMean(r), y, centre, &r));
    scores.push_back(score(applyRidge(r, ridge), y, centre, &r));
    if (r.oracle.defined()) scores.push_back(score(r.oracle, y, centre, &r));
    out.scores.push_back(std::move(scores));
  }
  return out;
}

}  // namespace lvm::train
