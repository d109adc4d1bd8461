// A tensor handle: a JS external owning one at::Tensor. JS wraps it in the typed Tensor class (lib/tensor.ts).
// dispose() frees the tensor at once; the GC finalizer frees whatever was forgotten. Each handle reports the
// bytes it keeps alive to V8, so that native memory growth makes the GC run.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <vector>

namespace lvm {

Napi::Value wrap(Napi::Env env, at::Tensor tensor);

// Throws TypeError when `value` is not a live tensor handle; `what` names the argument in the message.
const at::Tensor& unwrap(Napi::Value value, const char* what = "tensor");

std::vector<at::Tensor> unwrapList(Napi::Value value, const char* what = "tensors");

void initHandle(Napi::Env env, Napi::Object exports);

}  // namespace lvm
