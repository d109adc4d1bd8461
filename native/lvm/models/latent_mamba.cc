// The seed inference server's own model, LatentMamba (app/api/lvm_server.py; despite its name, an LSTM):
// input_proj Linear(inputDim, dModel) -> dropout -> LSTM(dModel, dModel, numLayers, dropout between layers,
// batch_first) -> output_head Linear(dModel, inputDim) on the last step. Its input is 784-D (a 768-D vector and a
// 16-D TMD code) and so is its head; the server keeps the head's first 768 values and L2-normalises them.
// Here `raw` is the whole head output [B, inputDim] and `normalised` the L2-normalised first outputDim columns.
// Keys as PyTorch's state_dict(): input_proj.*, lstm.weight_ih_l0 ... bias_hh_l{n-1}, output_head.*; the
// dropout module has none. The Python forward's optional mask (lengths) is not needed: the server batches
// sequences of one length.
#include <stdexcept>
#include <string>

#include "../../torch/normalize.h"
#include "predictor.h"
#include "../../torch/rnn/rnn_layers.h"

namespace lvm::models {

namespace {

class LatentMambaPredictor : public Predictor {
 public:
  explicit LatentMambaPredictor(const Config& c) : Predictor(c) {
    if (c.outputDim > c.inputDim) {
      throw std::invalid_argument("latent_mamba: outputDim " + std::to_string(c.outputDim) +
                                  " must be at most inputDim " + std::to_string(c.inputDim) +
                                  " (the prediction is the first outputDim values of the head's inputDim outputs)");
    }
    inputProj_ = register_module("input_proj", torch::nn::Linear(c.inputDim, c.dModel));
    lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(c.dModel, c.dModel)
                                                        .num_layers(c.numLayers)
                                                        .dropout(c.numLayers > 1 ? c.dropout : 0.0)
                                                        .batch_first(true)));
    outputHead_ = register_module("output_head", torch::nn::Linear(c.dModel, c.inputDim));
    dropout_ = register_module("dropout", torch::nn::Dropout(c.dropout));
  }

 protected:
  Output forward(const at::Tensor& x) override {
    at::Tensor h = dropout_->forward(inputProj_->forward(x));
    at::Tensor out = lstmLayers(lstm_, h);
    at::Tensor raw = outputHead_->forward(out.select(1, -1));
    return {raw, normalize(raw.narrow(1, 0, config().outputDim), -1)};
  }

 private:
  torch::nn::Linear inputProj_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear outputHead_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};

}  // namespace

std::shared_ptr<Predictor> makeLatentMamba(const Config& c) { return std::make_shared<LatentMambaPredictor>(c); }

}  // namespace lvm::models
