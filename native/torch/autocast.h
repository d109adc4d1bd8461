// torch.autocast(device, dtype=torch.bfloat16) around a forward on this thread: matmuls and linears run in bf16
// on fp32 master weights, as PyTorch's autocast does (its state is thread-local, so the worker thread sets it).
// The C++ API changed between libtorch 1.13 (set_cpu_enabled / set_autocast_cpu_dtype) and 2.x
// (set_autocast_enabled / set_autocast_dtype per device type).
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace lvm {

// Whether autocast is on for this device on this thread (torch.is_autocast_enabled(device)).
inline bool autocastEnabled(at::DeviceType device) {
#if TORCH_VERSION_MAJOR >= 2
  return at::autocast::is_autocast_enabled(device);
#else
  return device == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

class Bf16Autocast {
 public:
  Bf16Autocast(bool on, at::DeviceType device) : on_(on), device_(device) {
    if (!on_) return;
    prevEnabled_ = autocastEnabled(device_);
    prevDtype_ = dtype();
    setEnabled(true);
    setDtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~Bf16Autocast() {
    if (!on_) return;
    // As Python's autocast: the cache of bf16 weight copies lives until the outermost region ends.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    setEnabled(prevEnabled_);
    setDtype(prevDtype_);
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
#if TORCH_VERSION_MAJOR >= 2
  void setEnabled(bool on) const { at::autocast::set_autocast_enabled(device_, on); }
  at::ScalarType dtype() const { return at::autocast::get_autocast_dtype(device_); }
  void setDtype(at::ScalarType t) const { at::autocast::set_autocast_dtype(device_, t); }
#else
  bool cpu() const { return device_ == at::kCPU; }
  void setEnabled(bool on) const { cpu() ? at::autocast::set_cpu_enabled(on) : at::autocast::set_enabled(on); }
  at::ScalarType dtype() const { return cpu() ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype(); }
  void setDtype(at::ScalarType t) const { cpu() ? at::autocast::set_autocast_cpu_dtype(t) : at::autocast::set_autocast_gpu_dtype(t); }
#endif

  bool on_;
  at::DeviceType device_;
  bool prevEnabled_ = false;
  at::ScalarType prevDtype_ = at::kBFloat16;
};

}  // namespace lvm
