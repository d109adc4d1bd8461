// Resuming a fit() from a checkpoint (ours, or a seed-style one written by Python): its weights, optimiser and
// schedule state and history; the epoch it ends, the best epoch so far and the epochs since it; and where the best
// weights are (its own, or best_model.pt's beside it).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import type { Module } from '../../torch/nn/module.js';
import type { Tensor } from '../../torch/tensor.js';
import { restore, snapshot } from './best.js';
import { readCheckpoint, type BestEpoch, type LoadedCheckpoint } from './checkpoint.js';
import type { HistoryEntry, HistoryFile } from './history.js';
import { isBetter, monitoredEntry, worst, type Monitor } from './monitor.js';
import { loadSchedulerState, type Scheduler, type TrainOptimizer } from './optimizer-setup.js';

export interface Resumed {
  /** The last epoch the checkpoint had finished. */
  epoch: number;
  best: BestEpoch;
  badEpochs: number;
  /** A copy of the best weights, when they are not the resumed ones. */
  bestState?: Tensor[];
  /** best_model.pt beside the checkpoint, when it holds the best epoch. */
  bestFile?: string;
}

type Run = { model: Module; optimizer: TrainOptimizer; scheduler: Scheduler; history: HistoryFile; monitor: Monitor };

/** Loads the checkpoint at `path` into the run (its history into `history`); problems that do not stop it go to `warnings`. */
export async function resume(path: string, run: Run, warnings: string[]): Promise<Resumed> {
  const { model, history } = run;
  const ckpt = await readCheckpoint(path);
  try {
    model.loadStateDict(ckpt.model_state_dict, { strict: true });
    if (ckpt.optimizer_state_dict) run.optimizer.loadStateDict(ckpt.optimizer_state_dict);
    loadSchedulerState(run.scheduler, ckpt.scheduler_state_dict);
  } finally {
    for (const t of Object.values(ckpt.model_state_dict)) t.dispose();
  }
  const epoch = Number(ckpt.epoch ?? 0);
  history.entries.push(...(ckpt.history ?? []).filter((e) => e.epoch <= epoch));
  const got = history.entries.map((e) => e.epoch);
  if (got.length !== epoch || got.some((e, i) => e !== i + 1)) {
    warnings.push(`${path} holds the history of epochs [${compactRanges(got)}] of 1-${epoch} (a seed-style or older checkpoint): ` +
      'training_history.json has only those and the epochs run now');
  }
  const { best, badEpochs } = resumedBest(ckpt, epoch, history.entries, run.monitor);
  history.bestValLoss = best.val_loss;
  const resumed: Resumed = { epoch, best, badEpochs };
  // The best weights: the checkpoint's own when it is the best epoch, else those of best_model.pt beside it when
  // that holds the best epoch (the same epoch and val_loss).
  const beside = join(dirname(path), 'best_model.pt');
  const other = resolve(beside) !== resolve(path) && existsSync(beside) ? await readCheckpoint(beside).catch(() => undefined) : undefined;
  try {
    const besideIsBest = other !== undefined && Number(other.epoch) === best.epoch && Number(other.val_loss) === best.val_loss;
    if (best.epoch === epoch) {
      if (besideIsBest) resumed.bestFile = beside;
    } else if (besideIsBest) {
      const current = snapshot(model);
      try {
        model.loadStateDict(other.model_state_dict, { strict: true });
        resumed.bestState = snapshot(model);
        resumed.bestFile = beside;
      } catch (e) {
        warnings.push(`${beside} holds the best epoch but does not fit the model (${(e as Error).message})`);
      } finally {
        restore(model, current);
        current.forEach((t) => t.dispose());
      }
    }
  } finally {
    if (other) for (const t of Object.values(other.model_state_dict)) t.dispose();
  }
  if (!resumed.bestFile && best.epoch !== epoch) {
    warnings.push(`the best epoch so far is ${best.epoch} (${best.monitor} ${best.value}), but ${path} holds epoch ${epoch} ` +
      `and no best_model.pt of epoch ${best.epoch} is beside it: unless a later epoch does better, the model ends with ` +
      `the resumed weights (epoch ${epoch}) in place of the best ones`);
  }
  return resumed;
}

// The best epoch so far and the epochs since it, as the checkpoint recorded them for this run's monitor; else
// (an older or seed-style checkpoint, or one that another monitor picked) replayed from its history and its own
// scores, as this run would have picked them.
function resumedBest(ckpt: LoadedCheckpoint, epoch: number, entries: HistoryEntry[], monitor: Monitor): { best: BestEpoch; badEpochs: number } {
  const b = ckpt.best as Partial<BestEpoch> | undefined;
  // Checkpoints written before `monitor` was recorded were picked by val_loss or val_cosine.
  const value = b?.monitor === monitor ? Number(b.value) : monitor === 'val_loss' && b?.monitor === undefined ? Number(b?.val_loss)
    : monitor === 'val_cosine' && b?.monitor === undefined ? Number(b?.val_cosine) : NaN;
  if (b && typeof b === 'object' && Number.isInteger(b.epoch) && b.epoch! <= epoch && Number.isFinite(value)) {
    const best = { epoch: b.epoch!, val_loss: Number(b.val_loss ?? Infinity), val_cosine: Number(b.val_cosine ?? -Infinity), monitor, value };
    const bad = Number(ckpt.bad_epochs);
    return { best, badEpochs: Number.isInteger(bad) && bad >= 0 && b.monitor === monitor ? bad : epoch - best.epoch };
  }
  const own = { epoch, val_loss: Number(ckpt.val_loss ?? NaN), val_cosine: Number(ckpt.val_cosine ?? NaN) };
  const ownValue = monitor === 'val_loss' ? own.val_loss : monitor === 'val_cosine' ? own.val_cosine : NaN;
  const candidates = entries.filter((e) => e.epoch < epoch).map((e) => ({ ...e, value: monitoredEntry(monitor, e) }));
  const last = entries.find((e) => e.epoch === epoch);
  candidates.push(last ? { ...last, value: monitoredEntry(monitor, last) } : { ...own, value: ownValue } as HistoryEntry & { value: number });
  const best: BestEpoch = { epoch, val_loss: Infinity, val_cosine: -Infinity, monitor, value: worst(monitor) };
  let found = false;
  for (const c of candidates) {
    if (isBetter(monitor, c.value, best.value)) {
      Object.assign(best, { epoch: c.epoch, val_loss: c.val_loss, val_cosine: c.val_cosine, value: c.value });
      found = true;
    }
  }
  if (!found) {  // a checkpoint without scores (a bare state dict): its val_loss from best_val_loss, if any
    Object.assign(best, { epoch, val_loss: Number(ckpt.best_val_loss ?? ckpt.val_loss ?? Infinity), val_cosine: Number(ckpt.val_cosine ?? -Infinity) });
  }
  return { best, badEpochs: epoch - best.epoch };
}

// "1-4, 6" for [1, 2, 3, 4, 6].
function compactRanges(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(', ') || 'none';
}
