// What other bindings (the native train step) need of a process group handle from JS.
#pragma once
#include <napi.h>

#include <memory>

#include "process_group.h"

namespace lvm {

// The group behind a JS handle, shared (a step holds it while it runs); nullptr for undefined or null. Throws
// TypeError for what is no process group handle, Error for a closed one.
std::shared_ptr<distributed::ProcessGroup> sharedProcessGroup(Napi::Value v);

}  // namespace lvm
