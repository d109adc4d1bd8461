// Registers every part of the addon; each part lives in the file of the same name.
#include <napi.h>

namespace lvm {
void initHandle(Napi::Env, Napi::Object);
void initTensor(Napi::Env, Napi::Object);
void initOps(Napi::Env, Napi::Object);
void initAutograd(Napi::Env, Napi::Object);
void initRuntime(Napi::Env, Napi::Object);
void initLoss(Napi::Env, Napi::Object);
void initOptim(Napi::Env, Napi::Object);
void initModels(Napi::Env, Napi::Object);
void initTrain(Napi::Env, Napi::Object);
void initLinalg(Napi::Env, Napi::Object);
void initQuantized(Napi::Env, Napi::Object);
void initServe(Napi::Env, Napi::Object);
void initStorageIo(Napi::Env, Napi::Object);
void initMappedFile(Napi::Env, Napi::Object);
void initDistributed(Napi::Env, Napi::Object);
void initNnFunctional(Napi::Env, Napi::Object);
void initRnn(Napi::Env, Napi::Object);
}  // namespace lvm

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  lvm::initHandle(env, exports);
  lvm::initTensor(env, exports);
  lvm::initOps(env, exports);
  lvm::initAutograd(env, exports);
  lvm::initRuntime(env, exports);
  lvm::initLoss(env, exports);
  lvm::initOptim(env, exports);
  lvm::initModels(env, exports);
  lvm::initTrain(env, exports);
  lvm::initLinalg(env, exports);
  lvm::initQuantized(env, exports);
  lvm::initServe(env, exports);
  lvm::initStorageIo(env, exports);
  lvm::initMappedFile(env, exports);
  lvm::initDistributed(env, exports);
  lvm::initNnFunctional(env, exports);
  lvm::initRnn(env, exports);
  return exports;
}

NODE_API_MODULE(lvmtorch, Init)
