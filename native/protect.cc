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

Napi::Error toJsError(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Napi::Error& e) {
    return e;
  } catch (const TypeError& e) {
    return Napi::TypeError::New(env, e.what());
  } catch (const RangeError& e) {
    return Napi::RangeError::New(env, e.what());
  } catch (const c10::IndexError& e) {
    return Napi::RangeError::New(env, withoutBacktrace(e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    std::string msg = withoutBacktrace(e.what_without_backtrace());
    // CUDA says "out of memory"; the CPU allocator says "can't allocate memory".
    bool oom = msg.find("out of memory") != std::string::npos ||
               msg.find("can't allocate memory") != std::string::npos;
    return errorWithCode(env, msg, oom ? "ERR_TORCH_OUT_OF_MEMORY" : "ERR_TORCH");
  } catch (const std::bad_alloc&) {
    return errorWithCode(env, "out of memory (host allocation failed)", "ERR_TORCH_OUT_OF_MEMORY");
  } catch (const std::exception& e) {
    return errorWithCode(env, withoutBacktrace(e.what()), "ERR_TORCH");
  } catch (...) {
    return errorWithCode(env, "unknown native error", "ERR_TORCH");
  }
}

void throwPending(Napi::Env env) {
  toJsError(env, std::current_exception()).ThrowAsJavaScriptException();
}

}  // namespace lvm
