// Quantized tensors (qint8, quint8, qint32; per-tensor and per-channel affine), as torch.quantize_per_tensor,
// torch._make_per_tensor_quantized_tensor and torch._utils._rebuild_qtensor make them, and what PyTorch's
// q_scale(), q_per_channel_scales(), int_repr() and dequantize() read back. libtorch checks little of a
// quantizer's parameters (Python's _rebuild_qtensor adds its own checks of axis and lengths, and a NaN scale is
// taken as it is), so every parameter is checked here first: a wrong axis, a length that does not match, a scale
// that is not a positive finite number, or a zero point the dtype cannot hold is a RangeError/TypeError naming
// it, never a tensor that fails (or reads past its memory) later. lib/quantized.ts is the JS side.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../core/args.h"
#include "../core/handle.h"
#include "../core/protect.h"

namespace lvm {

namespace {

using at::Tensor;

std::string join(at::IntArrayRef values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out;
}

std::string dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kQInt8: return "qint8";
    case at::kQUInt8: return "quint8";
    case at::kQInt32: return "qint32";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    default: return c10::toString(t);
  }
}

// A quantized dtype code: 12 qint8, 13 quint8, 14 qint32 (c10::ScalarType). quint4x2/quint2x4 are not supported.
at::ScalarType toQuantizedDtype(Napi::Value v, const char* what) {
  int64_t code = toInt(v, what);
  switch (static_cast<at::ScalarType>(code)) {
    case at::kQInt8: case at::kQUInt8: case at::kQInt32:
      return static_cast<at::ScalarType>(code);
    default:
      throw TypeError(std::string(what) + " code " + std::to_string(code) +
                      " is not a quantized dtype lvmtorch supports (qint8, quint8 or qint32)");
  }
}

// The integer dtype that holds a quantized dtype's values, and back.
at::ScalarType underlyingOf(at::ScalarType q) {
  switch (q) {
    case at::kQInt8: return at::kChar;
    case at::kQUInt8: return at::kByte;
    case at::kQInt32: return at::kInt;
    default: throw TypeError("not a quantized dtype: " + dtypeName(q));
  }
}

at::ScalarType quantizedOf(at::ScalarType integer, const char* what) {
  switch (integer) {
    case at::kChar: return at::kQInt8;
    case at::kByte: return at::kQUInt8;
    case at::kInt: return at::kQInt32;
    default:
      throw TypeError(std::string(what) + " must be int8, uint8 or int32 (the integers of qint8, quint8, qint32), got " +
                      dtypeName(integer));
  }
}

void zeroPointRange(at::ScalarType q, int64_t* lo, int64_t* hi) {
  switch (q) {
    case at::kQInt8: *lo = -128; *hi = 127; return;
    case at::kQUInt8: *lo = 0; *hi = 255; return;
    default: *lo = std::numeric_limits<int32_t>::min(); *hi = std::numeric_limits<int32_t>::max(); return;
  }
}

const Tensor& quantizedArg(Napi::Value v, const char* what) {
  const Tensor& t = unwrap(v, what);
  if (!t.is_quantized()) {
    throw TypeError(std::string(what) + " must be a quantized tensor (qint8, quint8 or qint32), got " +
                    dtypeName(t.scalar_type()));
  }
  return t;
}

double checkedScale(double scale, const std::string& what) {
  if (!std::isfinite(scale) || !(scale > 0)) {
    throw RangeError(what + " must be a positive finite number, got " + std::to_string(scale));
  }
  return scale;
}

