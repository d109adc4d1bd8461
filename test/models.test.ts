// The three LVMs against the seed's Python classes (test/python/models_reference.py): parameter counts at the
// seed's sizes; on the same weights and inputs the same outputs and gradients (1e-5, float32); state dicts that
// load both ways with strict=True through real .pt files; clear loadStateDict errors; dropout only in train().
// The seed server's LatentMamba likewise, and its raw state_dict() files as the server loads them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { models, nn, torch, Tensor, type ModelConfig } from '../dist/index.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
if (missing) console.warn(`model comparisons with PyTorch skipped: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-models-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KINDS = ['gru', 'lstm', 'transformer'] as const;
const SMALL = { inputDim: 12, outputDim: 10, dModel: 8, numLayers: 2, heads: 2, ffDim: 32, maxLen: 10 };

function expectClose(got: Tensor, want: Tensor, what: string, tol = 1e-5): void {
  expect(got.shape, what).toEqual(want.shape);
  const diff = got.sub(want).abs().max().item() as number;
  const scale = Math.max(1, want.abs().max().item() as number);
  expect(diff / scale, what).toBeLessThan(tol);
}

describe('against the seed classes in PyTorch', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  torch.manualSeed(3);
  const small = Object.fromEntries(KINDS.map((k) => [k, models[k](SMALL)]));
  const inputs = Object.fromEntries(KINDS.map((k) => [k, { x: torch.randn([3, 5, 12]), w: torch.randn([3, 10]) }]));
  const jobs: object[] = [];
  for (const k of KINDS) {
    jobs.push({ job: 'count', kind: k, config: models[k]().config });
    jobs.push({ job: 'forward', kind: k, config: small[k].config, file: `${k}-in.pt`, out: `${k}-out.pt` });
    jobs.push({ job: 'export', kind: k, config: small[k].config, seed: 11, out: `${k}-python.pt` });
  }
  let results: unknown[] = [];

  it('runs the reference (one Python process for every job)', async () => {
    for (const k of KINDS) {
      await torch.saveTorchFile({ state_dict: small[k].stateDict(), x: inputs[k].x, w: inputs[k].w }, join(dir, `${k}-in.pt`));
    }
    results = runPython<unknown[]>('models_reference.py', { dir, jobs });
    expect(results).toHaveLength(jobs.length);
  });

  KINDS.forEach((k, i) => {
    it(`${k}: the seed's parameter count at the seed's sizes`, () => {
      const m = models[k]();
      expect(m.numParameters()).toBe(results[3 * i] as number);
      expect(m.numParameters()).toBe({ gru: 7_359_232, lstm: 5_384_448, transformer: 17_867_520 }[k]);
      m.dispose();
    });

    it(`${k}: our weights load into the Python class (strict) and give the same outputs and gradients`, () => {
      const keys = results[3 * i + 1] as string[];
      expect(Object.keys(small[k].stateDict()).sort()).toEqual([...keys].sort());
      const m = small[k].eval();
      const { raw, normalised } = m.forward(inputs[k].x, { raw: true });
      for (const p of m.parameters()) p.grad = null;
      raw.mul(inputs[k].w).sum().backward();
      const want = torch.loadTorchFileSync<{ raw: Tensor; cos: Tensor; grads: Record<string, Tensor> }>(join(dir, `${k}-out.pt`));
      expectClose(raw, want.raw, 'raw');
      expectClose(normalised, want.cos, 'normalised');
      for (const [name, p] of m.namedParameters()) expectClose(p.grad!, want.grads[name], `grad of ${name}`);
    });

    it(`${k}: a checkpoint Python wrote rebuilds with fromCheckpoint and predicts as in Python`, () => {
      const ckpt = torch.loadTorchFileSync<Record<string, unknown> & { x: Tensor; raw: Tensor; cos: Tensor }>(join(dir, `${k}-python.pt`));
      const m = models.fromCheckpoint(ckpt).eval();
      const expected: Partial<ModelConfig> = { kind: k, inputDim: 12, outputDim: 10, dModel: 8, numLayers: 2 };
      expect(m.config).toMatchObject(expected);
      const { raw, normalised } = m.forward(ckpt.x, { raw: true });
      expectClose(raw, ckpt.raw, 'raw');
      expectClose(normalised, ckpt.cos, 'normalised');
      m.dispose();
    });
  });
});

// ridgeContext: the model's output plus a fixed linear map of the flattened context (the Trainer's residual over
// ridge), against the seed class with the same buffers added in PyTorch.
describe('a model with a ridge residual (ridgeContext)', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  torch.manualSeed(5);
  const kinds = ['gru', 'lstm', 'transformer'] as const;
  const nets = Object.fromEntries(kinds.map((k) => [k, models[k]({ ...SMALL, ridgeContext: 5 })]));
  const x = torch.randn([3, 5, 12]);
  const w = torch.randn([3, 10]);
  for (const k of kinds) {
    const sd = nets[k].stateDict();
    nets[k].loadStateDict({ ...sd, 'ridge.weight': torch.randn([10, 60]).mul(0.3), 'ridge.bias': torch.randn([10]) });
  }
  let ran = false;

  it('runs the reference', async () => {
    for (const k of kinds) await torch.saveTorchFile({ state_dict: nets[k].stateDict(), x, w }, join(dir, `ridge-${k}-in.pt`));
    runPython('models_reference.py', {
      dir, jobs: kinds.map((k) => ({ job: 'forward', kind: k, config: nets[k].config, file: `ridge-${k}-in.pt`, out: `ridge-${k}-out.pt` })),
    });
    ran = true;
  });

  it.each(kinds)('%s: outputs and gradients as in PyTorch; the ridge is buffers, not parameters', (k) => {
    expect(ran).toBe(true);
    const m = nets[k].eval();
    expect(m.namedParameters().map(([n]) => n)).not.toContain('ridge.weight');
    expect(Object.keys(m.stateDict()).slice(-2)).toEqual(['ridge.weight', 'ridge.bias']);
    const { raw, normalised } = m.forward(x, { raw: true });
    for (const p of m.parameters()) p.grad = null;
    raw.mul(w).sum().backward();
    const want = torch.loadTorchFileSync<{ raw: Tensor; cos: Tensor; grads: Record<string, Tensor> }>(join(dir, `ridge-${k}-out.pt`));
    expectClose(raw, want.raw, 'raw');
    expectClose(normalised, want.cos, 'normalised');
    for (const [name, p] of m.namedParameters()) expectClose(p.grad!, want.grads[name], `grad of ${name}`);
  });

  it('rebuilds from its state dict with fromCheckpoint; refuses another context length and latent_mamba', () => {
    const back = models.fromCheckpoint(nets.gru.stateDict());
    expect(back.config.ridgeContext).toBe(5);
    expectClose(back.eval().predict(x), nets.gru.eval().predict(x), 'predict after fromCheckpoint');
    expect(() => back.predict(torch.randn([3, 4, 12]))).toThrow(/x must be \[batch, 5, 12\] \(the ridge reads 5 context vectors\), got \[3, 4, 12\]/);
    expect(() => models.latentMamba({ ridgeContext: 5 })).toThrow(/latent_mamba has no ridge residual/);
    expect(() => models.gru({ ridgeContext: -1 })).toThrow(/ridgeContext must be >= 0/);
    back.dispose();
  });
});

// The recurrent layers run as hand-written autograd nodes on float32 CPU tensors (native/torch/rnn/gru_layer.cc,
// lstm_layer.cc): their corners (one step, one row, a longer context, layers of other widths) against PyTorch.
describe('fused GRU and LSTM layers against nn.GRU / nn.LSTM in PyTorch', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const CASES = [[1, 1], [1, 6], [4, 1], [2, 9]] as const;  // [B, T]
  const CONFIG = { inputDim: 7, outputDim: 5, dModel: 11, numLayers: 3 };
  torch.manualSeed(9);
  const nets = { gru: models.gru(CONFIG), lstm: models.lstm({ ...CONFIG, dropout: 0 }) };
  const cases = (['gru', 'lstm'] as const).flatMap((kind) => CASES.map(([B, T]) => ({
    kind, B, T, x: torch.randn([B, T, 7]).mul(2), w: torch.randn([B, 5]), name: `${kind}-${B}x${T}`,
  })));
  let ran = false;

  it('runs the reference', async () => {
    for (const c of cases) {
      await torch.saveTorchFile({ state_dict: nets[c.kind].stateDict(), x: c.x, w: c.w }, join(dir, `${c.name}-in.pt`));
    }
    runPython('models_reference.py', {
      dir, jobs: cases.map((c) => ({ job: 'forward', kind: c.kind, config: nets[c.kind].config, file: `${c.name}-in.pt`, out: `${c.name}-out.pt` })),
    });
    ran = true;
  });

  for (const c of cases) {
    it(`${c.kind}, batch ${c.B}, ${c.T} steps: outputs and every parameter's gradient (train mode)`, () => {
      expect(ran).toBe(true);
      const m = nets[c.kind].train();
      for (const p of m.parameters()) p.grad = null;
      const { raw } = m.forward(c.x, { raw: true });
      raw.mul(c.w).sum().backward();
      const want = torch.loadTorchFileSync<{ raw: Tensor; grads: Record<string, Tensor> }>(join(dir, `${c.name}-out.pt`));
      expectClose(raw, want.raw, 'raw');
      for (const [name, p] of m.namedParameters()) expectClose(p.grad!, want.grads[name], `grad of ${name}`);
    });
  }
});

