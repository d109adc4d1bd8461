// What the running process has: libtorch's version and build, devices, threads and the BLAS library in use.
#include <dlfcn.h>
#include <link.h>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <malloc.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "../core/args.h"
#include "../core/protect.h"

namespace lvm {

namespace {

// glibc gives every allocation over its mmap threshold (dynamic, from 128 KiB) pages of its own and returns the top
// of the heap to the OS beyond 128 KiB free; a train step allocates and frees the same few-MB tensors thousands of
// times, so each step paid for fresh pages: 341 ms for a seed-GRU step at batch 32 here, 67 ms with tensors up to
// 32 MiB kept in the heap and up to 256 MiB of free heap kept (Python's torch pays the same unless its heap happens
// to be warm). Left alone when the user set glibc's own MALLOC_* variables, or LVMTORCH_MALLOC_TUNING=0.
void tuneMalloc() {
#ifdef __GLIBC__
  for (const char* v : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(v)) return;
  }
  const char* opt = std::getenv("LVMTORCH_MALLOC_TUNING");
  if (opt && std::string(opt) == "0") return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

constexpr int64_t kMaxThreads = 1024;

Napi::Value cudaDeviceCount(const Napi::CallbackInfo& info) {
  int count = at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  return Napi::Number::New(info.Env(), count);
}

Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = toInt(info[0], "threads");
  // OpenMP takes any count at its word: a million threads hangs the process instead of failing.
  if (n < 1 || n > kMaxThreads) {
    throw RangeError("threads must be from 1 to " + std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  }
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

// BLAS libraries are found in the loaded objects, since libtorch only links "libblas.so.3", which Debian's
// alternatives point at OpenBLAS or at the (16x slower) reference BLAS.
int collectBlas(struct dl_phdr_info* object, size_t, void* out) {
  std::string name = object->dlpi_name ? object->dlpi_name : "";
  if (name.find("blas") != std::string::npos || name.find("mkl") != std::string::npos) {
    char resolved[PATH_MAX];
    static_cast<std::vector<std::string>*>(out)->push_back(realpath(name.c_str(), resolved) ? resolved : name);
  }
  return 0;
}

template <typename F>
F blasSymbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

// MKL is linked into PyTorch 2.x's libtorch_cpu (no library of its own to find); it exports its version call.
Napi::Value mklVersion(Napi::Env env) {
  auto version = blasSymbol<void (*)(char*, int)>("MKL_Get_Version_String");
  if (!version) return env.Null();
  char buf[256] = {0};
  version(buf, sizeof(buf) - 1);
  std::string s(buf);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return Napi::String::New(env, s);
}

Napi::Value blasInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> libraries;
  dl_iterate_phdr(collectBlas, &libraries);
  auto out = Napi::Object::New(env);
  auto list = Napi::Array::New(env, libraries.size());
  for (size_t i = 0; i < libraries.size(); ++i) list.Set(static_cast<uint32_t>(i), libraries[i]);
  out.Set("libraries", list);
  auto config = blasSymbol<char* (*)()>("openblas_get_config");
  auto coretype = blasSymbol<char* (*)()>("openblas_get_corename");
  auto threads = blasSymbol<int (*)()>("openblas_get_num_threads");
  auto mklThreads = blasSymbol<int (*)()>("mkl_get_max_threads");
  out.Set("openblas", config ? Napi::Value(Napi::String::New(env, config())) : env.Null());
  out.Set("coretype", coretype ? Napi::Value(Napi::String::New(env, coretype())) : env.Null());
  out.Set("mkl", mklVersion(env));
  if (threads) out.Set("threads", threads());
  else if (mklThreads) out.Set("threads", mklThreads());
  else out.Set("threads", env.Null());
  return out;
}

// OpenBLAS has a thread pool of its own; MKL in libtorch runs on OpenMP's, which setNumThreads sets.
Napi::Value setBlasThreads(const Napi::CallbackInfo& info) {
  int64_t n = toInt(info[0], "threads");
  if (n < 1 || n > kMaxThreads) {
    throw RangeError("threads must be from 1 to " + std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  }
  auto set = blasSymbol<void (*)(int)>("openblas_set_num_threads");
  if (set) set(static_cast<int>(n));
  return Napi::Boolean::New(info.Env(), set != nullptr);
}

// A BLAS kernel chosen for the wrong CPU computes wrong numbers rather than failing: one float32 matmul of known
// values through libtorch (and so through its BLAS) against the same product in float64, as a relative error.
Napi::Value blasSelfCheck(const Napi::CallbackInfo& info) {
  constexpr int64_t M = 64, K = 96, N = 80;
  auto a = at::empty({M, K}, at::kFloat);
  auto b = at::empty({K, N}, at::kFloat);
  float* pa = a.data_ptr<float>();
  float* pb = b.data_ptr<float>();
  for (int64_t i = 0; i < M * K; ++i) pa[i] = static_cast<float>(std::sin(0.37 * i));
  for (int64_t i = 0; i < K * N; ++i) pb[i] = static_cast<float>(std::cos(0.23 * i));
  auto c = at::mm(a, b);
  const float* pc = c.data_ptr<float>();
  double maxError = 0, maxValue = 0;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double ref = 0;
      for (int64_t k = 0; k < K; ++k) ref += static_cast<double>(pa[i * K + k]) * pb[k * N + j];
      maxError = std::max(maxError, std::abs(ref - pc[i * N + j]));
      maxValue = std::max(maxValue, std::abs(ref));
    }
  }
  return Napi::Number::New(info.Env(), maxError / std::max(maxValue, 1e-30));
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("libtorchVersion", LVMTORCH_LIBTORCH_VERSION);
  out.Set("cudaBuilt", at::hasCUDA() || at::detail::getCUDAHooks().hasCUDART());
  out.Set("config", at::show_config());
  out.Set("parallel", at::get_parallel_info());
  return out;
}

}  // namespace

void initRuntime(Napi::Env env, Napi::Object exports) {
  tuneMalloc();
  exportFunction<cudaDeviceCount>(env, exports, "cudaDeviceCount");
  exportFunction<getNumThreads>(env, exports, "getNumThreads");
  exportFunction<setNumThreads>(env, exports, "setNumThreads");
  exportFunction<blasInfo>(env, exports, "blasInfo");
  exportFunction<setBlasThreads>(env, exports, "setBlasThreads");
  exportFunction<blasSelfCheck>(env, exports, "blasSelfCheck");
  exportFunction<buildInfo>(env, exports, "buildInfo");
}

}  // namespace lvm