int64_t checkedZeroPoint(int64_t zp, at::ScalarType q, const std::string& what) {
  int64_t lo, hi;
  zeroPointRange(q, &lo, &hi);
  if (zp < lo || zp > hi) {
    throw RangeError(what + " " + std::to_string(zp) + " is outside " + dtypeName(q) + "'s range [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return zp;
}

// Per-channel parameters: 1-d scales (floating, each > 0 and finite) and zero points (integers in the dtype's range
// for per_channel_affine; floating and finite for per_channel_affine_float_qparams), one per slice of `size` along
// `axis`. Returns axis made non-negative (as PyTorch, a negative axis counts from the end). Without `checkValues`
// only the dtypes and shapes are checked (a legacy file's storages are filled after its pickle is read:
// checkQuantizerValues checks the values then).
int64_t checkPerChannel(at::IntArrayRef size, const Tensor& scales, const Tensor& zeroPoints, int64_t axis,
                        at::ScalarType q, bool checkValues = true) {
  int64_t dim = static_cast<int64_t>(size.size());
  if (axis < -dim || axis >= dim || dim == 0) {
    throw RangeError("axis " + std::to_string(axis) + " is out of range for a tensor of shape [" + join(size) + "]" +
                     (dim == 0 ? " (a 0-d tensor has no channels)" : ""));
  }
  if (axis < 0) axis += dim;
  int64_t channels = size[axis];
  if (scales.dim() != 1 || zeroPoints.dim() != 1) {
    throw RangeError("scales and zeroPoints must be 1-d, got shapes [" + join(scales.sizes()) + "] and [" +
                     join(zeroPoints.sizes()) + "]");
  }
  if (scales.numel() != channels || zeroPoints.numel() != channels) {
    throw RangeError("scales and zeroPoints must hold size[axis] = " + std::to_string(channels) +
                     " values each (shape [" + join(size) + "], axis " + std::to_string(axis) + "), got " +
                     std::to_string(scales.numel()) + " and " + std::to_string(zeroPoints.numel()));
  }
  if (!at::isFloatingType(scales.scalar_type())) {
    throw TypeError("scales must be a floating tensor (float64 as PyTorch keeps them), got " +
                    dtypeName(scales.scalar_type()));
  }
  bool floatZeroPoints = at::isFloatingType(zeroPoints.scalar_type());
  if (!floatZeroPoints && !at::isIntegralType(zeroPoints.scalar_type(), /*includeBool=*/false)) {
    throw TypeError("zeroPoints must be an integer tensor (int64), or floating for per_channel_affine_float_qparams, got " +
                    dtypeName(zeroPoints.scalar_type()));
  }
  if (channels == 0 || !checkValues) return axis;
  Tensor s = scales.detach().to(at::kDouble);
  if (!at::isfinite(s).all().item<bool>() || !(s > 0).all().item<bool>()) {
    throw RangeError("every scale must be a positive finite number");
  }
  if (floatZeroPoints) {
    if (!at::isfinite(zeroPoints.detach()).all().item<bool>()) throw RangeError("every zero point must be finite");
  } else {
    Tensor z = zeroPoints.detach().to(at::kLong);
    checkedZeroPoint(z.min().item<int64_t>(), q, "zero point");
    checkedZeroPoint(z.max().item<int64_t>(), q, "zero point");
  }
  return axis;
}

// A view [size] with `stride` from element `offset` must stay inside `base`'s storage (set_ on a quantized tensor
// checks nothing).
void checkView(const Tensor& base, at::IntArrayRef size, at::IntArrayRef stride, int64_t offset) {
  if (size.size() != stride.size()) {
    throw RangeError("size [" + join(size) + "] and stride [" + join(stride) + "] differ in length");
  }
  if (offset < 0) throw RangeError("storage offset must be >= 0, got " + std::to_string(offset));
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] < 0) throw RangeError("size [" + join(size) + "] has a negative entry");
    if (stride[i] < 0) throw RangeError("stride [" + join(stride) + "] has a negative entry");
  }
  if (!base.has_storage()) throw TypeError("the storage tensor has no storage");
  int64_t elements = static_cast<int64_t>(base.storage().nbytes() / base.element_size());
  for (int64_t d : size) if (d == 0) return;
  // size and stride are at most 2^53 each (toIntList); the sum is computed in 128 bits so no product overflows.
  __int128 last = offset;
  for (size_t i = 0; i < size.size(); ++i) last += static_cast<__int128>(size[i] - 1) * stride[i];
  if (last >= elements) {
    throw RangeError("a view [" + join(size) + "] (stride [" + join(stride) + "], offset " + std::to_string(offset) +
                     ") reaches past its storage of " + std::to_string(elements) + " elements");
  }
}

// The integer tensor whose storage a quantized view is made on, for the quantized dtype q.
const Tensor& baseFor(Napi::Value v, at::ScalarType q) {
  const Tensor& base = unwrap(v, "storage");
  if (base.scalar_type() != underlyingOf(q)) {
    throw TypeError("a " + dtypeName(q) + " storage must be held as " + dtypeName(underlyingOf(q)) + ", got " +
                    dtypeName(base.scalar_type()));
  }
  return base;
}

std::vector<int64_t> zerosLike(at::IntArrayRef size) { return std::vector<int64_t>(size.size(), 0); }

// quantizePerTensor(t, scale, zeroPoint, dtype): torch.quantize_per_tensor (round(t / scale) + zeroPoint, clamped).
Napi::Value quantizePerTensor(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0], "input");
  auto q = toQuantizedDtype(info[3], "dtype");
  double scale = checkedScale(toDouble(info[1], "scale"), "scale");
  int64_t zp = checkedZeroPoint(toInt(info[2], "zeroPoint"), q, "zeroPoint");
  if (t.scalar_type() != at::kFloat) {
    throw TypeError("quantizePerTensor needs a float32 tensor, got " + dtypeName(t.scalar_type()));
  }
  return wrap(info.Env(), at::quantize_per_tensor(t.detach(), scale, zp, q));
}

