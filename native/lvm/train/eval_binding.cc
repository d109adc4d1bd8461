// Scoring and the baselines from JS (lib/lvm/train/metrics.ts, lib/lvm/train/baselines.ts), each one job off the JS
// thread (native/core/promise_worker.h), so the event loop stays free while they compute:
//   scoreAsync(pred, target, centre?, rows?) -> Promise<score>
//   baselinesAsync(train, val, splits, grid, centre)
//     -> Promise<[lambda, per split [mean, copy-last, context-mean, ridge, oracle?], ridge weight [D, T * D], ridge bias [D]]>
//     where rows, train, val and each split are {vectors, contextIndex, targetIndex, oracle?, docIds?}, centre is
//     [D] (the train targets' mean) and each score is {cosine, mse, top1, top5, count (rows), centredCosine (null
//     without a centre), mrr, medianRank, contrastiveAccuracy (null with no distractor), inDocMrr, inDocTop1,
//     inDocCandidates (null without docIds)}.
// The jobs hold their own references to the tensors: disposing them from JS meanwhile frees nothing they use.
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/promise_worker.h"
#include "../../core/protect.h"
#include "eval.h"

namespace lvm {

namespace {

Napi::Value orNull(Napi::Env env, bool present, double value) {
  return present && !std::isnan(value) ? Napi::Number::New(env, value) : env.Null();
}

Napi::Object fromScore(Napi::Env env, const train::Score& s) {
  auto out = Napi::Object::New(env);
  out.Set("cosine", s.cosine);
  out.Set("mse", s.mse);
  out.Set("top1", static_cast<double>(s.top1));
  out.Set("top5", static_cast<double>(s.top5));
  out.Set("count", static_cast<double>(s.count));
  out.Set("centredCosine", orNull(env, s.centred, s.centredCosine));
  out.Set("mrr", s.mrr);
  out.Set("medianRank", static_cast<double>(s.medianRank));
  out.Set("contrastiveAccuracy", orNull(env, true, s.contrastiveAccuracy));
  out.Set("inDocMrr", orNull(env, s.inDoc, s.inDocMrr));
  out.Set("inDocTop1", orNull(env, s.inDoc, static_cast<double>(s.inDocTop1)));
  out.Set("inDocCandidates", orNull(env, s.inDoc, s.inDocCandidates));
  return out;
}

class ScoreWorker : public PromiseWorker {
 public:
  // centre: undefined for none; rows: no vectors for none.
  ScoreWorker(Napi::Env env, at::Tensor pred, at::Tensor target, at::Tensor centre, train::Rows rows)
      : PromiseWorker(env),
        pred_(std::move(pred)),
        target_(std::move(target)),
        centre_(std::move(centre)),
        rows_(std::move(rows)) {}

 protected:
  void compute() override {
    // Not needed after: let a dispose() that came meanwhile free them.
    at::Tensor pred = std::move(pred_), target = std::move(target_), centre = std::move(centre_);
    train::Rows rows = std::move(rows_);
    at::NoGradGuard noGrad;  // grad mode is per thread
    result_ = train::score(pred, target, centre, rows.vectors.defined() ? &rows : nullptr);
  }

  Napi::Value resolve(Napi::Env env) override { return fromScore(env, result_); }

 private:
  at::Tensor pred_, target_, centre_;
  train::Rows rows_;
  train::Score result_;
};

class BaselinesWorker : public PromiseWorker {
 public:
  BaselinesWorker(Napi::Env env, train::Rows train, train::Rows val, std::vector<train::Rows> splits, std::vector<double> grid,
                  at::Tensor centre)
      : PromiseWorker(env),
        train_(std::move(train)),
        val_(std::move(val)),
        splits_(std::move(splits)),
        grid_(std::move(grid)),
        centre_(std::move(centre)) {}

