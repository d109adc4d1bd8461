// torch.nn.functional: what the layers of torch.nn compute, by PyTorch's names in camelCase. The ones with an ATen
// kernel call it (native/torch/nn_functional.cc), so values and gradients are PyTorch's; the rest are compositions
// of ops, as PyTorch's own Python is.
import { cosineSimilarity, normalize, softmax, tensor } from '../functions.js';
import { native } from '../native.js';
import { fromRaw, rawOf, Tensor } from '../tensor.js';

export { cosineSimilarity, normalize, softmax };

export type Reduction = 'none' | 'mean' | 'sum';

/** x W^T + b. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return fromRaw(native().nnLinear(rawOf(input), rawOf(weight), bias ? rawOf(bias) : undefined));
}

/** y_k = x1 A_k x2 + b_k over [..., in1] and [..., in2] -> [..., out], weight [out, in1, in2]. */
export function bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const [out, in1, in2] = weight.shape;
  if (weight.ndim !== 3 || input1.shape.at(-1) !== in1 || input2.shape.at(-1) !== in2) {
    throw new RangeError(`bilinear: inputs [..., ${in1}] and [..., ${in2}] for weight [${weight.shape.join(', ')}], ` +
      `got [${input1.shape.join(', ')}] and [${input2.shape.join(', ')}]`);
  }
  // x1 [N, 1, 1, in1] @ A [out, in1, in2] -> [N, out, 1, in2]; @ x2 [N, 1, in2, 1] -> [N, out, 1, 1].
  const lead = input1.shape.slice(0, -1);
  const y = input1.reshape(-1, 1, 1, in1).matmul(weight).matmul(input2.reshape(-1, 1, in2, 1)).reshape(...lead, out);
  return bias ? y.add(bias) : y;
}

/** Zeroes elements with probability p and scales the rest by 1 / (1 - p) when training; the identity otherwise. */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  return fromRaw(native().nnDropout(rawOf(input), p, training));
}

export function layerNorm(input: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return fromRaw(native().nnLayerNorm(rawOf(input), normalizedShape, weight ? rawOf(weight) : undefined,
    bias ? rawOf(bias) : undefined, eps));
}

/** x / sqrt(mean(x^2 over normalizedShape) + eps) * weight; eps defaults to the dtype's machine epsilon, as PyTorch's. */
export function rmsNorm(input: Tensor, normalizedShape: number[], weight?: Tensor | null, eps?: number | null): Tensor {
  const dims = normalizedShape.map((_, i) => -1 - i);
  const e = eps ?? machineEpsilon(input);
  const y = input.mul(input.square().mean(dims, true).add(e).rsqrt());
  return weight ? y.mul(weight) : y;
}

function machineEpsilon(t: Tensor): number {
  switch (t.dtype) {
    case 'float64': return 2 ** -52;
    case 'float16': return 2 ** -10;
    case 'bfloat16': return 2 ** -7;
    default: return 2 ** -23;
  }
}

export function gelu(input: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return fromRaw(native().nnGelu(rawOf(input), opts.approximate ?? 'none'));
}

export function relu(input: Tensor): Tensor {
  return input.relu();
}

export function silu(input: Tensor): Tensor {
  return input.silu();
}

/** Rows of weight by index (int64 or int32); paddingIdx's row gets no gradient. */
export function embedding(input: Tensor, weight: Tensor, paddingIdx?: number | null): Tensor {
  let pad = paddingIdx ?? -1;
  if (paddingIdx !== undefined && paddingIdx !== null) {
    const n = weight.shape[0];
    if (!Number.isInteger(pad) || pad >= n || pad < -n) throw new RangeError(`paddingIdx must be within num_embeddings, got ${pad}`);
    if (pad < 0) pad += n;
  }
  return fromRaw(native().nnEmbedding(rawOf(weight), rawOf(input), pad));
}

export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return fromRaw(native().nnMseLoss(rawOf(input), rawOf(target), opts.reduction ?? 'mean'));
}

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  ignoreIndex?: number;
  reduction?: Reduction;
  labelSmoothing?: number;
}

/** Logits [N, C] (or [C], or [N, C, ...]) against class indices (int64) or class probabilities of the logits' shape. */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  return fromRaw(native().nnCrossEntropy(rawOf(input), rawOf(target), opts.weight ? rawOf(opts.weight) : undefined,
    opts.ignoreIndex ?? -100, opts.reduction ?? 'mean', opts.labelSmoothing ?? 0));
}

/** 1-D convolution over [N, C, L] (or [C, L]): weight [out, C / groups, k]; padding a number, 'same' or 'valid'. */
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv1dOptions = {}): Tensor {
  return fromRaw(native().nnConv1d(rawOf(input), rawOf(weight), bias ? rawOf(bias) : undefined, opts.stride ?? 1,
    opts.padding ?? 0, opts.dilation ?? 1, opts.groups ?? 1));
}

export interface Conv1dOptions {
  stride?: number;
  padding?: number | 'same' | 'valid';
  dilation?: number;
  groups?: number;
}

/** Constant padding: pad = [left, right] for the last dimension, then [left, right] for the one before, ... */
export function pad(input: Tensor, padding: number[], opts: { mode?: 'constant'; value?: number } = {}): Tensor {
  if ((opts.mode ?? 'constant') !== 'constant') throw new RangeError(`pad: only mode 'constant' is supported, got '${opts.mode}'`);
  return fromRaw(native().nnPad(rawOf(input), padding, opts.value ?? 0));
}

export interface AttentionOptions {
  /** A boolean mask (true: take part) or an additive float mask, broadcast to [..., L, S]. */
  attnMask?: Tensor | null;
  dropoutP?: number;
  isCausal?: boolean;
  /** Default 1 / sqrt(E). */
  scale?: number;
}

/**
 * softmax(Q K^T * scale + mask) V over [..., L, E] queries, [..., S, E] keys and [..., S, Ev] values, as
 * F.scaled_dot_product_attention's reference (math) implementation.
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, opts: AttentionOptions = {}): Tensor {
  const L = query.shape.at(-2)!, S = key.shape.at(-2)!;
  if (opts.isCausal && opts.attnMask) throw new RangeError('scaledDotProductAttention: give attnMask or isCausal, not both');
  const scale = opts.scale ?? 1 / Math.sqrt(query.shape.at(-1)!);
  let scores = query.matmul(key.transpose(-2, -1)).mul(scale);
  let mask = opts.attnMask ?? null;
  if (opts.isCausal) mask = tril(L, S, query);
  if (mask) scores = mask.dtype === 'bool' ? scores.maskedFill(mask.logicalNot(), -Infinity) : scores.add(mask);
  let weights = scores.softmax(-1);
  if (opts.dropoutP) weights = dropout(weights, opts.dropoutP, true);
  return weights.matmul(value);
}

// The causal mask: position i attends to positions <= i.
function tril(L: number, S: number, like: Tensor): Tensor {
  return tensor(Array.from({ length: L }, (_, i) => Array.from({ length: S }, (_, j) => j <= i)), { device: like.device });
}
