// An LSTM layer for CPU training as one autograd node, for the reasons gru_layer.cc gives. libtorch 2.x trains
// nn.LSTM on the CPU through oneDNN (mkldnn_rnn_layer), which for the seed's sizes (T = 5, B = 32, H = 512) is
// slower than even the per-op path; this layer does one [B, 4H] x [4H, H] GEMM and one pass over the gates per
// step, and the weight gradients once over all steps.
//
// torch.nn.LSTM's equations, gates in its order (i, f, g, o), evaluated in RNN.cpp's order:
//   gates = (h W_hh^T + b_hh) + (x W_ih^T + b_ih)
//   i = sigmoid   f = sigmoid   g = tanh   o = sigmoid      c' = f * c + i * g      h' = o * tanh(c')
// and the backward, with dh and dc the gradients reaching h' and c':
//   dc~ = dc + dh o (1 - tanh(c')^2)
//   di~ = dc~ g i (1 - i)   df~ = dc~ c f (1 - f)   dg~ = dc~ i (1 - g^2)   do~ = dh tanh(c') o (1 - o)
//   dgates = [di~, df~, dg~, do~]     dh_prev = dgates W_hh     dc_prev = dc~ f
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "rnn_grads.h"
#include "rnn_layers.h"

namespace lvm::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One backward step of the gates of step t, row by row: fills dgates ([B, 4H] view) and turns dc (into c') into
// the gradient into c.
void gateBackward(const at::Tensor& dh, at::Tensor& dc, const at::Tensor& gates, const at::Tensor& tanhC,
                  const at::Tensor& cprev, const at::Tensor& dgates) {
  const int64_t B = dh.size(0), H = dh.size(1);
  const float* dhp = dh.data_ptr<float>();
  float* dcp = dc.data_ptr<float>();
  const float* g = gates.data_ptr<float>();
  const float* tc = tanhC.data_ptr<float>();
  const float* cp = cprev.defined() ? cprev.data_ptr<float>() : nullptr;
  float* dg = dgates.data_ptr<float>();
  const int64_t gs = gates.stride(0), ts = tanhC.stride(0), cs = cp ? cprev.stride(0) : 0, ds = dgates.stride(0);
  at::parallel_for(0, B, 8, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* i = g + b * gs;
      const float* f = i + H;
      const float* gg = i + 2 * H;
      const float* o = i + 3 * H;
      const float* t = tc + b * ts;
      const float* d = dhp + b * H;
      float* c = dcp + b * H;
      float* out = dg + b * ds;
      for (int64_t j = 0; j < H; ++j) {
        const float prev = cp ? cp[b * cs + j] : 0.0f;
        const float dct = c[j] + d[j] * o[j] * (1.0f - t[j] * t[j]);
        out[j] = dct * gg[j] * i[j] * (1.0f - i[j]);
        out[H + j] = dct * prev * f[j] * (1.0f - f[j]);
        out[2 * H + j] = dct * i[j] * (1.0f - gg[j] * gg[j]);
        out[3 * H + j] = d[j] * t[j] * o[j] * (1.0f - o[j]);
        c[j] = dct * f[j];
      }
    }
  });
}

class FusedLstmFunction : public torch::autograd::Function<FusedLstmFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& wIh, const at::Tensor& wHh,
                            const at::Tensor& bIh, const at::Tensor& bHh) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = wHh.size(1);
    const at::Tensor xc = x.contiguous();
    const at::Tensor gi = at::addmm(bIh, xc.view({B * T, D}), wIh.t()).view({B, T, 4 * H});
    at::Tensor out = at::empty({B, T, H}, x.options());
    at::Tensor gates = at::empty({B, T, 4 * H}, x.options());  // i | f | g | o of each step
    at::Tensor cells = at::empty({B, T, H}, x.options());      // c' of each step
    at::Tensor tanhC = at::empty({B, T, H}, x.options());
    at::Tensor h, c = at::zeros({B, H}, x.options());
    for (int64_t t = 0; t < T; ++t) {
      // From the zero state the GEMM adds nothing: the hidden part is the bias.
      const at::Tensor gh = t == 0 ? bHh.expand({B, 4 * H}) : at::addmm(bHh, h, wHh.t());
      at::Tensor g = gates.select(1, t);
      at::add_out(g, gh, gi.select(1, t));
      g.narrow(1, 0, 2 * H).sigmoid_();
      g.narrow(1, 2 * H, H).tanh_();
      g.narrow(1, 3 * H, H).sigmoid_();
      at::Tensor ct = cells.select(1, t), tct = tanhC.select(1, t), ht = out.select(1, t);
      at::mul_out(ct, g.narrow(1, H, H), c).add_(g.narrow(1, 0, H) * g.narrow(1, 2 * H, H));
      at::tanh_out(tct, ct);
      at::mul_out(ht, g.narrow(1, 3 * H, H), tct);
      h = ht;
      c = ct;
    }
    ctx->save_for_backward({xc, wIh, wHh, out, gates, cells, tanhC});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor& dout = grads[0];
    if (!dout.defined()) return variable_list(5);
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &wIh = saved[1], &wHh = saved[2], &out = saved[3], &gates = saved[4],
                     &cells = saved[5], &tanhC = saved[6];
    const int64_t B = x.size(0), T = x.size(1), H = wHh.size(1);
    at::Tensor dgates = at::empty({B, T, 4 * H}, x.options());
    at::Tensor dh = at::zeros({B, H}, x.options());
    at::Tensor dc = at::zeros({B, H}, x.options());
    for (int64_t t = T - 1; t >= 0; --t) {
      dh.add_(dout.select(1, t));
      const at::Tensor cprev = t > 0 ? cells.select(1, t - 1) : at::Tensor();
      gateBackward(dh, dc, gates.select(1, t), tanhC.select(1, t), cprev, dgates.select(1, t));
      if (t > 0) dh = dgates.select(1, t).mm(wHh);
    }
    return rnnInputGrads(ctx, dgates, dgates, x, out, wIh, wHh);
  }
};

}  // namespace

at::Tensor fusedLstm(const at::Tensor& x, const at::Tensor& wIh, const at::Tensor& wHh, const at::Tensor& bIh,
                     const at::Tensor& bHh) {
  return FusedLstmFunction::apply(x, wIh, wHh, bIh, bHh);
}

at::Tensor lstmLayers(torch::nn::LSTM& lstm, const at::Tensor& x) {
  const auto& o = lstm->options;
  if (!(fusedRnnApplies(x) && o.bias() && o.batch_first() && !o.bidirectional() && o.proj_size() == 0)) {
    return std::get<0>(lstm->forward(x));
  }
  const auto& p = lstm->named_parameters(false);
  at::Tensor h = x;
  for (int64_t k = 0; k < o.num_layers(); ++k) {
    const std::string l = std::to_string(k);
    h = fusedLstm(h, p["weight_ih_l" + l], p["weight_hh_l" + l], p["bias_ih_l" + l], p["bias_hh_l" + l]);
    // As nn.LSTM: dropout on every layer's output but the last, in training mode (the masks are drawn in
    // batch-first order, so they differ from PyTorch's time-major ones for the same seed).
    if (k + 1 < o.num_layers() && o.dropout() > 0 && lstm->is_training()) h = at::dropout(h, o.dropout(), true);
  }
  return h;
}

}  // namespace lvm::models
