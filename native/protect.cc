#include "protect.h"

#include <c10/util/Exception.h>
#include <c10/util/Logging.h>

#include <new>

namespace lvm {

namespace {

// libtorch symbolises a C++ backtrace into every c10::Error it makes (~6 ms for an index error), and
// withoutBacktrace() below throws it away; fetching none makes a bad call as cheap to refuse as a good one is to run.
const bool kNoBacktraces = (c10::SetStackTraceFetcher([] { return std::string(); }), true);

// libtorch appends a C++ backtrace ("Exception raised from ... frame #0 ...") that means nothing to a JS user.
std::string withoutBacktrace(const char* what) {
  std::string msg(what);
  for (const char* marker : {"\nException raised from ", "Exception raised from "}) {
    auto at = msg.find(marker);
    if (at != std::string::npos) msg.erase(at);
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

Napi::Error errorWithCode(Napi::Env env, const std::string& msg, const char* code) {
  auto err = Napi::Error::New(env, msg);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace

void throwPending(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const TypeError& e) {
    Napi::TypeError::New(env, e.what()).ThrowAsJavaScriptException();
  } catch (const RangeError& e) {
    Napi::RangeError::New(env, e.what()).ThrowAsJavaScriptException();
  } catch (const c10::IndexError& e) {
    Napi::RangeError::New(env, withoutBacktrace(e.what_without_backtrace())).ThrowAsJavaScriptException();
  } catch (const c10::Error& e) {
    std::string msg = withoutBacktrace(e.what_without_backtrace());
    // CUDA says "out of memory"; the CPU allocator says "can't allocate memory".
    bool oom = msg.find("out of memory") != std::string::npos ||
               msg.find("can't allocate memory") != std::string::npos;
    errorWithCode(env, msg, oom ? "ERR_TORCH_OUT_OF_MEMORY" : "ERR_TORCH").ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    errorWithCode(env, "out of memory (host allocation failed)", "ERR_TORCH_OUT_OF_MEMORY").ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    errorWithCode(env, withoutBacktrace(e.what()), "ERR_TORCH").ThrowAsJavaScriptException();
  } catch (...) {
    errorWithCode(env, "unknown native error", "ERR_TORCH").ThrowAsJavaScriptException();
  }
}

}  // namespace lvm
