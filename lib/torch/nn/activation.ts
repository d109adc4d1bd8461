// The activations and nn.Dropout as modules: no parameters, PyTorch's names and arguments.
import type { Tensor } from '../tensor.js';
import { dropout, gelu } from './functional.js';
import { Module } from './module.js';

export class ReLU extends Module {
  forward(input: Tensor): Tensor {
    return input.relu();
  }
}

export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = opts.approximate ?? 'none';
  }
  forward(input: Tensor): Tensor {
    return gelu(input, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

export class SiLU extends Module {
  forward(input: Tensor): Tensor {
    return input.silu();
  }
}

export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return input.tanh();
  }
}

export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return input.sigmoid();
  }
}

export class Softmax extends Module {
  readonly dim: number;
  constructor(dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new TypeError('nn.Softmax needs the dim to take it over');
    this.dim = dim;
  }
  forward(input: Tensor): Tensor {
    return input.softmax(this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Zeroes elements with probability p (and scales the rest by 1 / (1 - p)) in training mode; the identity in eval mode. */
export class Dropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout probability has to be between 0 and 1, but got ${p}`);
    this.p = p;
  }
  forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }
  override extraRepr(): string {
    return `p=${this.p}, inplace=False`;
  }
}
