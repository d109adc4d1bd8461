#include "handle.h"

#include <deque>
#include <string>

#include "args.h"
#include "../torch/mapped_file.h"
#include "protect.h"

namespace lvm {

namespace {

constexpr int kIndexBits = 24;                 // 16M live tensors
constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
constexpr uint32_t kGenerationMask = 0x7f;     // id = generation << 24 | index, a positive int32 (a V8 Smi)
constexpr int64_t kReportEvery = 1 << 20;      // bytes: V8 is told of native growth in steps, not per tensor
// What lib/torch/tensor.ts holds once a tensor is disposed. Generations wrap after 128 reuses of a slot, and a free
// slot is reused at once, so a kept stale id would soon name someone else's tensor; this one never does.
constexpr int32_t kDisposedId = -1;

struct Slot {
  at::Tensor tensor;
  int64_t bytes = 0;
  uint32_t generation = 0;
};

// One table per Node environment (worker threads each get their own), kept in the env's instance data.
struct Table {
  std::deque<Slot> slots;  // a deque: references stay valid while new slots are added
  std::vector<uint32_t> free;
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
  int64_t unreported = 0;
  // Ids that lib/torch/lifetime.ts has queued for disposal: [count, id, id, ...] in a JS Int32Array kept alive by
  // `queueRef`. Freeing them in batches, at the next op, saves one JS-to-native call per dispose().
  int32_t* queue = nullptr;
  napi_ref queueRef = nullptr;
  // While > 0 (holdMemoryReports), growth is only summed: V8 hears the net change once, when the hold ends.
  int holds = 0;
};

// Every op looks its table up twice or more, so the last one found is cached per thread: an env lives on one
// thread, and a worker's thread ends with its env (the finalizer below clears the cache before that).
thread_local napi_env cachedEnv = nullptr;
thread_local Table* cachedTable = nullptr;

void dropTable(Napi::Env env, Table* t) {
  if (cachedTable == t) cachedEnv = nullptr, cachedTable = nullptr;
  delete t;
}

Table& table(Napi::Env env) {
  if (cachedEnv == static_cast<napi_env>(env)) return *cachedTable;
  Table* t = env.GetInstanceData<Table>();
  if (t == nullptr) {
    t = new Table();
    env.SetInstanceData<Table, dropTable>(t);
  }
  cachedEnv = env;
  cachedTable = t;
  return *t;
}

void account(Napi::Env env, Table& t, int64_t delta) {
  t.liveBytes += delta;
  t.unreported += delta;
  if (t.holds == 0 && (t.unreported >= kReportEvery || t.unreported <= -kReportEvery)) {
    int64_t ignored;
    napi_adjust_external_memory(env, t.unreported, &ignored);
    t.unreported = 0;
  }
}

// A mapped file's pages (mapped_file.cc) are not memory that freeing this tensor would give back.
int64_t nbytesOf(const at::Tensor& t) {
  if (!t.has_storage() || isMappedStorage(t.storage())) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

// The index of the live slot an id names, or -1 when the id is stale (disposed).
int64_t indexOf(Table& t, int32_t id, const char* what) {
  if (id == kDisposedId) return -1;
  uint32_t index = static_cast<uint32_t>(id) & kIndexMask;
  if (id < 0 || index >= t.slots.size()) throw TypeError(std::string(what) + " must be a Tensor");
  Slot& slot = t.slots[index];
  if (slot.generation != (static_cast<uint32_t>(id) >> kIndexBits) || !slot.tensor.defined()) return -1;
  return index;
}

int64_t find(Table& t, Napi::Value value, const char* what) {
  int32_t id = 0;
  if (napi_get_value_int32(value.Env(), value, &id) != napi_ok) throw TypeError(std::string(what) + " must be a Tensor");
  return indexOf(t, id, what);
}

void release(Napi::Env env, Table& t, int64_t index) {
  Slot& slot = t.slots[index];
  slot.tensor = at::Tensor();
  account(env, t, -slot.bytes);
  slot.bytes = 0;
  slot.generation = (slot.generation + 1) & kGenerationMask;
  --t.liveTensors;
  t.free.push_back(static_cast<uint32_t>(index));
}

void drain(Napi::Env env, Table& t) {
  int32_t n = t.queue[0];
  t.queue[0] = 0;
  for (int32_t i = 1; i <= n; ++i) {
    int64_t index = indexOf(t, t.queue[i], "queued tensor");
    if (index >= 0) release(env, t, index);  // disposing twice is harmless
  }
}

void drainQueued(Napi::Env env, Table& t) {
  if (t.queue != nullptr && t.queue[0] > 0) drain(env, t);
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  Table& t = table(info.Env());
  int64_t index = find(t, info[0], "tensor");
  if (index >= 0) release(info.Env(), t, index);
  return info.Env().Undefined();
}

Napi::Value flushDisposed(const Napi::CallbackInfo& info) {
  drainQueued(info.Env(), table(info.Env()));
  return info.Env().Undefined();
}

// Takes the Int32Array that lib/torch/lifetime.ts queues ids in; element 0 counts them.
Napi::Value setDisposeQueue(const Napi::CallbackInfo& info) {
  Table& t = table(info.Env());
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw TypeError("the dispose queue must be an Int32Array");
  auto array = info[0].As<Napi::Int32Array>();
  if (array.ElementLength() < 2) throw RangeError("the dispose queue needs room for at least one id");
  drainQueued(info.Env(), t);
  if (t.queueRef != nullptr) napi_delete_reference(info.Env(), t.queueRef);
  napi_create_reference(info.Env(), array, 1, &t.queueRef);
  t.queue = array.Data();
  t.queue[0] = 0;
  return info.Env().Undefined();
}

// holdMemoryReports(on): a file reader makes hundreds of tensors at once (flat storages, then views of them, then
// the flat ones go): reported as they come, each step past V8's external memory limit runs a 5-10 ms step of
// incremental marking on this thread, and the views and their storages are counted twice meanwhile. Held, V8
// hears the net growth once, when the (outermost) hold ends; holds nest.
Napi::Value holdMemoryReports(const Napi::CallbackInfo& info) {
  Table& t = table(info.Env());
  if (toBool(info[0], "on")) {
    ++t.holds;
  } else if (t.holds > 0 && --t.holds == 0) {
    account(info.Env(), t, 0);
  }
  return info.Env().Undefined();
}

Napi::Value memory(const Napi::CallbackInfo& info) {
  Table& t = table(info.Env());
  drainQueued(info.Env(), t);
  auto out = Napi::Object::New(info.Env());
  out.Set("tensors", static_cast<double>(t.liveTensors));
  out.Set("bytes", static_cast<double>(t.liveBytes));
  return out;
}

}  // namespace

Napi::Value wrap(Napi::Env env, at::Tensor tensor) {
  Table& t = table(env);
  drainQueued(env, t);
  uint32_t index;
  if (!t.free.empty()) {
    index = t.free.back();
    t.free.pop_back();
  } else {
    if (t.slots.size() > kIndexMask) throw RangeError("more than 16M live tensors: dispose some");
    index = static_cast<uint32_t>(t.slots.size());
    t.slots.emplace_back();
  }
  Slot& slot = t.slots[index];
  slot.bytes = nbytesOf(tensor);
  slot.tensor = std::move(tensor);
  ++t.liveTensors;
  account(env, t, slot.bytes);
  napi_value out;
  napi_create_int32(env, static_cast<int32_t>((slot.generation << kIndexBits) | index), &out);
  return Napi::Value(env, out);
}

const at::Tensor& unwrap(Napi::Value value, const char* what) {
  Table& t = table(value.Env());
  int64_t index = find(t, value, what);
  if (index < 0) throw DisposedError(std::string(what) + " was disposed and can no longer be used");
  return t.slots[index].tensor;
}

std::vector<at::Tensor> unwrapList(Napi::Value value, const char* what) {
  if (!value.IsArray()) throw TypeError(std::string(what) + " must be an array of Tensors");
  auto array = value.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(unwrap(array.Get(i), what));
  return out;
}

void initHandle(Napi::Env env, Napi::Object exports) {
  exportFunction<dispose>(env, exports, "dispose");
  exportFunction<memory>(env, exports, "liveTensors");
  exportFunction<flushDisposed>(env, exports, "flushDisposed");
  exportFunction<setDisposeQueue>(env, exports, "setDisposeQueue");
  exportFunction<holdMemoryReports>(env, exports, "holdMemoryReports");
}

}  // namespace lvm