// quantizePerChannel(t, scales, zeroPoints, axis, dtype): torch.quantize_per_channel.
Napi::Value quantizePerChannel(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0], "input");
  const Tensor& scales = unwrap(info[1], "scales");
  const Tensor& zeroPoints = unwrap(info[2], "zeroPoints");
  auto q = toQuantizedDtype(info[4], "dtype");
  if (t.scalar_type() != at::kFloat) {
    throw TypeError("quantizePerChannel needs a float32 tensor, got " + dtypeName(t.scalar_type()));
  }
  int64_t axis = checkPerChannel(t.sizes(), scales, zeroPoints, toInt(info[3], "axis"), q);
  return wrap(info.Env(), at::quantize_per_channel(t.detach(), scales.detach(), zeroPoints.detach(), axis, q));
}

// makePerTensorQuantized(int, scale, zeroPoint): torch._make_per_tensor_quantized_tensor: the integers as they
// are (int8 -> qint8, uint8 -> quint8, int32 -> qint32), copied into a new contiguous quantized tensor.
Napi::Value makePerTensorQuantized(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0], "input");
  auto q = quantizedOf(t.scalar_type(), "input");
  double scale = checkedScale(toDouble(info[1], "scale"), "scale");
  int64_t zp = checkedZeroPoint(toInt(info[2], "zeroPoint"), q, "zeroPoint");
  return wrap(info.Env(), at::_make_per_tensor_quantized_tensor(t.detach(), scale, zp));
}

// makePerChannelQuantized(int, scales, zeroPoints, axis): torch._make_per_channel_quantized_tensor.
Napi::Value makePerChannelQuantized(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0], "input");
  const Tensor& scales = unwrap(info[1], "scales");
  const Tensor& zeroPoints = unwrap(info[2], "zeroPoints");
  auto q = quantizedOf(t.scalar_type(), "input");
  int64_t axis = checkPerChannel(t.sizes(), scales, zeroPoints, toInt(info[3], "axis"), q);
  return wrap(info.Env(),
              at::_make_per_channel_quantized_tensor(t.detach(), scales.detach(), zeroPoints.detach(), axis));
}

// perTensorQuantizedView(storage, dtype, size, stride, offset, scale, zeroPoint): a quantized tensor on the
// memory of `storage` (an integer tensor), as _rebuild_qtensor makes one: an empty quantized tensor set_ onto the
// storage, so tensors that shared a storage in Python share it here, strides and offset kept.
Napi::Value perTensorQuantizedView(const Napi::CallbackInfo& info) {
  auto q = toQuantizedDtype(info[1], "dtype");
  const Tensor& base = baseFor(info[0], q);
  auto size = toIntList(info[2], "size");
  auto stride = toIntList(info[3], "stride");
  int64_t offset = toInt(info[4], "storageOffset");
  double scale = checkedScale(toDouble(info[5], "scale"), "scale");
  int64_t zp = checkedZeroPoint(toInt(info[6], "zeroPoint"), q, "zero point");
  checkView(base, size, stride, offset);
  Tensor out = at::_empty_affine_quantized(zerosLike(size), base.options().dtype(q), scale, zp);
  out.set_(base.storage(), offset, size, stride);
  return wrap(info.Env(), out);
}

// perChannelQuantizedView(storage, dtype, size, stride, offset, scales, zeroPoints, axis, checkValues): the same,
// per channel. The quantizer keeps scales and zero points that are float64 and int64 (float32 for float qparams)
// and contiguous as they are, without a copy, as PyTorch's does: what a legacy file fills in later is seen.
Napi::Value perChannelQuantizedView(const Napi::CallbackInfo& info) {
  auto q = toQuantizedDtype(info[1], "dtype");
  const Tensor& base = baseFor(info[0], q);
  auto size = toIntList(info[2], "size");
  auto stride = toIntList(info[3], "stride");
  int64_t offset = toInt(info[4], "storageOffset");
  const Tensor& scales = unwrap(info[5], "scales");
  const Tensor& zeroPoints = unwrap(info[6], "zeroPoints");
  checkView(base, size, stride, offset);
  bool checkValues = isMissing(info[8]) ? true : toBool(info[8], "checkValues");
  int64_t axis = checkPerChannel(size, scales, zeroPoints, toInt(info[7], "axis"), q, checkValues);
  // Made with zero sizes (no memory) and the real rank; set_ then gives it the storage, sizes and strides.
  Tensor out = at::_empty_per_channel_affine_quantized(zerosLike(size), scales.detach().to(base.device()),
                                                        zeroPoints.detach().to(base.device()), axis,
                                                        base.options().dtype(q));
  out.set_(base.storage(), offset, size, stride);
  return wrap(info.Env(), out);
}

