// nn.Conv1d with PyTorch's arguments, parameter shapes and initialisation.
import { empty } from '../functions.js';
import type { Tensor } from '../tensor.js';
import { conv1d, type Conv1dOptions } from './functional.js';
import { kaimingUniform_, uniform_ } from './init.js';
import type { FactoryOptions } from './linear.js';
import { Module } from './module.js';
import { parameterOf, type Parameter } from './parameter.js';

export interface Conv1dModuleOptions extends Conv1dOptions, FactoryOptions {
  bias?: boolean;
  /** Only 'zeros' (PyTorch's default). */
  paddingMode?: 'zeros';
}

/** weight [out, in / groups, kernelSize] and bias [out], both U(±1/sqrt(fanIn)) as PyTorch initialises them. */
export class Conv1d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number | 'same' | 'valid';
  readonly dilation: number;
  readonly groups: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv1dModuleOptions = {}) {
    super();
    this.groups = opts.groups ?? 1;
    for (const [n, what] of [[inChannels, 'inChannels'], [outChannels, 'outChannels'], [kernelSize, 'kernelSize'], [this.groups, 'groups']] as const) {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what} must be a positive integer, got ${n}`);
    }
    if (inChannels % this.groups || outChannels % this.groups) throw new RangeError('inChannels and outChannels must be divisible by groups');
    if ((opts.paddingMode ?? 'zeros') !== 'zeros') throw new RangeError(`paddingMode: only 'zeros' is supported, got '${opts.paddingMode}'`);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    if (this.padding === 'same' && this.stride !== 1) throw new RangeError("padding='same' is not supported for strided convolutions");
    const f = { device: opts.device, dtype: opts.dtype };
    this.weight = parameterOf(empty([outChannels, inChannels / this.groups, kernelSize], f));
    this.bias = opts.bias === false ? null : parameterOf(empty([outChannels], f));
    this.resetParameters();
  }

  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const fanIn = (this.inChannels / this.groups) * this.kernelSize;
      const bound = 1 / Math.sqrt(fanIn);
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(input: Tensor): Tensor {
    return conv1d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize},), stride=(${this.stride},)`;
    if (this.padding !== 0) s += typeof this.padding === 'string' ? `, padding=${this.padding}` : `, padding=(${this.padding},)`;
    if (this.dilation !== 1) s += `, dilation=(${this.dilation},)`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=False';
    return s;
  }
}
