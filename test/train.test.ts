// The Trainer's mechanics on a small slice of the built-in corpus: callbacks, files in the seed's layout that Python
// reads, determinism, resume (ours and a Python-written checkpoint), NaN and bad data stopping cleanly, and
// checkpoints that survive SIGKILL mid-write. The quality of what it learns is in train-quality.test.ts.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { computeBaselines, datasets, formatSummary, models, torch, Trainer, TrainingError, Tensor, type Dataset } from '../dist/index.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
if (missing) console.warn(`checkpoint checks in PyTorch skipped: ${missing}`);
const root = mkdtempSync(join(tmpdir(), 'lvmtorch-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, `run${++dirs}`);

const D = 768;
const TINY = { dModel: 16, numLayers: 1, dropout: 0 };
const data: Dataset = datasets.synthetic({ seed: 1, docs: 40, sentencesPerDoc: 10 });

function sameTensors(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  let worst = 0;
  for (const [k, v] of Object.entries(a)) worst = Math.max(worst, v.sub(b[k]).abs().max().item() as number);
  return worst;
}

describe('a run', () => {
  it('calls back in order, writes the seed\'s files, and ends holding the best weights', async () => {
    const out = newDir();
    const events: string[] = [];
    torch.manualSeed(0);
    const model = models.gru(TINY);
    const trainer = new Trainer(model, {
      epochs: 3, batchSize: 16, lr: 3e-3, outDir: out, seed: 0, callbacks: {
        onTrainBegin: (i) => { events.push(`begin ${i.epochs} ${i.stepsPerEpoch}`); },
        onEpochBegin: (e) => { events.push(`epoch ${e}`); },
        onBatchEnd: (b, l) => { if (b === l.steps) events.push(`batches ${b}`); },
        onEpochEnd: (e, l) => { events.push(`end ${e} ${Number.isFinite(l.val_cosine)}`); },
        onTrainEnd: () => { events.push('done'); },
      },
    });
    const r = await trainer.fit(data);
    expect(events[0]).toMatch(/^begin 3 \d+$/);
    expect(events.filter((e) => e.startsWith('epoch'))).toEqual(['epoch 1', 'epoch 2', 'epoch 3']);
    expect(events.filter((e) => e.startsWith('end'))).toEqual(['end 1 true', 'end 2 true', 'end 3 true']);
    expect(events.at(-1)).toBe('done');
    expect(readdirSync(out).sort()).toEqual(['best_model.pt', 'final_model.pt', 'report.html', 'training_history.json']);

    const history = JSON.parse(readFileSync(join(out, 'training_history.json'), 'utf8'));
    for (const key of ['history', 'best_val_loss', 'final_params', 'trained_at', 'baselines']) expect(history).toHaveProperty(key);
    for (const key of ['epoch', 'train_loss', 'train_cosine', 'train_loss_info', 'train_loss_moment', 'train_loss_variance',
      'val_loss', 'val_cosine', 'lr']) expect(history.history[0]).toHaveProperty(key);
    expect(history.best_val_loss).toBe(Math.min(...r.history.map((h) => h.val_loss)));
    // Ours beside the seed's keys: the centred cosine and the ranks, per epoch, in the final scores and the baselines'.
    for (const e of history.history) {
      expect(e.val_centred_cosine).toBeGreaterThan(-1);
      expect(e.val_mrr).toBeGreaterThan(0);
      expect(Number.isInteger(e.val_median_rank) && e.val_median_rank >= 1).toBe(true);
    }
    for (const key of ['centredCosine', 'mrr', 'medianRank']) {
      expect(history.scores.val).toHaveProperty(key);
      expect(history.baselines.mean.val).toHaveProperty(key);
    }
    const summary = formatSummary(r, 'gru');
    expect(summary.split('\n')[0]).toMatch(/val cosine +val centred +test cosine +test centred +val top-1 +val top-5 +val MRR +val rank/);
    expect(summary).toMatch(/^gru +(-?\d+\.\d\d% +){6}\d\.\d{4} +\d+ +\d\.\d{4} +\d\.\d{4} +\d\.\d{4} +\d+\.\d\d% +\d+\.\d\d%$/m);
    expect(summary).toMatch(/^mean +\d+\.\d\d% +-?\d\.\d\d% /m);  // about 0 centred
    expect(summary).toMatch(/centred: train -?\d+\.\d\d%, val -?\d+\.\d\d% \(-?\d+\.\d\d points\)/);
    expect(summary).toMatch(/gru val mse \(the seed's val_loss\): \d\.\d{5}/);
    const report = readFileSync(join(out, 'report.html'), 'utf8');
    for (const h of ['val centred', 'test centred', 'val MRR', 'val rank', 'Centred cosine per epoch', 'MRR per epoch']) expect(report).toContain(h);

    const best = await torch.load<Record<string, unknown>>(join(out, 'best_model.pt'));
    for (const key of ['epoch', 'model_state_dict', 'optimizer_state_dict', 'val_loss', 'val_cosine', 'args', 'model_config'])
      expect(best).toHaveProperty(key);
    expect(best.epoch).toBe(r.best.epoch);
    // The model now holds best_model.pt's weights.
    expect(sameTensors(model.stateDict(), best.model_state_dict as Record<string, Tensor>)).toBe(0);
    expect(r.scores.val.cosine).toBeCloseTo(r.best.val_cosine, 5);
    model.dispose();
  });

  it('is deterministic on CPU for a seed', async () => {
    const run = async () => {
      torch.manualSeed(3);
      const model = models.lstm({ ...TINY, dropout: 0 });
      const r = await new Trainer(model, { epochs: 2, batchSize: 16, seed: 3 }).fit(data);
      model.dispose();
      return r.history.map((h) => [h.train_loss, h.val_loss]);
    };
    expect(await run()).toEqual(await run());
  });

  it('resumes from its own checkpoint to the same weights as an unbroken run', async () => {
    const straight = newDir();
    const broken = newDir();
    const train = async (out: string, epochs: number, resume?: string) => {
      torch.manualSeed(4);
      const model = models.gru(TINY);
      await new Trainer(model, { epochs, batchSize: 16, seed: 4, lr: 3e-3, outDir: out, resume }).fit(data);
      model.dispose();
    };
    await train(straight, 4);
    await train(broken, 2);
    await train(broken, 4, join(broken, 'final_model.pt'));
    const a = await torch.load<{ model_state_dict: Record<string, Tensor>; epoch: number }>(join(straight, 'final_model.pt'));
    const b = await torch.load<{ model_state_dict: Record<string, Tensor>; epoch: number; history: unknown[] }>(join(broken, 'final_model.pt'));
    expect(b.epoch).toBe(4);
    expect(b.history).toHaveLength(4);
    expect(sameTensors(a.model_state_dict, b.model_state_dict)).toBeLessThan(1e-6);
  });
});

describe('a residual over ridge (ridgeContext)', () => {
  it('starts from the ridge baseline (at lr 1e-12 it scores as ridge does), and its checkpoint rebuilds with the ridge', async () => {
    const out = newDir();
    torch.manualSeed(6);
    const model = models.gru({ ...TINY, ridgeContext: 5 });
    const r = await new Trainer(model, { epochs: 1, batchSize: 16, lr: 1e-12, outDir: out }).fit(data);
    const ridge = r.baselines.scores.ridge!;
    expect(r.scores.val.cosine).toBeCloseTo(ridge.val.cosine, 5);
    expect(r.scores.val.centredCosine).toBeCloseTo(ridge.val.centredCosine, 5);
    expect(r.scores.test!.cosine).toBeCloseTo(ridge.test!.cosine, 5);
    const ckpt = await torch.load<Record<string, unknown>>(join(out, 'best_model.pt'));
    const back = models.fromCheckpoint(ckpt);
    expect(back.config.ridgeContext).toBe(5);
    const x = data.batch([0, 1, 2]).x;
    expect(back.eval().predict(x).sub(model.eval().predict(x)).abs().max().item()).toBeLessThan(1e-6);
    for (const m of [model, back]) m.dispose();
  });

  it('starts from the ridge baseline when the baselines are given too', async () => {
    const s = datasets.splitByDocument(data, { train: 0.8, val: 0.1, test: 0.1, seed: 3 });
    const given = await computeBaselines(s.train, { val: s.val, test: s.test });
    torch.manualSeed(6);
    const model = models.gru({ ...TINY, ridgeContext: 5 });
    const r = await new Trainer(model, { epochs: 1, batchSize: 16, lr: 1e-12, baselines: given }).fit(s);
    expect(r.baselines).toBe(given);
    expect(r.scores.val.cosine).toBeCloseTo(given.scores.ridge!.val.cosine, 5);
    expect(r.scores.test!.cosine).toBeCloseTo(given.scores.ridge!.test!.cosine, 5);
    for (const d of [model, s.train, s.val, s.test]) d.dispose();
  });

  it('keeps its start (epoch 0: ridge) when no epoch beats it on val, and saves it as best_model.pt', async () => {
    const out = newDir();
    torch.manualSeed(6);
    const model = models.gru({ ...TINY, ridgeContext: 5 });
    // lr 0.3 wrecks the head at once: every epoch scores below the start.
    const r = await new Trainer(model, { epochs: 2, batchSize: 16, lr: 0.3, outDir: out }).fit(data);
    const ridge = r.baselines.scores.ridge!;
    expect(r.history.map((e) => e.val_cosine).every((c) => c < ridge.val.cosine)).toBe(true);
    expect(r.best.epoch).toBe(0);
    expect(r.scores.val.cosine).toBeCloseTo(ridge.val.cosine, 5);
    expect(r.scores.test!.cosine).toBeCloseTo(ridge.test!.cosine, 5);
    const ckpt = await torch.load<{ epoch: number; val_cosine: number }>(join(out, 'best_model.pt'));
    expect(ckpt.epoch).toBe(0);
    expect(ckpt.val_cosine).toBeCloseTo(ridge.val.cosine, 5);
    model.dispose();
  });

  it('refuses data whose windows are not the ridge\'s length', async () => {
    const model = models.gru({ ...TINY, ridgeContext: 4 });
    await expect(new Trainer(model, { epochs: 1 }).fit(data)).rejects.toThrow(/the model's ridge reads 4 context vectors but the data's windows have 5/);
    model.dispose();
  });
});

describe('lvmtorch eval', () => {
  it('scores a checkpoint on the documents it did not see, as the Trainer did, against the baselines', async () => {
    const out = newDir();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(out);
    const corpus = datasets.synthesize({ seed: 1, docs: 40, sentencesPerDoc: 10 });
    datasets.saveSynthetic(corpus, join(out, 'data.npz'));
    torch.manualSeed(0);
    const model = models.gru(TINY);
    const r = await new Trainer(model, { epochs: 2, batchSize: 16, lr: 3e-3, outDir: out }).fit(datasets.fromNpz(join(out, 'data.npz')));
    const { stdout } = await promisify(execFile)(process.execPath,
      ['dist/cli/main.js', 'eval', '--checkpoint', join(out, 'best_model.pt'), '--data', join(out, 'data.npz'), '--json'], { encoding: 'utf8' });
    const e = JSON.parse(stdout);
    expect(e.kind).toBe('gru');
    expect(e.scores.val.cosine).toBeCloseTo(r.scores.val.cosine, 5);
    expect(e.scores.test.cosine).toBeCloseTo(r.scores.test!.cosine, 5);
    expect(e.baselines.ridge.val.cosine).toBeCloseTo(r.baselines.scores.ridge!.val.cosine, 5);
    expect(e.baselines.oracle.val.cosine).toBeGreaterThan(e.baselines.mean.val.cosine);
    // Centred on the same train mean as the Trainer's scores.
    expect(e.scores.val.centredCosine).toBeCloseTo(r.scores.val.centredCosine, 5);
    expect(e.baselines.mean.val.centredCosine).toBeCloseTo(r.baselines.scores.mean!.val.centredCosine, 5);
    expect(Math.abs(e.baselines.mean.val.centredCosine)).toBeLessThan(0.05);
    expect(e.scores.val.mrr).toBeCloseTo(r.scores.val.mrr, 5);
    const table = await promisify(execFile)(process.execPath,
      ['dist/cli/main.js', 'eval', '--checkpoint', join(out, 'best_model.pt'), '--data', join(out, 'data.npz')], { encoding: 'utf8' });
    expect(table.stdout).toMatch(/val cosine +val centred .* val MRR +val rank/);
    expect(table.stdout).toMatch(/^mean +\d+\.\d\d% +-?\d\.\d\d% /m);
    model.dispose();
  });
});

describe('stopping cleanly', () => {
  it('a NaN loss stops the run naming the epoch and batch, and best_model.pt stays whole', async () => {
    const out = newDir();
    const model = models.gru(TINY);
    const trainer = new Trainer(model, {
      epochs: 3, batchSize: 16, outDir: out, callbacks: {
        // Poison a weight after batch 2 of epoch 2: the next step's loss is NaN.
        onBatchEnd: (b, l) => { if (l.epoch === 2 && b === 2) torch.noGrad(() => model.parameters()[0].mul_(NaN)); },
      },
    });
    const err = await trainer.fit(data).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as TrainingError).message).toMatch(/epoch 2, batch 3 of \d+/);
    expect((err as TrainingError).epoch).toBe(2);
    const best = await torch.load<{ epoch: number; model_state_dict: Record<string, Tensor> }>(join(out, 'best_model.pt'));
    expect(best.epoch).toBe(1);
    for (const t of Object.values(best.model_state_dict)) expect(t.isfinite().all().item()).toBe(true);
    model.dispose();
  });

  it('bad data is refused before training starts, and no file is written', async () => {
    const out = newDir();
    const model = models.gru({ ...TINY, inputDim: 32, outputDim: 32 });
    await expect(new Trainer(model, { outDir: out }).fit(data)).rejects.toThrow(/768-D.*32-D/);
    const few = datasets.fromVectors(torch.randn([12, D]).normalize({ dim: 1 }), Array.from({ length: 12 }, (_, i) => i < 6 ? 0 : 1), { context: 5 });
    const m2 = models.gru(TINY);
    await expect(new Trainer(m2, { outDir: out, batchSize: 64 }).fit(few)).rejects.toThrow(/rows|batch/);
    expect(existsSync(out)).toBe(false);
    expect(() => new Trainer(m2, { epochs: 0 })).toThrow(/epochs must be a positive integer/);
    expect(() => new Trainer(m2, { lr: -1 })).toThrow(/lr must be/);
    model.dispose();
    m2.dispose();
  });

  it('SIGKILL in the middle of writing a checkpoint leaves the previous one whole', async () => {
    const out = newDir();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(out);
    for (const delay of [0, 37, 81, 150, 263]) {
      const child = spawn(process.execPath, [fileURLToPath(new URL('./helpers/checkpoint-writer.mjs', import.meta.url)), out], { stdio: ['ignore', 'pipe', 'inherit'] });
      // Wait for one whole write (so that a file exists), then kill at `delay` ms into a later one.
      await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => { if (/wrote/.test(b.toString())) resolve(); }));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const ckpt = await torch.load<{ epoch: number; model_state_dict: Record<string, Tensor> }>(join(out, 'best_model.pt'));
      expect(ckpt.epoch).toBeGreaterThanOrEqual(1);
      // The seed GRU's 32 tensors (input_proj 2, 4 blocks x 6, head 6), every one whole.
      expect(Object.keys(ckpt.model_state_dict)).toHaveLength(32);
      for (const t of Object.values(ckpt.model_state_dict)) expect(t.isfinite().all().item()).toBe(true);
    }
  }, 120_000);
});

