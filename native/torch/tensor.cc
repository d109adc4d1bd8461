// Creating tensors, reading their data and metadata, and moving them between devices and dtypes.
#include <cstring>
#include <string>

#include "../core/args.h"
#include "../core/handle.h"
#include "../core/protect.h"

namespace lvm {

namespace {

// fromData(bytes: TypedArray, dtype, shape, device): copies the bytes, which hold the elements in dtype.
Napi::Value fromData(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray()) throw TypeError("data must be a TypedArray or Buffer");
  auto view = info[0].As<Napi::TypedArray>();
  auto dtype = toDtype(info[1]);
  auto shape = toIntList(info[2], "shape");
  // The size is checked before anything is allocated: 4 bytes with shape [2^53 - 1] is a wrong shape, not an
  // out-of-memory error.
  uint64_t expected = c10::elementSize(dtype);
  for (int64_t d : shape) {
    if (d < 0) throw RangeError("shape entries must be >= 0, got " + std::to_string(d));
    if (__builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected)) {
      throw RangeError("shape [" + c10::Join(", ", shape) + "] is too large for any data");
    }
  }
  if (view.ByteLength() != expected) {
    throw RangeError("data holds " + std::to_string(view.ByteLength()) + " bytes but shape [" +
                     c10::Join(", ", shape) + "] of " + std::string(c10::toString(dtype)) + " needs " +
                     std::to_string(expected));
  }
  auto tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
  auto* base = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  if (expected > 0) std::memcpy(tensor.data_ptr(), base, expected);
  auto device = toDevice(info[3]);
  return wrap(info.Env(), device.is_cpu() ? tensor : tensor.to(device));
}

// toData(t, dtype?): a new ArrayBuffer with the elements in C order on the CPU, optionally converted first.
Napi::Value toData(const Napi::CallbackInfo& info) {
  at::Tensor t = unwrap(info[0]).detach();
  if (auto dtype = toOptionalDtype(info[1])) t = t.to(*dtype);
  t = t.to(at::kCPU).contiguous();
  auto buffer = Napi::ArrayBuffer::New(info.Env(), t.nbytes());
  if (t.nbytes() > 0) std::memcpy(buffer.Data(), t.data_ptr(), t.nbytes());
  return buffer;
}

// info(t) -> [dtype code, device string, shape]
Napi::Value describe(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  auto out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, static_cast<double>(static_cast<int>(t.scalar_type())));
  out.Set(1u, t.device().str());
  out.Set(2u, fromIntList(info.Env(), t.sizes()));
  return out;
}

// layout(t) -> [strides, storage offset, storage bytes, storage key]: how t sits in its storage. Tensors with the
// same key share one storage (the key is the storage's address), which is what torch.save records.
Napi::Value layout(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  auto out = Napi::Array::New(info.Env(), 4);
  out.Set(0u, fromIntList(info.Env(), t.strides()));
  out.Set(1u, static_cast<double>(t.storage_offset()));
  bool stored = t.has_storage();
  out.Set(2u, static_cast<double>(stored ? t.storage().nbytes() : 0));
  auto key = stored ? reinterpret_cast<uintptr_t>(t.storage().unsafeGetStorageImpl()) : 0;
  out.Set(3u, std::to_string(key));
  return out;
}

Napi::Value item(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  if (t.numel() != 1) {
    throw RangeError("item() needs a tensor with one element, this one has " + std::to_string(t.numel()));
  }
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  if (s.isIntegral(false)) {
    int64_t v = s.toLong();
    if (v > 9007199254740991LL || v < -9007199254740991LL) return Napi::BigInt::New(info.Env(), v);
    return Napi::Number::New(info.Env(), static_cast<double>(v));
  }
  return Napi::Number::New(info.Env(), s.toDouble());
}

// to(t, device?, dtype?, copy)
Napi::Value to(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  auto device = isMissing(info[1]) ? t.device() : toDevice(info[1]);
  auto dtype = toOptionalDtype(info[2]).value_or(t.scalar_type());
  return wrap(info.Env(), t.to(device, dtype, /*non_blocking=*/false, /*copy=*/toBool(info[3], "copy")));
}

Napi::Value numel(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(unwrap(info[0]).numel()));
}

// Factories: (shape, dtype, device) plus their own leading arguments.
Napi::Value zeros(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::zeros(toIntList(info[0], "shape"), toOptions(info[1], info[2])));
}

