// A GRU layer for CPU training as one autograd node. libtorch's CPU GRU (aten/src/ATen/native/RNN.cpp) is a
// chain of small ops per time step; autograd then runs each op's backward: per step, a weight-gradient GEMM whose
// inner dimension is only the batch (32 here, far from BLAS's best), its accumulation into the [3H, H] gradient, a
// bias sum, chunk and cat copies. Written out by hand, the backward keeps the per-step work to what the recurrence
// needs (one [B, 3H] x [3H, H] GEMM and one pass over the gates) and computes every weight and bias gradient once,
// over all steps, in GEMMs with B * T rows.
//
// The equations are torch.nn.GRU's, gates in its order (r, z, n), evaluated in RNN.cpp's order so that the
// forward gives the same bits:
//   gi = x W_ih^T + b_ih (all steps at once)      gh = h W_hh^T + b_hh
//   r = sigmoid(gi_r + gh_r)    z = sigmoid(gi_z + gh_z)    n = tanh(gi_n + r * gh_n)    h' = (h - n) * z + n
// and the backward, with dh the gradient reaching h' (from the output and from the next step):
//   dn~ = dh (1 - z) (1 - n^2)    dr~ = dn~ gh_n r (1 - r)    dz~ = dh (h - n) z (1 - z)
//   dgi = [dr~, dz~, dn~]    dgh = [dr~, dz~, dn~ r]    dh_prev = dh z + dgh W_hh
#include "rnn_layers.h"

#include "../autocast.h"
#include "rnn_grads.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdlib>
#include <string>

namespace lvm::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One backward step over the gates of step t, row by row: fills dgi and dgh ([B, 3H] views) and dhz = dh * z.
void gateBackward(const at::Tensor& dh, const at::Tensor& gates, const at::Tensor& ghn, const at::Tensor& hprev,
                  const at::Tensor& dgi, const at::Tensor& dgh, const at::Tensor& dhz) {
  const int64_t B = dh.size(0), H = dh.size(1);
  const float* dhp = dh.data_ptr<float>();
  const float* g = gates.data_ptr<float>();
  const float* gn = ghn.data_ptr<float>();
  const float* hp = hprev.defined() ? hprev.data_ptr<float>() : nullptr;
  float* di = dgi.data_ptr<float>();
  float* dg = dgh.data_ptr<float>();
  float* dz_out = dhz.data_ptr<float>();
  const int64_t gs = gates.stride(0), ns = ghn.stride(0), hs = hp ? hprev.stride(0) : 0;
  const int64_t is = dgi.stride(0), os = dgh.stride(0);
  at::parallel_for(0, B, 8, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* r = g + b * gs;
      const float* z = r + H;
      const float* n = r + 2 * H;
      const float* ghnb = gn + b * ns;
      const float* d = dhp + b * H;
      float* dib = di + b * is;
      float* dgb = dg + b * os;
      float* dzb = dz_out + b * H;
      for (int64_t j = 0; j < H; ++j) {
        const float h = hp ? hp[b * hs + j] : 0.0f;
        const float dnt = d[j] * (1.0f - z[j]) * (1.0f - n[j] * n[j]);
        const float drt = dnt * ghnb[j] * r[j] * (1.0f - r[j]);
        const float dzt = d[j] * (h - n[j]) * z[j] * (1.0f - z[j]);
        dib[j] = drt;
        dib[H + j] = dzt;
        dib[2 * H + j] = dnt;
        dgb[j] = drt;
        dgb[H + j] = dzt;
        dgb[2 * H + j] = dnt * r[j];
        dzb[j] = d[j] * z[j];
      }
    }
  });
}

