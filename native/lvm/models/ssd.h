// Mamba2's selective state space scan, computed as SSD (state space duality, Dao & Gu 2024): the sequence is
// cut into chunks; within a chunk the scan is a masked attention-like matrix product, between chunks a short
// recurrence carries the state. Plain ATen ops (einsum, cumsum, exp), so it runs wherever ATen does (CPU, CUDA)
// and autograd differentiates it. The template is mamba_ssm's `ssd_minimal_discrete`
// (mamba_ssm/modules/ssd_minimal.py), which equals its fused `mamba_chunk_scan_combined`.
#pragma once
#include <ATen/ATen.h>

namespace lvm::models {

// The discretised scan, per head h, for t = 0..T-1, from a zero state:
//   state_t = exp(a_t) * state_{t-1} + x_t (outer) b_t      y_t = state_t . c_t
// x [batch, T, heads, headdim] (already scaled by dt), a [batch, T, heads] (A * dt, <= 0),
// b, c [batch, T, heads, dState] -> y [batch, T, heads, headdim]. T need not be a multiple of chunkSize.
at::Tensor ssdChunkedScan(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b, const at::Tensor& c,
                          int64_t chunkSize);

}  // namespace lvm::models
