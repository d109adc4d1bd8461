// models.gru() / lstm() / mamba2() / transformer(): the seed's architectures at the seed's sizes unless told
// otherwise; models.latentMamba(): the seed inference server's own model; and models.fromCheckpoint(), which
// rebuilds one from a state dict's keys and shapes.
import { Tensor } from '../../torch/tensor.js';
import { KINDS, type ModelConfig, type ModelKind } from './config.js';
import { NativeModel } from './native-model.js';

export { NativeModel } from './native-model.js';
export type { LinearKeys, ModelConfig, ModelKind } from './config.js';

export type ModelOptions = Partial<Omit<ModelConfig, 'kind'>>;

/** The seed server's LatentMamba keeps the first 768 of its head's outputs (the vector, not the TMD code). */
const LATENT_MAMBA_KEPT = 768;

function make(kind: ModelKind, opts: ModelOptions): NativeModel {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`models.${kind}() takes an options object`);
  // Every field the kind reads is given to the native side, which has no defaults of its own (KINDS is the one place).
  const config: ModelConfig = { kind, ...KINDS[kind].defaults, ...opts };
  // The seed's Transformer sizes its feed-forward layer as 4 x dModel.
  if (kind === 'transformer' && opts.ffDim === undefined) config.ffDim = 4 * config.dModel;
  // LatentMamba's prediction is its head's first 768 outputs, or all of them when it has fewer.
  if (kind === 'latent_mamba' && opts.outputDim === undefined) config.outputDim = Math.min(LATENT_MAMBA_KEPT, config.inputDim);
  for (const [k, v] of Object.entries(config)) {
    if (k !== 'kind' && (typeof v !== 'number' || !Number.isFinite(v)))
      throw new TypeError(`models.${kind}(): ${k} must be a number, got ${JSON.stringify(v)}`);
  }
  return new NativeModel(config);
}

/** The seed's Mamba2VectorPredictor in its GRU fallback: input_proj, blocks of `x + GRU(LayerNorm(x))`, head. */
export function gru(opts: ModelOptions = {}): NativeModel {
  return make('gru', opts);
}

/** The seed's LSTMVectorPredictor: a stacked LSTM on the input vectors, then the head. */
export function lstm(opts: ModelOptions = {}): NativeModel {
  return make('lstm', opts);
}

/**
 * The seed's Mamba2VectorPredictor with real Mamba2 blocks: input_proj, blocks of `x + Mamba2(LayerNorm(x))`
 * (mamba_ssm's Mamba2, its scan computed as chunked SSD in plain ATen ops, nothing CPU-specific), head.
 */
export function mamba2(opts: ModelOptions = {}): NativeModel {
  return make('mamba2', opts);
}

/** The seed's TransformerVectorPredictor: a causal post-norm TransformerDecoder (tgt = memory = x), then the head. */
export function transformer(opts: ModelOptions = {}): NativeModel {
  return make('transformer', opts);
}

/**
 * The seed inference server's own model, LatentMamba (5,006,608 parameters at its defaults): input_proj
 * Linear(inputDim, dModel), dropout, an LSTM of numLayers (dropout between layers), output_head Linear(dModel,
 * inputDim) on the last step. Its input is 784-D (768 + a 16-D TMD code) and so is its head: `raw` is that whole
 * output [batch, inputDim], the prediction the L2-normalised first outputDim (768) of it, as the server returns.
 * Keys as PyTorch's: input_proj.*, lstm.weight_ih_l0 ... bias_hh_l1, output_head.*.
 */
export function latentMamba(opts: ModelOptions = {}): NativeModel {
  return make('latent_mamba', opts);
}

/** What fromCheckpoint() cannot read from a state dict's shapes. */
export interface FromCheckpointOptions {
  /**
   * latent_mamba only: how many of the head's outputs the prediction keeps (default: the checkpoint's
   * `model_config`'s, else 768 as the seed server, or inputDim when that is smaller).
   */
  outputDim?: number;
}

/**
 * Rebuilds the model a state dict (or a checkpoint holding `model_state_dict`) came from, and loads it
 * (strict). Sizes come from the keys and shapes; what shapes cannot tell (a Transformer's heads and dropout, a
 * Mamba2's ngroups and chunkSize, a LatentMamba's outputDim) from the checkpoint's `model_config`, else its `args`
 * (the seed's argparse options), else the defaults. A raw `state_dict()` of the seed server's LatentMamba (keys
 * input_proj.*, lstm.*, output_head.*) is recognised too.
 */
