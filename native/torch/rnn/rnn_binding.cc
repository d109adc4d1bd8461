// nn.GRU and nn.LSTM's forward (lib/torch/nn/rnn.ts): ATen's at::gru / at::lstm, PyTorch's own kernels for every
// option, except where the fused GRU layer applies (training a float32 CPU GRU from a zero state, unidirectional,
// with biases: gru_layer.cc says why it is faster), which gives the same values and gradients.
#include <string>
#include <vector>

#include "../../core/args.h"
#include "../../core/handle.h"
#include "../../core/protect.h"
#include "rnn_layers.h"

namespace lvm {

namespace {

using at::Tensor;

Napi::Array tensors(Napi::Env env, const std::vector<Tensor>& ts) {
  Napi::Array out = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); ++i) out.Set(i, wrap(env, ts[i]));
  return out;
}

// The fused path: each layer's output from a zero state; h_n is each layer's last step (before the dropout that
// feeds the next layer, as in PyTorch).
std::vector<Tensor> fusedGruLayers(const Tensor& x, const std::vector<Tensor>& p, int64_t layers, double dropout,
                                   bool train, bool batchFirst) {
  Tensor h = batchFirst ? x : x.transpose(0, 1);
  std::vector<Tensor> last;
  for (int64_t l = 0; l < layers; ++l) {
    h = models::fusedGru(h, p[4 * l], p[4 * l + 1], p[4 * l + 2], p[4 * l + 3]);
    last.push_back(h.select(1, h.size(1) - 1));
    if (l + 1 < layers && dropout > 0 && train) h = at::dropout(h, dropout, true);
  }
  return {batchFirst ? h : h.transpose(0, 1), at::stack(last, 0)};
}

// nnRnn(mode, input, hx, params, hasBiases, numLayers, dropout, train, bidirectional, batchFirst): mode 'GRU' gives
// [output, h_n], 'LSTM' [output, h_n, c_n]; input is batched ([B, T, D] or [T, B, D]); hx is [] (zeros) or
// [h_0] / [h_0, c_0]; params are nn.GRU's / nn.LSTM's flat weights in their order.
Napi::Value nnRnn(const Napi::CallbackInfo& info) {
  const std::string mode = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (mode != "GRU" && mode != "LSTM") throw RangeError("mode must be 'GRU' or 'LSTM', got '" + mode + "'");
  const Tensor& x = unwrap(info[1], "input");
  const std::vector<Tensor> hx = unwrapList(info[2], "hx");
  const std::vector<Tensor> params = unwrapList(info[3], "params");
  const bool hasBiases = toBool(info[4], "bias");
  const int64_t layers = toInt(info[5], "numLayers");
  const double dropout = toDouble(info[6], "dropout");
  const bool train = toBool(info[7], "training");
  const bool bidirectional = toBool(info[8], "bidirectional");
  const bool batchFirst = toBool(info[9], "batchFirst");
  if (x.dim() != 3) throw RangeError("input must be 3-D (batched), got " + std::to_string(x.dim()) + "-D");
  const int64_t dirs = bidirectional ? 2 : 1;
  if (static_cast<int64_t>(params.size()) != layers * dirs * (hasBiases ? 4 : 2)) {
    throw RangeError("params must hold " + std::to_string(layers * dirs * (hasBiases ? 4 : 2)) + " tensors");
  }
  const int64_t batch = x.size(batchFirst ? 0 : 1);
  const int64_t hidden = params[1].size(1);
  const Tensor zeros = at::zeros({layers * dirs, batch, hidden}, x.options());
  if (mode == "GRU") {
    if (hx.empty() && !bidirectional && hasBiases && models::fusedRnnApplies(batchFirst ? x : x.transpose(0, 1))) {
      return tensors(info.Env(), fusedGruLayers(x, params, layers, dropout, train, batchFirst));
    }
    auto [out, hn] = at::gru(x, hx.empty() ? zeros : hx[0], params, hasBiases, layers, dropout, train, bidirectional, batchFirst);
    return tensors(info.Env(), {out, hn});
  }
  if (!hx.empty() && hx.size() != 2) throw RangeError("an LSTM's hx is [h_0, c_0]");
  const std::vector<Tensor> state = hx.empty() ? std::vector<Tensor>{zeros, zeros} : hx;
  auto [out, hn, cn] = at::lstm(x, state, params, hasBiases, layers, dropout, train, bidirectional, batchFirst);
  return tensors(info.Env(), {out, hn, cn});
}

// nnRnnCell(mode, input [B, D], hx [] | [h] | [h, c], wIh, wHh, bIh?, bHh?): nn.GRUCell's h' or nn.LSTMCell's
// [h', c'], as at::gru_cell / at::lstm_cell.
Napi::Value nnRnnCell(const Napi::CallbackInfo& info) {
  const std::string mode = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (mode != "GRU" && mode != "LSTM") throw RangeError("mode must be 'GRU' or 'LSTM', got '" + mode + "'");
  const Tensor& x = unwrap(info[1], "input");
  const std::vector<Tensor> hx = unwrapList(info[2], "hx");
  const Tensor& wIh = unwrap(info[3], "weight_ih");
  const Tensor& wHh = unwrap(info[4], "weight_hh");
  c10::optional<Tensor> bIh, bHh;
  if (!isMissing(info[5])) bIh = unwrap(info[5], "bias_ih");
  if (!isMissing(info[6])) bHh = unwrap(info[6], "bias_hh");
  if (x.dim() != 2) throw RangeError("input must be 2-D [batch, inputSize], got " + std::to_string(x.dim()) + "-D");
  const Tensor zeros = at::zeros({x.size(0), wHh.size(1)}, x.options());
  if (mode == "GRU") return tensors(info.Env(), {at::gru_cell(x, hx.empty() ? zeros : hx[0], wIh, wHh, bIh, bHh)});
  if (!hx.empty() && hx.size() != 2) throw RangeError("an LSTMCell's hx is [h_0, c_0]");
  auto [h, c] = at::lstm_cell(x, hx.empty() ? std::vector<Tensor>{zeros, zeros} : hx, wIh, wHh, bIh, bHh);
  return tensors(info.Env(), {h, c});
}

}  // namespace

void initRnn(Napi::Env env, Napi::Object exports) {
  exportFunction<nnRnn>(env, exports, "nnRnn");
  exportFunction<nnRnnCell>(env, exports, "nnRnnCell");
}

}  // namespace lvm
