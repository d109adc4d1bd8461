// Storages that are views of a file mapped into memory (loadTorchFile(path, { mmap: true }), as PyTorch's
// torch.load(mmap=True)): the whole file is mapped once, MAP_PRIVATE and writable, and each storage record
// becomes a CPU tensor over its bytes, with no copy; pages are read from the page cache when first touched. A
// write to such a tensor copies that page for this process (copy-on-write): the file never changes. The mapping
// lives as long as any storage made from it (and the JS handle, until mappingRelease), then it is unmapped.
//
// Mapped storages are not counted as native memory (handle.cc): they are the file's pages, which the kernel can
// drop and read again, not memory that a GC of forgotten tensors would give back.
//
// The one hazard, as with every mapping: if the file is truncated (or rewritten in place) while mapped, touching
// a page past its new end raises SIGBUS and ends the process. Replacing it by rename (saveTorchFile, any atomic
// writer) or deleting it is safe: the mapping keeps the old file's bytes.
//
//   mapFile(fd, size) -> handle          mappedStorage(handle, offset, nbytes, dtype) -> tensor
//   mappingRelease(handle)               mappedFiles() -> { mappings, bytes }: those alive in this process
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include "mapped_file.h"

#include "../core/args.h"
#include "../core/handle.h"
#include "../core/protect.h"

namespace lvm {

namespace {

std::atomic<int64_t> liveMappings{0};
std::atomic<int64_t> liveMappedBytes{0};

struct Mapping {
  uint8_t* base;
  size_t size;
  Mapping(uint8_t* b, size_t s) : base(b), size(s) {
    ++liveMappings;
    liveMappedBytes += static_cast<int64_t>(s);
  }
  ~Mapping() {
    ::munmap(base, size);
    --liveMappings;
    liveMappedBytes -= static_cast<int64_t>(size);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

struct Holder {
  std::shared_ptr<Mapping> mapping;
};

// A storage's share of a mapping; its deleter also tells mapped storages apart (isMappedStorage).
struct View {
  std::shared_ptr<Mapping> mapping;
};

void deleteView(void* context) {
  delete static_cast<View*>(context);
}

constexpr napi_type_tag kMappingTag = {0x6c766d746f726368ULL, 0x6d6170706564666cULL};

Holder& holderOf(Napi::Value v) {
  if (!v.IsExternal() || !v.As<Napi::External<Holder>>().CheckTypeTag(&kMappingTag)) throw TypeError("expected a file mapping handle");
  return *v.As<Napi::External<Holder>>().Data();
}

// mapFile(fd, size): maps the first `size` bytes (the file's size, as the caller found it) of an open file.
Napi::Value mapFile(const Napi::CallbackInfo& info) {
  int64_t fd = toInt(info[0], "fd");
  int64_t size = toInt(info[1], "size");
  if (fd < 0 || fd > INT32_MAX) throw RangeError("fd must be an open file descriptor");
  if (size <= 0) throw RangeError("cannot map an empty file");
  void* base = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_PRIVATE, static_cast<int>(fd), 0);
  if (base == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(), "mmap of " + std::to_string(size) + " bytes");
  }
  auto* holder = new Holder{std::make_shared<Mapping>(static_cast<uint8_t*>(base), static_cast<size_t>(size))};
  auto out = Napi::External<Holder>::New(info.Env(), holder, [](Napi::Env, Holder* h) { delete h; });
  out.TypeTag(&kMappingTag);
  return out;
}

// mappedStorage(handle, offset, nbytes, dtype): a flat tensor of nbytes / itemsize elements over the mapping's
// bytes at offset, which must lie inside it and be a multiple of the dtype's size.
Napi::Value mappedStorage(const Napi::CallbackInfo& info) {
  Holder& h = holderOf(info[0]);
  if (!h.mapping) throw DisposedError("the file mapping was released");
  int64_t offset = toInt(info[1], "offset");
  int64_t nbytes = toInt(info[2], "nbytes");
  at::ScalarType dtype = toDtype(info[3]);
  int64_t item = static_cast<int64_t>(c10::elementSize(dtype));
  if (offset < 0 || nbytes < 0 || static_cast<uint64_t>(offset) > h.mapping->size ||
      static_cast<uint64_t>(nbytes) > h.mapping->size - static_cast<uint64_t>(offset)) {
    throw RangeError(std::to_string(nbytes) + " bytes at offset " + std::to_string(offset) + " are not inside the " +
                     std::to_string(h.mapping->size) + " mapped bytes");
  }
  if (offset % item != 0 || nbytes % item != 0) {
    throw RangeError("a mapped " + std::string(c10::toString(dtype)) + " storage must start and end at a multiple of " +
                     std::to_string(item) + " bytes (offset " + std::to_string(offset) + ", " + std::to_string(nbytes) + " bytes)");
  }
  auto options = at::TensorOptions().dtype(dtype);
  auto tensor = at::empty({0}, options);
  if (nbytes == 0) return wrap(info.Env(), tensor);
  c10::DataPtr data(h.mapping->base + offset, new View{h.mapping}, &deleteView, at::Device(at::kCPU));
  c10::Storage storage(c10::Storage::use_byte_size_t(), static_cast<size_t>(nbytes), std::move(data), nullptr, false);
  tensor.set_(storage, 0, {nbytes / item}, {1});
  return wrap(info.Env(), std::move(tensor));
}

// Drops the handle's own reference: the mapping goes once no storage made from it is left.
Napi::Value mappingRelease(const Napi::CallbackInfo& info) {
  holderOf(info[0]).mapping.reset();
  return info.Env().Undefined();
}

Napi::Value mappedFiles(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("mappings", static_cast<double>(liveMappings.load()));
  out.Set("bytes", static_cast<double>(liveMappedBytes.load()));
  return out;
}

}  // namespace

bool isMappedStorage(const c10::Storage& storage) {
  return storage.data_ptr().get_deleter() == &deleteView;
}

void initMappedFile(Napi::Env env, Napi::Object exports) {
  exportFunction<mapFile>(env, exports, "mapFile");
  exportFunction<mappedStorage>(env, exports, "mappedStorage");
  exportFunction<mappingRelease>(env, exports, "mappingRelease");
  exportFunction<mappedFiles>(env, exports, "mappedFiles");
}

}  // namespace lvm
