// The checkpoints of a fit() in its outDir: best_model.pt at each better epoch (and a ridge start's epoch 0),
// final_model.pt after every epoch, and on resume the best weights kept on as outDir's best_model.pt. Each written
// atomically (writeCheckpoint); without an outDir (or on a rank other than 0) nothing is written.
import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { writeFileAtomic } from '../../formats/atomic.js';
import type { Module } from '../../torch/nn/module.js';
import { writeCheckpoint, type BestEpoch, type Checkpoint } from './checkpoint.js';
import type { FitResult } from './fit-result.js';
import type { HistoryFile } from './history.js';
import type { Metrics } from './metrics.js';
import type { Scheduler, TrainOptimizer } from './optimizer-setup.js';
import type { Resumed } from './resume.js';

type Name = 'best_model.pt' | 'final_model.pt';
type State = { best: BestEpoch; badEpochs: number };
type Run = { model: Module; optimizer: TrainOptimizer; scheduler: Scheduler; history: HistoryFile };

export class RunCheckpoints {
  readonly files: FitResult['files'] = {};

  /** `fields`: what every checkpoint of the run records as it is (args, model_config, loss_weights). */
  constructor(readonly outDir: string | undefined, readonly run: Run, readonly fields: Pick<Checkpoint, 'args' | 'model_config' | 'loss_weights'>) {
    if (outDir) mkdirSync(outDir, { recursive: true });
  }

  /** Writes `name` for `epoch`, scored `val`, with the history so far and `state`; returns its path. */
  async save(name: Name, epoch: number, val: Pick<Metrics, 'mse' | 'cosine'>, state: State): Promise<string> {
    const path = join(this.outDir!, name);
    const { args, model_config, loss_weights } = this.fields;
    const ckpt: Checkpoint = {
      epoch, val_loss: val.mse, val_cosine: val.cosine, args: { ...args }, model_config: { ...model_config },
      loss_weights: { ...loss_weights }, best_val_loss: state.best.val_loss, history: this.run.history.entries,
      best: { ...state.best }, bad_epochs: state.badEpochs,
    };
    await writeCheckpoint(path, ckpt, this.run.model, this.run.optimizer, this.run.scheduler);
    if (name === 'best_model.pt') this.files.best = path;
    else this.files.final = path;
    return path;
  }

  /**
   * On resume, the best weights so far go on being outDir's best_model.pt: best_model.pt beside the resumed
   * checkpoint, or the resumed weights when they are the best epoch's (saved as that epoch saved them).
   */
  async keepResumedBest(resumePath: string, resumed: Resumed, state: State): Promise<void> {
    if (!this.outDir) return;
    const bestPath = join(this.outDir, 'best_model.pt');
    if (resumed.bestFile) this.files.best = await keepAs(resumed.bestFile, bestPath);
    else if (state.best.epoch === resumed.epoch) {
      const val = { mse: state.best.val_loss, cosine: state.best.val_cosine };
      if (resolve(resumePath) === resolve(bestPath)) this.files.best = bestPath;
      else await this.save('best_model.pt', state.best.epoch, val, state);
    }
  }

  /** After the last epoch: with no epoch run after a resume, final_model.pt is the resumed weights (unless it was that file). */
  async finish(resumePath: string | undefined, state: State): Promise<void> {
    const last = this.run.history.entries.at(-1);
    if (!this.outDir || this.files.final || !last) return;
    const finalPath = join(this.outDir, 'final_model.pt');
    if (resolve(resumePath!) !== resolve(finalPath)) {
      await this.save('final_model.pt', last.epoch, { mse: last.val_loss, cosine: last.val_cosine }, state);
    }
    this.files.final = finalPath;
  }
}

// Copies `from` to `to` (atomically) unless they are the same file; returns `to`.
async function keepAs(from: string, to: string): Promise<string> {
  if (resolve(from) === resolve(to)) return to;
  await writeFileAtomic(to, (fd) => {
    const src = openSync(from, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let n; (n = readSync(src, buf, 0, buf.length, null)) > 0;) writeSync(fd, buf, 0, n);
    } finally {
      closeSync(src);
    }
  });
  return to;
}