describe("LatentMamba against the seed server's class in PyTorch", () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const CONFIG = { inputDim: 12, outputDim: 10, dModel: 8, numLayers: 2, dropout: 0.1 };
  torch.manualSeed(5);
  const small = models.latentMamba(CONFIG);
  const x = torch.randn([3, 5, 12]);
  const w = torch.randn([3, 12]); // raw is the whole head output: inputDim wide
  const seed = models.latentMamba();
  const seedConfig = { ...seed.config };
  const seedNames = seed.namedParameters().map(([n]) => n);
  const seedKeys = Object.keys(seed.stateDict());
  const seedCount = seed.numParameters();
  seed.dispose();
  const jobs = [
    { job: 'count', kind: 'latent_mamba', config: seedConfig },
    { job: 'names', kind: 'latent_mamba', config: seedConfig },
    { job: 'forward', kind: 'latent_mamba', config: small.config, file: 'lm-in.pt', out: 'lm-out.pt' },
    { job: 'export_raw', kind: 'latent_mamba', config: small.config, seed: 13, out: 'lm-small.pt', outputs: 'lm-small-out.pt' },
    { job: 'export_raw', kind: 'latent_mamba', config: seedConfig, seed: 17, out: 'lm-seed.pt', outputs: 'lm-seed-out.pt' },
  ];
  let results: unknown[] = [];
  type Outputs = { x: Tensor; raw: Tensor; cos: Tensor };

  it('runs the reference', async () => {
    await torch.saveTorchFile({ state_dict: small.stateDict(), x, w }, join(dir, 'lm-in.pt'));
    results = runPython<unknown[]>('models_reference.py', { dir, jobs });
    expect(results).toHaveLength(jobs.length);
  });

  it("the seed's sizes: 784 -> 512, two layers, 5,006,608 parameters, as PyTorch counts", () => {
    expect(seedConfig).toEqual({ kind: 'latent_mamba', inputDim: 784, outputDim: 768, dModel: 512, numLayers: 2, dropout: 0.1 });
    expect(seedCount).toBe(5_006_608);
    expect(seedCount).toBe(results[0]);
  });

  it("parameter names and state_dict keys are PyTorch's, in PyTorch's order", () => {
    const want = results[1] as { parameters: string[]; state_dict: string[] };
    expect(seedNames).toEqual(want.parameters);
    expect(seedKeys).toEqual(want.state_dict);
    expect(seedKeys).toEqual(['input_proj.weight', 'input_proj.bias',
      ...[0, 1].flatMap((l) => ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((k) => `lstm.${k}_l${l}`)),
      'output_head.weight', 'output_head.bias']);
  });

  it('our weights load into the Python class (strict): the same head output, prediction and gradients', () => {
    const m = small.eval();
    const { raw, normalised } = m.forward(x, { raw: true });
    expect(raw.shape).toEqual([3, 12]);
    expect(normalised.shape).toEqual([3, 10]);
    for (const p of m.parameters()) p.grad = null;
    raw.mul(w).sum().backward();
    const want = torch.loadTorchFileSync<{ raw: Tensor; cos: Tensor; grads: Record<string, Tensor> }>(join(dir, 'lm-out.pt'));
    expectClose(raw, want.raw, 'raw');
    expectClose(normalised, want.cos, 'normalised (the first outputDim of raw, L2-normalised)');
    for (const [name, p] of m.namedParameters()) expectClose(p.grad!, want.grads[name], `grad of ${name}`);
  });

  it('a raw state_dict() Python saved loads with load() + fromCheckpoint and predicts as in Python', async () => {
    const sd = await torch.load<Record<string, Tensor>>(join(dir, 'lm-small.pt'));
    const m = models.fromCheckpoint(sd, { outputDim: 10 }).eval();
    expect(m.config).toEqual({ kind: 'latent_mamba', ...CONFIG });
    const want = torch.loadTorchFileSync<Outputs>(join(dir, 'lm-small-out.pt'));
    const { raw, normalised } = m.forward(want.x, { raw: true });
    expectClose(raw, want.raw, 'raw');
    expectClose(normalised, want.cos, 'normalised');
    m.dispose();
  });

  it("the seed server's file at its sizes: fromCheckpoint rebuilds 784/512/2, keeps 768, predicts as in Python", async () => {
    const sd = await torch.load<Record<string, Tensor>>(join(dir, 'lm-seed.pt'));
    const m = models.fromCheckpoint(sd).eval();
    expect(m.config).toEqual(seedConfig);
    const want = torch.loadTorchFileSync<Outputs>(join(dir, 'lm-seed-out.pt'));
    const { raw, normalised } = m.forward(want.x, { raw: true });
    expect(normalised.shape).toEqual([3, 768]);
    expectClose(raw, want.raw, 'raw');
    expectClose(normalised, want.cos, 'normalised');
    const strict = models.latentMamba();
    strict.loadStateDict(sd, { strict: true });
    expectClose(strict.eval().predict(want.x), want.cos, 'a latentMamba() loading the raw state dict strict');
    strict.dispose();
    m.dispose();
  });

  it('dropout (after input_proj, between LSTM layers) acts in train() and not in eval()', () => {
    // One layer: no dropout between layers, so a difference comes from the input dropout.
    for (const numLayers of [1, 2]) {
      const m = models.latentMamba({ inputDim: 12, dModel: 16, numLayers, dropout: 0.5 });
      const input = torch.randn([4, 5, 12]);
      expect(m.training).toBe(true);
      expect(m.forward(input).toArray(), `${numLayers} layer(s)`).not.toEqual(m.forward(input).toArray());
      m.eval();
      expect(m.forward(input).toArray()).toEqual(m.forward(input).toArray());
      m.dispose();
    }
  });

  it('refuses an outputDim wider than the head, and says why', () => {
    expect(() => models.latentMamba({ inputDim: 12, outputDim: 13 })).toThrow(/outputDim 13 must be at most inputDim 12/);
    expect(models.latentMamba({ inputDim: 12, dModel: 4 }).config.outputDim).toBe(12);
  });
});

