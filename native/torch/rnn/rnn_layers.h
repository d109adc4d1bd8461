// torch::nn::GRU and torch::nn::LSTM layers, each layer one autograd node with its backward written out, for
// training on the CPU in float32 (gru_layer.cc says why). The parameters, their names and the equations are
// PyTorch's, so state dicts and results move both ways.
#pragma once
#include <torch/nn.h>

namespace lvm::models {

// Whether the fused layers apply to x: grad mode on, a float32 CPU tensor [B, T, D], outside autocast (bf16 runs
// libtorch's).
bool fusedRnnApplies(const at::Tensor& x);

// gru's output for x [B, T, D] from a zero state, [B, T, H]: the fused layer where it applies (one layer,
// unidirectional, batch_first, with biases), else gru->forward(x).
at::Tensor gruLayer(torch::nn::GRU& gru, const at::Tensor& x);

// lstm's output for x [B, T, D] from a zero state, [B, T, H]: fused layers where they apply (unidirectional,
// batch_first, with biases, no projection; dropout between layers in training mode, as nn.LSTM), else
// lstm->forward(x).
at::Tensor lstmLayers(torch::nn::LSTM& lstm, const at::Tensor& x);

// One fused layer from a zero state, whatever fusedRnnApplies says: x [B, T, D], the weights as PyTorch names them.
at::Tensor fusedGru(const at::Tensor& x, const at::Tensor& wIh, const at::Tensor& wHh, const at::Tensor& bIh,
                    const at::Tensor& bHh);
at::Tensor fusedLstm(const at::Tensor& x, const at::Tensor& wIh, const at::Tensor& wHh, const at::Tensor& bIh,
                     const at::Tensor& bHh);

}  // namespace lvm::models
