// What other bindings (the native train step) read of the loss's arguments from JS.
#pragma once
#include <napi.h>

#include <optional>

#include "composite_loss.h"

namespace lvm {

// [tau, info, moment, variance, mse, cosMse, document] (lib/lvm/loss/composite.ts, weightArray()).
loss::CompositeWeights readWeights(Napi::Value v);

// The loss's values as a JS object keyed by loss::kComponentNames ({ total, info, ..., cosine }).
Napi::Object lossValues(Napi::Env env, const std::array<double, loss::kComponents>& values);

// undefined -> nullopt; else { vectors, positive, context } (lib/lvm/loss/composite.ts, Candidates). The tensors are
// copies of the handles' (shared storage), so a worker thread keeps them alive.
std::optional<loss::Candidates> readCandidates(Napi::Value v);

}  // namespace lvm
