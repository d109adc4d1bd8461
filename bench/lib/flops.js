// The GEMM floor: floating-point operations of one training step (forward + backward) of the seed's models,
// counted from their shapes, and what a measured matmul rate makes of them (samples/s no implementation can beat
// on this machine without doing less arithmetic).
//
// Only matrix products are counted: every Linear, every GRU/LSTM gate product (input and hidden), the attention
// projections and its two batched products (Q K^T and A V). Element-wise work (activations, LayerNorm, softmax,
// the loss, the optimiser) is left out: it is small next to them and it is not GEMM work. A product of an [m, k]
// matrix by a [k, n] one costs 2 m k n forward; backward costs 2 m k n for the weight's gradient plus 2 m k n for
// the input's gradient, the latter only where the input needs one. Two do not: the first layer's input (the data)
// and a recurrence's first hidden product (h0 is zeros and not a parameter; PyTorch computes it forward all the
// same). So a step costs a little under 3x its forward: 6.22 GFLOP for the seed GRU at batch 32, against the
// 3 x forward = 6.54 GFLOP of ../shared/DESIGN.md ("68 MFLOP forward per sample").

/**
 * { forward, backward, step } FLOPs of one training step of `config` (a model's config: kind, inputDim, dModel,
 * numLayers, outputDim, heads, ffDim) on [B, T, inputDim].
 */
export function trainingFlops(config, B, T = 5) {
  let forward = 0;
  let backward = 0;
  // [m, k] x [k, n]; inputGrad: whether the gradient of the [m, k] side is needed; repeats: how many such products.
  const mm = (m, k, n, { inputGrad = true, repeats = 1 } = {}) => {
    forward += 2 * m * k * n * repeats;
    backward += 2 * m * k * n * repeats * (inputGrad ? 2 : 1);
  };
  // A recurrent layer's gate products over T steps (gates = 3 for a GRU, 4 for an LSTM): the input side as one
  // [B*T, in] product (PyTorch does it so on the CPU), the hidden side one [B, d] product per step.
  const recurrent = (inDim, d, gates, inputGrad) => {
    mm(B * T, inDim, gates * d, { inputGrad });
    mm(B, d, gates * d, { repeats: T });
    backward -= 2 * B * d * gates * d;  // no gradient for h0
  };
  // The seed's head on the last step: Linear(d, d), GELU, LayerNorm, Linear(d, out).
  const head = (d, out) => {
    mm(B, d, d);
    mm(B, d, out);
  };
  const { kind, inputDim: D, dModel: d, numLayers: L, outputDim: out } = config;
  if (kind === 'gru') {
    mm(B * T, D, d, { inputGrad: false });                       // input_proj
    for (let l = 0; l < L; l++) recurrent(d, d, 3, true);         // blocks: x + GRU(LayerNorm(x))
    head(d, out);
  } else if (kind === 'lstm') {
    for (let l = 0; l < L; l++) recurrent(l === 0 ? D : d, d, 4, l > 0);
    head(d, out);
  } else if (kind === 'latent_mamba') {
    mm(B * T, D, d, { inputGrad: false });                       // input_proj
    for (let l = 0; l < L; l++) recurrent(d, d, 4, true);
    mm(B, d, D);                                                  // output_head, on the last step
  } else if (kind === 'transformer') {
    const ff = config.ffDim ?? 4 * d;
    const attention = () => {                                     // per head h: [T, d/h] x [d/h, T], then [T, T] x [T, d/h]
      mm(T, d / config.heads, T, { repeats: B * config.heads });
      mm(T, T, d / config.heads, { repeats: B * config.heads });
    };
    mm(B * T, D, d, { inputGrad: false });                       // input_proj
    for (let l = 0; l < L; l++) {                                 // a post-norm TransformerDecoderLayer, memory = tgt
      mm(B * T, d, 3 * d); attention(); mm(B * T, d, d);          // self-attention: in_proj (q, k, v), out_proj
      mm(B * T, d, d); mm(B * T, d, 2 * d); attention(); mm(B * T, d, d); // cross-attention: q; k, v of memory; out_proj
      mm(B * T, d, ff); mm(B * T, ff, d);                         // feed-forward
    }
    head(d, out);
  } else {
    throw new Error(`no FLOP count for a ${kind} model`);
  }
  return { forward, backward, step: forward + backward };
}

/** Samples/s of the floor: a step's FLOPs at `gflops` (GFLOP/s), per sample. */
export function floorSamplesPerSecond(config, B, gflops, T = 5) {
  return (gflops * 1e9) / (trainingFlops(config, B, T).step / B);
}