describe('checkpoints and Python', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  it('a Trainer checkpoint loads in the seed class (strict, same predictions) and its optimiser state in AdamW', async () => {
    const out = newDir();
    torch.manualSeed(5);
    const model = models.transformer({ dModel: 16, numLayers: 1, heads: 2, dropout: 0 });
    let steps = 0;
    await new Trainer(model, { epochs: 1, batchSize: 16, outDir: out, callbacks: { onBatchEnd: () => { steps++; } } }).fit(data);
    const x = torch.randn([3, 5, D]);
    await torch.saveTorchFile({ x }, join(out, 'x.pt'));
    const [r] = runPython<{ keys: string[]; epoch: number; steps_after: number[]; lr: number; weight_decay: number }[]>(
      'checkpoint_reference.py', { dir: out, jobs: [{ job: 'check', file: 'final_model.pt', inputs: 'x.pt', kind: 'transformer', config: model.config }] });
    expect(r.epoch).toBe(1);
    expect(r.keys).toEqual(expect.arrayContaining(['epoch', 'model_state_dict', 'optimizer_state_dict', 'val_loss', 'val_cosine', 'args']));
    expect(r.steps_after).toEqual([steps + 1]);  // our step counts, continued by torch.optim
    expect(r.weight_decay).toBe(0.01);
    const final = await torch.load<{ model_state_dict: Record<string, Tensor> }>(join(out, 'final_model.pt'));
    model.loadStateDict(final.model_state_dict);
    const ours = model.eval().predict(x);
    const theirs = (await torch.load<{ pred: Tensor }>(join(out, 'x.pt.out.pt'))).pred;
    expect(ours.sub(theirs).abs().max().item()).toBeLessThan(1e-5);
    model.dispose();
  });

  it('a seed-style checkpoint written by Python resumes training here', async () => {
    const out = newDir();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(out);
    const model = models.gru(TINY);
    runPython('checkpoint_reference.py', { dir: out, jobs: [{ job: 'export', file: 'seed.pt', kind: 'gru', config: model.config, epoch: 3 }] });
    const epochs: number[] = [];
    const r = await new Trainer(model, {
      epochs: 5, batchSize: 16, outDir: out, resume: join(out, 'seed.pt'), callbacks: { onEpochBegin: (e) => { epochs.push(e); } },
    }).fit(data);
    expect(epochs).toEqual([4, 5]);
    expect(r.history.map((h) => h.epoch)).toEqual([4, 5]);
    model.dispose();
  });
});
