// The native train step (lib/lvm/train/step.ts): the same numbers as the seed's loop in real PyTorch (forward, the
// composite loss, backward, clip_grad_norm_, AdamW.step), off the JS thread, and safe with bad input.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { models, NonFiniteLossError, torch, trainStep, Tensor, optim } from '../dist/index.js';
import { findLibtorch } from '../dist/torch/libtorch/find.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
if (missing) console.warn(`train step comparisons with PyTorch skipped: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-train-step-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = { inputDim: 12, outputDim: 12, dModel: 8, numLayers: 2, heads: 2, ffDim: 32, maxLen: 10, dropout: 0 };
// Every term weighted, so that each one's gradient is checked through the step.
const WEIGHTS = { tau: 0.07, info: 1, moment: 0.1, variance: 0.01, mse: 0.5, cosMse: 1 };
const STEPS = 4;

function maxRelDiff(a: Tensor, b: Tensor): number {
  return (a.sub(b).abs().max().item() as number) / Math.max(1, b.abs().max().item() as number);
}

describe('against torch.optim.AdamW and the seed loop in PyTorch', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  for (const kind of ['gru', 'lstm', 'transformer'] as const) {
    it(`${kind}: ${STEPS} steps give Python's losses, clipped norms, weights and optimiser state`, async () => {
      torch.manualSeed(5);
      const model = models[kind](SMALL);
      const xs = Array.from({ length: STEPS }, () => torch.randn([6, 5, 12]));
      const ys = Array.from({ length: STEPS }, () => torch.randn([6, 12]).normalize({ dim: 1 }));
      await torch.saveTorchFile({ state_dict: model.stateDict(), xs, ys }, join(dir, `${kind}-in.pt`));
      const py = runPython<{ losses: number[]; norms: number[] }>('train_reference.py', {
        dir, file: `${kind}-in.pt`, out: `${kind}-out.pt`, kind, config: model.config, weights: WEIGHTS,
        lr: 1e-2, weightDecay: 0.01, clipNorm: 0.5,
      });
      const opt = new optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.01 });
      for (let i = 0; i < STEPS; i++) {
        const r = await trainStep(model, opt, xs[i], ys[i], { weights: WEIGHTS, clipNorm: 0.5 });
        expect(Math.abs(r.loss - py.losses[i]) / Math.abs(py.losses[i]), `loss ${i}`).toBeLessThan(1e-5);
        expect(Math.abs(r.gradNorm - py.norms[i]) / py.norms[i], `grad norm ${i}`).toBeLessThan(1e-4);
      }
      expect(py.norms.some((n) => n > 0.5), 'the clipping was exercised').toBe(true);
      const want = torch.loadTorchFileSync<{ state_dict: Record<string, Tensor>; optimizer: { state: Map<number, Record<string, Tensor>> } }>(
        join(dir, `${kind}-out.pt`));
      const got = model.stateDict();
      for (const [k, v] of Object.entries(want.state_dict)) {
        // The key projection's bias cannot change attention (softmax ignores a shift per query), so its true
        // gradient is 0 and what it gets is rounding noise (~1e-9), which Adam scales up to lr-sized steps of
        // either sign on either side. Its query and value thirds are compared; the key third is not.
        if (k.endsWith('in_proj_bias')) {
          const e = v.shape[0] / 3;
          const qv = (t: Tensor) => torch.cat([t.slice(0, 0, e), t.slice(0, 2 * e, 3 * e)]);
          expect(maxRelDiff(qv(got[k]), qv(v)), `${k} (query and value thirds)`).toBeLessThan(1e-4);
          continue;
        }
        expect(maxRelDiff(got[k], v), k).toBeLessThan(1e-4);
      }
      const ours = opt.stateDict().state;
      for (const [i, s] of want.optimizer.state) {
        expect(maxRelDiff(ours[i].exp_avg_sq!, s.exp_avg_sq), `exp_avg_sq of ${i}`).toBeLessThan(1e-4);
        expect(ours[i].step!.item()).toBe(STEPS);
      }
      opt.dispose();
      model.dispose();
    });
  }
});