class FusedGruFunction : public torch::autograd::Function<FusedGruFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& wIh, const at::Tensor& wHh,
                            const at::Tensor& bIh, const at::Tensor& bHh) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = wHh.size(1);
    const at::Tensor xc = x.contiguous();
    const at::Tensor gi = at::addmm(bIh, xc.view({B * T, D}), wIh.t()).view({B, T, 3 * H});
    at::Tensor out = at::empty({B, T, H}, x.options());
    at::Tensor gates = at::empty({B, T, 3 * H}, x.options());  // r | z | n of each step
    at::Tensor ghn = at::empty({B, T, H}, x.options());        // W_hn h + b_hn of each step
    at::Tensor h = at::zeros({B, H}, x.options());
    for (int64_t t = 0; t < T; ++t) {
      // From the zero state the GEMM adds nothing: gh is the bias.
      const at::Tensor gh = t == 0 ? bHh.expand({B, 3 * H}) : at::addmm(bHh, h, wHh.t());
      const at::Tensor git = gi.select(1, t), g = gates.select(1, t);
      at::Tensor r = g.narrow(1, 0, H), z = g.narrow(1, H, H), n = g.narrow(1, 2 * H, H);
      at::add_out(r, gh.narrow(1, 0, H), git.narrow(1, 0, H)).sigmoid_();
      at::add_out(z, gh.narrow(1, H, H), git.narrow(1, H, H)).sigmoid_();
      at::Tensor hn = ghn.select(1, t);
      hn.copy_(gh.narrow(1, 2 * H, H));
      at::add_out(n, git.narrow(1, 2 * H, H), hn * r).tanh_();
      at::Tensor next = out.select(1, t);
      at::sub_out(next, h, n).mul_(z).add_(n);
      h = next;
    }
    ctx->save_for_backward({xc, wIh, wHh, out, gates, ghn});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor& dout = grads[0];
    if (!dout.defined()) return variable_list(5);
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &wIh = saved[1], &wHh = saved[2], &out = saved[3], &gates = saved[4],
                     &ghn = saved[5];
    const int64_t B = x.size(0), T = x.size(1), H = wHh.size(1);
    at::Tensor dgi = at::empty({B, T, 3 * H}, x.options());
    at::Tensor dgh = at::empty({B, T, 3 * H}, x.options());
    at::Tensor dh = at::zeros({B, H}, x.options());
    at::Tensor dhz = at::empty({B, H}, x.options());
    for (int64_t t = T - 1; t >= 0; --t) {
      dh.add_(dout.select(1, t));
      const at::Tensor hprev = t > 0 ? out.select(1, t - 1) : at::Tensor();
      gateBackward(dh, gates.select(1, t), ghn.select(1, t), hprev, dgi.select(1, t), dgh.select(1, t), dhz);
      if (t > 0) dh = at::addmm(dhz, dgh.select(1, t), wHh);
    }
    return rnnInputGrads(ctx, dgi, dgh, x, out, wIh, wHh);
  }
};

}  // namespace

bool fusedRnnApplies(const at::Tensor& x) {
  // LVMTORCH_FUSED_RNN=0 runs libtorch's own GRU and LSTM instead (to compare, or to rule these layers out).
  static const bool off = std::getenv("LVMTORCH_FUSED_RNN") && std::string(std::getenv("LVMTORCH_FUSED_RNN")) == "0";
  // Without a graph to build (eval, predict, serving) libtorch's forward is as fast or faster: it saves nothing.
  return !off && at::GradMode::is_enabled() && x.dim() == 3 && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
         !autocastEnabled(at::kCPU);
}

at::Tensor fusedGru(const at::Tensor& x, const at::Tensor& wIh, const at::Tensor& wHh, const at::Tensor& bIh,
                    const at::Tensor& bHh) {
  return FusedGruFunction::apply(x, wIh, wHh, bIh, bHh);
}

at::Tensor gruLayer(torch::nn::GRU& gru, const at::Tensor& x) {
  const auto& o = gru->options;
  if (!(fusedRnnApplies(x) && o.num_layers() == 1 && o.bias() && o.batch_first() && !o.bidirectional())) {
    return std::get<0>(gru->forward(x));
  }
  const auto& p = gru->named_parameters(false);
  return fusedGru(x, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]);
}

}  // namespace lvm::models