Napi::Value ones(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::ones(toIntList(info[0], "shape"), toOptions(info[1], info[2])));
}

Napi::Value full(const Napi::CallbackInfo& info) {
  auto options = toOptions(info[2], info[3]);
  if (isMissing(info[2])) options = options.dtype(at::kFloat);  // as torch.full with a JS number: float32
  return wrap(info.Env(), at::full(toIntList(info[0], "shape"), toScalar(info[1], "fillValue"), options));
}

// Uninitialised memory, for callers that fill every byte themselves (file readers).
Napi::Value empty(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::empty(toIntList(info[0], "shape"), toOptions(info[1], info[2])));
}

// asStrided(t, size, stride, storageOffset): a view of t's storage, as torch.as_strided.
Napi::Value asStrided(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::as_strided(unwrap(info[0]), toIntList(info[1], "size"), toIntList(info[2], "stride"),
                                         toInt(info[3], "storageOffset")));
}

// storageView(t): an ArrayBuffer over the bytes of t's CPU storage, without a copy, so file readers can read
// straight into a tensor. The ArrayBuffer keeps the storage alive until it is collected.
Napi::Value storageView(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  if (!t.device().is_cpu()) throw TypeError("storageView needs a CPU tensor");
  if (t.storage().nbytes() == 0) return Napi::ArrayBuffer::New(info.Env(), 0);
  // The storage's first byte, by a route that compiles on libtorch 1.13 and 2.x alike (Storage::data() changed).
  void* base = static_cast<char*>(t.data_ptr()) - t.storage_offset() * static_cast<int64_t>(t.element_size());
  auto* storage = new c10::Storage(t.storage());
  napi_value out;
  napi_status status = napi_create_external_arraybuffer(
      info.Env(), base, storage->nbytes(),
      [](napi_env, void*, void* hint) { delete static_cast<c10::Storage*>(hint); }, storage, &out);
  if (status != napi_ok) {
    delete storage;
    throw Napi::Error::New(info.Env(), "could not make an ArrayBuffer over the tensor's storage");
  }
  return Napi::Value(info.Env(), out);
}

Napi::Value randn(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::randn(toIntList(info[0], "shape"), toOptions(info[1], info[2])));
}

Napi::Value rand(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::rand(toIntList(info[0], "shape"), toOptions(info[1], info[2])));
}

// arange(start, end, step, dtype?, device?): like torch.arange, integral when all three are integers.
Napi::Value arange(const Napi::CallbackInfo& info) {
  auto start = toScalar(info[0], "start"), end = toScalar(info[1], "end"), step = toScalar(info[2], "step");
  if (step.toDouble() == 0) throw RangeError("arange step must not be 0");
  return wrap(info.Env(), at::arange(start, end, step, toOptions(info[3], info[4])));
}

Napi::Value eye(const Napi::CallbackInfo& info) {
  int64_t n = toInt(info[0], "n");
  int64_t m = isMissing(info[1]) ? n : toInt(info[1], "m");
  if (n < 0 || m < 0) throw RangeError("eye sizes must be >= 0");
  return wrap(info.Env(), at::eye(n, m, toOptions(info[2], info[3])));
}

Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  int64_t seed = toInt(info[0], "seed");
  if (seed < 0) throw RangeError("seed must be >= 0");
  at::manual_seed(static_cast<uint64_t>(seed));
  return info.Env().Undefined();
}

}  // namespace

void initTensor(Napi::Env env, Napi::Object exports) {
  exportFunction<fromData>(env, exports, "fromData");
  exportFunction<toData>(env, exports, "toData");
  exportFunction<describe>(env, exports, "describe");
  exportFunction<item>(env, exports, "item");
  exportFunction<layout>(env, exports, "layout");
  exportFunction<to>(env, exports, "to");
  exportFunction<numel>(env, exports, "numel");
  exportFunction<zeros>(env, exports, "zeros");
  exportFunction<ones>(env, exports, "ones");
  exportFunction<full>(env, exports, "full");
  exportFunction<randn>(env, exports, "randn");
  exportFunction<rand>(env, exports, "rand");
  exportFunction<arange>(env, exports, "arange");
  exportFunction<eye>(env, exports, "eye");
  exportFunction<empty>(env, exports, "empty");
  exportFunction<asStrided>(env, exports, "asStrided");
  exportFunction<storageView>(env, exports, "storageView");
  exportFunction<manualSeed>(env, exports, "manualSeed");
}

}  // namespace lvm
