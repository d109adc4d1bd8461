// A tiny addon with no libtorch dependency. preload(paths) dlopens libtorch's shared libraries by full path with
// RTLD_GLOBAL, so that the real addon's dependencies (matched by soname) are already resolved when it loads,
// even when libtorch lives outside the dynamic linker's search path (a Python torch install, a LIBTORCH folder), and
// never resolves to another libtorch of the same soname (pip's unversioned libtorch.so against Debian's symlink).
#include <dlfcn.h>
#include <node_api.h>

#include <string>

namespace {

napi_value fail(napi_env env, const std::string& message) {
  napi_throw_error(env, "ERR_LIBTORCH_LOAD", message.c_str());
  return nullptr;
}

napi_value preload(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool isArray = false;
  if (argc < 1 || napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray) {
    return fail(env, "preload expects an array of paths");
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[0], &n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value item;
    char path[4096];
    size_t len = 0;
    napi_get_element(env, argv[0], i, &item);
    if (napi_get_value_string_utf8(env, item, path, sizeof(path), &len) != napi_ok || len >= sizeof(path) - 1) {
      return fail(env, "preload: each path must be a string shorter than 4096 bytes");
    }
    // Never closed: libtorch cannot be unloaded safely, and the addon needs it for the life of the process.
    if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) == nullptr) return fail(env, std::string("cannot load ") + dlerror());
  }
  return nullptr;
}

// openblasCore(path): loads an OpenBLAS on its own and returns the core it picked. `lvmtorch doctor` runs it in a
// child process without OPENBLAS_CORETYPE, to say what OpenBLAS would choose by itself on this CPU.
napi_value openblasCore(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char path[4096];
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok || len >= sizeof(path) - 1) {
    return fail(env, "openblasCore expects a path shorter than 4096 bytes");
  }
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return fail(env, std::string("cannot load ") + dlerror());
  auto corename = reinterpret_cast<char* (*)()>(dlsym(lib, "openblas_get_corename"));
  if (corename == nullptr) return fail(env, std::string(path) + " has no openblas_get_corename");
  napi_value out;
  napi_create_string_utf8(env, corename(), NAPI_AUTO_LENGTH, &out);
  return out;
}

napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "preload", NAPI_AUTO_LENGTH, preload, nullptr, &fn);
  napi_set_named_property(env, exports, "preload", fn);
  napi_create_function(env, "openblasCore", NAPI_AUTO_LENGTH, openblasCore, nullptr, &fn);
  napi_set_named_property(env, exports, "openblasCore", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(lvmtorch_preload, init)
