// A model defined only here, composed from torch.nn (a GRU whose steps are pooled by attention, then a two-layer
// head), trained by trainStep with the composite loss and AdamW: its losses, gradient norms and weights after four
// steps against the same steps of its PyTorch twin (test/python/nn_train_reference.py), which starts from our weights
// through a torch.save file. backwardAsync lets the event loop run while a backward computes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { datasets, LOSS_PRESETS, nn, optim, torch, Trainer, trainStep, type Tensor } from '../dist/index.js';
import { createServer } from '../dist/lvm/serve/index.js';
import { startServe } from './helpers/http.js';
import { needPython, runPython } from './helpers/python.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-nn-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class PooledPredictor extends nn.Module {
  // What checkpoints record as model_config (and a --model factory would take back).
  readonly config: { inputDim: number; outputDim: number; hidden: number };
  gru: nn.GRU;
  score: nn.Linear;
  head: nn.Sequential;
  constructor(dim: number, hidden: number) {
    super();
    this.config = { inputDim: dim, outputDim: dim, hidden };
    this.gru = new nn.GRU(dim, hidden, { batchFirst: true });
    this.score = new nn.Linear(hidden, 1, { bias: false }); // a bias would shift every score alike: no gradient
    this.head = new nn.Sequential(new nn.LayerNorm(hidden), new nn.Linear(hidden, hidden), new nn.GELU(), new nn.Linear(hidden, dim));
  }
  // Biases and norms skip weight decay, as the model declares.
  override noWeightDecay(): string[] {
    return this.namedParameters().filter(([, p]) => p.ndim < 2).map(([k]) => k);
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

describe('a torch.nn model of the user\'s, trained by the Trainer', () => {
  it('beats the mean baseline, writes best_model.pt that PyTorch loads strictly into the twin and predicts alike', async (ctx) => {
    needPython(ctx);
    const data = datasets.synthetic({ seed: 2, docs: 60, sentencesPerDoc: 12, dim: 48 });
    torch.manualSeed(0);
    const model = new PooledPredictor(48, 32);
    const out = join(dir, 'run');
    const result = await new Trainer(model, { epochs: 3, batchSize: 32, lr: 3e-3, outDir: out, seed: 0 }).fit(data);
    expect(result.scores.val.cosine).toBeGreaterThan(result.baselines.scores.mean!.val.cosine);
    const best = await torch.load<{ model_config: Record<string, unknown>; optimizer_state_dict: { param_groups: { weight_decay: number }[] } }>(join(out, 'best_model.pt'));
    expect(best.model_config).toEqual({ kind: 'PooledPredictor', inputDim: 48, outputDim: 48, hidden: 32 });
    // Two groups: what the model declared without weight decay has none.
    expect(best.optimizer_state_dict.param_groups.map((g) => g.weight_decay)).toEqual([0.01, 0]);
    const x = data.batch([0, 1, 2, 3, 4, 5]).x;
    await torch.save({ x }, join(dir, 'x.pt'));
    runPython('nn_train_reference.py', { checkpoint: join(out, 'best_model.pt'), inFile: join(dir, 'x.pt'), outFile: join(dir, 'pred.pt') });
    const theirs = await torch.load<{ pred: Tensor; kind: string; epoch: number }>(join(dir, 'pred.pt'));
    expect(theirs.kind).toBe('PooledPredictor');
    const ours = new PooledPredictor(48, 32);
    ours.loadStateDict((await torch.load<{ model_state_dict: Record<string, Tensor> }>(join(out, 'best_model.pt'))).model_state_dict);
    const pred = torch.noGrad(() => ours.eval().forward(x).normalize({ dim: 1 }));
    expect(maxDiff(pred, theirs.pred)).toBeLessThan(1e-5);

    // Served from the checkpoint by its factory: /infer answers what the model predicts, /model/info names it.
    const server = await createServer({ checkpoint: join(out, 'best_model.pt'), factory: (c) => new PooledPredictor(c.inputDim as number, c.hidden as number) });
    try {
      const seq = x.select(0, 0).toArray() as number[][];
      const r = await server.inject({ method: 'POST', url: '/infer', payload: { vector_sequence: seq } });
      expect(r.statusCode).toBe(200);
      const served = torch.tensor((r.json() as { predicted_vector: number[] }).predicted_vector);
      expect(maxDiff(served, pred.select(0, 0))).toBeLessThan(1e-5);
      const info = (await server.inject({ method: 'GET', url: '/model/info' })).json() as Record<string, unknown>;
      expect(info).toMatchObject({ kind: 'PooledPredictor', d_input: 48, output_dim: 48, num_parameters: ours.numParameters() });
      const wrong = await server.inject({ method: 'POST', url: '/infer', payload: { vector_sequence: [[1, 2, 3]] } });
      expect(wrong.statusCode).toBe(400);
    } finally {
      await server.close();
    }
    await expect(createServer({ checkpoint: join(out, 'best_model.pt'), factory: () => new PooledPredictor(48, 40) }))
      .rejects.toThrow(/size mismatch for gru.weight_ih_l0/);
  });

  it('refuses what needs a native model, before anything runs', () => {
    expect(() => new Trainer(new PooledPredictor(4, 4), { precision: 'bf16' })).toThrow(/need one of lvmtorch's native models/);
  });
});

describe('lvmtorch train --model ./my-model.js and serve --model', () => {
  it('trains the module the file\'s factory builds from the config; the checkpoint builds it again; a serve process answers its predictions', async () => {
    const data = join(dir, 'small.npz');
    datasets.saveSynthetic(datasets.synthesize({ seed: 4, docs: 30, sentencesPerDoc: 10, dim: 48 }), data);
    const file = join(dir, 'my-model.mjs');
    writeFileSync(file, `import { nn } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
class Tiny extends nn.Module {
  constructor(config) {
    super();
    this.config = config;
    this.gru = new nn.GRU(config.inputDim, config.hidden, { batchFirst: true });
    this.out = new nn.Linear(config.hidden, config.outputDim);
  }
  forward(x) {
    const [, h] = this.gru.forward(x);
    return this.out.forward(h.select(0, 0));
  }
}
export default (config) => new Tiny(config);
`);
    const out = join(dir, 'cli-run');
    const { run } = await import('../dist/cli/program.js');
    const log = console.log;
    const lines: string[] = [];
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    try {
      await run(['train', '--data', data, '--model', file, '--model-config', '{"hidden": 16}', '--epochs', '2',
        '--batch-size', '16', '--out', out, '--no-progress']);
    } finally {
      console.log = log;
    }
    expect(lines.join('\n')).toMatch(/Tiny \(\d[\d,]* parameters\), best epoch/);
    const ckpt = await torch.load<{ model_config: Record<string, unknown>; model_state_dict: Record<string, Tensor> }>(join(out, 'best_model.pt'));
    expect(ckpt.model_config).toEqual({ kind: 'Tiny', inputDim: 48, outputDim: 48, context: 5, hidden: 16 });
    const factory = (await import(pathToFileURL(file).href) as { default: (c: Record<string, unknown>) => nn.Module }).default;
    const twin = factory(ckpt.model_config);
    expect(twin.loadStateDict(ckpt.model_state_dict)).toEqual({ missingKeys: [], unexpectedKeys: [] });

    // lvmtorch serve --model: a real server process over HTTP answers what the module predicts.
    const x = datasets.fromNpz(data).batch([0, 1]).x;
    const want = torch.noGrad(() => (twin.eval().forward as (x: Tensor) => Tensor)(x).normalize({ dim: 1 }));
    const server = await startServe(['--model', file, '--checkpoint', join(out, 'best_model.pt')]);
    let served: number[][];
    try {
      const r = await fetch(`${server.url}/infer/batch`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sequences: x.toArray() }) });
      expect(r.status).toBe(200);
      served = (await r.json() as { predictions: number[][] }).predictions;
      expect(server.output()).toMatch(/lvmtorch serve: .*Tiny/);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(maxDiff(torch.tensor(served), want)).toBeLessThan(1e-5);
    await expect(run(['train', '--data', data, '--model', join(dir, 'nope.js'), '--epochs', '1'])).rejects.toThrow(/cannot import it/);
    await expect(run(['train', '--model', 'rnn'])).rejects.toMatchObject({ code: 'commander.invalidArgument' });
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
