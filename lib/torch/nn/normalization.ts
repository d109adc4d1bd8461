// nn.LayerNorm and nn.RMSNorm over the last dimensions, with PyTorch's parameters (weight ones, bias zeros).
import { ones, zeros } from '../functions.js';
import type { Tensor } from '../tensor.js';
import { layerNorm, rmsNorm } from './functional.js';
import type { FactoryOptions } from './linear.js';
import { Module } from './module.js';
import { parameterOf, type Parameter } from './parameter.js';

function shapeOf(normalizedShape: number | number[]): number[] {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new RangeError(`normalizedShape must be positive integers, got [${shape.join(', ')}]`);
  return shape;
}

export interface LayerNormOptions extends FactoryOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  weight: Parameter | null;
  bias: Parameter | null;

  constructor(normalizedShape: number | number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = shapeOf(normalizedShape);
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const f = { device: opts.device, dtype: opts.dtype };
    this.weight = this.elementwiseAffine ? parameterOf(ones(this.normalizedShape, f)) : null;
    this.bias = this.elementwiseAffine && opts.bias !== false ? parameterOf(zeros(this.normalizedShape, f)) : null;
  }

  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(', ')},), eps=${this.eps}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}

export interface RMSNormOptions extends FactoryOptions {
  /** Default: the input dtype's machine epsilon, as PyTorch's None. */
  eps?: number | null;
  elementwiseAffine?: boolean;
}

export class RMSNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number | null;
  readonly elementwiseAffine: boolean;
  weight: Parameter | null;

  constructor(normalizedShape: number | number[], opts: RMSNormOptions = {}) {
    super();
    this.normalizedShape = shapeOf(normalizedShape);
    this.eps = opts.eps ?? null;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    this.weight = this.elementwiseAffine ? parameterOf(ones(this.normalizedShape, { device: opts.device, dtype: opts.dtype })) : null;
  }

  forward(input: Tensor): Tensor {
    return rmsNorm(input, this.normalizedShape, this.weight, this.eps);
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(', ')},), eps=${this.eps ?? 'None'}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}
