// Reading JS arguments into libtorch types. Every reader names the argument in its error.
// dtypes travel as c10::ScalarType codes and devices as strings ("cpu", "cuda:1"); lib/formats/dtype.ts and
// lib/torch/device.ts hold the JS side of both.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <optional>
#include <vector>

namespace lvm {

int64_t toInt(Napi::Value v, const char* what);
double toDouble(Napi::Value v, const char* what);
bool toBool(Napi::Value v, const char* what);
// A JS number that is an integer becomes an integral Scalar, so `intTensor.add(2)` stays integral, as in Python.
at::Scalar toScalar(Napi::Value v, const char* what);
std::vector<int64_t> toIntList(Napi::Value v, const char* what);
// undefined/null -> nullopt; a number -> one dim; an array -> those dims.
std::optional<std::vector<int64_t>> toDims(Napi::Value v, const char* what);
at::ScalarType toDtype(Napi::Value v, const char* what = "dtype");
std::optional<at::ScalarType> toOptionalDtype(Napi::Value v, const char* what = "dtype");
at::Device toDevice(Napi::Value v, const char* what = "device");
at::TensorOptions toOptions(Napi::Value dtype, Napi::Value device);

Napi::Array fromIntList(Napi::Env env, at::IntArrayRef values);
bool isMissing(Napi::Value v);

}  // namespace lvm
