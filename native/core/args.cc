#include "args.h"

#include "protect.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace lvm {

namespace {

std::string named(const char* what, const std::string& rest) { return std::string(what) + rest; }

}  // namespace

bool isMissing(Napi::Value v) { return v.IsUndefined() || v.IsNull(); }

double toDouble(Napi::Value v, const char* what) {
  if (!v.IsNumber()) throw TypeError(named(what, " must be a number"));
  return v.As<Napi::Number>().DoubleValue();
}

int64_t toInt(Napi::Value v, const char* what) {
  double d = toDouble(v, what);
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9007199254740991.0) {
    throw RangeError(named(what, " must be an integer, got " + std::to_string(d)));
  }
  return static_cast<int64_t>(d);
}

bool toBool(Napi::Value v, const char* what) {
  if (!v.IsBoolean()) throw TypeError(named(what, " must be a boolean"));
  return v.As<Napi::Boolean>().Value();
}

at::Scalar toScalar(Napi::Value v, const char* what) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  double d = toDouble(v, what);
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 9007199254740991.0) {
    return at::Scalar(static_cast<int64_t>(d));
  }
  return at::Scalar(d);
}

std::vector<int64_t> toIntList(Napi::Value v, const char* what) {
  if (!v.IsArray()) throw TypeError(named(what, " must be an array of integers"));
  auto array = v.As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out[i] = toInt(array.Get(i), what);
  return out;
}

std::optional<std::vector<int64_t>> toDims(Napi::Value v, const char* what) {
  if (isMissing(v)) return std::nullopt;
  if (v.IsNumber()) return std::vector<int64_t>{toInt(v, what)};
  return toIntList(v, what);
}

at::ScalarType toDtype(Napi::Value v, const char* what) {
  int64_t code = toInt(v, what);
  switch (static_cast<at::ScalarType>(code)) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kBFloat16: case at::kLong:
    case at::kInt: case at::kShort: case at::kChar: case at::kByte: case at::kBool:
      return static_cast<at::ScalarType>(code);
    case at::kQInt8: case at::kQUInt8: case at::kQInt32:
      // Quantized tensors need a scale and zero point: native/torch/quantized.cc makes them.
      throw TypeError(named(what, std::string(code == 12 ? " qint8" : code == 13 ? " quint8" : " qint32") +
                                      " is quantized: make such tensors with torch.quantizePerTensor() or "
                                      "torch.quantizePerChannel(), and read them with intRepr() or dequantize()"));
    default:
      throw TypeError(named(what, " code " + std::to_string(code) + " is not a supported dtype"));
  }
}

std::optional<at::ScalarType> toOptionalDtype(Napi::Value v, const char* what) {
  if (isMissing(v)) return std::nullopt;
  return toDtype(v, what);
}

at::Device toDevice(Napi::Value v, const char* what) {
  if (isMissing(v)) return at::Device(at::kCPU);
  if (!v.IsString()) throw TypeError(named(what, " must be a string such as 'cpu' or 'cuda:0'"));
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s != "cpu" && s.rfind("cuda", 0) != 0) {
    throw TypeError(named(what, " '" + s + "' is not a device: use 'cpu', 'cuda' or 'cuda:N'"));
  }
  at::Device device(s);  // validates "cuda:N" and throws c10::Error with its own message
  if (device.is_cuda()) {
    // Asked here, or libtorch answers a CPU-only build with a page about dispatch keys and selective builds.
    int count = at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
    if (count == 0) {
      bool built = at::detail::getCUDAHooks().hasCUDART();
      throw std::runtime_error(named(what, " '" + s + "' is not available: " +
                                               (built ? "this libtorch has CUDA but sees no GPU"
                                                      : "this libtorch is CPU-only (built without CUDA)") +
                                               "; torch.cuda.isAvailable() says so before you ask"));
    }
    if (device.has_index() && device.index() >= count) {
      throw RangeError(named(what, " '" + s + "' does not exist: this machine has " + std::to_string(count) +
                                       " CUDA device(s), cuda:0 to cuda:" + std::to_string(count - 1)));
    }
  }
  return device;
}

at::TensorOptions toOptions(Napi::Value dtype, Napi::Value device) {
  auto options = at::TensorOptions().device(toDevice(device));
  if (auto d = toOptionalDtype(dtype)) options = options.dtype(*d);
  return options;
}

Napi::Array fromIntList(Napi::Env env, at::IntArrayRef values) {
  auto out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(values[i]));
  return out;
}

}  // namespace lvm
