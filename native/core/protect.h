// The one exception-safe layer between libtorch and JS, and the one place where a C++ exception becomes a JS error:
// every sync entry point runs inside protect(), and every async job (promise_worker.h) rejects with toJsError(), so
// the same bad input gives the same error class and code whether the call was sync or async, and no input from JS
// can abort the process. A binding that wants a better message throws a C++ exception carrying it; none maps
// exceptions to JS errors itself.
#pragma once
#include <napi.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace lvm {

// Raised by our own argument checks; they become TypeError (code ERR_INVALID_ARG_TYPE) and RangeError (code
// ERR_OUT_OF_RANGE) in JS, with the codes Node gives its own.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A tensor, model, optimiser, process group or file mapping used after it was freed: Error, code ERR_DISPOSED.
struct DisposedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Entry = Napi::Value (*)(const Napi::CallbackInfo&);

// The JS error for a C++ exception, each with a `code`:
//   lvm::TypeError                                      TypeError   ERR_INVALID_ARG_TYPE
//   lvm::RangeError, std::invalid_argument, c10::IndexError  RangeError  ERR_OUT_OF_RANGE
//   lvm::DisposedError                                  Error       ERR_DISPOSED
//   loss::NonFiniteLoss                                 Error       ERR_LOSS_NOT_FINITE
//   distributed::DistributedError                       Error       ERR_DISTRIBUTED
//   an allocation that failed (c10, std::bad_alloc)     Error       ERR_TORCH_OUT_OF_MEMORY
//   any other c10::Error or std::exception              Error       ERR_TORCH
// with libtorch's message, without its C++ backtrace. A Napi::Error (a JS exception that came through a call into
// JS) passes unchanged.
Napi::Error toJsError(Napi::Env env, std::exception_ptr error);

// Turns the exception in flight into a pending JS exception. Called only from a catch block.
void throwPending(Napi::Env env);

template <Entry F>
Napi::Value protect(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (...) {
    throwPending(info.Env());
    return Napi::Value();
  }
}

template <Entry F>
void exportFunction(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<protect<F>>(env, name));  // the template form: no per-call indirection
}

}  // namespace lvm