describe('modules', () => {
  it('loadStateDict lists every missing key, unexpected key and shape mismatch in one error, and writes nothing', () => {
    const m = models.gru({ inputDim: 6, outputDim: 6, dModel: 4, numLayers: 1 });
    const before = m.parameters()[0].toArray();
    const sd: Record<string, unknown> = m.stateDict();
    delete sd['head.3.bias'];
    sd['extra.weight'] = torch.zeros([1]);
    sd['input_proj.weight'] = torch.zeros([5, 6]);
    sd['head.0.weight'] = torch.ones([4, 4]);
    let message = '';
    try { m.loadStateDict(sd); } catch (e) { message = (e as Error).message; }
    // PyTorch's words, as for every nn.Module: the native models are nn.Modules.
    expect(message).toContain('Error(s) in loading state_dict for NativeModel');
    expect(message).toContain('Missing key(s) in state_dict: "head.3.bias"');
    expect(message).toContain('Unexpected key(s) in state_dict: "extra.weight"');
    expect(message).toContain('size mismatch for input_proj.weight: copying a param with shape [5, 6] from checkpoint, the shape in current model is [4, 6]');
    expect(m.parameters()[0].toArray()).toEqual(before);
    delete sd['extra.weight'];
    sd['input_proj.weight'] = torch.zeros([4, 6]);
    m.loadStateDict(sd, { strict: false });
    expect(m.parameters()[0].sum().item()).toBe(0);
    expect(m.stateDict()['head.0.weight'].sum().item()).toBe(16);
  });

  it('dropout acts in train() and not in eval()', () => {
    const m = models.lstm({ inputDim: 6, outputDim: 6, dModel: 16, numLayers: 3, dropout: 0.5 });
    const x = torch.randn([4, 5, 6]);
    const a = m.train().forward(x).toArray();
    const b = m.forward(x).toArray();
    expect(a).not.toEqual(b);
    m.eval();
    expect(m.forward(x).toArray()).toEqual(m.forward(x).toArray());
  });

  it('refuses bad sizes, kinds and inputs with clear errors', () => {
    expect(() => models.transformer({ dModel: 10, heads: 3 })).toThrow(/not divisible by heads 3/);
    expect(() => models.gru({ dModel: 0 })).toThrow(RangeError);
    expect(() => models.gru({ dModel: 'big' as unknown as number })).toThrow(/dModel must be a number/);
    const m = models.gru({ inputDim: 6, outputDim: 6, dModel: 4, numLayers: 1 });
    expect(() => m.forward(torch.randn([2, 6]))).toThrow(/\[batch, context, 6\], got \[2, 6\]/);
    expect(() => models.fromCheckpoint({ foo: torch.zeros([1]) })).toThrow(/not a state dict of a known LVM/);
    m.dispose();
    expect(() => m.forward(torch.randn([1, 2, 6]))).toThrow(/disposed/);
  });

  it('to(dtype) casts in place: parameters() are the same tensors, now float64', () => {
    const m = models.gru({ inputDim: 6, outputDim: 6, dModel: 4, numLayers: 1 });
    const p = m.parameters()[0];
    m.to('cpu', 'float64');
    expect(p.dtype).toBe('float64');
    expect(m.forward(torch.randn([2, 3, 6], { dtype: 'float64' })).dtype).toBe('float64');
  });
});

