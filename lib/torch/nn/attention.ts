// nn.MultiheadAttention: PyTorch's parameters (in_proj_weight [3E, E], in_proj_bias, out_proj), initialisation and
// masks, computed as its multi_head_attention_forward does (same embedding size for query, key and value).
import { empty, zeros } from '../functions.js';
import type { Tensor } from '../tensor.js';
import { dropout, linear } from './functional.js';
import { constant_, xavierUniform_ } from './init.js';
import { Linear, type FactoryOptions } from './linear.js';
import { Module } from './module.js';
import { parameterOf, type Parameter } from './parameter.js';

export interface MultiheadAttentionOptions extends FactoryOptions {
  /** Dropout on the attention weights, in training mode. */
  dropout?: number;
  bias?: boolean;
  /** Inputs and outputs [batch, seq, embed] instead of [seq, batch, embed]. */
  batchFirst?: boolean;
}

export interface AttentionCallOptions {
  /** `[N, S]`: true (or -inf when float) where a key is padding, to be ignored. */
  keyPaddingMask?: Tensor | null;
  /** Return the attention weights too (default true, as PyTorch). */
  needWeights?: boolean;
  /** [L, S] or [N * heads, L, S]: true where attention is not allowed, or an additive float mask. */
  attnMask?: Tensor | null;
  /** Average the returned weights over the heads (default true). */
  averageAttnWeights?: boolean;
}

export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly headDim: number;
  in_proj_weight: Parameter;
  in_proj_bias: Parameter | null;
  out_proj: Linear;

  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim <= 0) throw new RangeError(`embedDim must be a positive integer, got ${embedDim}`);
    if (!Number.isInteger(numHeads) || numHeads <= 0 || embedDim % numHeads) throw new RangeError('embed_dim must be divisible by num_heads');
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.dropout = opts.dropout ?? 0;
    this.batchFirst = opts.batchFirst ?? false;
    this.headDim = embedDim / numHeads;
    const f = { device: opts.device, dtype: opts.dtype };
    // PyTorch's order of construction, so that the same seed draws the same numbers: out_proj is made (and
    // initialised as a Linear) before in_proj_weight is.
    this.in_proj_weight = parameterOf(empty([3 * embedDim, embedDim], f));
    this.in_proj_bias = opts.bias === false ? null : parameterOf(empty([3 * embedDim], f));
    this.out_proj = new Linear(embedDim, embedDim, { ...f, bias: opts.bias !== false });
    xavierUniform_(this.in_proj_weight);
    if (this.in_proj_bias) constant_(this.in_proj_bias, 0);
    if (this.out_proj.bias) constant_(this.out_proj.bias, 0);
  }

  /** query [L, N, E], key and value [S, N, E] (or batch first, or unbatched) -> [output, weights or null]. */
  forward(query: Tensor, key: Tensor, value: Tensor, opts: AttentionCallOptions = {}): [Tensor, Tensor | null] {
    const unbatched = query.ndim === 2;
    const toNLE = (t: Tensor): Tensor => (unbatched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const [q0, k0, v0] = [query, key, value].map(toNLE);
    const [N, L, E] = q0.shape;
    const S = k0.shape[1];
    if (E !== this.embedDim) throw new RangeError(`was expecting embedding dimension of ${this.embedDim}, but got ${E}`);
    const H = this.numHeads, D = this.headDim;
    const w = this.in_proj_weight, b = this.in_proj_bias;
    const proj = (x: Tensor, i: number): Tensor =>
      linear(x, w.slice(0, i * E, (i + 1) * E), b ? b.slice(0, i * E, (i + 1) * E) : null);
    // [N, len, E] -> [N, H, len, D]
    const heads = (x: Tensor, len: number): Tensor => x.reshape(N, len, H, D).transpose(1, 2);
    const q = heads(proj(q0, 0), L), k = heads(proj(k0, 1), S), v = heads(proj(v0, 2), S);
    let scores = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(D)); // [N, H, L, S]
    const mask = additiveMask(opts, N, this.numHeads, L, S, unbatched);
    if (mask) scores = scores.add(mask);
    let weights = scores.softmax(-1);
    if (this.dropout > 0 && this.training) weights = dropout(weights, this.dropout, true);
    const attended = weights.matmul(v).transpose(1, 2).reshape(N, L, E);
    let out = this.out_proj.forward(attended);
    out = unbatched ? out.squeeze(0) : this.batchFirst ? out : out.transpose(0, 1);
    if (!(opts.needWeights ?? true)) return [out, null];
    let shown = (opts.averageAttnWeights ?? true) ? weights.mean(1) : weights;
    if (unbatched) shown = shown.squeeze(0);
    return [out, shown];
  }
}

// The masks as one additive float mask broadcasting to [N, H, L, S] (-inf where attention is not allowed).
function additiveMask(opts: AttentionCallOptions, N: number, H: number, L: number, S: number, unbatched: boolean): Tensor | null {
  const additive = (m: Tensor): Tensor => (m.dtype === 'bool' ? zeros([...m.shape], { device: m.device }).maskedFill(m, -Infinity) : m);
  let mask: Tensor | null = null;
  if (opts.attnMask) {
    const m = additive(opts.attnMask);
    if (m.ndim === 2) mask = m.reshape(1, 1, L, S);
    else if (m.ndim === 3) mask = m.reshape(N, H, L, S);
    else throw new RangeError(`attn_mask must be 2-D or 3-D, got ${m.ndim}-D`);
  }
  if (opts.keyPaddingMask) {
    const p = additive(unbatched ? opts.keyPaddingMask.unsqueeze(0) : opts.keyPaddingMask).reshape(N, 1, 1, S);
    mask = mask ? mask.add(p) : p;
  }
  return mask;
}
