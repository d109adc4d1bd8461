// Storages that view a mapped file (native/torch/mapped_file.cc).
#pragma once
#include <ATen/ATen.h>

namespace lvm {

// Whether the storage is a view of a file mapping made by mappedStorage(): its bytes are the file's pages.
bool isMappedStorage(const c10::Storage& storage);

}  // namespace lvm
