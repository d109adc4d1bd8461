// The optimiser and the learning-rate schedule of a fit(): AdamW (or Adam) over the model's parameter groups, as
// the model declares them (Module.parameterGroups(): a Mamba2's A_log, D and dt_bias skip weight decay, as in
// mamba_ssm), and the plateau or cosine schedule, typed, with the state each takes back on resume.
import type { Module } from '../../torch/nn/module.js';
import { Adam, type AdamOptions } from '../../torch/optim/adam.js';
import { AdamW } from '../../torch/optim/adamw.js';
import type { Optimizer } from '../../torch/optim/optimizer.js';
import { CosineWarmupLR, ReduceLROnPlateau } from '../../torch/optim/schedulers.js';
import type { Tensor } from '../../torch/tensor.js';
import { modeOf, type Monitor } from './monitor.js';

export type TrainOptimizer = Optimizer<AdamOptions>;

/** The schedule of a fit(): none, the plateau one (stepped per epoch) or the cosine one (stepped per batch). */
export type Scheduler = ReduceLROnPlateau | CosineWarmupLR | undefined;

type OptimizerOptions = { optimizer: 'adamw' | 'adam'; lr: number; weightDecay: number };

export function makeOptimizer(model: Module, o: OptimizerOptions): TrainOptimizer {
  const params = paramGroups(model);
  return o.optimizer === 'adam'
    ? new Adam(params, { lr: o.lr, weightDecay: o.weightDecay })
    : new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
}

// One group, as the seed's optimiser had; a second one with no weight decay for what the model keeps out of it.
function paramGroups(model: Module): Tensor[] | { params: Tensor[]; weightDecay?: number }[] {
  const { decay, noDecay } = model.parameterGroups();
  if (noDecay.length === 0) return decay;
  return [{ params: decay }, { params: noDecay, weightDecay: 0 }];
}

type ScheduleOptions = { schedule: 'plateau' | 'cosine' | 'none'; monitor: Monitor; epochs: number; warmupSteps?: number };

export function makeScheduler(optimizer: TrainOptimizer, o: ScheduleOptions, stepsPerEpoch: number): Scheduler {
  // On the monitored score: a contrastive run's val_loss (the MSE of the normalised prediction) grows as it learns.
  if (o.schedule === 'plateau') return new ReduceLROnPlateau(optimizer, { mode: modeOf(o.monitor), factor: 0.5, patience: 3 });
  if (o.schedule === 'cosine') {
    const total = stepsPerEpoch * o.epochs;
    return new CosineWarmupLR(optimizer, { warmupSteps: Math.min(o.warmupSteps ?? stepsPerEpoch, total), totalSteps: total });
  }
  return undefined;
}

/** After each optimiser step: the cosine schedule moves on. */
export function afterStep(scheduler: Scheduler): void {
  if (scheduler instanceof CosineWarmupLR) scheduler.step();
}

/** After each epoch's val score: the plateau schedule reads the monitored score. */
export function afterEpoch(scheduler: Scheduler, monitoredScore: number): void {
  if (scheduler instanceof ReduceLROnPlateau) scheduler.step(monitoredScore);
}

/**
 * A checkpoint's scheduler_state_dict into this run's schedule: each schedule takes only its own state (a run may
 * resume with another schedule); the cosine one keeps this run's warm-up and length, and goes on from the step it
 * had reached.
 */
export function loadSchedulerState(scheduler: Scheduler, sd: Record<string, unknown> | undefined): void {
  if (sd && scheduler instanceof ReduceLROnPlateau && 'num_bad_epochs' in sd) scheduler.loadStateDict(sd);
  if (sd && scheduler instanceof CosineWarmupLR && 'total_steps' in sd) {
    scheduler.loadStateDict({ last_epoch: sd.last_epoch, _step_count: sd._step_count });
  }
}
