// A native object (a model, an optimiser, a process group) crosses to JS as a type-tagged External holding a
// shared_ptr: a worker (the native train step) can hold the object while it runs, dispose() frees it now rather
// than at garbage collection, and another addon's External, or a disposed object, is refused, not misread.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <utility>

#include "protect.h"

namespace lvm {

template <typename T>
class SharedHandle {
 public:
  // `tag` must outlive the handle (a constant); `what` names the object in errors ("an optimizer"), `gone` says
  // why a disposed one cannot be used ("the optimizer was disposed and can no longer be used").
  constexpr SharedHandle(const napi_type_tag* tag, const char* what, const char* gone) : tag_(tag), what_(what), gone_(gone) {}

  Napi::Value wrap(Napi::Env env, std::shared_ptr<T> object) const {
    auto external = Napi::External<Holder>::New(env, new Holder{std::move(object)}, [](Napi::Env, Holder* h) { delete h; });
    external.TypeTag(tag_);
    return external;
  }

  bool isOurs(Napi::Value v) const { return v.IsExternal() && v.As<Napi::External<Holder>>().CheckTypeTag(tag_); }

  // Throws TypeError for what is not one of ours, DisposedError for a disposed one.
  std::shared_ptr<T> shared(Napi::Value v) const {
    std::shared_ptr<T>& object = holder(v).object;
    if (!object) throw DisposedError(gone_);
    return object;
  }
  T& get(Napi::Value v) const { return *shared(v); }

  // Frees the object now (a worker still running keeps it alive). Throws TypeError for what is not one of ours.
  void dispose(Napi::Value v) const { holder(v).object.reset(); }

 private:
  struct Holder {
    std::shared_ptr<T> object;
  };
  Holder& holder(Napi::Value v) const {
    if (!isOurs(v)) throw TypeError(std::string("expected ") + what_ + " handle");
    return *v.As<Napi::External<Holder>>().Data();
  }
  const napi_type_tag* tag_;
  const char* what_;
  const char* gone_;
};

}  // namespace lvm
