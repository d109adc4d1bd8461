// A tensor that several datasets read (a dataset and the splits cut from it share one `vectors` matrix): it is
// disposed when the last of them lets go.
import { keep } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';

export class SharedTensor {
  #refs = 1;
  readonly tensor: Tensor;

  constructor(tensor: Tensor) {
    // keep(): the data outlives whatever tidy() scope it was made in.
    this.tensor = keep(tensor);
  }

  retain(): this {
    if (this.#refs === 0) throw new Error('a released shared tensor cannot be retained');
    this.#refs++;
    return this;
  }

  release(): void {
    if (this.#refs === 0) return;
    if (--this.#refs === 0) this.tensor.dispose();
  }
}
