// The seed's TransformerVectorPredictor: input_proj, a sinusoidal positional encoding kept as the buffer
// pos_encoder.pe [1, maxLen, d], then a stack of post-norm ReLU TransformerDecoderLayers called with
// tgt = memory = x and the same causal mask for both, then the head on the last step.
//
// The layers are PyTorch's TransformerDecoderLayer written out batch-first (libtorch's own layers are
// sequence-first), with their submodules registered in the Python class's order, so keys and state-dict order
// match. Only the last step reaches the head, so the last layer computes its queries, feed-forward and norms for
// that step alone (keys and values still come from every step): the same numbers for ~15% fewer FLOPs.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "attention.h"
#include "predictor.h"

namespace lvm::models {

namespace {

using namespace torch::nn;

struct PositionalEncodingImpl : Module {
  PositionalEncodingImpl(int64_t d, int64_t maxLen) {
    at::Tensor position = at::arange(maxLen, at::kFloat).unsqueeze(1);
    at::Tensor divTerm = at::exp(at::arange(0, d, 2, at::kFloat) * (-std::log(10000.0) / d));
    at::Tensor table = at::zeros({maxLen, d});
    table.slice(1, 0, d, 2).copy_(at::sin(position * divTerm));
    table.slice(1, 1, d, 2).copy_(at::cos(position * divTerm));
    pe = register_buffer("pe", table.unsqueeze(0));
  }
  at::Tensor forward(const at::Tensor& x) {
    if (x.size(1) > pe.size(1)) {
      throw std::invalid_argument("a context of " + std::to_string(x.size(1)) + " steps is longer than the "
                                  "positional encoding (maxLen " + std::to_string(pe.size(1)) + ")");
    }
    return x + pe.slice(1, 0, x.size(1));
  }
  at::Tensor pe;
};
TORCH_MODULE(PositionalEncoding);

struct DecoderLayerImpl : Module {
  DecoderLayerImpl(int64_t d, int64_t heads, int64_t ffDim, double p) : heads(heads), p(p) {
    self_attn = register_module("self_attn", MultiheadAttention(MultiheadAttentionOptions(d, heads).dropout(p)));
    multihead_attn = register_module("multihead_attn", MultiheadAttention(MultiheadAttentionOptions(d, heads).dropout(p)));
    linear1 = register_module("linear1", Linear(d, ffDim));
    dropout = register_module("dropout", Dropout(p));
    linear2 = register_module("linear2", Linear(ffDim, d));
    norm1 = register_module("norm1", LayerNorm(LayerNormOptions({d})));
    norm2 = register_module("norm2", LayerNorm(LayerNormOptions({d})));
    norm3 = register_module("norm3", LayerNorm(LayerNormOptions({d})));
    dropout1 = register_module("dropout1", Dropout(p));
    dropout2 = register_module("dropout2", Dropout(p));
    dropout3 = register_module("dropout3", Dropout(p));
  }

  // x [B, T, d], memory [B, S, d], mask [T, S] -> [B, T, d]; with lastOnly, [B, 1, d]: step T-1 alone.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& memory, const at::Tensor& mask, bool lastOnly) {
    const int64_t T = x.size(1);
    at::Tensor q = lastOnly ? x.narrow(1, T - 1, 1) : x;
    at::Tensor m = lastOnly ? mask.narrow(0, T - 1, 1) : mask;
    bool train = is_training();
    at::Tensor h = norm1(q + dropout1(attention(*self_attn, q, x, m, heads, p, train)));
    h = norm2(h + dropout2(attention(*multihead_attn, h, memory, m, heads, p, train)));
    return norm3(h + dropout3(linear2(dropout(at::relu(linear1(h))))));
  }

  int64_t heads;
  double p;
  MultiheadAttention self_attn{nullptr}, multihead_attn{nullptr};
  Linear linear1{nullptr}, linear2{nullptr};
  LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  Dropout dropout{nullptr}, dropout1{nullptr}, dropout2{nullptr}, dropout3{nullptr};
};
TORCH_MODULE(DecoderLayer);

// nn.TransformerDecoder: `layers`, no final norm.
struct DecoderImpl : Module {
  explicit DecoderImpl(const Config& c) {
    layers = register_module("layers", ModuleList());
    for (int64_t i = 0; i < c.numLayers; ++i) layers->push_back(DecoderLayer(c.dModel, c.heads, c.ffDim, c.dropout));
  }
  ModuleList layers{nullptr};
};
TORCH_MODULE(Decoder);

// nn.Transformer.generate_square_subsequent_mask: -inf above the diagonal.
at::Tensor causalMask(int64_t n, const at::TensorOptions& options) {
  return at::full({n, n}, -std::numeric_limits<double>::infinity(), options).triu(1);
}

class TransformerPredictor : public Predictor {
 public:
  explicit TransformerPredictor(const Config& c) : Predictor(c) {
    if (c.heads <= 0 || c.dModel % c.heads != 0) {
      throw std::invalid_argument("dModel " + std::to_string(c.dModel) + " is not divisible by heads " +
                                  std::to_string(c.heads));
    }
    if (c.dModel % 2 != 0) throw std::invalid_argument("dModel must be even (sinusoidal positional encoding)");
    if (c.ffDim <= 0) throw std::invalid_argument("ffDim must be a positive integer");
    if (c.maxLen <= 0) throw std::invalid_argument("maxLen must be a positive integer");
    inputProj_ = register_module("input_proj", Linear(c.inputDim, c.dModel));
    posEncoder_ = register_module("pos_encoder", PositionalEncoding(c.dModel, c.maxLen));
    decoder_ = register_module("transformer_decoder", Decoder(c));
    registerHead(c.dModel, c.outputDim);
  }

 protected:
  Output forward(const at::Tensor& x) override {
    at::Tensor h = posEncoder_->forward(inputProj_->forward(x));
    at::Tensor mask = causalMask(h.size(1), h.options());
    const at::Tensor memory = h;
    const auto& layers = *decoder_->layers;
    for (size_t i = 0; i < layers.size(); ++i) {
      h = layers[i]->as<DecoderLayerImpl>()->forward(h, memory, mask, /*lastOnly=*/i + 1 == layers.size());
    }
    return predictFromLast(h);
  }

 private:
  Linear inputProj_{nullptr};
  PositionalEncoding posEncoder_{nullptr};
  Decoder decoder_{nullptr};
};

}  // namespace

std::shared_ptr<Predictor> makeTransformer(const Config& c) { return std::make_shared<TransformerPredictor>(c); }

}  // namespace lvm::models
