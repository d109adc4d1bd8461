// "[2, 3]": how error messages name a shape, as PyTorch prints one.
#pragma once
#include <c10/util/StringUtil.h>
#include <ATen/ATen.h>

#include <string>

namespace lvm {

inline std::string shapeOf(at::IntArrayRef sizes) { return "[" + c10::Join(", ", sizes) + "]"; }
inline std::string shapeOf(const at::Tensor& t) { return shapeOf(t.sizes()); }

}  // namespace lvm
