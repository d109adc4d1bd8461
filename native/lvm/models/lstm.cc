// The seed's LSTMVectorPredictor: a stacked LSTM straight on the input vectors (dropout between its layers),
// then the head on the last step.
#include "predictor.h"
#include "../../torch/rnn/rnn_layers.h"

namespace lvm::models {

namespace {

class LstmPredictor : public Predictor {
 public:
  explicit LstmPredictor(const Config& c) : Predictor(c) {
    lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(c.inputDim, c.dModel)
                                                        .num_layers(c.numLayers)
                                                        .dropout(c.numLayers > 1 ? c.dropout : 0.0)
                                                        .batch_first(true)));
    registerHead(c.dModel, c.outputDim);
  }

 protected:
  Output forward(const at::Tensor& x) override { return predictFromLast(lstmLayers(lstm_, x)); }

 private:
  torch::nn::LSTM lstm_{nullptr};
};

}  // namespace

std::shared_ptr<Predictor> makeLstm(const Config& c) { return std::make_shared<LstmPredictor>(c); }

}  // namespace lvm::models
