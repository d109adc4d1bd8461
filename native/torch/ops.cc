// Tensor math and shape ops. Element-wise ops go through three small tables (unary, binary, reduction) whose
// names are exported, so lib/ops.ts builds its codes from them and the two sides cannot drift apart.
#include <torch/version.h>

#include <array>
#include <string>

#include "../core/args.h"
#include "normalize.h"
#include "../core/handle.h"
#include "../core/protect.h"

namespace lvm {

namespace {

using at::Tensor;

// ---- unary: op(t) ----
constexpr std::array kUnary = {
    "neg",     "abs",   "exp",  "log",        "log1p",  "expm1",      "sqrt",  "rsqrt",
    "sin",     "cos",   "tan",  "tanh",       "sigmoid", "relu",      "gelu",  "silu",
    "square",  "sign",  "floor", "ceil",      "round",  "reciprocal", "erf",   "logicalNot",
    "isnan",   "isinf", "isfinite", "clone",  "detach", "contiguous", "t",     "trunc",
};

Tensor unaryOp(int code, const Tensor& t) {
  switch (code) {
    case 0: return at::neg(t);
    case 1: return at::abs(t);
    case 2: return at::exp(t);
    case 3: return at::log(t);
    case 4: return at::log1p(t);
    case 5: return at::expm1(t);
    case 6: return at::sqrt(t);
    case 7: return at::rsqrt(t);
    case 8: return at::sin(t);
    case 9: return at::cos(t);
    case 10: return at::tan(t);
    case 11: return at::tanh(t);
    case 12: return at::sigmoid(t);
    case 13: return at::relu(t);
    case 14: return at::gelu(t);
    case 15: return at::silu(t);
    case 16: return at::square(t);
    case 17: return at::sign(t);
    case 18: return at::floor(t);
    case 19: return at::ceil(t);
    case 20: return at::round(t);
    case 21: return at::reciprocal(t);
    case 22: return at::erf(t);
    case 23: return at::logical_not(t);
    case 24: return at::isnan(t);
    case 25: return at::isinf(t);
    case 26: return at::isfinite(t);
    case 27: return t.clone();
    case 28: return t.detach();
    case 29: return t.contiguous();
    case 30: return t.t();
    case 31: return at::trunc(t);
  }
  throw RangeError("unknown unary op code " + std::to_string(code));
}

// ---- binary: op(a, b) where b is a Tensor or a JS number ----
constexpr std::array kBinary = {
    "add", "sub", "mul", "div", "pow", "remainder", "maximum", "minimum", "matmul",
    "eq",  "ne",  "lt",  "le",  "gt",  "ge",        "logicalAnd", "logicalOr", "atan2",
};

// x % -1 is 0, but INT64_MIN % -1 and INT32_MIN % -1 trap (SIGFPE) in libtorch's integer kernel, as in PyTorch,
// killing the process; a divisor of -1 is swapped for 1, which gives the same 0. Floats are not touched.
bool trapsOnMinusOne(at::ScalarType type) { return type == at::kLong || type == at::kInt; }

Tensor safeRemainder(const Tensor& a, const Tensor& b) {
  if (!trapsOnMinusOne(at::result_type(a, b))) return at::remainder(a, b);
  Tensor minusOne = b.eq(-1);
  return minusOne.any().item<bool>() ? at::remainder(a, b.masked_fill(minusOne, 1)) : at::remainder(a, b);
}

Tensor safeRemainder(const Tensor& a, const at::Scalar& b) {
  bool minusOne = b.isIntegral(false) && b.toLong() == -1;
  return at::remainder(a, minusOne && trapsOnMinusOne(a.scalar_type()) ? at::Scalar(1) : b);
}

Tensor binaryOp(int code, const Tensor& a, const Tensor& b) {
  switch (code) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return safeRemainder(a, b);
    case 6: return at::maximum(a, b);
    case 7: return at::minimum(a, b);
    case 8: return at::matmul(a, b);
    case 9: return at::eq(a, b);
    case 10: return at::ne(a, b);
    case 11: return at::lt(a, b);
    case 12: return at::le(a, b);
    case 13: return at::gt(a, b);
    case 14: return at::ge(a, b);
    case 15: return at::logical_and(a, b);
    case 16: return at::logical_or(a, b);
    case 17: return at::atan2(a, b);
  }
  throw RangeError("unknown binary op code " + std::to_string(code));
}

Tensor binaryScalarOp(int code, const Tensor& a, const at::Scalar& b) {
  switch (code) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return safeRemainder(a, b);
    case 6: return at::clamp_min(a, b);
    case 7: return at::clamp_max(a, b);
    case 9: return at::eq(a, b);
    case 10: return at::ne(a, b);
    case 11: return at::lt(a, b);
    case 12: return at::le(a, b);
    case 13: return at::gt(a, b);
    case 14: return at::ge(a, b);
  }
  throw TypeError(std::string(kBinary.at(code)) + " needs a Tensor as its second argument, not a number");
}

