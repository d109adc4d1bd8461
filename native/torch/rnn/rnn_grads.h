// What gru_layer.cc's and lstm_layer.cc's backwards share once the recurrence has run backwards: the gradients of
// the layer's inputs, each one GEMM (or sum) over all B * T rows.
#pragma once
#include <torch/csrc/autograd/custom_function.h>

namespace lvm::models {

// For a layer with output out [B, T, H] of x [B, T, D]: dgi [B, T, G] is the gradient into x W_ih^T + b_ih and
// dgh [B, T, G] the one into h W_hh^T + b_hh (the same tensor for the LSTM, whose two parts are added). Returns
// {dx, dW_ih, dW_hh, db_ih, db_hh}, each undefined where ctx says that input needs none.
torch::autograd::variable_list rnnInputGrads(torch::autograd::AutogradContext* ctx, const at::Tensor& dgi,
                                             const at::Tensor& dgh, const at::Tensor& x, const at::Tensor& out,
                                             const at::Tensor& wIh, const at::Tensor& wHh);

}  // namespace lvm::models
