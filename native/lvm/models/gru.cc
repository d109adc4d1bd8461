// The seed's Mamba2VectorPredictor in its GRU fallback: input_proj, then blocks of pre-norm residual GRUs
// (`x + GRU(LayerNorm(x))`, keys blocks.{i}.mamba.* and blocks.{i}.norm.*), then the head.
#include "predictor.h"
#include "../../torch/rnn/rnn_layers.h"

namespace lvm::models {

namespace {

struct GruBlockImpl : torch::nn::Module {
  explicit GruBlockImpl(int64_t d)
      : mamba(register_module("mamba", torch::nn::GRU(torch::nn::GRUOptions(d, d).batch_first(true)))),
        norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})))) {}

  at::Tensor forward(const at::Tensor& x) { return x + gruLayer(mamba, norm->forward(x)); }

  torch::nn::GRU mamba;
  torch::nn::LayerNorm norm;
};
TORCH_MODULE(GruBlock);

class GruPredictor : public Predictor {
 public:
  explicit GruPredictor(const Config& c) : Predictor(c) {
    inputProj_ = register_module("input_proj", torch::nn::Linear(c.inputDim, c.dModel));
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < c.numLayers; ++i) blocks_->push_back(GruBlock(c.dModel));
    registerHead(c.dModel, c.outputDim);
  }

 protected:
  Output forward(const at::Tensor& x) override {
    at::Tensor h = inputProj_->forward(x);
    for (const auto& block : *blocks_) h = block->as<GruBlockImpl>()->forward(h);
    return predictFromLast(h);
  }

 private:
  torch::nn::Linear inputProj_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
};

}  // namespace

std::shared_ptr<Predictor> makeGru(const Config& c) { return std::make_shared<GruPredictor>(c); }

}  // namespace lvm::models
