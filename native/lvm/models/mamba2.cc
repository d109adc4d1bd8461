// The seed's Mamba2VectorPredictor with real Mamba2 blocks: input_proj, then blocks of pre-norm residual
// `x + Mamba2(LayerNorm(x))` (keys blocks.{i}.mamba.* and blocks.{i}.norm.*), then the head on the last step.
//
// Mamba2 is mamba_ssm's `Mamba2` module (mamba_ssm/modules/mamba2.py) with its parameters, names and
// initialisation, computing what its forward() computes: in_proj -> split (z, xBC, dt) -> causal depthwise conv
// + SiLU on xBC -> split (x, B, C) -> SSD scan with dt = softplus(dt + dt_bias), A = -exp(A_log), plus D * x ->
// gated RMSNorm with z -> out_proj. The scan is ssd.h's chunked SSD in ATen ops, so no Triton or CUDA kernel is
// needed: the same code runs on CPU and CUDA. Inference-time caches (step()) are not needed here: a prediction
// reads whole contexts.
#include <cmath>
#include <stdexcept>
#include <string>

#include "predictor.h"
#include "ssd.h"

namespace lvm::models {

namespace {

using namespace torch::nn;

// mamba_ssm's dt initialisation: dt log-uniform in [dtMin, dtMax], floored, stored as softplus^-1(dt) so that
// softplus(dt_bias) starts at dt.
at::Tensor initialDtBias(int64_t heads) {
  const double dtMin = 0.001, dtMax = 0.1, floor = 1e-4;
  at::Tensor dt = at::exp(at::rand({heads}) * (std::log(dtMax) - std::log(dtMin)) + std::log(dtMin)).clamp_min(floor);
  return dt + at::log(-at::expm1(-dt));
}

// mamba_ssm's RMSNormGated with norm_before_gate=False: rmsnorm(y * silu(z)) * weight, the mean square taken
// per group of d / groups channels (eps 1e-5, no bias).
struct GatedRmsNormImpl : Module {
  GatedRmsNormImpl(int64_t d, int64_t groups) : groups(groups) { weight = register_parameter("weight", at::ones({d})); }

  at::Tensor forward(const at::Tensor& y, const at::Tensor& z) {
    at::Tensor gated = y * at::silu(z);
    std::vector<int64_t> grouped = gated.sizes().vec();
    grouped.back() = groups;
    grouped.push_back(-1);
    at::Tensor g = gated.reshape(grouped);
    return (g * at::rsqrt(g.square().mean(-1, /*keepdim=*/true) + 1e-5)).reshape(gated.sizes()) * weight;
  }

  int64_t groups;
  at::Tensor weight;
};
TORCH_MODULE(GatedRmsNorm);

struct Mamba2Impl : Module {
  explicit Mamba2Impl(const Config& c)
      : dInner(c.expand * c.dModel), heads(dInner / c.headdim), headdim(c.headdim), dState(c.dState),
        groups(c.ngroups), chunkSize(c.chunkSize), convDim(dInner + 2 * c.ngroups * c.dState) {
    // Registered in the Python class's order; state_dict() lists dt_bias, A_log, D (own parameters) first.
    in_proj = register_module("in_proj", Linear(LinearOptions(c.dModel, dInner + convDim + heads).bias(false)));
    // Depthwise, as Python's (whose padding is dConv - 1); forward() applies it with causalConv().
    conv1d = register_module("conv1d", Conv1d(Conv1dOptions(convDim, convDim, c.dConv).groups(convDim)));
    dt_bias = register_parameter("dt_bias", initialDtBias(heads));
    A_log = register_parameter("A_log", at::empty({heads}).uniform_(1, 16).log());  // A = -exp(A_log) in [-16, -1]
    D = register_parameter("D", at::ones({heads}));
    norm = register_module("norm", GatedRmsNorm(dInner, groups));
    out_proj = register_module("out_proj", Linear(LinearOptions(dInner, c.dModel).bias(false)));
  }

  // u [batch, T, dModel] -> [batch, T, dModel]
  at::Tensor forward(const at::Tensor& u) {
    const int64_t batch = u.size(0), T = u.size(1);
    auto zxbcdt = in_proj(u).split_with_sizes({dInner, convDim, heads}, -1);
    at::Tensor xBC = at::silu(causalConv(zxbcdt[1]));
    auto xbc = xBC.split_with_sizes({dInner, groups * dState, groups * dState}, -1);
    at::Tensor x = xbc[0].reshape({batch, T, heads, headdim});
    at::Tensor dt = at::softplus(zxbcdt[2] + dt_bias);  // [batch, T, heads]
    at::Tensor y = scan(x, dt, perHead(xbc[1]), perHead(xbc[2])) + x * D.unsqueeze(-1);
    return out_proj(norm(y.reshape({batch, T, dInner}), zxbcdt[0]));
  }

