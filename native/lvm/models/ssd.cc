#include "ssd.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace lvm::models {

namespace {

// [..., l] -> [..., l, l]: out[..., i, j] = x[j+1] + ... + x[i] for i >= j, -inf above the diagonal, so that
// exp(out) is the decay from step j to step i and zero where j is in i's future. Summing masked copies (not
// differencing one cumsum) keeps it exact for long chunks: mamba_ssm's `segsum`.
at::Tensor segsum(const at::Tensor& x) {
  const int64_t l = x.size(-1);
  const auto flags = x.options().dtype(at::kBool);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.push_back(l);
  at::Tensor strictlyBelow = at::ones({l, l}, flags).tril(-1);
  at::Tensor sums = x.unsqueeze(-1).expand(shape).masked_fill(strictlyBelow.logical_not(), 0).cumsum(-2);
  return sums.masked_fill(at::ones({l, l}, flags).tril().logical_not(), -std::numeric_limits<double>::infinity());
}

// [batch, T, ...] -> [batch, chunks, len, ...], zero-padded at the end of time: a padded step has x = 0 and a = 0,
// so it adds nothing, and being last it cannot reach a real step.
at::Tensor chunked(const at::Tensor& t, int64_t chunks, int64_t len) {
  const int64_t pad = chunks * len - t.size(1);
  at::Tensor padded = t;
  if (pad > 0) {
    std::vector<int64_t> widths(2 * (t.dim() - 1), 0);  // (before, after) per dim, last dim first
    widths.back() = pad;
    padded = at::constant_pad_nd(t, widths, 0);
  }
  std::vector<int64_t> shape = {t.size(0), chunks, len};
  for (int64_t d = 2; d < t.dim(); ++d) shape.push_back(t.size(d));
  return padded.reshape(shape);
}

}  // namespace

at::Tensor ssdChunkedScan(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b, const at::Tensor& c,
                          int64_t chunkSize) {
  const int64_t batch = x.size(0), T = x.size(1), heads = x.size(2), headdim = x.size(3);
  // A short sequence is one chunk of its own length rather than one mostly-padding chunk.
  const int64_t len = std::min(chunkSize, T);
  const int64_t chunks = (T + len - 1) / len;
  at::Tensor X = chunked(x, chunks, len);                            // [b, c, l, h, p]
  at::Tensor A = chunked(a, chunks, len).permute({0, 3, 1, 2});      // [b, h, c, l]
  at::Tensor B = chunked(b, chunks, len), C = chunked(c, chunks, len);  // [b, c, l, h, n]
  at::Tensor cumA = A.cumsum(-1);

  // 1. Inside each chunk, the scan is a masked matrix product ("attention" with decay):
  //    y_i = sum_{j <= i} (c_i . b_j) exp(a_{j+1} + ... + a_i) x_j.
  at::Tensor scores = at::einsum("bclhn,bcshn->bhcls", {C, B}) * segsum(A).exp();
  at::Tensor yDiag = at::einsum("bhcls,bcshp->bclhp", {scores, X});
  // One chunk (T <= chunkSize, the seed's short contexts) starts from the zero state: steps 2-4 would add zero,
  // after materialising a [batch, heads, headdim, dState] state for nothing.
  if (chunks == 1) return yDiag.reshape({batch, len, heads, headdim}).narrow(1, 0, T);

  // 2. What each chunk adds to the state at its own end: sum_j exp(a_{j+1} + ... + a_last) x_j (outer) b_j.
  at::Tensor decayToEnd = (cumA.narrow(-1, len - 1, 1) - cumA).exp();  // [b, h, c, l]
  at::Tensor ends = at::einsum("bclhn,bhcl,bclhp->bchpn", {B, decayToEnd, X});

  // 3. Between chunks, the recurrence over chunk ends: the state entering chunk z is every earlier chunk's end
  //    state decayed across the chunks in between (a [chunks+1]-long segsum; the zero initial state first).
  ends = at::cat({at::zeros_like(ends.narrow(1, 0, 1)), ends}, 1);
  at::Tensor chunkDecay = segsum(at::constant_pad_nd(cumA.select(-1, len - 1), {1, 0}, 0)).exp();  // [b, h, c+1, c+1]
  at::Tensor entering = at::einsum("bhzc,bchpn->bzhpn", {chunkDecay, ends}).narrow(1, 0, chunks);

  // 4. The entering state's share of each output: c_i . state, decayed from the chunk's start to step i.
  at::Tensor yOff = at::einsum("bclhn,bchpn,bhcl->bclhp", {C, entering, cumA.exp()});

  return (yDiag + yOff).reshape({batch, chunks * len, heads, headdim}).narrow(1, 0, T);
}

}  // namespace lvm::models
