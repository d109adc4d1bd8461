// A model defined only here, composed from torch.nn (a GRU whose steps are pooled by attention, then a two-layer
// head), trained by trainStep with the composite loss and AdamW: its losses, gradient norms and weights after four
// steps against the same steps of its PyTorch twin (test/python/nn_train_reference.py), which starts from our weights
// through a torch.save file. backwardAsync lets the event loop run while a backward computes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { LOSS_PRESETS, nn, optim, torch, trainStep, type Tensor } from '../dist/index.js';
import { needPython, runPython } from './helpers/python.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-nn-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class PooledPredictor extends nn.Module {
  gru: nn.GRU;
  score: nn.Linear;
  head: nn.Sequential;
  constructor(dim: number, hidden: number) {
    super();
    this.gru = new nn.GRU(dim, hidden, { batchFirst: true });
    this.score = new nn.Linear(hidden, 1, { bias: false }); // a bias would shift every score alike: no gradient
    this.head = new nn.Sequential(new nn.LayerNorm(hidden), new nn.Linear(hidden, hidden), new nn.GELU(), new nn.Linear(hidden, dim));
  }
  forward(x: Tensor): Tensor {
    const [h] = this.gru.forward(x);
    const w = this.score.forward(h).softmax(1);
    return this.head.forward(h.mul(w).sum(1));
  }
}

const maxDiff = (a: Tensor, b: Tensor): number => a.double().sub(b.double()).abs().max().item() as number;

describe('a torch.nn model of the user\'s, trained by trainStep', () => {
  it('takes the same four steps as its PyTorch twin (composite loss, clipping, AdamW)', async (ctx) => {
    needPython(ctx);
    torch.manualSeed(3);
    const D = 12, H = 16;
    const model = new PooledPredictor(D, H);
    const xs = Array.from({ length: 4 }, () => torch.randn([8, 5, D]));
    const ys = Array.from({ length: 4 }, () => torch.randn([8, D]));
    const weights = { ...LOSS_PRESETS.seed, mse: 0.5, cosMse: 1 };
    const inFile = join(dir, 'in.pt'), outFile = join(dir, 'out.pt');
    await torch.save({ state: model.stateDict(), xs, ys }, inFile);
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
    const losses: number[] = [], norms: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await trainStep(model, opt, xs[i], ys[i], { weights, clipNorm: 0.5 });
      losses.push(r.loss);
      norms.push(r.gradNorm);
    }
    runPython('nn_train_reference.py', { inFile, outFile, weights, lr: 1e-2, clipNorm: 0.5 });
    const theirs = await torch.load<{ losses: Tensor; gradNorms: Tensor; state: Record<string, Tensor> }>(outFile);
    const theirLosses = theirs.losses.toArray() as number[];
    const theirNorms = theirs.gradNorms.toArray() as number[];
    losses.forEach((l, i) => expect(Math.abs(l - theirLosses[i]), `loss ${i}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(l))));
    norms.forEach((n, i) => expect(Math.abs(n - theirNorms[i]), `grad norm ${i}`).toBeLessThan(1e-4 * Math.max(1, n)));
    expect(losses[3]).not.toBe(losses[0]);
    for (const [k, t] of Object.entries(model.stateDict())) expect(maxDiff(t, theirs.state[k]), k).toBeLessThan(1e-5);
  });

  it('refuses what it cannot do for such a model yet, and a forward that does not give [batch, dim]', async () => {
    const model = new PooledPredictor(4, 4);
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    const x = torch.randn([2, 3, 4]), y = torch.randn([2, 4]);
    await expect(trainStep(model, opt, x, y, { precision: 'bf16' })).rejects.toThrow(/bf16' needs one of lvmtorch's native models/);
    class Flat extends nn.Module {
      fc = new nn.Linear(4, 4);
      forward(v: Tensor): Tensor {
        return this.fc.forward(v);
      }
    }
    const flat = new Flat();
    await expect(trainStep(flat, new optim.SGD(flat.parameters(), { lr: 0.1 }), x, y))
      .rejects.toThrow(/forward must map \[batch, context, dim\] to a \[batch, dim\] Tensor, got shape \[2, 3, 4\]/);
    await expect(trainStep(model, opt, x, torch.full([2, 4], NaN))).rejects.toThrow(/not finite|NaN/);
  });
});

describe('Tensor.backwardAsync', () => {
  it('gives backward()\'s gradients, and the event loop runs while it computes', async () => {
    torch.manualSeed(0);
    const w = torch.randn([400, 400]).requiresGrad_();
    const x = torch.randn([400, 400]);
    const chain = (): Tensor => {
      let h = x;
      for (let i = 0; i < 30; i++) h = h.matmul(w).tanh();
      return h.sum();
    };
    chain().backward();
    const sync = w.grad!.clone();
    w.grad = null;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await chain().backwardAsync();
    clearInterval(timer);
    expect(maxDiff(w.grad!, sync)).toBeLessThan(1e-6);
    expect(ticks).toBeGreaterThan(0);
    await expect(torch.randn([3]).backwardAsync()).rejects.toThrow(/one element/);
    await expect(torch.randn([1]).backwardAsync()).rejects.toMatchObject({ code: 'ERR_TORCH' });
  });
});
