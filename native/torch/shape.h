// "[2, 3]": how error messages name a shape, as PyTorch prints one.
#pragma once
#include <c10/util/StringUtil.h>
#include <ATen/ATen.h>

#include <string>

namespace lvm {

// Appended, not "[" + Join(...): GCC 12 warns (-Wstringop-overflow, a false positive) on the
// insert that `const char* + std::string&&` inlines.
inline std::string shapeOf(at::IntArrayRef sizes) {
  std::string s = "[";
  s += c10::Join(", ", sizes);
  s += ']';
  return s;
}
inline std::string shapeOf(const at::Tensor& t) { return shapeOf(t.sizes()); }

}  // namespace lvm
