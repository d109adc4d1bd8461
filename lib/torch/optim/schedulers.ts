// Learning-rate schedulers over an optimiser's param groups: ReduceLROnPlateau as torch.optim.lr_scheduler's, and
// cosine annealing after a linear warm-up. Their state dicts use PyTorch's attribute names, so a checkpoint's
// scheduler state reads the same from either side.

import { torch2Layout } from './python-layout.js';

/** What a scheduler drives: any optimiser's param groups (lib/torch/optim/optimizer.ts). */
export interface LrGroups {
  readonly paramGroups: readonly { lr: number }[];
}

export interface ReduceLROnPlateauOptions {
  /** 'min': the metric should fall (a loss); 'max': rise. */
  mode?: 'min' | 'max';
  /** new lr = lr * factor; < 1. Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before the lr is cut. Default 10. */
  patience?: number;
  /** What counts as an improvement. Default 1e-4. */
  threshold?: number;
  /** 'rel': better than best * (1 - threshold) (min mode); 'abs': better than best - threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a cut before counting bad epochs again. Default 0. */
  cooldown?: number;
  /** Lower bound of the lr, one for all groups or one per group. Default 0. */
  minLr?: number | readonly number[];
  /** Cuts smaller than this are skipped. Default 1e-8. */
  eps?: number;
}

/** torch.optim.lr_scheduler.ReduceLROnPlateau: cut the lr by `factor` when the metric stops improving. */
export class ReduceLROnPlateau {
  readonly optimizer: LrGroups;
  factor: number;
  minLrs: number[];
  patience: number;
  cooldown: number;
  cooldownCounter = 0;
  mode: 'min' | 'max';
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  best: number;
  numBadEpochs = 0;
  modeWorse: number;
  eps: number;
  lastEpoch = 0;
  #lastLr: number[] | undefined;
  /** The one min_lr given for every group (PyTorch 2.x keeps it to resize min_lrs); null when given per group. */
  #defaultMinLr: number | null;

  constructor(optimizer: LrGroups, opts: ReduceLROnPlateauOptions = {}) {
    this.optimizer = optimizer;
    this.factor = opts.factor ?? 0.1;
    if (!(this.factor < 1)) throw new RangeError(`Factor should be < 1.0, got ${this.factor}`);
    const minLr = opts.minLr ?? 0;
    const groups = optimizer.paramGroups.length;
    if (Array.isArray(minLr)) {
      if (minLr.length !== groups) throw new RangeError(`expected ${groups} min_lrs, got ${minLr.length}`);
      this.minLrs = [...minLr];
      this.#defaultMinLr = null;
    } else {
      this.minLrs = new Array(groups).fill(minLr as number);
      this.#defaultMinLr = minLr as number;
    }
    this.patience = opts.patience ?? 10;
    this.cooldown = opts.cooldown ?? 0;
    this.mode = opts.mode ?? 'min';
    this.threshold = opts.threshold ?? 1e-4;
    this.thresholdMode = opts.thresholdMode ?? 'rel';
    this.eps = opts.eps ?? 1e-8;
    this.modeWorse = this.#initIsBetter();
    this.best = this.modeWorse;
  }

