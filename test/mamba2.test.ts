// models.mamba2() against test/python/mamba2_reference.py, mamba_ssm's Mamba2 written out in plain PyTorch whose
// scan is the step-by-step recurrence (not the chunked SSD we compute): parameter names, shapes and order; the same
// outputs and gradients on the same weights (1e-4, float32) at several chunk sizes, with T not a multiple of the
// chunk and longer than it; causality, against every step's output of the full reference run; state dicts both
// ways (strict); fromCheckpoint; clear errors for bad sizes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { models, torch, Tensor } from '../dist/index.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
if (missing) console.warn(`mamba2 comparisons with PyTorch skipped: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-mamba2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// dInner 16 in 4 heads of 4, 2 groups of heads sharing B and C, state 4; T = 10 = 4 + 4 + 2 at chunkSize 4.
const SMALL = { inputDim: 12, outputDim: 10, dModel: 8, numLayers: 2, dState: 4, headdim: 4, ngroups: 2, chunkSize: 4 };
const T = 10;
const CHUNKS = [1, 4, 256]; // every step its own chunk; several chunks, the last one short; one chunk

function maxRelDiff(got: Tensor, want: Tensor): number {
  expect(got.shape).toEqual(want.shape);
  return (got.sub(want).abs().max().item() as number) / Math.max(1, want.abs().max().item() as number);
}

function expectClose(got: Tensor, want: Tensor, what: string, tol = 1e-4): void {
  expect(maxRelDiff(got, want), what).toBeLessThan(tol);
}

// Initialised as mamba_ssm does, dt is 0.001-0.1 and D = 1: the scan would add little to D * x, and a wrong scan
// could pass. These weights make it matter: dt ~ softplus(N(0, 0.5)) ~ 0.7, A in about [-1, -0.25] (a state
// decays over a few steps, so it crosses chunk boundaries), D random.
function scanHeavy(m: models.Module): void {
  const sd: Record<string, Tensor> = m.stateDict();
  for (const [name, t] of Object.entries(sd)) {
    const [n] = t.shape;
    if (name.endsWith('.A_log')) sd[name] = torch.randn([n]).mul(0.3).sub(0.6);
    if (name.endsWith('.dt_bias')) sd[name] = torch.randn([n]).mul(0.5);
    if (name.endsWith('.D')) sd[name] = torch.randn([n]);
  }
  m.loadStateDict(sd, { strict: true });
}

describe('mamba2 against mamba_ssm\'s Mamba2 in PyTorch (recurrent scan)', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  torch.manualSeed(5);
  const model = models.mamba2(SMALL).eval();
  scanHeavy(model);
  const x = torch.randn([3, T, 12]);
  const w = torch.randn([3, 10]);
  const defaults = models.mamba2().config;
  const jobs = [
    { job: 'parameters', config: defaults },
    { job: 'parameters', config: model.config },
    { job: 'forward', config: model.config, file: 'in.pt', out: 'out.pt' },
    { job: 'export', config: { ...defaults, ...SMALL, ngroups: 1, chunkSize: 256 }, seed: 11, context: 7, out: 'python.pt' },
  ];
  type Params = { parameters: [string, number[]][]; state_dict: string[] };
  type Out = { raw: Tensor; cos: Tensor; steps_raw: Tensor; no_scan_raw: Tensor; grads: Record<string, Tensor> };
  let results: unknown[] = [];
  let want: Out;

  it('runs the reference (one Python process for every job)', async () => {
    await torch.saveTorchFile({ state_dict: model.stateDict(), x, w }, join(dir, 'in.pt'));
    results = runPython<unknown[]>('mamba2_reference.py', { dir, jobs });
    expect(results).toHaveLength(jobs.length);
    want = torch.loadTorchFileSync<Out>(join(dir, 'out.pt'));
  });

  it('has the reference\'s parameter names, shapes and order, and state-dict keys (defaults: 7,933,888)', () => {
    const m = models.mamba2();
    const big = results[0] as Params;
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(big.parameters);
    expect(Object.keys(m.stateDict())).toEqual(big.state_dict);
    expect(m.numParameters()).toBe(big.parameters.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0));
    expect(m.numParameters()).toBe(7_933_888);
    m.dispose();
    const small = results[1] as Params;
    expect(model.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(small.parameters);
    expect(Object.keys(model.stateDict())).toEqual(small.state_dict);
  });

  it('the chunked SSD forward equals the step-by-step recurrence, at every chunk size (1e-4)', () => {
    for (const chunkSize of CHUNKS) {
      const m = models.mamba2({ ...SMALL, chunkSize }).eval();
      m.loadStateDict(model.stateDict(), { strict: true });
      const { raw, normalised } = m.forward(x, { raw: true });
      expectClose(raw, want.raw, `raw, chunkSize ${chunkSize}`);
      expectClose(normalised, want.cos, `normalised, chunkSize ${chunkSize}`);
      m.dispose();
    }
    // The check can fail: without its scan (y = D * x alone) the reference is far from our output.
    expect(maxRelDiff(model.forward(x, { raw: true }).raw, want.no_scan_raw)).toBeGreaterThan(1e-2);
  });

  it('is causal: the prediction from a prefix equals that step\'s output in the full reference run', () => {
    // The reference's full run saw the later steps; our run on the prefix never did. If our scan leaked the
    // future into the past (or the conv looked ahead), step k of the full run could not equal our prefix run.
    for (let k = 1; k <= T; k++) {
      const { raw } = model.forward(x.slice(1, 0, k), { raw: true });
      expectClose(raw, want.steps_raw.select(1, k - 1), `prediction from the first ${k} steps`);
    }
    // And later steps do reach it: the step-5 prediction changes when step 4 does, not when step 5 does.
    const changed = torch.cat([x.slice(1, 0, 4), torch.randn([3, 1, 12]), x.slice(1, 5)], 1);
    expect(maxRelDiff(model.forward(changed.slice(1, 0, 5)), model.forward(x.slice(1, 0, 5)))).toBeGreaterThan(1e-3);
  });

  it('gradients equal the reference\'s, at every chunk size (1e-4)', () => {
    for (const chunkSize of CHUNKS) {
      const m = models.mamba2({ ...SMALL, chunkSize }).eval();
      m.loadStateDict(model.stateDict(), { strict: true });
      m.forward(x, { raw: true }).raw.mul(w).sum().backward();
      for (const [name, p] of m.namedParameters()) expectClose(p.grad!, want.grads[name], `grad of ${name}, chunkSize ${chunkSize}`);
      m.dispose();
    }
  });

  it('a checkpoint Python wrote rebuilds with fromCheckpoint (strict) and predicts as in Python', () => {
    const ckpt = torch.loadTorchFileSync<Record<string, unknown> & { x: Tensor; raw: Tensor; cos: Tensor }>(join(dir, 'python.pt'));
    const m = models.fromCheckpoint(ckpt).eval();
    expect(m.config).toMatchObject({ kind: 'mamba2', ...SMALL, ngroups: 1, chunkSize: 256, expand: 2, dConv: 4 });
    const { raw, normalised } = m.forward(ckpt.x, { raw: true });
    expectClose(raw, ckpt.raw, 'raw');
    expectClose(normalised, ckpt.cos, 'normalised');
    m.dispose();
  });
});

describe('mamba2', () => {
  it('round-trips its state dict through fromCheckpoint, ngroups and chunkSize from model_config', () => {
    torch.manualSeed(2);
    const m = models.mamba2({ ...SMALL, dConv: 3, expand: 3, chunkSize: 3 }).eval();
    const x = torch.randn([2, 7, 12]);
    const back = models.fromCheckpoint({ model_state_dict: m.stateDict(), model_config: { ...m.config } }).eval();
    expect(back.config).toEqual(m.config);
    expect(back.forward(x).toArray()).toEqual(m.forward(x).toArray());
  });

  it('runs in float64', () => {
    torch.manualSeed(4);
    const m = models.mamba2(SMALL).eval();
    scanHeavy(m);
    const x = torch.randn([2, T, 12]);
    const single = m.forward(x);
    m.to('cpu', 'float64');
    const double = m.forward(x.double());
    expect(double.dtype).toBe('float64');
    expectClose(double.float(), single, 'float64 vs float32', 1e-5);
  });

  it('refuses bad sizes with clear errors', () => {
    expect(() => models.mamba2({ dModel: 100 })).toThrow(/dModel \* expand = 200 is not divisible by headdim 64/);
    expect(() => models.mamba2({ ...SMALL, ngroups: 3 })).toThrow(/the 4 heads .* are not divisible by ngroups 3/);
    expect(() => models.mamba2({ dState: 0 })).toThrow(/dState must be a positive integer, got 0/);
    expect(() => models.mamba2({ chunkSize: -1 })).toThrow(RangeError);
    expect(() => models.mamba2({ headdim: 'wide' as unknown as number })).toThrow(/headdim must be a number/);
    const sd = models.mamba2(SMALL).stateDict();
    expect(() => models.fromCheckpoint({ model_state_dict: sd, model_config: { ngroups: 3 } })).toThrow(/dState = 2\.66/);
  });
});