  // Python's conv1d(x padded dConv - 1 each side)[..., :T]: out_t = bias + sum_i w_i x_{t - (dConv - 1) + i}, x
  // zero before the start. Written as dConv shifted multiply-adds on [batch, T, channels]: no transposes, and
  // libtorch's depthwise convolution backward on the CPU is the slow one (about 10-25% of a training step here).
  at::Tensor causalConv(const at::Tensor& xBC) const {
    const int64_t T = xBC.size(1), width = conv1d->weight.size(2);
    at::Tensor padded = at::constant_pad_nd(xBC, {0, 0, width - 1, 0}, 0);
    at::Tensor w = conv1d->weight.squeeze(1);  // [channels, width]
    at::Tensor out = conv1d->bias;
    for (int64_t i = 0; i < width; ++i) out = out + padded.narrow(1, i, T) * w.select(1, i);
    return out;
  }

  // [batch, T, groups * dState] -> [batch, T, heads, dState]: consecutive heads share a group, as in mamba_ssm.
  at::Tensor perHead(const at::Tensor& t) const {
    const int64_t batch = t.size(0), T = t.size(1);
    return t.reshape({batch, T, groups, 1, dState}).expand({batch, T, groups, heads / groups, dState})
        .reshape({batch, T, heads, dState});
  }

  // The SSD scan on x * dt with decay A * dt. Half-precision models scan in float32, as mamba_ssm does: the
  // cumulative sums of A * dt lose too much in 16 bits.
  at::Tensor scan(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& B, const at::Tensor& C) {
    const auto work = at::promote_types(x.scalar_type(), at::kFloat);
    at::Tensor dtw = dt.to(work), A = -A_log.to(work).exp();
    at::Tensor y = ssdChunkedScan(x.to(work) * dtw.unsqueeze(-1), A * dtw, B.to(work), C.to(work), chunkSize);
    return y.to(x.scalar_type());
  }

  int64_t dInner, heads, headdim, dState, groups, chunkSize, convDim;
  Linear in_proj{nullptr}, out_proj{nullptr};
  Conv1d conv1d{nullptr};
  GatedRmsNorm norm{nullptr};
  at::Tensor dt_bias, A_log, D;
};
TORCH_MODULE(Mamba2);

// As the seed's block: `mamba` registered before `norm`.
struct Mamba2BlockImpl : Module {
  explicit Mamba2BlockImpl(const Config& c)
      : mamba(register_module("mamba", Mamba2(c))),
        norm(register_module("norm", LayerNorm(LayerNormOptions({c.dModel})))) {}

  at::Tensor forward(const at::Tensor& x) { return x + mamba->forward(norm->forward(x)); }

  Mamba2 mamba;
  LayerNorm norm;
};
TORCH_MODULE(Mamba2Block);

void checkMamba2Sizes(const Config& c) {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw std::invalid_argument(std::string(name) + " must be a positive integer, got " + std::to_string(v));
  };
  positive(c.dState, "dState");
  positive(c.dConv, "dConv");
  positive(c.expand, "expand");
  positive(c.headdim, "headdim");
  positive(c.ngroups, "ngroups");
  positive(c.chunkSize, "chunkSize");
  const int64_t dInner = c.expand * c.dModel;
  if (dInner % c.headdim != 0) {
    throw std::invalid_argument("dModel * expand = " + std::to_string(dInner) + " is not divisible by headdim " +
                                std::to_string(c.headdim) + " (Mamba2 splits its inner width into heads of headdim)");
  }
  if ((dInner / c.headdim) % c.ngroups != 0) {
    throw std::invalid_argument("the " + std::to_string(dInner / c.headdim) + " heads (dModel * expand / headdim) "
                                "are not divisible by ngroups " + std::to_string(c.ngroups));
  }
}

class Mamba2Predictor : public Predictor {
 public:
  explicit Mamba2Predictor(const Config& c) : Predictor(c) {
    checkMamba2Sizes(c);
    inputProj_ = register_module("input_proj", Linear(c.inputDim, c.dModel));
    blocks_ = register_module("blocks", ModuleList());
    for (int64_t i = 0; i < c.numLayers; ++i) blocks_->push_back(Mamba2Block(c));
    registerHead(c.dModel, c.outputDim);
  }

 protected:
  Output forward(const at::Tensor& x) override {
    at::Tensor h = inputProj_->forward(x);
    for (const auto& block : *blocks_) h = block->as<Mamba2BlockImpl>()->forward(h);
    return predictFromLast(h);
  }

 private:
  Linear inputProj_{nullptr};
  ModuleList blocks_{nullptr};
};

}  // namespace

std::shared_ptr<Predictor> makeMamba2(const Config& c) { return std::make_shared<Mamba2Predictor>(c); }

}  // namespace lvm::models
