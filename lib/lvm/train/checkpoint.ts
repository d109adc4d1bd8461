// Training checkpoints in the seed's layout: {epoch, model_state_dict, optimizer_state_dict, val_loss, val_cosine,
// args}, plus what rebuilds the model and resumes the run exactly (model_config, loss_weights, scheduler_state_dict,
// best_val_loss, history up to and including `epoch`, the best epoch so far and the epochs since it). torch.save's
// format, written atomically: a crash mid-write leaves the old file whole.
import { load, save } from '../../torch/io/load.js';
import type { Module } from '../../torch/nn/module.js';
import type { Monitor } from './monitor.js';
import type { LoadableStateDict, Optimizer } from '../../torch/optim/optimizer.js';
import type { Tensor } from '../../torch/tensor.js';
import type { HistoryEntry } from './history.js';

export interface Checkpoint {
  epoch: number;
  val_loss: number;
  val_cosine: number;
  args: Record<string, unknown>;
  model_config: Record<string, unknown>;
  loss_weights: Record<string, number>;
  best_val_loss: number;
  history: HistoryEntry[];
  /** The best epoch so far (this one or an earlier one) and its scores: what picks best_model.pt. The Trainer's. */
  best?: BestEpoch;
  /** Epochs since the best one without improvement (what `patience` counts). The Trainer's. */
  bad_epochs?: number;
}

export interface BestEpoch {
  epoch: number;
  val_loss: number;
  val_cosine: number;
  /** What picked it (TrainerOptions.monitor) and its score there. */
  monitor: Monitor;
  value: number;
}

export interface LoadedCheckpoint extends Partial<Omit<Checkpoint, 'history'>> {
  model_state_dict: Record<string, Tensor>;
  optimizer_state_dict?: LoadableStateDict;
  scheduler_state_dict?: Record<string, unknown>;
  history?: HistoryEntry[];
}

/**
 * Writes `ckpt` with the model's and optimiser's current state to `path` (.pt), atomically; with a learning-rate
 * schedule (ReduceLROnPlateau, CosineWarmupLR), its state too.
 */
export async function writeCheckpoint<O extends object>(path: string, ckpt: Checkpoint, model: Module, optimizer: Optimizer<O>,
  scheduler?: { stateDict(): Record<string, unknown> }): Promise<void> {
  const modelState = model.stateDict();
  const optimizerState = optimizer.stateDict();
  try {
    const sched = scheduler ? { scheduler_state_dict: scheduler.stateDict() } : {};
    await save({
      epoch: ckpt.epoch, model_state_dict: modelState, optimizer_state_dict: optimizerState,
      val_loss: ckpt.val_loss, val_cosine: ckpt.val_cosine, args: ckpt.args,
      model_config: ckpt.model_config, loss_weights: ckpt.loss_weights, ...sched,
      best_val_loss: ckpt.best_val_loss, history: ckpt.history,
      ...(ckpt.best && { best: { ...ckpt.best } }), ...(ckpt.bad_epochs !== undefined && { bad_epochs: ckpt.bad_epochs }),
    }, path);
  } finally {
    Object.values(modelState).forEach((t) => t.dispose());
    for (const entry of Object.values(optimizerState.state)) {
      for (const t of Object.values(entry)) t?.dispose();
    }
  }
}

/** Reads a checkpoint written by us or by the seed's Python (a bare state dict is accepted too). */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const ckpt = await load<Record<string, unknown>>(path);
  if (ckpt === null || typeof ckpt !== 'object') throw new Error(`${path}: not a checkpoint (it holds ${typeof ckpt})`);
  if (ckpt.model_state_dict && typeof ckpt.model_state_dict === 'object') return ckpt as unknown as LoadedCheckpoint;
  return { model_state_dict: ckpt as Record<string, Tensor> };
}