// One Module type: a built-in model is an nn.Module, so it composes into a user's module as any layer does.
describe('a built-in model is an nn.Module', () => {
  class Wrapped extends nn.Module {
    scale = new nn.Parameter(torch.full([1], 2));
    backbone = models.lstm({ inputDim: 6, outputDim: 6, dModel: 16, numLayers: 3, dropout: 0.5 });
    forward(x: Tensor): Tensor {
      return this.backbone.forward(x).mul(this.scale);
    }
  }

  it('its parameters, buffers and state dict appear under its name, in PyTorch order', () => {
    const w = new Wrapped();
    expect(w.backbone).toBeInstanceOf(nn.Module);
    const inner = w.backbone.namedParameters().map(([k]) => k);
    expect(w.namedParameters().map(([k]) => k)).toEqual(['scale', ...inner.map((k) => `backbone.${k}`)]);
    expect(Object.keys(w.stateDict())).toEqual(['scale', ...Object.keys(w.backbone.stateDict()).map((k) => `backbone.${k}`)]);
    expect(w.numParameters()).toBe(1 + w.backbone.numParameters());
    expect(w.toString()).toMatch(/\(backbone\): NativeModel\(kind=lstm, inputDim=6/);
    w.dispose();
  });

  it("train()/eval() on the outer module reach the native dropout; to() casts it; backward fills its parameters' grads", () => {
    const w = new Wrapped();
    const x = torch.randn([4, 5, 6]);
    expect(w.train().forward(x).toArray()).not.toEqual(w.forward(x).toArray());
    w.eval();
    expect(w.backbone.training).toBe(false);
    expect(w.forward(x).toArray()).toEqual(w.forward(x).toArray());
    const p = w.backbone.parameters()[0];
    w.to('float64');
    expect([p.dtype, w.scale.dtype]).toEqual(['float64', 'float64']);
    w.forward(x.to('float64')).sum().backward();
    expect(p.grad?.shape).toEqual(p.shape);
    expect(w.scale.grad?.shape).toEqual([1]);
    w.dispose();
    expect(() => w.backbone.forward(x)).toThrow(/disposed/);
  });

  it('loadStateDict on the outer module writes into the native one, and refuses a bad key naming it with its prefix', () => {
    const [a, b] = [new Wrapped(), new Wrapped()];
    const sd = a.stateDict();
    b.loadStateDict(sd);
    expect(b.backbone.parameters()[0].toArray()).toEqual(a.backbone.parameters()[0].toArray());
    const { ['backbone.head.3.bias']: _, ...missing } = sd;
    expect(() => b.loadStateDict(missing)).toThrow(/Missing key\(s\) in state_dict: "backbone\.head\.3\.bias"/);
    a.dispose();
    b.dispose();
  });
});

// What training needs to know of a model's parameters, the model declares (lib/lvm/models/config.ts): the Trainer's
// ridge start writes outputHead() and residualMap(), its optimiser keeps noWeightDecay() out of weight decay.
describe('what a model declares for training', () => {
  const TINY = { inputDim: 6, outputDim: 5, dModel: 8, numLayers: 2 };
  const make = {
    gru: () => models.gru(TINY), lstm: () => models.lstm(TINY), transformer: () => models.transformer({ ...TINY, heads: 2, ffDim: 16 }),
    mamba2: () => models.mamba2({ ...TINY, dState: 4, headdim: 4, chunkSize: 4 }), latent_mamba: () => models.latentMamba({ ...TINY, inputDim: 7 }),
  };

  it.each(Object.keys(make) as (keyof typeof make)[])('%s: its output head and no-decay parameters are its own, by key', (kind) => {
    const m = make[kind]();
    const params = new Map(m.namedParameters());
    const head = m.outputHead();
    // The head's last Linear: [the raw output's width, dModel] (latent_mamba's raw output is inputDim wide).
    expect(params.get(head.weight)?.shape).toEqual([kind === 'latent_mamba' ? 7 : 5, 8]);
    expect(params.get(head.bias)?.shape).toEqual([kind === 'latent_mamba' ? 7 : 5]);
    // mamba_ssm's _no_weight_decay: each block's A_log, D and dt_bias; the other kinds have none.
    const expected = kind === 'mamba2' ? [...params.keys()].filter((k) => /\.(A_log|D|dt_bias)$/.test(k)) : [];
    expect(m.noWeightDecay().sort()).toEqual(expected.sort());
    if (kind === 'mamba2') expect(expected).toHaveLength(6);
    // The module's own tensors, in namedParameters() order.
    const { decay, noDecay } = m.parameterGroups();
    const same = (a: Tensor[], b: Tensor[]) => a.length === b.length && a.every((t, i) => t === b[i]);
    expect(same(noDecay, m.namedParameters().filter(([k]) => expected.includes(k)).map(([, p]) => p))).toBe(true);
    expect(same(decay, m.namedParameters().filter(([k]) => !expected.includes(k)).map(([, p]) => p))).toBe(true);
    expect(m.residualMap()).toBeUndefined();
    m.dispose();
  });

  it('a model with ridgeContext declares its residual map: the ridge buffers', () => {
    const m = models.gru({ ...TINY, ridgeContext: 3 });
    const buffers = new Map(m.namedBuffers());
    const map = m.residualMap()!;
    expect(buffers.get(map.weight)?.shape).toEqual([5, 18]);
    expect(buffers.get(map.bias)?.shape).toEqual([5]);
    m.dispose();
  });

  it('the native side has no defaults of its own: a config without a field its kind reads is refused', () => {
    const base = { kind: 'gru', inputDim: 6, outputDim: 6, dModel: 4, numLayers: 1, dropout: 0 } as ModelConfig;
    const noDropout: Partial<ModelConfig> = { ...base };
    delete noDropout.dropout;
    expect(() => new models.NativeModel(noDropout as ModelConfig)).toThrow(/gru model's config needs dropout/);
    expect(() => new models.NativeModel({ ...base, kind: 'transformer', heads: 2, maxLen: 10 })).toThrow(/transformer model's config needs ffDim/);
    expect(() => new models.NativeModel({ ...base, kind: 'mamba2' })).toThrow(/mamba2 model's config needs dState/);
    new models.NativeModel(base).dispose();
  });
});