const torch2 = Number(findLibtorch().libtorch!.version.split('.')[0]) >= 2;

describe('bf16 autocast (precision: \'bf16\') against torch.autocast(\'cpu\', bfloat16) in PyTorch', () => {
  beforeEach((ctx) => {
    // An older libtorch is no missing tool: on it these skip, saying so, under CI too.
    if (!torch2) ctx.skip("libtorch 1.13's CPU autocast cannot run the GRU (precision 'bf16' is refused)");
    skipUnless(ctx, missing);
  });
  // bf16 keeps ~3 significant digits, and the two sides round in slightly different places (the same ATen ops, not
  // always the same calls): losses are compared to bf16's precision, and the weights by the direction they moved.
  for (const kind of ['gru', 'lstm', 'transformer'] as const) {
    it(`${kind}: ${STEPS} steps give Python's autocast losses and updates, and not fp32's`, async () => {
      torch.manualSeed(6);
      const model = models[kind](SMALL);
      const start = model.stateDict();
      const startCopy = Object.fromEntries(Object.entries(start).map(([k, v]) => [k, v.clone()]));
      const xs = Array.from({ length: STEPS }, () => torch.randn([6, 5, 12]));
      const ys = Array.from({ length: STEPS }, () => torch.randn([6, 12]).normalize({ dim: 1 }));
      await torch.saveTorchFile({ state_dict: start, xs, ys }, join(dir, `${kind}-bf16-in.pt`));
      const run = (bf16: boolean, out: string) => runPython<{ losses: number[] }>('train_reference.py', {
        dir, file: `${kind}-bf16-in.pt`, out, kind, config: model.config, weights: WEIGHTS, lr: 1e-2, weightDecay: 0.01, clipNorm: 0.5, bf16,
      });
      const py = run(true, `${kind}-bf16-out.pt`);
      const pyFp32 = run(false, `${kind}-fp32-out.pt`);
      const opt = new optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.01 });
      const losses: number[] = [];
      for (let i = 0; i < STEPS; i++) losses.push((await trainStep(model, opt, xs[i], ys[i], { weights: WEIGHTS, clipNorm: 0.5, precision: 'bf16' })).loss);
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
      const worst = Math.max(...losses.map((l, i) => rel(l, py.losses[i])));
      // Same starting weights, same first batch: a first loss equal to fp32's would mean autocast never ran.
      const firstVsFp32 = rel(losses[0], pyFp32.losses[0]);
      const want = torch.loadTorchFileSync<{ state_dict: Record<string, Tensor> }>(join(dir, `${kind}-bf16-out.pt`)).state_dict;
      const got = model.stateDict();
      const flat = (sd: Record<string, Tensor>) => torch.cat(Object.keys(want).map((k) => sd[k].sub(startCopy[k]).flatten()));
      const cos = flat(got).cosineSimilarity(flat(want), 0).item() as number;
      console.log(`${kind} bf16: losses vs torch.autocast ${worst.toExponential(1)} (first loss vs fp32 ${firstVsFp32.toExponential(1)}); ` +
        `cosine of the weight updates ${cos.toFixed(4)}`);
      expect(worst).toBeLessThan(5e-3);
      expect(firstVsFp32, 'bf16 really ran: its first loss is not fp32\'s').toBeGreaterThan(1e-5);
      expect(cos).toBeGreaterThan(0.95);
      opt.dispose();
      model.dispose();
    });
  }

});

describe('precision', () => {
  it('refuses an unknown precision, and bf16 on libtorch 1.13', async () => {
    const model = models.gru(SMALL);
    const opt = new optim.AdamW(model.parameters());
    await expect(trainStep(model, opt, torch.randn([2, 5, 12]), torch.randn([2, 12]), { precision: 'fp16' as never }))
      .rejects.toThrow(/precision must be 'fp32' or 'bf16', got fp16/);
    if (!torch2) {
      await expect(trainStep(model, opt, torch.randn([2, 5, 12]), torch.randn([2, 12]), { precision: 'bf16' }))
        .rejects.toThrow(/precision 'bf16' needs libtorch 2\.x/);
    }
  });
});