export function fromCheckpoint(ckpt: Record<string, unknown>, opts: FromCheckpointOptions = {}): NativeModel {
  const sd = (isRecord(ckpt.model_state_dict) ? ckpt.model_state_dict : ckpt) as Record<string, unknown>;
  const saved = isRecord(ckpt.model_config) ? (ckpt.model_config as Partial<ModelConfig>) : {};
  const args = isRecord(ckpt.args) ? ckpt.args : isRecord((ckpt.args as { state?: unknown })?.state) ? (ckpt.args as { state: Record<string, unknown> }).state : {};
  const kind = inferKind(sd);
  const sizes = inferSizes(sd, kind, saved.ngroups ?? 1);
  if (kind === 'latent_mamba') {
    const outputDim = opts.outputDim ?? saved.outputDim;
    if (outputDim !== undefined) sizes.outputDim = outputDim;
  }
  const model = make(kind, {
    ...sizes, ...ridgeContextOf(sd, sizes), ...pick(saved, ['dropout', 'heads', 'chunkSize']), ...headsFromArgs(args),
  });
  try {
    model.loadStateDict(sd, { strict: true });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

// A model trained as a residual over ridge (the trainer's `residual: 'ridge'`) has ridge.weight [outputDim, T * inputDim].
function ridgeContextOf(sd: Record<string, unknown>, sizes: ModelOptions): ModelOptions {
  const w = sd['ridge.weight'];
  if (!(w instanceof Tensor)) return {};
  const t = w.shape[1] / sizes.inputDim!;
  if (w.ndim !== 2 || !Number.isInteger(t) || t < 1) {
    throw new Error(`fromCheckpoint(): ridge.weight has shape [${w.shape.join(', ')}], not [outputDim, T * ${sizes.inputDim}]`);
  }
  return { ridgeContext: t };
}

function inferKind(sd: Record<string, unknown>): ModelKind {
  // LatentMamba has an lstm too: its input_proj and output_head (no `head`) tell it apart.
  if ('lstm.weight_ih_l0' in sd && 'output_head.weight' in sd && 'input_proj.weight' in sd) return 'latent_mamba';
  if ('lstm.weight_ih_l0' in sd) return 'lstm';
  if ('blocks.0.mamba.weight_ih_l0' in sd) return 'gru';
  if ('transformer_decoder.layers.0.self_attn.in_proj_weight' in sd) return 'transformer';
  if ('blocks.0.mamba.A_log' in sd) return 'mamba2';
  const some = Object.keys(sd).slice(0, 5).join(', ');
  throw new Error(`fromCheckpoint(): not a state dict of a known LVM (GRU, LSTM, Mamba2, Transformer, LatentMamba); its first keys: ${some}`);
}

function inferSizes(sd: Record<string, unknown>, kind: ModelKind, ngroups: number): ModelOptions {
  const shape = (key: string): readonly number[] => {
    const t = sd[key];
    if (!(t instanceof Tensor)) throw new Error(`fromCheckpoint(): ${key} is missing or not a Tensor`);
    return t.shape;
  };
  const count = (pattern: RegExp): number => new Set(Object.keys(sd).map((k) => pattern.exec(k)?.[1]).filter(Boolean)).size;
  if ('output_head.weight' in sd) {
    // latent_mamba: input_proj [dModel, inputDim], output_head [inputDim, dModel]; outputDim is not in any shape.
    const [dModel, inputDim] = shape('input_proj.weight');
    return { inputDim, dModel, numLayers: count(/^lstm\.weight_ih_l(\d+)$/) };
  }
  const outputDim = shape(KINDS[kind].outputHead.weight)[0];
  if ('lstm.weight_ih_l0' in sd) {
    const [, inputDim] = shape('lstm.weight_ih_l0');
    return { inputDim, outputDim, dModel: shape('lstm.weight_hh_l0')[1], numLayers: count(/^lstm\.weight_ih_l(\d+)$/) };
  }
  const [dModel, inputDim] = shape('input_proj.weight');
  if ('blocks.0.mamba.weight_ih_l0' in sd) return { inputDim, outputDim, dModel, numLayers: count(/^blocks\.(\d+)\./) };
  if ('blocks.0.mamba.A_log' in sd) {
    return { inputDim, outputDim, dModel, numLayers: count(/^blocks\.(\d+)\./), ...mamba2Sizes(shape, dModel, ngroups) };
  }
  return {
    inputDim, outputDim, dModel, numLayers: count(/^transformer_decoder\.layers\.(\d+)\./),
    ffDim: shape('transformer_decoder.layers.0.linear1.weight')[0], maxLen: shape('pos_encoder.pe')[1],
  };
}

// Mamba2's widths from its block-0 shapes: A_log [heads], norm.weight [dInner], conv1d.weight [dInner + 2 *
// ngroups * dState, 1, dConv]. B and C's split into groups does not show in any shape: ngroups comes from the
// saved config (default 1).
function mamba2Sizes(shape: (key: string) => readonly number[], dModel: number, ngroups: number): ModelOptions {
  const [heads] = shape('blocks.0.mamba.A_log');
  const [dInner] = shape('blocks.0.mamba.norm.weight');
  const [convDim, , dConv] = shape('blocks.0.mamba.conv1d.weight');
  const sizes = { expand: dInner / dModel, headdim: dInner / heads, dState: (convDim - dInner) / (2 * ngroups), dConv, ngroups };
  for (const [k, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`fromCheckpoint(): the Mamba2 shapes give ${k} = ${v}, not a positive integer`);
  }
  return sizes;
}

function headsFromArgs(args: Record<string, unknown>): ModelOptions {
  return typeof args.nhead === 'number' ? { heads: args.nhead } : {};
}

function pick<T extends object>(o: T, keys: (keyof T)[]): Partial<T> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<T>;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Tensor);
}
