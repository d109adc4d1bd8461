// Resuming a Trainer run loses nothing (issue 23, defect 3): a checkpoint holds the history up to and including its
// own epoch, the best epoch so far and the epochs since it, so that a run broken after any epoch and resumed from
// final_model.pt (or from best_model.pt) goes on as the unbroken run did: the same history, each epoch once and in
// order, the same best epoch, the same early stop, the same weights. An LSTM with dropout, so that the draws of
// torch's generator must be the same after a resume too. The CLI under SIGKILL is test/kill-resume.test.ts.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { computeBaselines, datasets, models, torch, Trainer, type Dataset, type FitResult, type Tensor } from '../dist/index.js';
import type { BaselineResult } from '../dist/lvm/train/baselines.js';

const root = mkdtempSync(join(tmpdir(), 'lvmtorch-resume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, `run${++dirs}`);

const data: Dataset = datasets.synthetic({ seed: 1, docs: 40, sentencesPerDoc: 10 });
const splits = datasets.splitByDocument(data, { train: 0.8, val: 0.1, test: 0.1, seed: 4 });
let baselines: BaselineResult;
beforeAll(async () => { baselines = await computeBaselines(splits.train, { val: splits.val, test: splits.test }); });

// lr 3e-2 overshoots after epoch 4 on this slice: the best epoch comes before the last, and patience 2 stops the
// unbroken run early (both checked below, so that the test cannot pass by a run with nothing to restore).
const EPOCHS = 8;
const PATIENCE = 2;

interface Run { result: FitResult; weights: Record<string, Tensor>; out: string }

async function train(out: string, opts: { resume?: string; breakAfter?: number } = {}): Promise<Run | Error> {
  torch.manualSeed(4);
  const model = models.lstm({ dModel: 16, numLayers: 2, dropout: 0.3 });
  const trainer = new Trainer(model, {
    epochs: EPOCHS, batchSize: 16, seed: 4, lr: 3e-2, patience: PATIENCE, outDir: out, resume: opts.resume, baselines,
    callbacks: {
      // A crash right after the epoch's files are written (a kill there leaves the same files).
      onEpochEnd: (e) => { if (e === opts.breakAfter) throw new Error(`broken after epoch ${e}`); },
    },
  });
  try {
    const result = await trainer.fit(splits);
    return { result, weights: model.stateDict(), out };
  } catch (e) {
    return e as Error;
  } finally {
    model.dispose();
  }
}

// Every number of an epoch but its timing.
const numbers = (h: FitResult['history']) => h.map(({ seconds: _s, samples_per_second: _p, ...rest }) => rest);
const historyFile = (out: string) => JSON.parse(readFileSync(join(out, 'training_history.json'), 'utf8')) as { history: FitResult['history']; best_val_loss: number };

function maxDiff(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let worst = 0;
  for (const [k, v] of Object.entries(a)) worst = Math.max(worst, v.sub(b[k]).abs().max().item() as number);
  return worst;
}

describe('resume', () => {
  let straight: Run;
  let broken: string;
  let bestEpoch: number;

  beforeAll(async () => {
    const r = await train(newDir());
    if (r instanceof Error) throw r;
    straight = r;
    bestEpoch = r.result.best.epoch;
    // The preconditions of what follows: a best epoch before the last, then an early stop.
    expect(r.result.stoppedEarly).toBe(true);
    expect(bestEpoch).toBeLessThan(r.result.history.at(-1)!.epoch - 1);
    broken = newDir();
    const e = await train(broken, { breakAfter: bestEpoch + 1 });
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe(`broken after epoch ${bestEpoch + 1}`);
  }, 120_000);

  it('a checkpoint holds the history up to and including its epoch, the best epoch and the epochs since it', async () => {
    const best = await torch.load<Record<string, unknown>>(join(broken, 'best_model.pt'));
    const final = await torch.load<Record<string, unknown>>(join(broken, 'final_model.pt'));
    expect(best.epoch).toBe(bestEpoch);
    expect((best.history as { epoch: number }[]).map((e) => e.epoch)).toEqual(Array.from({ length: bestEpoch }, (_, i) => i + 1));
    expect(best.best).toEqual({ epoch: bestEpoch, val_loss: best.val_loss, val_cosine: best.val_cosine, monitor: 'val_loss', value: best.val_loss });
    expect(best.bad_epochs).toBe(0);
    // final_model.pt is written after every epoch: the broken run's last one, one epoch after the best.
    expect(final.epoch).toBe(bestEpoch + 1);
    expect((final.history as { epoch: number }[]).map((e) => e.epoch)).toEqual(Array.from({ length: bestEpoch + 1 }, (_, i) => i + 1));
    expect(final.best).toEqual(best.best);
    expect(final.bad_epochs).toBe(1);
    expect(final.best_val_loss).toBe(best.val_loss);
    expect(historyFile(broken).history.map((e) => e.epoch)).toEqual(Array.from({ length: bestEpoch + 1 }, (_, i) => i + 1));
  });

  it('from final_model.pt: the same history, best epoch, early stop and weights as the unbroken run', async () => {
    const out = newDir();
    mkdirSync(out);
    for (const f of ['best_model.pt', 'final_model.pt']) copyFileSync(join(broken, f), join(out, f));
    const r = await train(out, { resume: join(out, 'final_model.pt') });
    if (r instanceof Error) throw r;
    const s = straight.result;
    expect(r.result.history.map((e) => e.epoch)).toEqual(s.history.map((e) => e.epoch));
    expect(numbers(r.result.history)).toEqual(numbers(s.history));
    expect(numbers(historyFile(out).history)).toEqual(numbers(s.history));
    expect(historyFile(out).best_val_loss).toBe(historyFile(straight.out).best_val_loss);
    expect(r.result.best).toEqual(s.best);
    expect(r.result.stoppedEarly).toBe(true);  // patience counted the epoch before the break
    expect(r.result.warnings).toEqual([]);
    // The model ends with the best epoch's weights (read from best_model.pt beside), as the unbroken run's does.
    const diffBest = maxDiff(r.weights, straight.weights);
    const [fa, fb] = await Promise.all([out, straight.out].map((d) => torch.load<{ model_state_dict: Record<string, Tensor>; epoch: number }>(join(d, 'final_model.pt'))));
    expect(fa.epoch).toBe(fb.epoch);
    const diffFinal = maxDiff(fa.model_state_dict, fb.model_state_dict);
    console.log(`resumed from final_model.pt at epoch ${bestEpoch + 1} (best ${bestEpoch}): max |Δw| against the unbroken run ` +
      `${diffBest} (best weights), ${diffFinal} (final_model.pt, epoch ${fa.epoch})`);
    // CPU runs are bitwise deterministic for a seed and a thread count: equal, not merely close.
    expect(diffBest).toBe(0);
    expect(diffFinal).toBe(0);
    expect(r.result.scores.val.cosine).toBe(s.scores.val.cosine);
    const best = await torch.load<{ epoch: number }>(join(out, 'best_model.pt'));
    expect(best.epoch).toBe(bestEpoch);  // kept, not overwritten by a resumed epoch
  });

  it('from best_model.pt: the epochs after it run again and end as the unbroken run did', async () => {
    const out = newDir();
    mkdirSync(out);
    copyFileSync(join(broken, 'best_model.pt'), join(out, 'best_model.pt'));
    const epochs: number[] = [];
    torch.manualSeed(4);
    const model = models.lstm({ dModel: 16, numLayers: 2, dropout: 0.3 });
    const r = await new Trainer(model, {
      epochs: EPOCHS, batchSize: 16, seed: 4, lr: 3e-2, patience: PATIENCE, outDir: out, resume: join(out, 'best_model.pt'),
      baselines, callbacks: { onEpochBegin: (e) => { epochs.push(e); } },
    }).fit(splits);
    const s = straight.result;
    expect(epochs).toEqual(s.history.map((e) => e.epoch).filter((e) => e > bestEpoch));
    expect(numbers(historyFile(out).history)).toEqual(numbers(s.history));
    expect(r.best).toEqual(s.best);
    expect(r.stoppedEarly).toBe(true);
    expect(maxDiff(model.stateDict(), straight.weights)).toBe(0);
    model.dispose();
  });

  it('from a final_model.pt with no best_model.pt beside it: says the best weights are missing, and keeps the resumed ones', async () => {
    const out = newDir();
    mkdirSync(out);
    copyFileSync(join(broken, 'final_model.pt'), join(out, 'final_model.pt'));
    const r = await train(out, { resume: join(out, 'final_model.pt') });
    if (r instanceof Error) throw r;
    expect(r.result.warnings).toEqual([expect.stringMatching(new RegExp(`the best epoch so far is ${bestEpoch} .* no best_model.pt of ` +
      `epoch ${bestEpoch} is beside it: .*the resumed weights \\(epoch ${bestEpoch + 1}\\) in place of the best ones`))]);
    expect(r.result.best).toEqual(straight.result.best);
    expect(numbers(r.result.history)).toEqual(numbers(straight.result.history));
    const resumed = await torch.load<{ model_state_dict: Record<string, Tensor> }>(join(broken, 'final_model.pt'));
    expect(maxDiff(r.weights, resumed.model_state_dict)).toBe(0);
  });
});
