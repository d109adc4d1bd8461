// Tensor handles. JS holds a tensor as a small integer id naming a slot in this environment's table; the slot
// owns the at::Tensor until dispose(id). An id carries its slot's generation, so an id kept after dispose()
// is refused once the slot is reused; generations wrap, so lib/torch/tensor.ts also swaps a disposed tensor's id for
// -1, which always reads as disposed. Ids are plain numbers because a per-tensor N-API weak reference
// costs more than the op itself; lib/torch/lifetime.ts decides when the GC should free a forgotten tensor.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <vector>

namespace lvm {

Napi::Value wrap(Napi::Env env, at::Tensor tensor);

// Throws TypeError when `value` is not a live tensor id; `what` names the argument in the message.
const at::Tensor& unwrap(Napi::Value value, const char* what = "tensor");

std::vector<at::Tensor> unwrapList(Napi::Value value, const char* what = "tensors");

void initHandle(Napi::Env env, Napi::Object exports);

}  // namespace lvm
