// torch.nn.functional and torch.nn.init's kernels (lib/torch/nn/functional.ts, lib/torch/nn/init.ts): each calls the
// ATen op that PyTorch's Python function calls, so values, gradients and random streams are PyTorch's.
#include <cmath>
#include <optional>
#include <string>

#include <ATen/core/Reduction.h>

#include "../core/args.h"
#include "../core/handle.h"
#include "../core/protect.h"

namespace lvm {

namespace {

using at::Tensor;

c10::optional<Tensor> optionalTensor(const Napi::Value& v, const char* what) {
  if (isMissing(v) || v.IsNull()) return c10::nullopt;
  return unwrap(v, what);
}

int64_t toReduction(const Napi::Value& v) {
  const std::string r = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (r == "none") return at::Reduction::None;
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  throw RangeError("reduction must be 'none', 'mean' or 'sum', got '" + r + "'");
}

// nnLinear(x, weight, bias?) -> x W^T + b, as F.linear.
Napi::Value nnLinear(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::linear(unwrap(info[0], "input"), unwrap(info[1], "weight"), optionalTensor(info[2], "bias")));
}

// nnLayerNorm(x, normalizedShape, weight?, bias?, eps), as F.layer_norm.
Napi::Value nnLayerNorm(const Napi::CallbackInfo& info) {
  const Tensor& x = unwrap(info[0], "input");
  const std::vector<int64_t> shape = toIntList(info[1], "normalizedShape");
  const double eps = toDouble(info[4], "eps");
  if (!(eps >= 0)) throw RangeError("eps must be >= 0, got " + std::to_string(eps));
  return wrap(info.Env(), at::layer_norm(x, shape, optionalTensor(info[2], "weight"), optionalTensor(info[3], "bias"), eps));
}

// nnDropout(x, p, training), as F.dropout (the same Bernoulli draws from the global generator).
Napi::Value nnDropout(const Napi::CallbackInfo& info) {
  const double p = toDouble(info[1], "p");
  if (!(p >= 0 && p <= 1)) throw RangeError("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
  return wrap(info.Env(), at::dropout(unwrap(info[0], "input"), p, toBool(info[2], "training")));
}

// nnGelu(x, approximate), as F.gelu(x, approximate='none' | 'tanh').
Napi::Value nnGelu(const Napi::CallbackInfo& info) {
  const std::string a = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (a != "none" && a != "tanh") throw RangeError("approximate must be 'none' or 'tanh', got '" + a + "'");
  return wrap(info.Env(), at::gelu(unwrap(info[0], "input"), a));
}

// nnEmbedding(weight, indices, paddingIdx), as F.embedding (paddingIdx -1: none); indices must be int64 or int32.
Napi::Value nnEmbedding(const Napi::CallbackInfo& info) {
  const Tensor& w = unwrap(info[0], "weight");
  const Tensor& idx = unwrap(info[1], "input");
  if (idx.scalar_type() != at::kLong && idx.scalar_type() != at::kInt) {
    throw TypeError(std::string("embedding indices must be int64 or int32, got ") + c10::toString(idx.scalar_type()));
  }
  if (w.dim() != 2) throw RangeError("embedding weight must be 2-D [numEmbeddings, embeddingDim]");
  if (idx.numel() > 0) {
    const int64_t lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
    if (lo < 0 || hi >= w.size(0)) {
      throw RangeError("embedding index out of range [0, " + std::to_string(w.size(0) - 1) + "]: got " +
                       std::to_string(lo < 0 ? lo : hi));
    }
  }
  return wrap(info.Env(), at::embedding(w, idx, toInt(info[2], "paddingIdx")));
}

// nnMseLoss(input, target, reduction), as F.mse_loss.
Napi::Value nnMseLoss(const Napi::CallbackInfo& info) {
  const Tensor& a = unwrap(info[0], "input");
  const Tensor& b = unwrap(info[1], "target");
  if (!a.sizes().equals(b.sizes())) throw RangeError("mseLoss: input and target must have the same shape");
  return wrap(info.Env(), at::mse_loss(a, b, toReduction(info[2])));
}

// nnCrossEntropy(input, target, weight?, ignoreIndex, reduction, labelSmoothing), as F.cross_entropy.
Napi::Value nnCrossEntropy(const Napi::CallbackInfo& info) {
  const double smoothing = toDouble(info[5], "labelSmoothing");
  if (!(smoothing >= 0 && smoothing <= 1)) throw RangeError("labelSmoothing must be in [0, 1]");
  return wrap(info.Env(), at::cross_entropy_loss(unwrap(info[0], "input"), unwrap(info[1], "target"),
                                                 optionalTensor(info[2], "weight"), toReduction(info[4]),
                                                 toInt(info[3], "ignoreIndex"), smoothing));
}

// nnPad(x, pad, value), as F.pad(x, pad, mode='constant', value).
Napi::Value nnPad(const Napi::CallbackInfo& info) {
  const std::vector<int64_t> pad = toIntList(info[1], "pad");
  const Tensor& x = unwrap(info[0], "input");
  if (pad.size() % 2 != 0 || static_cast<int64_t>(pad.size()) > 2 * x.dim()) {
    throw RangeError("pad must have an even length of at most twice the input's dimensions, got " + std::to_string(pad.size()));
  }
  return wrap(info.Env(), at::constant_pad_nd(x, pad, toDouble(info[2], "value")));
}

// nnConv1d(x, weight, bias?, stride, padding (a number, 'same' or 'valid'), dilation, groups), as F.conv1d.
Napi::Value nnConv1d(const Napi::CallbackInfo& info) {
  const Tensor& x = unwrap(info[0], "input");
  const Tensor& w = unwrap(info[1], "weight");
  const c10::optional<Tensor> b = optionalTensor(info[2], "bias");
  const int64_t stride = toInt(info[3], "stride"), dilation = toInt(info[5], "dilation"), groups = toInt(info[6], "groups");
  if (stride < 1 || dilation < 1 || groups < 1) throw RangeError("stride, dilation and groups must be positive");
  if (x.dim() != 2 && x.dim() != 3) throw RangeError("conv1d: expected a 2-D or 3-D input, got " + std::to_string(x.dim()) + "-D");
  if (w.dim() != 3 || x.size(-2) != w.size(1) * groups) {
    throw RangeError("conv1d: the input has " + std::to_string(x.size(-2)) + " channels, the weight expects " +
                     std::to_string(w.dim() == 3 ? w.size(1) * groups : -1));
  }
  if (info[4].IsString()) {
    const std::string padding = info[4].As<Napi::String>().Utf8Value();
    if (padding != "same" && padding != "valid") throw RangeError("padding must be a number, 'same' or 'valid', got '" + padding + "'");
    return wrap(info.Env(), at::conv1d(x, w, b, {stride}, padding, {dilation}, groups));
  }
  const int64_t padding = toInt(info[4], "padding");
  if (padding < 0) throw RangeError("padding must be >= 0");
  return wrap(info.Env(), at::conv1d(x, w, b, {stride}, {padding}, {dilation}, groups));
}

// nnUniform_(t, a, b) and nnNormal_(t, mean, std): in place without a graph, as nn.init.uniform_ / normal_.
Napi::Value nnUniform(const Napi::CallbackInfo& info) {
  at::NoGradGuard noGrad;
  Tensor t = unwrap(info[0], "tensor");
  const double a = toDouble(info[1], "a"), b = toDouble(info[2], "b");
  if (!(a <= b)) throw RangeError("uniform_ expects a <= b, got a=" + std::to_string(a) + " b=" + std::to_string(b));
  t.uniform_(a, b);
  return info.Env().Undefined();
}

Napi::Value nnNormal(const Napi::CallbackInfo& info) {
  at::NoGradGuard noGrad;
  Tensor t = unwrap(info[0], "tensor");
  const double std = toDouble(info[2], "std");
  if (!(std >= 0)) throw RangeError("normal_ expects std >= 0.0, got " + std::to_string(std));
  t.normal_(toDouble(info[1], "mean"), std);
  return info.Env().Undefined();
}

// nnOrthogonal_(t, gain): nn.init.orthogonal_'s algorithm (QR of a normal matrix, signs from R's diagonal).
Napi::Value nnOrthogonal(const Napi::CallbackInfo& info) {
  at::NoGradGuard noGrad;
  Tensor t = unwrap(info[0], "tensor");
  const double gain = toDouble(info[1], "gain");
  if (t.dim() < 2) throw RangeError("only tensors with 2 or more dimensions are supported");
  if (t.numel() == 0) return info.Env().Undefined();
  const int64_t rows = t.size(0), cols = t.numel() / rows;
  Tensor flat = at::empty({rows, cols}, t.options()).normal_(0, 1);
  if (rows < cols) flat.t_();
  auto [q, r] = at::linalg_qr(flat);
  q.mul_(at::diag(r, 0).sign());
  if (rows < cols) q.t_();
  t.view_as(q).copy_(q);
  t.mul_(gain);
  return info.Env().Undefined();
}

// nnTo_(t, device?, dtype?): Module.to() for one parameter or buffer, in place (set_data, as nn.Module._apply):
// the tensor keeps its id, so optimisers and references made before stay valid; its gradient moves with it. Only
// floating tensors take a dtype, as in PyTorch.
Napi::Value nnTo(const Napi::CallbackInfo& info) {
  at::NoGradGuard noGrad;
  Tensor t = unwrap(info[0], "tensor");
  const at::Device device = isMissing(info[1]) ? t.device() : toDevice(info[1]);
  const std::optional<at::ScalarType> dtype = toOptionalDtype(info[2]);
  const at::ScalarType to = dtype && at::isFloatingType(t.scalar_type()) ? *dtype : t.scalar_type();
  if (device == t.device() && to == t.scalar_type()) return info.Env().Undefined();
  Tensor grad = t.grad();
  t.set_data(t.to(device, to));
  if (grad.defined()) t.mutable_grad() = grad.to(device, to);
  return info.Env().Undefined();
}

}  // namespace

void initNnFunctional(Napi::Env env, Napi::Object exports) {
  exportFunction<nnLinear>(env, exports, "nnLinear");
  exportFunction<nnLayerNorm>(env, exports, "nnLayerNorm");
  exportFunction<nnDropout>(env, exports, "nnDropout");
  exportFunction<nnGelu>(env, exports, "nnGelu");
  exportFunction<nnEmbedding>(env, exports, "nnEmbedding");
  exportFunction<nnMseLoss>(env, exports, "nnMseLoss");
  exportFunction<nnCrossEntropy>(env, exports, "nnCrossEntropy");
  exportFunction<nnPad>(env, exports, "nnPad");
  exportFunction<nnConv1d>(env, exports, "nnConv1d");
  exportFunction<nnUniform>(env, exports, "nnUniform_");
  exportFunction<nnNormal>(env, exports, "nnNormal_");
  exportFunction<nnOrthogonal>(env, exports, "nnOrthogonal_");
  exportFunction<nnTo>(env, exports, "nnTo_");
}

}  // namespace lvm
