// The best epoch of a fit() so far (by the monitored val score), the epochs since it (what `patience` counts), and a
// copy of its weights, which the model holds again at the end.
import type { Module } from '../../torch/nn/module.js';
import type { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import type { BestEpoch } from './checkpoint.js';
import type { Metrics } from './metrics.js';
import { isBetter, monitored, worst, type Monitor } from './monitor.js';

/** A copy of the model's parameters and buffers (not the module's own tensors, which the next step changes). */
export function snapshot(model: Module): Tensor[] {
  return model.parameters().concat(model.buffers()).map((t) => torch.noGrad(() => t.detach().clone()));
}

/** Copies a snapshot() back into the model. */
export function restore(model: Module, weights: Tensor[]): void {
  const keys = model.namedParameters().map(([k]) => k).concat(model.namedBuffers().map(([k]) => k));
  model.loadStateDict(Object.fromEntries(keys.map((k, i) => [k, weights[i]])));
}

export class BestSoFar {
  readonly best: BestEpoch;
  badEpochs: number;
  #weights: Tensor[];

  /** From a resumed run's best epoch (and its weights, when they are not the model's now), else none yet. */
  constructor(readonly model: Module, monitor: Monitor, resumed?: { best: BestEpoch; badEpochs: number; bestState?: Tensor[] }) {
    this.best = { epoch: 0, val_loss: Infinity, val_cosine: -Infinity, monitor, value: worst(monitor) };
    Object.assign(this.best, resumed?.best);
    this.badEpochs = resumed?.badEpochs ?? 0;
    this.#weights = resumed?.bestState ?? snapshot(model);
  }

  /** What a checkpoint records of it. */
  get state(): { best: BestEpoch; badEpochs: number } {
    return { best: this.best, badEpochs: this.badEpochs };
  }

  /** The model's weights now are epoch `epoch`'s, scored `val`, and the best so far (a ridge start's epoch 0). */
  set(epoch: number, val: Metrics): void {
    Object.assign(this.best, { epoch, val_loss: val.mse, val_cosine: val.cosine, value: monitored(this.best.monitor, val) });
  }

  /** Records an epoch's val scores: true when they beat the best so far (whose weights are then the model's now). */
  record(epoch: number, val: Metrics): boolean {
    if (!isBetter(this.best.monitor, monitored(this.best.monitor, val), this.best.value)) {
      this.badEpochs++;
      return false;
    }
    this.set(epoch, val);
    this.#weights.forEach((t) => t.dispose());
    this.#weights = snapshot(this.model);
    this.badEpochs = 0;
    return true;
  }

  /** The best weights back into the model. */
  restore(): void {
    restore(this.model, this.#weights);
  }

  dispose(): void {
    this.#weights.forEach((t) => t.dispose());
    this.#weights = [];
  }
}