// qscheme(q) -> 'per_tensor_affine' | 'per_channel_affine' | 'per_channel_affine_float_qparams' | ...
Napi::Value qscheme(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  switch (t.qscheme()) {
    case at::kPerTensorAffine: return Napi::String::New(info.Env(), "per_tensor_affine");
    case at::kPerChannelAffine: return Napi::String::New(info.Env(), "per_channel_affine");
    case at::kPerChannelAffineFloatQParams: return Napi::String::New(info.Env(), "per_channel_affine_float_qparams");
    case at::kPerTensorSymmetric: return Napi::String::New(info.Env(), "per_tensor_symmetric");
    case at::kPerChannelSymmetric: return Napi::String::New(info.Env(), "per_channel_symmetric");
    default: return Napi::String::New(info.Env(), c10::toString(t.qscheme()));
  }
}

void requirePerTensor(const Tensor& t, const char* fn) {
  if (t.qscheme() != at::kPerTensorAffine && t.qscheme() != at::kPerTensorSymmetric) {
    throw TypeError(std::string(fn) + " needs a per-tensor quantized tensor; this one is " +
                    c10::toString(t.qscheme()) + " (use qPerChannelScales/qPerChannelZeroPoints/qPerChannelAxis)");
  }
}

void requirePerChannel(const Tensor& t, const char* fn) {
  auto s = t.qscheme();
  if (s != at::kPerChannelAffine && s != at::kPerChannelAffineFloatQParams && s != at::kPerChannelSymmetric) {
    throw TypeError(std::string(fn) + " needs a per-channel quantized tensor; this one is " + c10::toString(s) +
                    " (use qScale/qZeroPoint)");
  }
}

Napi::Value qScale(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  requirePerTensor(t, "qScale()");
  return Napi::Number::New(info.Env(), t.q_scale());
}

Napi::Value qZeroPoint(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  requirePerTensor(t, "qZeroPoint()");
  return Napi::Number::New(info.Env(), static_cast<double>(t.q_zero_point()));
}

Napi::Value qPerChannelScales(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  requirePerChannel(t, "qPerChannelScales()");
  return wrap(info.Env(), t.q_per_channel_scales());
}

Napi::Value qPerChannelZeroPoints(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  requirePerChannel(t, "qPerChannelZeroPoints()");
  return wrap(info.Env(), t.q_per_channel_zero_points());
}

Napi::Value qPerChannelAxis(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  requirePerChannel(t, "qPerChannelAxis()");
  return Napi::Number::New(info.Env(), static_cast<double>(t.q_per_channel_axis()));
}

// checkQuantizerValues(q): throws unless a per-channel tensor's scales are positive and finite and its zero points
// fit its dtype (per-tensor ones are checked when they are made).
Napi::Value checkQuantizerValues(const Napi::CallbackInfo& info) {
  const Tensor& t = quantizedArg(info[0], "tensor");
  auto s = t.qscheme();
  if (s == at::kPerChannelAffine || s == at::kPerChannelAffineFloatQParams) {
    checkPerChannel(t.sizes(), t.q_per_channel_scales(), t.q_per_channel_zero_points(), t.q_per_channel_axis(),
                    t.scalar_type());
  }
  return info.Env().Undefined();
}

Napi::Value intRepr(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), quantizedArg(info[0], "tensor").int_repr());
}

Napi::Value dequantize(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), quantizedArg(info[0], "tensor").dequantize());
}

}  // namespace

void initQuantized(Napi::Env env, Napi::Object exports) {
  exportFunction<quantizePerTensor>(env, exports, "quantizePerTensor");
  exportFunction<quantizePerChannel>(env, exports, "quantizePerChannel");
  exportFunction<makePerTensorQuantized>(env, exports, "makePerTensorQuantized");
  exportFunction<makePerChannelQuantized>(env, exports, "makePerChannelQuantized");
  exportFunction<perTensorQuantizedView>(env, exports, "perTensorQuantizedView");
  exportFunction<perChannelQuantizedView>(env, exports, "perChannelQuantizedView");
  exportFunction<qscheme>(env, exports, "qscheme");
  exportFunction<qScale>(env, exports, "qScale");
  exportFunction<qZeroPoint>(env, exports, "qZeroPoint");
  exportFunction<qPerChannelScales>(env, exports, "qPerChannelScales");
  exportFunction<qPerChannelZeroPoints>(env, exports, "qPerChannelZeroPoints");
  exportFunction<qPerChannelAxis>(env, exports, "qPerChannelAxis");
  exportFunction<checkQuantizerValues>(env, exports, "checkQuantizerValues");
  exportFunction<intRepr>(env, exports, "intRepr");
  exportFunction<dequantize>(env, exports, "dequantize");
}

}  // namespace lvm