  #initIsBetter(): number {
    if (this.mode !== 'min' && this.mode !== 'max') throw new RangeError(`mode ${String(this.mode)} is unknown!`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') {
      throw new RangeError(`threshold mode ${String(this.thresholdMode)} is unknown!`);
    }
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') {
      return this.thresholdMode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    }
    return this.thresholdMode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** The lrs after the last step(), one per group. */
  get lastLr(): number[] {
    return this.#lastLr ?? this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** Call once per epoch with the metric (e.g. val_loss). */
  step(metric: number): void {
    const current = Number(metric);
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;  // bad epochs in cooldown are ignored
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const oldLr = g.lr;
        const newLr = Math.max(oldLr * this.factor, this.minLrs[i]);
        if (oldLr - newLr > this.eps) g.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** PyTorch's scheduler.state_dict(): its attributes under their Python names, 1.13's or 2.x's. */
  stateDict(): Record<string, unknown> {
    if (torch2Layout()) {
      return {
        factor: this.factor, default_min_lr: this.#defaultMinLr, min_lrs: [...this.minLrs], patience: this.patience,
        cooldown: this.cooldown, eps: this.eps, last_epoch: this.lastEpoch,
        _last_lr: [...(this.#lastLr ?? this.optimizer.paramGroups.map((g) => g.lr))],
        mode_worse: this.modeWorse, mode: this.mode, threshold: this.threshold, threshold_mode: this.thresholdMode,
        best: this.best, cooldown_counter: this.cooldownCounter, num_bad_epochs: this.numBadEpochs,
      };
    }
    return {
      factor: this.factor, min_lrs: [...this.minLrs], patience: this.patience, verbose: false,
      cooldown: this.cooldown, cooldown_counter: this.cooldownCounter, mode: this.mode, threshold: this.threshold,
      threshold_mode: this.thresholdMode, best: this.best, num_bad_epochs: this.numBadEpochs,
      mode_worse: this.modeWorse, eps: this.eps, last_epoch: this.lastEpoch,
      ...(this.#lastLr ? { _last_lr: [...this.#lastLr] } : {}),
    };
  }

  /** Restores stateDict()'s output, ours or PyTorch's (the optimiser's lrs are not touched, as in PyTorch). */
  loadStateDict(sd: Record<string, unknown>): void {
    const n = (k: string, cur: number): number => (sd[k] === undefined ? cur : Number(sd[k]));
    this.factor = n('factor', this.factor);
    if (Array.isArray(sd.min_lrs)) this.minLrs = sd.min_lrs.map(Number);
    if (sd.default_min_lr !== undefined) this.#defaultMinLr = sd.default_min_lr === null ? null : Number(sd.default_min_lr);
    this.patience = n('patience', this.patience);
    this.cooldown = n('cooldown', this.cooldown);
    this.cooldownCounter = n('cooldown_counter', this.cooldownCounter);
    if (sd.mode !== undefined) this.mode = sd.mode as 'min' | 'max';
    this.threshold = n('threshold', this.threshold);
    if (sd.threshold_mode !== undefined) this.thresholdMode = sd.threshold_mode as 'rel' | 'abs';
    this.best = n('best', this.best);
    this.numBadEpochs = n('num_bad_epochs', this.numBadEpochs);
    this.eps = n('eps', this.eps);
    this.lastEpoch = n('last_epoch', this.lastEpoch);
    if (Array.isArray(sd._last_lr)) this.#lastLr = sd._last_lr.map(Number);
    this.modeWorse = this.#initIsBetter();
  }
}

export interface CosineWarmupOptions {
  /** Steps of linear warm-up: step t < warmupSteps runs at base_lr * (t + 1) / warmupSteps. */
  warmupSteps: number;
  /** The step at which the cosine reaches minLr (counted from 0, warm-up included); later steps stay there. */
  totalSteps: number;
  /** The lr at the end (eta_min). Default 0. */
  minLr?: number;
}

/**
 * Linear warm-up, then cosine annealing to minLr: at step t (0 on construction, +1 per step()),
 *   t < W:  lr = base * (t + 1) / W
 *   t >= W: lr = minLr + (base - minLr) * (1 + cos(pi * min(1, (t - W) / max(1, T - W)))) / 2
 * the same sequence as PyTorch's SequentialLR([LinearLR(start_factor=1/W, total_iters=W-1),
 * CosineAnnealingLR(T_max=T-W, eta_min=minLr)], milestones=[W]) up to step T, in closed form (LambdaLR-style).
 * Like PyTorch's schedulers, construction sets the lr of step 0; call step() after each optimiser step.
 */
export class CosineWarmupLR {
  readonly optimizer: LrGroups;
  warmupSteps: number;
  totalSteps: number;
  minLr: number;
  baseLrs: number[];
  lastEpoch = -1;
  stepCount = 0;
  #lastLr: number[] = [];

  constructor(optimizer: LrGroups, opts: CosineWarmupOptions) {
    this.optimizer = optimizer;
    const { warmupSteps, totalSteps } = opts;
    if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
      throw new RangeError(`warmupSteps must be an integer >= 0, got ${warmupSteps}`);
    }
    if (!Number.isInteger(totalSteps) || totalSteps < warmupSteps) {
      throw new RangeError(`totalSteps must be an integer >= warmupSteps (${warmupSteps}), got ${totalSteps}`);
    }
    this.warmupSteps = warmupSteps;
    this.totalSteps = totalSteps;
    this.minLr = opts.minLr ?? 0;
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.step();
  }

  /** The lr of group `group` at step t. */
  lrAt(t: number, group = 0): number {
    const base = this.baseLrs[group];
    const W = this.warmupSteps;
    if (t < W) return (base * (t + 1)) / W;
    const progress = Math.min(1, (t - W) / Math.max(1, this.totalSteps - W));
    return this.minLr + ((base - this.minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
  }

  get lastLr(): number[] {
    return [...this.#lastLr];
  }

  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.lastEpoch, i)));
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): Record<string, unknown> {
    return {
      warmup_steps: this.warmupSteps, total_steps: this.totalSteps, min_lr: this.minLr, base_lrs: [...this.baseLrs],
      last_epoch: this.lastEpoch, _step_count: this.stepCount, _last_lr: [...this.#lastLr],
    };
  }

  loadStateDict(sd: Record<string, unknown>): void {
    const n = (k: string, cur: number): number => (sd[k] === undefined ? cur : Number(sd[k]));
    this.warmupSteps = n('warmup_steps', this.warmupSteps);
    this.totalSteps = n('total_steps', this.totalSteps);
    this.minLr = n('min_lr', this.minLr);
    if (Array.isArray(sd.base_lrs)) this.baseLrs = sd.base_lrs.map(Number);
    this.lastEpoch = n('last_epoch', this.lastEpoch);
    this.stepCount = n('_step_count', this.stepCount);
    if (Array.isArray(sd._last_lr)) this.#lastLr = sd._last_lr.map(Number);
  }
}