Napi::Value unary(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unaryOp(info[0].As<Napi::Number>().Int32Value(), unwrap(info[1])));
}

// Tensor ids are numbers too, so scalars come through a function of their own.
Napi::Value binary(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  return wrap(info.Env(), binaryOp(code, unwrap(info[1], "self"), unwrap(info[2], "other")));
}

Napi::Value binaryScalar(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  if (code < 0 || code >= static_cast<int>(kBinary.size())) throw RangeError("unknown binary op code");
  return wrap(info.Env(), binaryScalarOp(code, unwrap(info[1], "self"), toScalar(info[2], "other")));
}

// ---- reductions: op(t, dims | null, keepdim, extra) ----
constexpr std::array kReduce = {"sum", "mean", "prod", "amax", "amin", "logsumexp", "std", "var", "norm", "all", "any"};

Tensor reduceOp(int code, const Tensor& t, const std::optional<std::vector<int64_t>>& dims, bool keepdim,
                Napi::Value extra) {
  // Every dim when none is given; built only then (an allocation per call shows in the time of a small sum).
  std::vector<int64_t> all;
  if (!dims && (keepdim || code >= 3)) for (int64_t i = 0; i < t.dim(); ++i) all.push_back(i);
  at::IntArrayRef d = dims ? at::IntArrayRef(*dims) : at::IntArrayRef(all);
  // The one dim of prod/all/any, checked before use: `prod([])` must not read past an empty list.
  auto one = [&](const char* name) -> int64_t {
    if (dims->size() != 1) throw RangeError(std::string(name) + " reduces over one dim at a time");
    return (*dims)[0];
  };
  switch (code) {
    // Over every dim with keepdim, PyTorch keeps them as 1s: `t.sum(dim=None, keepdim=True)` has shape [1, 1].
    case 0: return dims || keepdim ? at::sum(t, d, keepdim) : at::sum(t);
    case 1: return dims || keepdim ? at::mean(t, d, keepdim) : at::mean(t);
    case 2: return dims ? at::prod(t, one("prod"), keepdim) : at::prod(t);
    case 3: return at::amax(t, d, keepdim);
    case 4: return at::amin(t, d, keepdim);
    case 5: return at::logsumexp(t, d, keepdim);
    case 6: return at::std(t, at::OptionalIntArrayRef(d), toBool(extra, "unbiased"), keepdim);
    case 7: return at::var(t, at::OptionalIntArrayRef(d), toBool(extra, "unbiased"), keepdim);
    // Python's Tensor.norm is linalg.vector_norm since PyTorch 2.0 (same values; its own errors for integers).
#if TORCH_VERSION_MAJOR >= 2
    case 8: return at::linalg_vector_norm(t, toScalar(extra, "p"), d, keepdim);
#else
    case 8: return at::norm(t, toScalar(extra, "p"), d, keepdim);
#endif
    case 9: return dims ? at::all(t, one("all"), keepdim) : at::all(t);
    case 10: return dims ? at::any(t, one("any"), keepdim) : at::any(t);
  }
  throw RangeError("unknown reduction code " + std::to_string(code));
}

Napi::Value reduce(const Napi::CallbackInfo& info) {
  int code = info[0].As<Napi::Number>().Int32Value();
  return wrap(info.Env(), reduceOp(code, unwrap(info[1]), toDims(info[2], "dim"), toBool(info[3], "keepdim"), info[4]));
}

// max/min over one dim -> [values, indices]; over all -> the value
Napi::Value maxMin(const Napi::CallbackInfo& info, bool isMax) {
  const Tensor& t = unwrap(info[0]);
  if (isMissing(info[1])) return wrap(info.Env(), isMax ? at::max(t) : at::min(t));
  auto [values, indices] = isMax ? at::max(t, toInt(info[1], "dim"), toBool(info[2], "keepdim"))
                                 : at::min(t, toInt(info[1], "dim"), toBool(info[2], "keepdim"));
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, wrap(info.Env(), values));
  out.Set(1u, wrap(info.Env(), indices));
  return out;
}
Napi::Value max(const Napi::CallbackInfo& info) { return maxMin(info, true); }
Napi::Value min(const Napi::CallbackInfo& info) { return maxMin(info, false); }

