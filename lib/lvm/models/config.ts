// What a model is, kind by kind, in one place: its sizes (ModelConfig), the seed's defaults (KINDS[kind].defaults:
// the only defaults there are; the native side requires every field a kind reads, native/lvm/models/model_binding.cc),
// and what training needs to know of its parameters, declared by the keys the native module registers them under
// (native/lvm/models/*.cc, PyTorch's state-dict keys by construction): the output projection that a ridge start writes,
// and the parameters that weight decay skips. The Trainer asks the model (Module) for these, never matches keys.

export type ModelKind = 'gru' | 'lstm' | 'mamba2' | 'transformer' | 'latent_mamba';

/** Everything that rebuilds a model of the same shape (stored in checkpoints as `model_config`). */
export interface ModelConfig {
  kind: ModelKind;
  inputDim: number;
  /**
   * The prediction's width. For latent_mamba, whose head outputs inputDim values (784 = 768 + a 16-D TMD code),
   * outputDim (768, at most inputDim) means "the first outputDim of the head's outputs", as the seed server keeps.
   */
  outputDim: number;
  dModel: number;
  numLayers: number;
  /**
   * Dropout probability (between LSTM layers; in the Transformer's layers; latent_mamba: after input_proj and
   * between its LSTM layers); the GRU and Mamba2 have none.
   */
  dropout: number;
  /** Transformer only: attention heads, feed-forward width, positional-encoding length. */
  heads?: number;
  ffDim?: number;
  maxLen?: number;
  /**
   * Mamba2 only, as mamba_ssm's Mamba2 arguments d_state, d_conv, expand, headdim, ngroups, chunk_size: state
   * size, causal convolution width, inner width = expand x dModel (in heads of headdim channels), groups of heads
   * sharing B and C, and the SSD chunk length (it changes the cost, not the result).
   */
  dState?: number;
  dConv?: number;
  expand?: number;
  headdim?: number;
  ngroups?: number;
  chunkSize?: number;
  /**
   * Set: the model learns the residual over a fixed linear predictor of its flattened context of this many
   * vectors (not latent_mamba). Its weights are the buffers ridge.weight [outputDim, ridgeContext x inputDim] and
   * ridge.bias [outputDim] (zeros until set; the Trainer's `residual: 'ridge'` loads the ridge regression fitted on
   * the train split), added to the head's output before it is normalised; inputs must then have this context.
   */
  ridgeContext?: number;
}

/** A linear map's two tensors, by state-dict key. */
export interface LinearKeys {
  weight: string;
  bias: string;
}

interface KindSpec {
  /** The seed's sizes (../shared/DESIGN.md): the parameter counts in the comments are at these. */
  defaults: Omit<ModelConfig, 'kind'>;
  /** The output projection: the last Linear, whose output (plus the ridge, if any) is the raw prediction. */
  outputHead: LinearKeys;
  /** The parameters kept out of weight decay (mamba_ssm's `_no_weight_decay`), at a config's sizes. */
  noWeightDecay?(config: ModelConfig): string[];
}

// The shared head Sequential(Linear, GELU, LayerNorm, Linear) of the seed's predictors (native/lvm/models/predictor.cc).
const HEAD: LinearKeys = { weight: 'head.3.weight', bias: 'head.3.bias' };

export const KINDS: Readonly<Record<ModelKind, KindSpec>> = {
  gru: { defaults: { inputDim: 768, outputDim: 768, dModel: 512, numLayers: 4, dropout: 0 }, outputHead: HEAD }, // 7,359,232
  lstm: { defaults: { inputDim: 768, outputDim: 768, dModel: 512, numLayers: 2, dropout: 0.2 }, outputHead: HEAD }, // 5,384,448
  // The seed's Mamba2VectorPredictor with mamba_ssm's Mamba2(d_model=512) defaults; each block's mamba registers
  // A_log, D and dt_bias (native/lvm/models/mamba2.cc), which mamba_ssm marks _no_weight_decay.
  mamba2: {
    defaults: { inputDim: 768, outputDim: 768, dModel: 512, numLayers: 4, dropout: 0, dState: 128, dConv: 4, expand: 2, headdim: 64, ngroups: 1, chunkSize: 256 }, // 7,933,888
    outputHead: HEAD,
    noWeightDecay: (c) => Array.from({ length: c.numLayers }, (_, i) => ['A_log', 'D', 'dt_bias'].map((n) => `blocks.${i}.mamba.${n}`)).flat(),
  },
  transformer: { // 17,867,520; ffDim: 4 x dModel unless given (models.transformer())
    defaults: { inputDim: 768, outputDim: 768, dModel: 512, numLayers: 4, dropout: 0.1, heads: 8, ffDim: 2048, maxLen: 100 },
    outputHead: HEAD,
  },
  // The seed server's LatentMamba(d_input=784, d_hidden=512, n_layers=2, dropout=0.1); it keeps 768 outputs.
  latent_mamba: { // 5,006,608
    defaults: { inputDim: 784, outputDim: 768, dModel: 512, numLayers: 2, dropout: 0.1 },
    outputHead: { weight: 'output_head.weight', bias: 'output_head.bias' },
  },
};

/** The buffers of the fixed linear predictor a model with ridgeContext adds to its head's output (predictor.cc). */
export const RIDGE: LinearKeys = { weight: 'ridge.weight', bias: 'ridge.bias' };
