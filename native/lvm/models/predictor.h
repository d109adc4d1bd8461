// The seed's latent vector models (../shared/DESIGN.md, "Seed models"): each reads [B, T, inputDim] context
// vectors and predicts the next vector from the last time step, through the shared head Sequential(Linear(d, d),
// GELU, LayerNorm(d), Linear(d, outputDim)). torch::nn modules give the parameters PyTorch's names, so state
// dicts move both ways. Plain C++, no N-API: a native train step can run a model off the JS thread. The seed
// server's LatentMamba (latent_mamba.cc) is the exception to the head: it ends in its own output_head.
//
// A new architecture (say mamba2) is one file: a Predictor subclass that registers its modules in the Python
// class's order, then calls registerHead(); its sizes in Config (required in readConfig, model_binding.cc); one
// line in makePredictor(); and on the JS side its entry in lib/lvm/models/config.ts (defaults, output head, no-decay
// parameters).
#pragma once
#include <torch/nn.h>

#include <limits>
#include <memory>
#include <string>

namespace lvm::models {

// Every size a model may take; each kind reads its own. No defaults here: the seed's sizes are written once, in
// lib/lvm/models/config.ts (KINDS[kind].defaults), which passes every field a kind reads, and readConfig
// (model_binding.cc) refuses a config that lacks one. The initialisers below only mark "not given" (0, NaN), which
// checkSizes and each kind's checks refuse.
struct Config {
  std::string kind;  // "gru" | "lstm" | "mamba2" | "transformer" | "latent_mamba"
  int64_t inputDim = 0, outputDim = 0, dModel = 0, numLayers = 0;
  double dropout = std::numeric_limits<double>::quiet_NaN();
  // transformer only: attention heads, feed-forward width, positional-encoding length.
  int64_t heads = 0, ffDim = 0, maxLen = 0;
  // mamba2 only: mamba_ssm's Mamba2 arguments (d_state, d_conv, expand, headdim, ngroups, chunk_size).
  int64_t dState = 0, dConv = 0, expand = 0, headdim = 0, ngroups = 0, chunkSize = 0;
  // > 0: the model learns the residual over a fixed linear predictor of its flattened context of this many steps
  // (ridge regression, fitted by the trainer): the buffers ridge.weight [outputDim, ridgeContext * inputDim] and
  // ridge.bias [outputDim], registered after the head, whose output they are added to (not latent_mamba).
  int64_t ridgeContext = 0;
};

struct Output {
  at::Tensor raw;         // the head's output, [B, outputDim] (latent_mamba: [B, inputDim], see latent_mamba.cc)
  at::Tensor normalised;  // raw / max(||raw||, 1e-12), as F.normalize (latent_mamba: of raw's first outputDim columns)
};

class Predictor : public torch::nn::Module {
 public:
  explicit Predictor(Config config) : config_(std::move(config)) {}

  // Checks x ([B, T, inputDim], the parameters' dtype and device), then runs forward() (plus the ridge, if any).
  Output predict(const at::Tensor& x);
  const Config& config() const { return config_; }

 protected:
  virtual Output forward(const at::Tensor& x) = 0;
  // Registers `head` last, as the Python classes do, so state dicts list it last (then the ridge buffers, if any).
  void registerHead(int64_t d, int64_t outputDim);
  Output predictFromLast(const at::Tensor& hidden);  // hidden [B, T, d]: the head reads step T-1

 private:
  Config config_;
  torch::nn::Sequential head_{nullptr};
  at::Tensor ridgeWeight_, ridgeBias_;  // undefined unless config_.ridgeContext > 0
};

// Throws std::invalid_argument naming a bad kind or size.
std::shared_ptr<Predictor> makePredictor(const Config& config);

std::shared_ptr<Predictor> makeGru(const Config& c);
std::shared_ptr<Predictor> makeLstm(const Config& c);
std::shared_ptr<Predictor> makeMamba2(const Config& c);
std::shared_ptr<Predictor> makeTransformer(const Config& c);
std::shared_ptr<Predictor> makeLatentMamba(const Config& c);

}  // namespace lvm::models
