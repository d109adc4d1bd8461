// nn.GRU and nn.LSTM with PyTorch's arguments, parameter names (weight_ih_l0, ..., _reverse), initialisation and
// return shapes; their forward is ATen's (or the fused GRU layer where it applies: native/torch/rnn/).
import { empty } from '../functions.js';
import { native } from '../native.js';
import { fromRaw, rawOf, type Tensor } from '../tensor.js';
import { uniform_ } from './init.js';
import type { FactoryOptions } from './linear.js';
import { Module } from './module.js';
import { parameterOf, type Parameter } from './parameter.js';

export interface RNNOptions extends FactoryOptions {
  numLayers?: number;
  bias?: boolean;
  /** Inputs and outputs [batch, seq, feature] instead of [seq, batch, feature]. */
  batchFirst?: boolean;
  /** Dropout on each layer's output but the last, in training mode. */
  dropout?: number;
  bidirectional?: boolean;
}

abstract class RNNBase extends Module {
  readonly mode: 'GRU' | 'LSTM';
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  /** The parameters' names in PyTorch's _flat_weights order. */
  readonly flatWeightsNames: string[] = [];

  constructor(mode: 'GRU' | 'LSTM', inputSize: number, hiddenSize: number, opts: RNNOptions) {
    super();
    this.mode = mode;
    for (const [n, what] of [[inputSize, 'inputSize'], [hiddenSize, 'hiddenSize']] as const) {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what} must be a positive integer, got ${n}`);
    }
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = opts.numLayers ?? 1;
    if (!Number.isInteger(this.numLayers) || this.numLayers < 1) throw new RangeError(`numLayers must be a positive integer, got ${this.numLayers}`);
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new RangeError('dropout should be a number in range [0, 1] representing the probability of an element being zeroed');
    this.bidirectional = opts.bidirectional ?? false;
    const gates = mode === 'GRU' ? 3 : 4;
    const f = { device: opts.device, dtype: opts.dtype };
    for (let l = 0; l < this.numLayers; l++) {
      for (let d = 0; d < this.directions; d++) {
        const suffix = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const layerInput = l === 0 ? inputSize : hiddenSize * this.directions;
        const shapes: [string, number[]][] = [[`weight_ih${suffix}`, [gates * hiddenSize, layerInput]], [`weight_hh${suffix}`, [gates * hiddenSize, hiddenSize]]];
        if (this.bias) shapes.push([`bias_ih${suffix}`, [gates * hiddenSize]], [`bias_hh${suffix}`, [gates * hiddenSize]]);
        for (const [name, shape] of shapes) {
          this.registerParameter(name, parameterOf(empty(shape, f)));
          this.flatWeightsNames.push(name);
        }
      }
    }
    this.resetParameters();
  }

  get directions(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** Every weight and bias ~ U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)), as PyTorch's reset_parameters. */
  resetParameters(): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.flatWeights()) uniform_(p, -k, k);
  }

  /** The parameters in PyTorch's _flat_weights order (layer by layer, direction by direction). */
  flatWeights(): Parameter[] {
    const self = this as unknown as Record<string, Parameter>;
    return this.flatWeightsNames.map((n) => self[n]);
  }

  /** Runs the layers: input [B, T, D] (batchFirst), [T, B, D] or unbatched [T, D]; hx as PyTorch's. */
  protected run(input: Tensor, hx: Tensor[]): Tensor[] {
    if (input.ndim !== 2 && input.ndim !== 3) throw new RangeError(`${this.mode}: Expected input to be 2D or 3D, got ${input.ndim}D instead`);
    if (input.shape.at(-1) !== this.inputSize) throw new RangeError(`input.size(-1) must be equal to input_size. Expected ${this.inputSize}, got ${input.shape.at(-1)}`);
    const unbatched = input.ndim === 2;
    const x = unbatched ? input.unsqueeze(this.batchFirst ? 0 : 1) : input;
    const h = unbatched ? hx.map((t) => t.unsqueeze(1)) : hx;
    const batch = x.shape[this.batchFirst ? 0 : 1];
    const want = [this.numLayers * this.directions, batch, this.hiddenSize];
    for (const t of h) {
      if (t.shape.join() !== want.join()) throw new RangeError(`Expected hidden size [${want.join(', ')}], got [${(unbatched ? t.shape.slice(0, 1).concat(t.shape.slice(2)) : t.shape).join(', ')}]`);
    }
    const out = native().nnRnn(this.mode, rawOf(x), h.map(rawOf), this.flatWeights().map(rawOf), this.bias, this.numLayers,
      this.dropout, this.training, this.bidirectional, this.batchFirst).map(fromRaw);
    return unbatched ? [out[0].squeeze(this.batchFirst ? 0 : 1), ...out.slice(1).map((t) => t.squeeze(1))] : out;
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (!this.bias) s += ', bias=False';
    if (this.batchFirst) s += ', batch_first=True';
    if (this.dropout) s += `, dropout=${this.dropout}`;
    if (this.bidirectional) s += ', bidirectional=True';
    return s;
  }
}

/** A multi-layer GRU: forward(input, h0?) -> [output, hN]. */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super('GRU', inputSize, hiddenSize, opts);
  }

  forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor] {
    const [output, hN] = this.run(input, hx ? [hx] : []);
    return [output, hN];
  }
}

/** A multi-layer LSTM: forward(input, [h0, c0]?) -> [output, [hN, cN]]. */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts: RNNOptions = {}) {
    super('LSTM', inputSize, hiddenSize, opts);
  }

  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]] {
    const [output, hN, cN] = this.run(input, hx ? [...hx] : []);
    return [output, [hN, cN]];
  }
}

abstract class RNNCellBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly bias: boolean;
  weight_ih: Parameter;
  weight_hh: Parameter;
  bias_ih: Parameter | null;
  bias_hh: Parameter | null;

  constructor(gates: number, inputSize: number, hiddenSize: number, opts: FactoryOptions & { bias?: boolean }) {
    super();
    for (const [n, what] of [[inputSize, 'inputSize'], [hiddenSize, 'hiddenSize']] as const) {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what} must be a positive integer, got ${n}`);
    }
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.bias = opts.bias ?? true;
    const f = { device: opts.device, dtype: opts.dtype };
    this.weight_ih = parameterOf(empty([gates * hiddenSize, inputSize], f));
    this.weight_hh = parameterOf(empty([gates * hiddenSize, hiddenSize], f));
    this.bias_ih = this.bias ? parameterOf(empty([gates * hiddenSize], f)) : null;
    this.bias_hh = this.bias ? parameterOf(empty([gates * hiddenSize], f)) : null;
    this.resetParameters();
  }

  resetParameters(): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) uniform_(p, -k, k);
  }

  protected step(mode: 'GRU' | 'LSTM', input: Tensor, hx: Tensor[]): Tensor[] {
    if (input.ndim !== 1 && input.ndim !== 2) throw new RangeError(`${mode}Cell: Expected input to be 1D or 2D, got ${input.ndim}D instead`);
    const unbatched = input.ndim === 1;
    const x = unbatched ? input.unsqueeze(0) : input;
    const h = unbatched ? hx.map((t) => t.unsqueeze(0)) : hx;
    const out = native().nnRnnCell(mode, rawOf(x), h.map(rawOf), rawOf(this.weight_ih), rawOf(this.weight_hh),
      this.bias_ih ? rawOf(this.bias_ih) : undefined, this.bias_hh ? rawOf(this.bias_hh) : undefined).map(fromRaw);
    return unbatched ? out.map((t) => t.squeeze(0)) : out;
  }

  override extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}${this.bias ? '' : ', bias=False'}`;
  }
}

/** One GRU step: forward(input [B, D], h? [B, H]) -> h' [B, H]. */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: FactoryOptions & { bias?: boolean } = {}) {
    super(3, inputSize, hiddenSize, opts);
  }

  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.step('GRU', input, hx ? [hx] : [])[0];
  }
}

/** One LSTM step: forward(input [B, D], [h, c]?) -> [h', c']. */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts: FactoryOptions & { bias?: boolean } = {}) {
    super(4, inputSize, hiddenSize, opts);
  }

  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, Tensor] {
    const [h, c] = this.step('LSTM', input, hx ? [...hx] : []);
    return [h, c];
  }
}
