// The one exception-safe layer between libtorch and JS: every native entry point runs inside protect(), so a
// C++ exception becomes a JS exception carrying libtorch's message, and no input from JS can abort the process.
#pragma once
#include <napi.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace lvm {

// Raised by our own argument checks; they become TypeError and RangeError in JS.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Entry = Napi::Value (*)(const Napi::CallbackInfo&);

// The JS error for a C++ exception: TypeError/RangeError for ours, libtorch's message (without its C++ backtrace)
// and a code (ERR_TORCH, ERR_TORCH_OUT_OF_MEMORY) for the rest. Async work uses it for errors caught off-thread.
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