 protected:
  void compute() override {
    train::Rows train = std::move(train_), val = std::move(val_);
    std::vector<train::Rows> splits = std::move(splits_);
    at::Tensor centre = std::move(centre_);
    at::NoGradGuard noGrad;
    result_ = train::baselines(train, val, splits, grid_, centre);
  }

  Napi::Value resolve(Napi::Env env) override {
    auto splits = Napi::Array::New(env, result_.scores.size());
    for (uint32_t i = 0; i < result_.scores.size(); ++i) {
      auto scores = Napi::Array::New(env, result_.scores[i].size());
      for (uint32_t j = 0; j < result_.scores[i].size(); ++j) scores.Set(j, fromScore(env, result_.scores[i][j]));
      splits.Set(i, scores);
    }
    auto out = Napi::Array::New(env, 4);
    out.Set(0u, result_.lambda);
    out.Set(1u, splits);
    out.Set(2u, wrap(env, std::move(result_.ridge.weight)));
    out.Set(3u, wrap(env, std::move(result_.ridge.bias)));
    return out;
  }

 private:
  train::Rows train_, val_;
  std::vector<train::Rows> splits_;
  std::vector<double> grid_;
  at::Tensor centre_;
  train::Baselines result_;
};

// {vectors, contextIndex, targetIndex, oracle?, docIds?}
train::Rows readRows(Napi::Value v, const char* what) {
  if (!v.IsObject() || v.IsArray()) throw TypeError(std::string(what) + " must be {vectors, contextIndex, targetIndex, oracle?, docIds?}");
  auto o = v.As<Napi::Object>();
  auto optional = [&](const char* key) { return o.Has(key) && !o.Get(key).IsUndefined() && !o.Get(key).IsNull(); };
  train::Rows r;
  r.vectors = unwrap(o.Get("vectors"), "vectors");
  r.contextIndex = unwrap(o.Get("contextIndex"), "contextIndex");
  r.targetIndex = unwrap(o.Get("targetIndex"), "targetIndex");
  if (optional("oracle")) r.oracle = unwrap(o.Get("oracle"), "oracle");
  if (optional("docIds")) r.docIds = unwrap(o.Get("docIds"), "docIds");
  return r;
}

Napi::Value scoreAsync(const Napi::CallbackInfo& info) {
  at::Tensor centre = info[2].IsUndefined() || info[2].IsNull() ? at::Tensor() : unwrap(info[2], "centre");
  train::Rows rows = info[3].IsUndefined() || info[3].IsNull() ? train::Rows() : readRows(info[3], "rows");
  return (new ScoreWorker(info.Env(), unwrap(info[0], "pred"), unwrap(info[1], "target"), std::move(centre), std::move(rows)))->queue();
}

std::vector<double> readGrid(Napi::Value v) {
  if (!v.IsArray()) throw TypeError("grid must be an array of numbers");
  auto g = v.As<Napi::Array>();
  std::vector<double> grid;
  for (uint32_t i = 0; i < g.Length(); ++i) grid.push_back(toDouble(g.Get(i), "grid"));
  return grid;
}

Napi::Value baselinesAsync(const Napi::CallbackInfo& info) {
  train::Rows train = readRows(info[0], "train");
  train::Rows val = readRows(info[1], "val");
  if (!info[2].IsArray()) throw TypeError("splits must be an array");
  auto list = info[2].As<Napi::Array>();
  std::vector<train::Rows> splits;
  for (uint32_t i = 0; i < list.Length(); ++i) splits.push_back(readRows(list.Get(i), "a split"));
  std::vector<double> grid = readGrid(info[3]);
  at::Tensor centre = unwrap(info[4], "centre");
  return (new BaselinesWorker(info.Env(), std::move(train), std::move(val), std::move(splits), std::move(grid),
                              std::move(centre)))->queue();
}

}  // namespace

void initEval(Napi::Env env, Napi::Object exports) {
  exportFunction<scoreAsync>(env, exports, "scoreAsync");
  exportFunction<baselinesAsync>(env, exports, "baselinesAsync");
}

}  // namespace lvm