// topk(t, k, dim, largest, sorted) -> [values, indices], as torch.topk
Napi::Value topk(const Napi::CallbackInfo& info) {
  auto [values, indices] = at::topk(unwrap(info[0]), toInt(info[1], "k"), toInt(info[2], "dim"),
                                    toBool(info[3], "largest"), toBool(info[4], "sorted"));
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, wrap(info.Env(), values));
  out.Set(1u, wrap(info.Env(), indices));
  return out;
}

Napi::Value argmaxMin(const Napi::CallbackInfo& info, bool isMax) {
  const Tensor& t = unwrap(info[0]);
  c10::optional<int64_t> dim;
  if (!isMissing(info[1])) dim = toInt(info[1], "dim");
  bool keepdim = toBool(info[2], "keepdim");
  return wrap(info.Env(), isMax ? at::argmax(t, dim, keepdim) : at::argmin(t, dim, keepdim));
}
Napi::Value argmax(const Napi::CallbackInfo& info) { return argmaxMin(info, true); }
Napi::Value argmin(const Napi::CallbackInfo& info) { return argmaxMin(info, false); }

// ---- normalisation and similarity ----
Napi::Value softmax(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::softmax(unwrap(info[0]), toInt(info[1], "dim")));
}

Napi::Value logSoftmax(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::log_softmax(unwrap(info[0]), toInt(info[1], "dim")));
}

// As torch.nn.functional.normalize: x / max(||x||_p, eps) along dim.
Napi::Value normalize(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0]);
  auto p = toScalar(info[1], "p");
  int64_t dim = toInt(info[2], "dim");
  double eps = toDouble(info[3], "eps");
  return wrap(info.Env(), lvm::normalize(t, dim, p, eps));
}

Napi::Value cosineSimilarity(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::cosine_similarity(unwrap(info[0], "x1"), unwrap(info[1], "x2"), toInt(info[2], "dim"),
                                                toDouble(info[3], "eps")));
}

// ---- shape ----
Napi::Value view(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).view(toIntList(info[1], "shape")));
}

Napi::Value reshape(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).reshape(toIntList(info[1], "shape")));
}

Napi::Value expand(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).expand(toIntList(info[1], "shape")));
}

Napi::Value transpose(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).transpose(toInt(info[1], "dim0"), toInt(info[2], "dim1")));
}

Napi::Value permute(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).permute(toIntList(info[1], "dims")));
}

// slice(t, dim, start?, end?, step): Python's t[..., start:end:step, ...] on one dim.
Napi::Value slice(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0]);
  c10::optional<int64_t> start, end;
  if (!isMissing(info[2])) start = toInt(info[2], "start");
  if (!isMissing(info[3])) end = toInt(info[3], "end");
  int64_t step = toInt(info[4], "step");
  if (step <= 0) throw RangeError("slice step must be > 0, got " + std::to_string(step));
  return wrap(info.Env(), at::slice(t, toInt(info[1], "dim"), start, end, step));
}

Napi::Value select(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).select(toInt(info[1], "dim"), toInt(info[2], "index")));
}

Napi::Value indexSelect(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::index_select(unwrap(info[0]), toInt(info[1], "dim"), unwrap(info[2], "index")));
}

Napi::Value gather(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::gather(unwrap(info[0]), toInt(info[1], "dim"), unwrap(info[2], "index")));
}

Napi::Value squeeze(const Napi::CallbackInfo& info) {
  const Tensor& t = unwrap(info[0]);
  return wrap(info.Env(), isMissing(info[1]) ? t.squeeze() : t.squeeze(toInt(info[1], "dim")));
}

Napi::Value unsqueeze(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).unsqueeze(toInt(info[1], "dim")));
}

Napi::Value flatten(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).flatten(toInt(info[1], "startDim"), toInt(info[2], "endDim")));
}

Napi::Value cat(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::cat(unwrapList(info[0]), toInt(info[1], "dim")));
}

Napi::Value stack(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::stack(unwrapList(info[0]), toInt(info[1], "dim")));
}

Napi::Value wrapList(Napi::Env env, const std::vector<Tensor>& tensors) {
  auto out = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) out.Set(static_cast<uint32_t>(i), wrap(env, tensors[i]));
  return out;
}

Napi::Value chunk(const Napi::CallbackInfo& info) {
  return wrapList(info.Env(), at::chunk(unwrap(info[0]), toInt(info[1], "chunks"), toInt(info[2], "dim")));
}

Napi::Value split(const Napi::CallbackInfo& info) {
  return wrapList(info.Env(), at::split(unwrap(info[0]), toInt(info[1], "splitSize"), toInt(info[2], "dim")));
}

Napi::Value where(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), at::where(unwrap(info[0], "condition"), unwrap(info[1], "input"), unwrap(info[2], "other")));
}

