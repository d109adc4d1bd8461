// What other bindings (the native train step) need of a model handle from JS.
#pragma once
#include <napi.h>

#include <memory>

#include "predictor.h"

namespace lvm {

// The model behind a JS handle, shared: it stays alive while a step runs, even if JS disposes it meanwhile.
// Throws TypeError for what is no model handle, Error for a disposed one.
std::shared_ptr<models::Predictor> sharedModel(Napi::Value v);

// modelPredictAsync (predict_async.cc); initModels() registers it.
void initPredictAsync(Napi::Env env, Napi::Object exports);

}  // namespace lvm
