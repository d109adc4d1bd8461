#include "attention.h"

#include <cmath>

namespace lvm::models {

at::Tensor attention(const torch::nn::MultiheadAttentionImpl& mha, const at::Tensor& query, const at::Tensor& memory,
                     const at::Tensor& mask, int64_t heads, double dropout, bool training) {
  const int64_t B = query.size(0), Tq = query.size(1), Tk = memory.size(1), E = query.size(2), D = E / heads;
  const at::Tensor& w = mha.in_proj_weight;
  const at::Tensor& b = mha.in_proj_bias;
  at::Tensor q, k, v;
  if (query.is_same(memory)) {
    auto qkv = at::linear(query, w, b).chunk(3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    q = at::linear(query, w.narrow(0, 0, E), b.narrow(0, 0, E));
    auto kv = at::linear(memory, w.narrow(0, E, 2 * E), b.narrow(0, E, 2 * E)).chunk(2, -1);
    k = kv[0], v = kv[1];
  }
  // [B, T, E] -> [B * heads, T, D]: batch b, head h at b * heads + h, as PyTorch orders them.
  auto split = [&](const at::Tensor& t, int64_t len) {
    return t.reshape({B, len, heads, D}).transpose(1, 2).reshape({B * heads, len, D});
  };
  q = split(q, Tq) / std::sqrt(static_cast<double>(D));
  k = split(k, Tk);
  v = split(v, Tk);
  at::Tensor scores = mask.defined() ? at::baddbmm(mask, q, k.transpose(1, 2)) : at::bmm(q, k.transpose(1, 2));
  at::Tensor weights = at::softmax(scores, -1);
  if (training && dropout > 0) weights = at::dropout(weights, dropout, /*train=*/true);
  at::Tensor out = at::bmm(weights, v).view({B, heads, Tq, D}).transpose(1, 2).reshape({B, Tq, E});
  return at::linear(out, mha.out_proj->weight, mha.out_proj->bias);
}

}  // namespace lvm::models
