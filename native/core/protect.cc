#include "protect.h"

#include <c10/util/Exception.h>
#include <c10/util/Logging.h>

#include <new>

#include "../torch/distributed/process_group.h"
#include "../lvm/loss/composite_loss.h"

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

Napi::Error withCode(Napi::Env env, Napi::Error err, const char* code) {
  err.Set("code", Napi::String::New(env, code));
  return err;
}

Napi::Error error(Napi::Env env, const std::string& msg, const char* code) {
  return withCode(env, Napi::Error::New(env, msg), code);
}

Napi::Error rangeError(Napi::Env env, const std::string& msg) {
  return withCode(env, Napi::RangeError::New(env, msg), "ERR_OUT_OF_RANGE");
}

}  // namespace

Napi::Error toJsError(Napi::Env env, std::exception_ptr exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const Napi::Error& e) {
    return e;
  } catch (const TypeError& e) {
    return withCode(env, Napi::TypeError::New(env, e.what()), "ERR_INVALID_ARG_TYPE");
  } catch (const RangeError& e) {
    return rangeError(env, e.what());
  } catch (const std::invalid_argument& e) {  // our models' and the loss's checks, in plain C++
    return rangeError(env, e.what());
  } catch (const DisposedError& e) {
    return error(env, e.what(), "ERR_DISPOSED");
  } catch (const loss::NonFiniteLoss& e) {
    return error(env, e.what(), "ERR_LOSS_NOT_FINITE");
  } catch (const distributed::DistributedError& e) {
    return error(env, e.what(), "ERR_DISTRIBUTED");
  } catch (const c10::IndexError& e) {
    return rangeError(env, withoutBacktrace(e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    std::string msg = withoutBacktrace(e.what_without_backtrace());
    // CUDA says "out of memory"; the CPU allocator says "can't allocate memory".
    bool oom = msg.find("out of memory") != std::string::npos ||
               msg.find("can't allocate memory") != std::string::npos;
    return error(env, msg, oom ? "ERR_TORCH_OUT_OF_MEMORY" : "ERR_TORCH");
  } catch (const std::bad_alloc&) {
    return error(env, "out of memory (host allocation failed)", "ERR_TORCH_OUT_OF_MEMORY");
  } catch (const std::exception& e) {
    return error(env, withoutBacktrace(e.what()), "ERR_TORCH");
  } catch (...) {
    return error(env, "unknown native error", "ERR_TORCH");
  }
}

void throwPending(Napi::Env env) {
  toJsError(env, std::current_exception()).ThrowAsJavaScriptException();
}

}  // namespace lvm
