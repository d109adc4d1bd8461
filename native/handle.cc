#include "handle.h"

#include "protect.h"

#include <string>

namespace lvm {

namespace {

constexpr uint64_t kMagic = 0x6c766d746f726368;  // "lvmtorch": refuses externals that other addons made

struct TensorBox {
  uint64_t magic = kMagic;
  at::Tensor tensor;
  int64_t reported = 0;  // bytes announced to V8, given back on dispose or finalization
};

// Handles whose tensor is alive (not disposed nor finalized), and the bytes they announced: torch.memory().
int64_t liveTensors = 0;
int64_t liveBytes = 0;

int64_t nbytesOf(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

void release(napi_env env, TensorBox* box) {
  if (box->tensor.defined()) --liveTensors;
  liveBytes -= box->reported;
  box->tensor = at::Tensor();
  if (box->reported != 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, -box->reported, &ignored);
    box->reported = 0;
  }
}

void finalize(napi_env env, void* data, void*) {
  auto* box = static_cast<TensorBox*>(data);
  release(env, box);
  delete box;
}

TensorBox* boxOf(napi_env env, napi_value value, const char* what) {
  napi_valuetype type;
  void* data = nullptr;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == nullptr ||
      static_cast<TensorBox*>(data)->magic != kMagic) {
    throw TypeError(std::string(what) + " must be a Tensor");
  }
  return static_cast<TensorBox*>(data);
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  release(info.Env(), boxOf(info.Env(), info[0], "tensor"));
  return info.Env().Undefined();
}

Napi::Value memory(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("tensors", static_cast<double>(liveTensors));
  out.Set("bytes", static_cast<double>(liveBytes));
  return out;
}

}  // namespace

Napi::Value wrap(Napi::Env env, at::Tensor tensor) {
  auto* box = new TensorBox();
  box->tensor = std::move(tensor);
  napi_value out;
  if (napi_create_external(env, box, finalize, nullptr, &out) != napi_ok) {
    delete box;
    throw Napi::Error::New(env, "could not create a tensor handle");
  }
  box->reported = nbytesOf(box->tensor);
  if (box->tensor.defined()) ++liveTensors;
  liveBytes += box->reported;
  if (box->reported != 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, box->reported, &ignored);
  }
  return Napi::Value(env, out);
}

const at::Tensor& unwrap(Napi::Value value, const char* what) {
  TensorBox* box = boxOf(value.Env(), value, what);
  if (!box->tensor.defined()) {
    throw Napi::Error::New(value.Env(), std::string(what) + " was disposed and can no longer be used");
  }
  return box->tensor;
}

std::vector<at::Tensor> unwrapList(Napi::Value value, const char* what) {
  if (!value.IsArray()) throw TypeError(std::string(what) + " must be an array of Tensors");
  auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(unwrap(array.Get(i), what));
  return out;
}

void initHandle(Napi::Env env, Napi::Object exports) {
  exportFunction<dispose>(env, exports, "dispose");
  exportFunction<memory>(env, exports, "liveTensors");
}

}  // namespace lvm
