#include "predictor.h"

#include <stdexcept>

#include "../../torch/normalize.h"
#include "../../torch/shape.h"

namespace lvm::models {

void Predictor::registerHead(int64_t d, int64_t outputDim) {
  head_ = register_module("head", torch::nn::Sequential(torch::nn::Linear(d, d), torch::nn::GELU(),
                                                        torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})),
                                                        torch::nn::Linear(d, outputDim)));
  const int64_t t = config_.ridgeContext;
  if (t > 0) {
    // Zeros until the trainer loads the fitted ridge; buffers, so no optimiser or weight decay moves them.
    auto ridge = register_module("ridge", std::make_shared<torch::nn::Module>());
    ridgeWeight_ = ridge->register_buffer("weight", torch::zeros({outputDim, t * config_.inputDim}));
    ridgeBias_ = ridge->register_buffer("bias", torch::zeros({outputDim}));
  }
}

Output Predictor::predictFromLast(const at::Tensor& hidden) {
  at::Tensor raw = head_->forward(hidden.select(1, -1));
  return {raw, normalize(raw, -1)};
}

Output Predictor::predict(const at::Tensor& x) {
  if (x.dim() != 3 || x.size(2) != config_.inputDim || x.size(1) < 1) {
    throw std::invalid_argument("x must be [batch, context, " + std::to_string(config_.inputDim) + "], got " + shapeOf(x));
  }
  if (ridgeWeight_.defined() && x.size(1) != config_.ridgeContext) {
    throw std::invalid_argument("x must be [batch, " + std::to_string(config_.ridgeContext) + ", " +
                                std::to_string(config_.inputDim) + "] (the ridge reads " +
                                std::to_string(config_.ridgeContext) + " context vectors), got " + shapeOf(x));
  }
  const at::Tensor p = parameters(/*recurse=*/true).front();
  if (x.scalar_type() != p.scalar_type()) {
    throw std::invalid_argument(std::string("x is ") + c10::toString(x.scalar_type()) + " but the model is " +
                                c10::toString(p.scalar_type()) + ": convert one of them with to()");
  }
  if (x.device() != p.device()) {
    throw std::invalid_argument("x is on " + x.device().str() + " but the model is on " + p.device().str() +
                                ": move one of them with to()");
  }
  Output out = forward(x);
  if (!ridgeWeight_.defined()) return out;
  at::Tensor raw = at::addmm(out.raw, x.reshape({x.size(0), -1}), ridgeWeight_.t()).add_(ridgeBias_);
  return {raw, normalize(raw, -1)};
}

namespace {

void checkSizes(const Config& c) {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw std::invalid_argument(std::string(name) + " must be a positive integer, got " + std::to_string(v));
  };
  positive(c.inputDim, "inputDim");
  positive(c.outputDim, "outputDim");
  positive(c.dModel, "dModel");
  positive(c.numLayers, "numLayers");
  if (!(c.dropout >= 0 && c.dropout < 1)) throw std::invalid_argument("dropout must be in [0, 1)");
  if (c.ridgeContext < 0) throw std::invalid_argument("ridgeContext must be >= 0, got " + std::to_string(c.ridgeContext));
  if (c.ridgeContext > 0 && c.kind == "latent_mamba") {
    throw std::invalid_argument("latent_mamba has no ridge residual (its head is the seed server's)");
  }
}

}  // namespace

std::shared_ptr<Predictor> makePredictor(const Config& c) {
  checkSizes(c);
  if (c.kind == "gru") return makeGru(c);
  if (c.kind == "lstm") return makeLstm(c);
  if (c.kind == "mamba2") return makeMamba2(c);
  if (c.kind == "transformer") return makeTransformer(c);
  if (c.kind == "latent_mamba") return makeLatentMamba(c);
  throw std::invalid_argument("unknown model kind \"" + c.kind + "\" (gru, lstm, mamba2, transformer, latent_mamba)");
}

}  // namespace lvm::models
