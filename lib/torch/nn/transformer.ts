// nn.TransformerEncoderLayer and nn.TransformerEncoder: PyTorch's submodules and names (self_attn, linear1, linear2,
// norm1, norm2), post-norm or pre-norm (normFirst), relu or gelu.
import type { Tensor } from '../tensor.js';
import { MultiheadAttention } from './attention.js';
import { Dropout } from './activation.js';
import { ModuleList } from './container.js';
import { gelu } from './functional.js';
import { Linear, type FactoryOptions } from './linear.js';
import { copyModule, Module } from './module.js';
import { LayerNorm } from './normalization.js';

export interface TransformerEncoderLayerOptions extends FactoryOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  batchFirst?: boolean;
  /** Pre-norm: x + sa(norm1(x)), then x + ff(norm2(x)). */
  normFirst?: boolean;
  bias?: boolean;
}

export interface EncoderCallOptions {
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
}

export class TransformerEncoderLayer extends Module {
  self_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  readonly normFirst: boolean;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly activation: 'relu' | 'gelu';

  constructor(dModel: number, nhead: number, opts: TransformerEncoderLayerOptions = {}) {
    super();
    const f = { device: opts.device, dtype: opts.dtype };
    const p = opts.dropout ?? 0.1;
    const bias = opts.bias ?? true;
    const ff = opts.dimFeedforward ?? 2048;
    this.self_attn = new MultiheadAttention(dModel, nhead, { ...f, dropout: p, bias, batchFirst: opts.batchFirst });
    this.linear1 = new Linear(dModel, ff, { ...f, bias });
    this.dropout = new Dropout(p);
    this.linear2 = new Linear(ff, dModel, { ...f, bias });
    this.normFirst = opts.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { ...f, eps: opts.layerNormEps ?? 1e-5, bias });
    this.norm2 = new LayerNorm(dModel, { ...f, eps: opts.layerNormEps ?? 1e-5, bias });
    this.dropout1 = new Dropout(p);
    this.dropout2 = new Dropout(p);
    this.activation = opts.activation ?? 'relu';
    if (this.activation !== 'relu' && this.activation !== 'gelu') throw new RangeError(`activation should be relu/gelu, not ${String(this.activation)}`);
  }

  forward(src: Tensor, opts: EncoderCallOptions = {}): Tensor {
    let x = src;
    if (this.normFirst) {
      x = x.add(this.saBlock(this.norm1.forward(x), opts));
      x = x.add(this.ffBlock(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(this.saBlock(x, opts)));
      x = this.norm2.forward(x.add(this.ffBlock(x)));
    }
    return x;
  }

  /** PyTorch's _sa_block: self-attention, then dropout1. */
  saBlock(x: Tensor, opts: EncoderCallOptions): Tensor {
    const [out] = this.self_attn.forward(x, x, x, { attnMask: opts.srcMask, keyPaddingMask: opts.srcKeyPaddingMask, needWeights: false });
    return this.dropout1.forward(out);
  }

  /** PyTorch's _ff_block: linear1, activation, dropout, linear2, dropout2. */
  ffBlock(x: Tensor): Tensor {
    const h = this.linear1.forward(x);
    const a = this.activation === 'gelu' ? gelu(h) : h.relu();
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(a)));
  }
}

/** numLayers copies of encoderLayer (the same initial weights, as PyTorch's deep copies), then an optional norm. */
export class TransformerEncoder extends Module {
  layers: ModuleList;
  readonly numLayers: number;
  norm: Module | null;

  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, opts: { norm?: Module | null } = {}) {
    super();
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new RangeError(`numLayers must be a positive integer, got ${numLayers}`);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => copyModule(encoderLayer)));
    this.numLayers = numLayers;
    this.norm = opts.norm ?? null;
  }

  forward(src: Tensor, opts: EncoderCallOptions = {}): Tensor {
    let x = src;
    for (const layer of this.layers) x = (layer as TransformerEncoderLayer).forward(x, opts);
    return this.norm ? (this.norm.forward as (x: Tensor) => Tensor)(x) : x;
  }
}