describe('the step off the JS thread', () => {
  it('leaves the event loop free while it computes', async () => {
    torch.manualSeed(1);
    const model = models.gru({ inputDim: 256, outputDim: 256, dModel: 256, numLayers: 4 });
    const opt = new optim.AdamW(model.parameters());
    const x = torch.randn([128, 5, 256]);
    const y = torch.randn([128, 256]);
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const r = await trainStep(model, opt, x, y);
    done = true;
    expect(Number.isFinite(r.loss)).toBe(true);
    // A step here takes tens of milliseconds; run on the JS thread, no tick could happen until it returned.
    expect(ticks).toBeGreaterThan(1);
    opt.dispose();
    model.dispose();
  });

  it('refuses a second step on the same model while one runs', async () => {
    const model = models.gru(SMALL);
    const opt = new optim.AdamW(model.parameters());
    const x = torch.randn([4, 5, 12]);
    const y = torch.randn([4, 12]);
    const first = trainStep(model, opt, x, y);
    await expect(trainStep(model, opt, x, y)).rejects.toThrow(/already running/);
    await first;
    await trainStep(model, opt, x, y);  // free again once the first is done
    model.dispose();
    opt.dispose();
  });

  it('keeps its tensors alive when JS disposes them mid-step', async () => {
    const model = models.gru(SMALL);
    const opt = new optim.AdamW(model.parameters());
    const x = torch.randn([4, 5, 12]);
    const y = torch.randn([4, 12]);
    const pending = trainStep(model, opt, x, y);
    x.dispose();
    y.dispose();
    expect(Number.isFinite((await pending).loss)).toBe(true);
    model.dispose();
    opt.dispose();
  });
});

describe('bad input', () => {
  const model = models.gru(SMALL);
  const opt = new optim.AdamW(model.parameters());

  it('a NaN target rejects with NonFiniteLossError and changes no weight', async () => {
    const before = model.parameters().map((p) => p.clone());
    const y = torch.randn([4, 12]);
    const bad = torch.cat([y.slice(0, 0, 3), torch.full([1, 12], NaN)]);
    await expect(trainStep(model, opt, torch.randn([4, 5, 12]), bad)).rejects.toThrow(NonFiniteLossError);
    model.parameters().forEach((p, i) => expect(p.sub(before[i]).abs().max().item()).toBe(0));
  });

  it('wrong shapes, dtypes and weights are clear errors', async () => {
    await expect(trainStep(model, opt, torch.randn([4, 12]), torch.randn([4, 12]))).rejects.toThrow(/\[batch, context, 12\], got \[4, 12\]/);
    await expect(trainStep(model, opt, torch.randn([4, 5, 12]), torch.randn([3, 12]))).rejects.toThrow(/3|4/);
    await expect(trainStep(model, opt, torch.randn([4, 5, 12], { dtype: 'float64' }), torch.randn([4, 12]))).rejects.toThrow(/float64|Double/);
    await expect(trainStep(model, opt, torch.randn([4, 5, 12]), torch.randn([4, 12]), { weights: { tau: -1 } })).rejects.toThrow(RangeError);
    await expect(trainStep(model, opt, torch.randn([4, 5, 12]), torch.randn([4, 12]), { clipNorm: NaN })).rejects.toThrow(RangeError);
  });

  it('a disposed tensor, model or optimiser is named', async () => {
    const x = torch.randn([4, 5, 12]);
    x.dispose();
    await expect(trainStep(model, opt, x, torch.randn([4, 12]))).rejects.toThrow(/disposed/);
    const m = models.gru(SMALL);
    const o = new optim.AdamW(m.parameters());
    o.dispose();
    await expect(trainStep(m, o, torch.randn([4, 5, 12]), torch.randn([4, 12]))).rejects.toThrow(/optimizer was disposed/);
    m.dispose();
    await expect(trainStep(m, opt, torch.randn([4, 5, 12]), torch.randn([4, 12]))).rejects.toThrow(/model was disposed/);
  });
});
