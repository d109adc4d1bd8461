// nn.Identity, nn.Linear and nn.Bilinear, with PyTorch's parameter names, shapes and initialisation.
import type { DType } from '../../formats/dtype.js';
import type { Device } from '../device.js';
import { empty } from '../functions.js';
import type { Tensor } from '../tensor.js';
import { bilinear, linear } from './functional.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { parameterOf, type Parameter } from './parameter.js';

/** Where a layer's parameters are made (PyTorch's factory_kwargs). */
export interface FactoryOptions {
  device?: Device;
  dtype?: DType;
}

function checkSize(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
}

/** Returns its input. */
export class Identity extends Module {
  forward(input: Tensor): Tensor {
    return input;
  }
}

/** y = x W^T + b: weight [out, in] and bias [out], both U(-1/sqrt(in), 1/sqrt(in)) as PyTorch initialises them. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts: FactoryOptions & { bias?: boolean } = {}) {
    super();
    checkSize(inFeatures, 'inFeatures');
    checkSize(outFeatures, 'outFeatures');
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const f = { device: opts.device, dtype: opts.dtype };
    this.weight = parameterOf(empty([outFeatures, inFeatures], f));
    this.bias = opts.bias === false ? null : parameterOf(empty([outFeatures], f));
    this.resetParameters();
  }

  /** PyTorch's reset_parameters(): kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(in), 1/sqrt(in)) for the bias. */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}

/** y = x1^T A x2 + b: weight [out, in1, in2], bias [out], U(-1/sqrt(in1), 1/sqrt(in1)). */
export class Bilinear extends Module {
  readonly in1Features: number;
  readonly in2Features: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | null;

  constructor(in1Features: number, in2Features: number, outFeatures: number, opts: FactoryOptions & { bias?: boolean } = {}) {
    super();
    for (const [n, what] of [[in1Features, 'in1Features'], [in2Features, 'in2Features'], [outFeatures, 'outFeatures']] as const) checkSize(n, what);
    this.in1Features = in1Features;
    this.in2Features = in2Features;
    this.outFeatures = outFeatures;
    const f = { device: opts.device, dtype: opts.dtype };
    this.weight = parameterOf(empty([outFeatures, in1Features, in2Features], f));
    this.bias = opts.bias === false ? null : parameterOf(empty([outFeatures], f));
    this.resetParameters();
  }

  resetParameters(): void {
    const bound = 1 / Math.sqrt(this.weight.shape[1]);
    uniform_(this.weight, -bound, bound);
    if (this.bias) uniform_(this.bias, -bound, bound);
  }

  /** x1 [..., in1], x2 [..., in2] -> [..., out]: out_k = x1 A_k x2 + b_k. */
  forward(input1: Tensor, input2: Tensor): Tensor {
    return bilinear(input1, input2, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in1_features=${this.in1Features}, in2_features=${this.in2Features}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}
