#include "rnn_grads.h"

namespace lvm::models {

torch::autograd::variable_list rnnInputGrads(torch::autograd::AutogradContext* ctx, const at::Tensor& dgi,
                                             const at::Tensor& dgh, const at::Tensor& x, const at::Tensor& out,
                                             const at::Tensor& wIh, const at::Tensor& wHh) {
  torch::autograd::variable_list result(5);
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = out.size(2), G = dgi.size(2);
  const at::Tensor gi2 = dgi.view({B * T, G});
  if (ctx->needs_input_grad(0)) result[0] = gi2.mm(wIh).view({B, T, D});
  if (ctx->needs_input_grad(1)) result[1] = gi2.t().mm(x.view({B * T, D}));
  if (ctx->needs_input_grad(2)) {
    // Step 0 started from the zero state: only steps 1.. contribute, each with the state before it.
    result[2] = T > 1 ? dgh.narrow(1, 1, T - 1).reshape({B * (T - 1), G}).t().mm(
                            out.narrow(1, 0, T - 1).reshape({B * (T - 1), H}))
                      : at::zeros_like(wHh);
  }
  if (ctx->needs_input_grad(3)) result[3] = gi2.sum(0);
  if (ctx->needs_input_grad(4)) {
    // One sum serves both biases when they enter the same way (the LSTM); each bias still gets its own tensor.
    const bool same = dgh.is_same(dgi) && result[3].defined();
    result[4] = same ? result[3].clone() : dgh.reshape({B * T, G}).sum(0);
  }
  return result;
}

}  // namespace lvm::models
