// Multi-head attention as torch.nn.MultiheadAttention computes it in PyTorch (F.multi_head_attention_forward,
// the path taken with an attention mask), but batch-first throughout, on the parameters of a
// torch::nn::MultiheadAttention (in_proj_weight, in_proj_bias, out_proj), so the state-dict keys stay PyTorch's.
#pragma once
#include <torch/nn.h>

namespace lvm::models {

// query [B, Tq, E], memory [B, Tk, E] -> [B, Tq, E]. mask: additive [Tq, Tk] (0 or -inf), or undefined.
// When query is memory (the same tensor) q, k and v come from one packed projection, as in PyTorch.
at::Tensor attention(const torch::nn::MultiheadAttentionImpl& mha, const at::Tensor& query, const at::Tensor& memory,
                     const at::Tensor& mask, int64_t heads, double dropout, bool training);

}  // namespace lvm::models