Napi::Value clamp(const Napi::CallbackInfo& info) {
  c10::optional<at::Scalar> lo, hi;
  if (!isMissing(info[1])) lo = toScalar(info[1], "min");
  if (!isMissing(info[2])) hi = toScalar(info[2], "max");
  return wrap(info.Env(), at::clamp(unwrap(info[0]), lo, hi));
}

Napi::Value maskedFill(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), unwrap(info[0]).masked_fill(unwrap(info[1], "mask"), toScalar(info[2], "value")));
}

// ---- in place: inPlace(op, self, other, otherIsTensor, alpha?); the JS side returns `this` ----
Napi::Value inPlace(const Napi::CallbackInfo& info) {
  Tensor self = unwrap(info[1], "self");
  std::string op = info[0].As<Napi::String>().Utf8Value();
  bool otherIsTensor = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  auto scalarOrTensor = [&](auto&& withScalar, auto&& withTensor) {
    if (otherIsTensor) withTensor(unwrap(info[2], "other"));
    else withScalar(toScalar(info[2], "other"));
  };
  if (op == "add_") {
    at::Scalar alpha = isMissing(info[4]) ? at::Scalar(1) : toScalar(info[4], "alpha");
    scalarOrTensor([&](const at::Scalar& s) { self.add_(s, alpha); }, [&](const Tensor& o) { self.add_(o, alpha); });
  } else if (op == "sub_") {
    scalarOrTensor([&](const at::Scalar& s) { self.sub_(s); }, [&](const Tensor& o) { self.sub_(o); });
  } else if (op == "mul_") {
    scalarOrTensor([&](const at::Scalar& s) { self.mul_(s); }, [&](const Tensor& o) { self.mul_(o); });
  } else if (op == "div_") {
    scalarOrTensor([&](const at::Scalar& s) { self.div_(s); }, [&](const Tensor& o) { self.div_(o); });
  } else if (op == "copy_") {
    self.copy_(unwrap(info[2], "src"));
  } else if (op == "fill_") {
    self.fill_(toScalar(info[2], "value"));
  } else if (op == "zero_") {
    self.zero_();
  } else {
    throw RangeError("unknown in-place op " + op);
  }
  return info.Env().Undefined();
}

Napi::Array names(Napi::Env env, const char* const* first, size_t n) {
  auto out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) out.Set(static_cast<uint32_t>(i), first[i]);
  return out;
}

}  // namespace

void initOps(Napi::Env env, Napi::Object exports) {
  exports.Set("unaryOps", names(env, kUnary.data(), kUnary.size()));
  exports.Set("binaryOps", names(env, kBinary.data(), kBinary.size()));
  exports.Set("reduceOps", names(env, kReduce.data(), kReduce.size()));
  exportFunction<unary>(env, exports, "unary");
  exportFunction<binary>(env, exports, "binary");
  exportFunction<binaryScalar>(env, exports, "binaryScalar");
  exportFunction<reduce>(env, exports, "reduce");
  exportFunction<max>(env, exports, "max");
  exportFunction<min>(env, exports, "min");
  exportFunction<topk>(env, exports, "topk");
  exportFunction<argmax>(env, exports, "argmax");
  exportFunction<argmin>(env, exports, "argmin");
  exportFunction<softmax>(env, exports, "softmax");
  exportFunction<logSoftmax>(env, exports, "logSoftmax");
  exportFunction<normalize>(env, exports, "normalize");
  exportFunction<cosineSimilarity>(env, exports, "cosineSimilarity");
  exportFunction<view>(env, exports, "view");
  exportFunction<reshape>(env, exports, "reshape");
  exportFunction<expand>(env, exports, "expand");
  exportFunction<transpose>(env, exports, "transpose");
  exportFunction<permute>(env, exports, "permute");
  exportFunction<slice>(env, exports, "slice");
  exportFunction<select>(env, exports, "select");
  exportFunction<indexSelect>(env, exports, "indexSelect");
  exportFunction<gather>(env, exports, "gather");
  exportFunction<squeeze>(env, exports, "squeeze");
  exportFunction<unsqueeze>(env, exports, "unsqueeze");
  exportFunction<flatten>(env, exports, "flatten");
  exportFunction<cat>(env, exports, "cat");
  exportFunction<stack>(env, exports, "stack");
  exportFunction<chunk>(env, exports, "chunk");
  exportFunction<split>(env, exports, "split");
  exportFunction<where>(env, exports, "where");
  exportFunction<clamp>(env, exports, "clamp");
  exportFunction<maskedFill>(env, exports, "maskedFill");
  exportFunction<inPlace>(env, exports, "inPlace");
}

}  // namespace lvm
