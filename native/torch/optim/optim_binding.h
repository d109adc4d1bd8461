// What other bindings (the native train step) need of an optimiser handle from JS.
#pragma once
#include <napi.h>

#include <memory>

#include "optimizer.h"

namespace lvm {

// The optimiser behind a JS handle, shared: it stays alive while a step runs, even if JS disposes it meanwhile.
// Throws TypeError for what is no optimiser handle, Error for a disposed one.
std::shared_ptr<optim::Optimizer> sharedOptimizer(Napi::Value v);

}  // namespace lvm
