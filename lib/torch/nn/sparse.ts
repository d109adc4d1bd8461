// nn.Embedding: a table of vectors looked up by index.
import { empty, noGrad } from '../functions.js';
import type { Tensor } from '../tensor.js';
import { embedding } from './functional.js';
import { normal_ } from './init.js';
import type { FactoryOptions } from './linear.js';
import { Module } from './module.js';
import { parameterOf, type Parameter } from './parameter.js';

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  weight: Parameter;

  /** weight [numEmbeddings, embeddingDim] ~ N(0, 1), its paddingIdx row zero (and never updated by gradients). */
  constructor(numEmbeddings: number, embeddingDim: number, opts: FactoryOptions & { paddingIdx?: number | null } = {}) {
    super();
    if (!Number.isInteger(numEmbeddings) || numEmbeddings < 0) throw new RangeError(`numEmbeddings must be a non-negative integer, got ${numEmbeddings}`);
    if (!Number.isInteger(embeddingDim) || embeddingDim < 0) throw new RangeError(`embeddingDim must be a non-negative integer, got ${embeddingDim}`);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings) throw new RangeError('Padding_idx must be within num_embeddings');
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = parameterOf(empty([numEmbeddings, embeddingDim], { device: opts.device, dtype: opts.dtype }));
    this.resetParameters();
  }

  resetParameters(): void {
    normal_(this.weight);
    if (this.paddingIdx !== null) {
      const row = this.weight.select(0, this.paddingIdx);
      noGrad(() => row.fill_(0));
      row.dispose();
    }
  }

  forward(input: Tensor): Tensor {
    return embedding(input, this.weight, this.paddingIdx);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, padding_idx=${this.paddingIdx}`}`;
  }
}
