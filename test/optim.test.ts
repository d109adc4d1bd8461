// The native optimisers (lib/torch/optim/, native/torch/optim/) against torch.optim: 10 steps of Adam, AdamW and SGD on the same
// parameters and gradients must give the same parameters after every step as torch.optim's default (1e-6: on
// libtorch 2.x ours run PyTorch's fused CPU kernels, a few float32 ulps from the default single-tensor path) and the
// same state_dict, key for key; bit for bit, our fused path = torch.optim's fused=True (2.x only: 1.13 has no CPU
// fused kernel) and our single-tensor path (fused: false) = torch.optim's default; clipGradNorm against
// clip_grad_norm_; the schedulers' lr sequences against PyTorch's; and checkpoints both ways: our state saved to a
// .pt file loads into torch.optim and continues there as it continues here, and PyTorch's loads here. Python:
// test/python/optim_reference.py.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  torch, nn, optim,
} from '../dist/index.js';
import { loadedAddon } from '../dist/torch/native.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { mulberry32, normalFrom } from './helpers/random.js';
import { skipUnless } from './helpers/skip.js';

type Tensor = torch.Tensor;
type DType = 'float32' | 'float64';
interface Encoded { dtype: DType; shape: number[]; data: string }

const random = mulberry32(7);
const normal = normalFrom(random);

function encoded(shape: number[], dtype: DType = 'float32', scale = 1): Encoded {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float64Array.from({ length: n }, () => scale * normal());
  const typed = dtype === 'float64' ? values : Float32Array.from(values);
  return { dtype, shape, data: Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64') };
}
function decode(e: Encoded): Tensor {
  const buf = Buffer.from(e.data, 'base64');
  return torch.tensor(buf, { dtype: e.dtype, shape: e.shape });
}
const values = (t: Tensor): number[] => Array.from(t.toTypedArray() as Float32Array | Float64Array);

/** Bit for bit (both sides are float32 or float64 values read back as numbers: equal numbers, equal bits). */
function expectSame(actual: number[], expected: number[], what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      expect.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (difference ${Math.abs(actual[i] - expected[i])}), not bit-identical`);
    }
  }
}

function expectClose(actual: number[], expected: number[], tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])))) {
      expect.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (difference ${Math.abs(actual[i] - expected[i])})`);
    }
  }
}

// ---- the cases ----
type Kind = 'Adam' | 'AdamW' | 'SGD';
interface OptimCase {
  name: string;
  kind: Kind;
  /** torch.optim's keyword arguments per group, and ours. */
  groups: { params: number[]; py: Record<string, unknown>; js: Record<string, unknown> }[];
  params: Encoded[];
  grads: (Encoded | null)[][];
  lrs?: number[];
}
const STEPS = 10;
const SHAPES = [[3, 4], [5], [2, 2, 2]];
function optimCase(name: string, kind: Kind, py: Record<string, unknown>, js: Record<string, unknown>,
  { shapes = SHAPES, ...extra }: Partial<OptimCase> & { dtype?: DType; shapes?: number[][] } = {}): OptimCase {
  const dtype = extra.dtype ?? 'float32';
  const params = shapes.map((s) => encoded(s, dtype));
  // The third parameter has no gradient for the first 3 steps: torch.optim skips it (and creates no state).
  const grads = Array.from({ length: STEPS }, (_, k) => shapes.map((s, i) => (i === 2 && k < 3 ? null : encoded(s, dtype, 0.5))));
  return { name, kind, groups: [{ params: [0, 1, 2], py, js }], params, grads, ...extra };
}
// Tensors of more elements than a SIMD vector holds, with tails: the fused kernels' vector loops, their scalar
// tails and their split over threads (the small SHAPES are mostly tails).
const LARGER = [[37, 19], [1000], [3, 4, 5]];
const optimCases: OptimCase[] = [
  optimCase('AdamW defaults', 'AdamW', {}, {}),
  optimCase('AdamW seed recipe (lr 5e-4, weight decay 0.01)', 'AdamW', { lr: 5e-4, weight_decay: 0.01 }, { lr: 5e-4, weightDecay: 0.01 }),
  optimCase('AdamW amsgrad, betas, eps, weight decay 0.1', 'AdamW',
    { lr: 1e-2, betas: [0.8, 0.99], eps: 1e-6, weight_decay: 0.1, amsgrad: true },
    { lr: 1e-2, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1, amsgrad: true }),
  optimCase('AdamW with the lr changed between steps', 'AdamW', { lr: 1e-2 }, { lr: 1e-2 },
    { lrs: [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 1e-3, 1e-3, 0, 0.02, 1e-3] }),
  optimCase('AdamW float64', 'AdamW', { lr: 3e-3, weight_decay: 0.05 }, { lr: 3e-3, weightDecay: 0.05 }, { dtype: 'float64' }),
  optimCase('Adam defaults (LSTM recipe lr 1e-3)', 'Adam', {}, {}),
  optimCase('Adam weight decay (L2) 0.05', 'Adam', { lr: 1e-2, weight_decay: 0.05 }, { lr: 1e-2, weightDecay: 0.05 }),
  optimCase('Adam amsgrad + weight decay', 'Adam', { lr: 1e-2, weight_decay: 0.01, amsgrad: true }, { lr: 1e-2, weightDecay: 0.01, amsgrad: true }),
  optimCase('Adam maximize', 'Adam', { lr: 1e-2, maximize: true }, { lr: 1e-2, maximize: true }),
  optimCase('SGD plain (no momentum)', 'SGD', { lr: 0.1 }, { lr: 0.1 }),
  optimCase('SGD momentum 0.9', 'SGD', { lr: 0.05, momentum: 0.9 }, { lr: 0.05, momentum: 0.9 }),
  optimCase('SGD momentum + dampening + weight decay', 'SGD', { lr: 0.05, momentum: 0.8, dampening: 0.3, weight_decay: 1e-3 },
    { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 1e-3 }),
  optimCase('SGD Nesterov + weight decay', 'SGD', { lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 1e-2 },
    { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-2 }),
  optimCase('AdamW seed recipe, larger tensors', 'AdamW', { lr: 5e-4, weight_decay: 0.01 }, { lr: 5e-4, weightDecay: 0.01 },
    { shapes: LARGER }),
  optimCase('AdamW float64 amsgrad, larger tensors', 'AdamW', { lr: 1e-2, weight_decay: 0.1, amsgrad: true },
    { lr: 1e-2, weightDecay: 0.1, amsgrad: true }, { shapes: LARGER, dtype: 'float64' }),
  optimCase('SGD momentum + dampening + weight decay, larger tensors', 'SGD', { lr: 0.05, momentum: 0.8, dampening: 0.3, weight_decay: 1e-3 },
    { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 1e-3 }, { shapes: LARGER }),
  {
    ...optimCase('AdamW two param groups', 'AdamW', {}, {}),
    groups: [
      { params: [0, 2], py: { lr: 1e-2, weight_decay: 0 }, js: { lr: 1e-2, weightDecay: 0 } },
      { params: [1], py: { lr: 1e-3, amsgrad: true }, js: { lr: 1e-3, amsgrad: true } },
    ],
  },
];

// PyTorch's fused CPU kernels (torch.optim's fused=True) exist from 2.4; ours take the same path by default there.
const LIBTORCH = loadedAddon().libtorch.version;
const FUSED_KERNELS = Number(LIBTORCH.split('.')[0]) >= 2;
// Every case the fused kernels compute: Adam and AdamW all, SGD with momentum (plain SGD stays single-tensor here).
// SGD's with a gradient for every parameter from the first step: torch.optim's fused SGD (2.13) fails with a
// TypeError when a parameter gets its first gradient after the others got theirs (it passes its None momentum
// buffer to the kernel); ours steps it (main test above).
const fusedCases = optimCases
  .filter((c) => c.kind !== 'SGD' || c.groups.every((g) => Number(g.py.momentum ?? 0) !== 0))
  .map((c) => (c.kind !== 'SGD' ? c : { ...c, grads: c.grads.map((gs) => gs.map((g, i) => g ?? encoded(c.params[i].shape, c.params[i].dtype, 0.5))) }));
const withOpts = (c: OptimCase, py: Record<string, unknown>, js: Record<string, unknown>): OptimCase =>
  ({ ...c, groups: c.groups.map((g) => ({ ...g, py: { ...g.py, ...py }, js: { ...g.js, ...js } })) });

// Strided gradients and parameters: a grad that is a transposed copy (PyTorch 2.13's fused kernel would read it as
// if it were contiguous) and a parameter that is one (the fused kernel cannot take it: the single-tensor path does).
const stridedCases = (['AdamW', 'SGD'] as const).map((kind) => ({
  kind,
  py: kind === 'AdamW' ? { lr: 1e-2, weight_decay: 0.01, amsgrad: true } : { lr: 0.05, momentum: 0.9, weight_decay: 1e-2 },
  js: kind === 'AdamW' ? { lr: 1e-2, weightDecay: 0.01, amsgrad: true } : { lr: 0.05, momentum: 0.9, weightDecay: 1e-2 },
  params: [encoded([3, 4]), encoded([4, 6])],
  grads: Array.from({ length: 5 }, () => [encoded([3, 4], 'float32', 0.5), encoded([4, 6], 'float32', 0.5)]),
}));

const clipCases = [
  { name: '2-norm above maxNorm', grads: [encoded([4, 3]), encoded([7]), null], maxNorm: 1, normType: 2 },
  { name: '2-norm below maxNorm (coefficient clamped to 1)', grads: [encoded([4, 3], 'float32', 0.01), encoded([7], 'float32', 0.01)], maxNorm: 1, normType: 2 },
  { name: '1-norm', grads: [encoded([4, 3]), encoded([7])], maxNorm: 2, normType: 1 },
  { name: 'infinity norm', grads: [encoded([4, 3]), encoded([7])], maxNorm: 0.5, normType: 'inf' as const },
  { name: 'one gradient, float64, 3-norm', grads: [encoded([10], 'float64')], maxNorm: 0.25, normType: 3 },
];

const plateauCases: { name: string; lrs: number[]; py: Record<string, unknown>; js: optim.lrScheduler.ReduceLROnPlateauOptions; metrics: number[] }[] = [
  {
    name: 'seed recipe: min, factor 0.5, patience 3', lrs: [5e-4], py: { mode: 'min', factor: 0.5, patience: 3 },
    js: { mode: 'min', factor: 0.5, patience: 3 },
    metrics: [1, 0.9, 0.8, 0.8, 0.81, 0.8, 0.79995, 0.85, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.7, 0.7, 0.7, 0.7],
  },
  {
    name: 'cooldown, threshold 0.05 rel, min_lr per group', lrs: [0.1, 0.01],
    py: { factor: 0.1, patience: 1, cooldown: 2, threshold: 0.05, min_lr: [1e-3, 5e-4] },
    js: { factor: 0.1, patience: 1, cooldown: 2, threshold: 0.05, minLr: [1e-3, 5e-4] },
    metrics: [1, 0.97, 0.96, 0.99, 0.9, 0.88, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95],
  },
  {
    name: 'max mode, abs threshold', lrs: [1], py: { mode: 'max', threshold_mode: 'abs', threshold: 0.1, patience: 0, factor: 0.5 },
    js: { mode: 'max', thresholdMode: 'abs', threshold: 0.1, patience: 0, factor: 0.5 },
    metrics: [0.1, 0.3, 0.35, 0.5, 0.55, 0.58, 0.9, 0.9],
  },
];

const cosineCase = { lrs: [1e-3, 5e-4], warmup: 5, total: 20, minLr: 1e-5 };

// The checkpoint round trips: the seed recipe's AdamW and SGD with momentum, 10 steps split in two halves.
const interopCases = [
  { kind: 'AdamW' as const, py: { lr: 5e-4, weight_decay: 0.01, amsgrad: true }, js: { lr: 5e-4, weightDecay: 0.01, amsgrad: true } },
  { kind: 'SGD' as const, py: { lr: 0.05, momentum: 0.9, nesterov: true }, js: { lr: 0.05, momentum: 0.9, nesterov: true } },
].map((c) => ({
  ...c,
  params: SHAPES.map((s) => encoded(s)),
  grads: Array.from({ length: 10 }, () => SHAPES.map((s) => encoded(s, 'float32', 0.5))),
}));

// ---- running them here ----
function makeOptimizer(kind: Kind, groups: { params: Tensor[]; opts: Record<string, unknown> }[]): optim.Optimizer<object> {
  const g = groups.map((x) => ({ params: x.params, ...x.opts }));
  if (kind === 'SGD') return new optim.SGD(g as never, { lr: 0.5 }) as unknown as optim.Optimizer<object>;
  return (kind === 'Adam' ? new optim.Adam(g as never) : new optim.AdamW(g as never)) as unknown as optim.Optimizer<object>;
}

function runHere(c: OptimCase) {
  const params = c.params.map((p) => decode(p).requiresGrad_());
  return stepHere(c, params, (g) => decode(g));
}

function stepHere(c: OptimCase, params: Tensor[], grad: (g: Encoded, i: number) => Tensor) {
  const opt = makeOptimizer(c.kind, c.groups.map((g) => ({ params: g.params.map((i) => params[i]), opts: g.js })));
  const steps: number[][][] = [];
  c.grads.forEach((grads, k) => {
    params.forEach((p, i) => (p.grad = grads[i] === null ? null : grad(grads[i]!, i)));
    if (c.lrs) opt.lr = c.lrs[k];
    opt.step();
    steps.push(params.map(values));
  });
  return { steps, sd: opt.stateDict(), params, opt };
}

const skipPython = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-optim-'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let py: any;
const interopHere: { opt: optim.Optimizer<object>; params: Tensor[] }[] = [];

beforeAll(async () => {
  if (skipPython) return;
  // Our side of each round trip: 5 steps, then a checkpoint as a real .pt file for Python to continue.
  for (const [n, c] of interopCases.entries()) {
    const params = c.params.map((p) => decode(p).requiresGrad_());
    const opt = makeOptimizer(c.kind, [{ params, opts: c.js }]);
    for (const grads of c.grads.slice(0, 5)) {
      params.forEach((p, i) => (p.grad = decode(grads[i])));
      opt.step();
    }
    await torch.saveTorchFile({ params: params.map((p) => p.detach().clone()), optimizer_state_dict: opt.stateDict() },
      join(dir, `js-${n}.pt`));
    interopHere.push({ opt, params });
  }
  const request = (c: OptimCase) => ({
    kind: c.kind, groups: c.groups.map((g) => ({ params: g.params, opts: g.py })), params: c.params, grads: c.grads, lrs: c.lrs ?? null,
  });
  py = runPython('optim_reference.py', {
    optim: [
      ...optimCases.map(request),
      ...(FUSED_KERNELS ? fusedCases.map((c) => request(withOpts(c, { fused: true }, {}))) : []),
      ...stridedCases.map((c) => request({ name: c.kind, kind: c.kind, groups: [{ params: [0, 1], py: c.py, js: c.js }], params: c.params, grads: c.grads })),
    ],
    clip: clipCases.map((c) => ({ grads: c.grads, maxNorm: c.maxNorm, normType: c.normType })),
    plateau: plateauCases.map((c) => ({ lrs: c.lrs, opts: c.py, metrics: c.metrics })),
    cosine: [cosineCase],
    interop: interopCases.map((c, n) => ({
      kind: c.kind, opts: c.py, params: c.params, grads: c.grads, jsFile: join(dir, `js-${n}.pt`), pyFile: join(dir, `py-${n}.pt`),
    })),
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('optimisers = torch.optim, 10 steps', () => {
  beforeEach((ctx) => skipUnless(ctx, skipPython));
  optimCases.forEach((c, n) => {
    it(c.name, () => {
      const here = runHere(c);
      const there = py.optim[n];
      here.steps.forEach((params, k) => params.forEach((p, i) => {
        expectClose(p, values(decode(there.steps[k][i])), 1e-6, `step ${k + 1}, param ${i}`);
      }));
      // state_dict: the same parameters have state, under the same keys in the same order, with the same values.
      expect(Object.keys(here.sd.state)).toEqual(Object.keys(there.state));
      for (const [id, entry] of Object.entries(here.sd.state)) {
        expect(Object.keys(entry), `state ${id} keys`).toEqual(there.stateKeys[id]);
        for (const [key, t] of Object.entries(entry)) {
          const ref = there.state[id][key];
          if (ref === null) {
            expect(t, `state ${id}.${key}`).toBeNull();
            continue;
          }
          expect(t!.dtype, `state ${id}.${key} dtype`).toBe(ref.dtype);
          expect(t!.shape, `state ${id}.${key} shape`).toEqual(ref.shape);
          expectClose(values(t!), values(decode(ref)), 1e-6, `state ${id}.${key}`);
        }
      }
      // param_groups: torch 1.13's keys, in its order (for one group made from a list of tensors; groups given as
      // dicts keep the user's key order in Python), with the same values.
      const keys = here.sd.param_groups.map((g) => Object.keys(g));
      if (c.groups.length === 1) expect(keys).toEqual(there.groupKeys);
      else expect(keys.map((k) => k.sort())).toEqual(there.groupKeys.map((k: string[]) => k.sort()));
      expect(here.sd.param_groups).toEqual(there.param_groups);
    });
  });
});

function expectSameRun(here: ReturnType<typeof runHere>, there: { steps: Encoded[][]; state: Record<string, Record<string, Encoded | null>> }) {
  here.steps.forEach((params, k) => params.forEach((p, i) => expectSame(p, values(decode(there.steps[k][i])), `step ${k + 1}, param ${i}`)));
  expect(Object.keys(here.sd.state)).toEqual(Object.keys(there.state));
  for (const [id, entry] of Object.entries(here.sd.state)) {
    for (const [key, t] of Object.entries(entry)) {
      const ref = there.state[id][key];
      if (ref === null) expect(t, `state ${id}.${key}`).toBeNull();
      else expectSame(values(t!), values(decode(ref)), `state ${id}.${key}`);
    }
  }
}

describe('the single-tensor path (fused: false; all there is on 1.13) = torch.optim\'s default, bit for bit', () => {
  beforeEach((ctx) => skipUnless(ctx, skipPython));
  optimCases.forEach((c, n) => {
    it(c.name, () => expectSameRun(runHere(withOpts(c, {}, { fused: false })), py.optim[n]));
  });
});

describe('the fused path (the default on libtorch 2.x) = torch.optim\'s fused=True (_fused_adam(w)_, _fused_sgd_), bit for bit', () => {
  beforeEach((ctx) => {
    // An older libtorch is no missing tool: on it these skip, saying so, under CI too.
    if (!FUSED_KERNELS) ctx.skip(`libtorch ${LIBTORCH} has no fused CPU kernel (PyTorch >= 2.4 has)`);
    skipUnless(ctx, skipPython);
  });
  fusedCases.forEach((c, n) => {
    it(c.name, () => expectSameRun(runHere(withOpts(c, {}, { fused: true })), py.optim[optimCases.length + n]));
  });
});

describe('strided gradients and parameters = torch.optim\'s default (1e-6)', () => {
  beforeEach((ctx) => skipUnless(ctx, skipPython));
  stridedCases.forEach((c, n) => {
    it(`${c.kind}: a transposed-copy gradient, and a parameter that is one`, () => {
      const there = py.optim[optimCases.length + (FUSED_KERNELS ? fusedCases.length : 0) + n];
      const strided = (t: Tensor) => t.t().contiguous().t();
      const oc: OptimCase = { name: c.kind, kind: c.kind, groups: [{ params: [0, 1], py: c.py, js: c.js }], params: c.params, grads: c.grads };
      // param 0 strided (the single-tensor path), param 1 contiguous with strided gradients (the fused path on 2.x)
      const params = [strided(decode(c.params[0])).requiresGrad_(), decode(c.params[1]).requiresGrad_()];
      expect(params[0].stride()).toEqual([1, 3]);
      const here = stepHere(oc, params, (g) => strided(decode(g)));
      expect((params[1].grad as Tensor).stride()).toEqual([1, 4]);
      here.steps.forEach((ps, k) => ps.forEach((p, i) => expectClose(p, values(decode(there.steps[k][i])), 1e-6, `step ${k + 1}, param ${i}`)));
      // and to the bit what the same steps give from contiguous gradients
      const plain = runHere(oc);
      here.steps.forEach((ps, k) => expectSame(ps[1], plain.steps[k][1], `step ${k + 1}, param 1`));
    });
  });
});

describe('clipGradNorm = torch.nn.utils.clip_grad_norm_', () => {
  beforeEach((ctx) => skipUnless(ctx, skipPython));
  clipCases.forEach((c, n) => {
    it(c.name, () => {
      const params = c.grads.map((g) => {
        if (g === null) return torch.zeros([1]).requiresGrad_();
        const p = torch.zerosLike(decode(g)).requiresGrad_();
        p.grad = decode(g);
        return p;
      });
      const total = nn.utils.clipGradNorm_(params, c.maxNorm, { normType: c.normType === 'inf' ? Infinity : c.normType });
      const there = py.clip[n];
      expectClose([total], [there.total], 1e-6, 'total norm');
      params.forEach((p, i) => {
        if (there.grads[i] === null) expect(p.grad).toBeNull();
        else expectClose(values(p.grad!), values(decode(there.grads[i])), 1e-6, `grad ${i}`);
      });
    });
  });
  it('no gradients at all gives 0; errorIfNonfinite throws on a NaN norm', () => {
    expect(nn.utils.clipGradNorm_([torch.zeros([3]).requiresGrad_()], 1)).toBe(0);
    const p = torch.zeros([2]).requiresGrad_();
    p.grad = torch.tensor([NaN, 1]);
    expect(() => nn.utils.clipGradNorm_([p], 1, { errorIfNonfinite: true })).toThrow(/non-finite/);
  });
});

describe('schedulers = PyTorch', () => {
  beforeEach((ctx) => skipUnless(ctx, skipPython));
  const groupsOf = (lrs: number[]) => ({ paramGroups: lrs.map((lr) => ({ lr })) });
  plateauCases.forEach((c, n) => {
    it(`ReduceLROnPlateau: ${c.name}`, () => {
      const opt = groupsOf(c.lrs);
      const s = new optim.lrScheduler.ReduceLROnPlateau(opt, c.js);
      const lrs = c.metrics.map((m) => (s.step(m), opt.paramGroups.map((g) => g.lr)));
      expect(lrs).toEqual(py.plateau[n].lrs);
      const ref = py.plateau[n].state;
      const ours = s.stateDict();
      expect(Object.keys(ours).sort()).toEqual(Object.keys(ref).sort());
      for (const [k, v] of Object.entries(ref)) {
        const mine = ours[k];
        expect(typeof v === 'string' ? String(mine) : mine, k).toEqual(v === 'inf' ? 'Infinity' : v === '-inf' ? '-Infinity' : v);
      }
      // and it carries on from its state dict as it would have
      const resumed = new optim.lrScheduler.ReduceLROnPlateau(groupsOf(lrs[5]), c.js);
      const fresh = new optim.lrScheduler.ReduceLROnPlateau(groupsOf(c.lrs), c.js);
      const freshOpt = fresh.optimizer;
      c.metrics.slice(0, 6).forEach((m) => fresh.step(m));
      resumed.loadStateDict(fresh.stateDict());
      c.metrics.slice(6).forEach((m, k) => {
        fresh.step(m);
        resumed.step(m);
        expect(resumed.optimizer.paramGroups.map((g) => g.lr), `step ${k + 7}`).toEqual(freshOpt.paramGroups.map((g) => g.lr));
      });
    });
  });
  it('CosineWarmupLR = LambdaLR over the same closed form, and = SequentialLR(LinearLR, CosineAnnealingLR)', () => {
    const opt = groupsOf(cosineCase.lrs);
    const s = new optim.lrScheduler.CosineWarmupLR(opt, { warmupSteps: cosineCase.warmup, totalSteps: cosineCase.total, minLr: cosineCase.minLr });
    const seq = [opt.paramGroups.map((g) => g.lr)];
    for (let k = 0; k < cosineCase.total; k++) {
      s.step();
      seq.push(opt.paramGroups.map((g) => g.lr));
    }
    seq.forEach((lrs, k) => {
      expectClose(lrs, py.cosine[0].lambda[k], 1e-12, `LambdaLR, step ${k}`);
      expectClose(lrs, py.cosine[0].sequential[k], 1e-9, `SequentialLR, step ${k}`);
    });
    expect(seq[0][0]).toBeCloseTo(cosineCase.lrs[0] / cosineCase.warmup, 15);
    expect(seq[cosineCase.total][0]).toBeCloseTo(cosineCase.minLr, 15);
    // its state dict resumes the sequence
    const resumed = new optim.lrScheduler.CosineWarmupLR(groupsOf([9, 9]), { warmupSteps: 1, totalSteps: 2 });
    resumed.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
    expect(resumed.lrAt(7, 1)).toBe(s.lrAt(7, 1));
  });
});

describe('checkpoints cross between lvmtorch and torch.optim', () => {
  beforeEach((ctx) => skipUnless(ctx, skipPython));
  interopCases.forEach((c, n) => {
    it(`${c.kind}: our state, saved to a .pt file, continues in torch.optim as it continues here`, () => {
      const { opt, params } = interopHere[n];
      for (const grads of c.grads.slice(5)) {
        params.forEach((p, i) => (p.grad = decode(grads[i])));
        opt.step();
      }
      params.forEach((p, i) => expectClose(values(p), values(decode(py.interop[n].fromJs[i])), 1e-6, `param ${i}`));
      // torch.optim took our hyperparameters from the state dict (its own defaults were others)
      const g = py.interop[n].loadedGroup;
      expect(g.lr).toBe(c.py.lr);
      if (c.kind === 'AdamW') expect([g.weight_decay, g.amsgrad]).toEqual([c.py.weight_decay, c.py.amsgrad]);
      else expect([g.momentum, g.nesterov]).toEqual([c.py.momentum, c.py.nesterov]);
    });
    it(`${c.kind}: torch.optim's checkpoint loads here and continues as it did in Python`, async () => {
      const ckpt = await torch.loadTorchFile<{ params: Tensor[]; optimizer_state_dict: never }>(join(dir, `py-${n}.pt`));
      const params = ckpt.params.map((p) => p.clone().requiresGrad_());
      const opt = makeOptimizer(c.kind, [{ params, opts: {} }]);
      opt.loadStateDict(ckpt.optimizer_state_dict);
      expect(opt.lr).toBe(c.py.lr);
      for (const grads of c.grads.slice(5)) {
        params.forEach((p, i) => (p.grad = decode(grads[i])));
        opt.step();
      }
      params.forEach((p, i) => expectClose(values(p), values(decode(py.interop[n].pyFinal[i])), 1e-6, `param ${i}`));
    });
  });
});

describe('optimiser API', () => {
  it('validates hyperparameters as torch.optim does', () => {
    const p = [torch.zeros([2]).requiresGrad_()];
    expect(() => new optim.AdamW(p, { lr: -1 })).toThrow(/Invalid learning rate/);
    expect(() => new optim.Adam(p, { betas: [1, 0.9] })).toThrow(/Invalid beta parameter at index 0/);
    expect(() => new optim.Adam(p, { eps: -1 })).toThrow(/Invalid epsilon/);
    expect(() => new optim.SGD(p, { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum and zero dampening/);
    expect(() => new optim.SGD(p, {} as never)).toThrow(/learning rate/);
    expect(() => new optim.AdamW([])).toThrow(/empty parameter list/);
    expect(() => new optim.AdamW([{ params: p }, { params: p }])).toThrow(/more than one parameter group/);
    expect(() => new optim.AdamW(p, { fused: 1 as never })).toThrow(/fused must be a boolean/);
    expect(() => new optim.SGD(p, { lr: 0.1, fused: null as never })).toThrow(/fused must be a boolean/);
    const opt = new optim.AdamW(p);
    expect(() => (opt.paramGroups[0].weightDecay = -0.5)).toThrow(/Invalid weight_decay/);
    expect(opt.paramGroups[0].weightDecay).toBe(0.01);
  });

  it('lr and param group hyperparameters can be changed between steps', () => {
    const opt = new optim.AdamW([{ params: [torch.zeros([2]).requiresGrad_()] }, { params: [torch.zeros([3]).requiresGrad_()], lr: 5 }]);
    expect(opt.lr).toBe(1e-3);
    opt.lr = 0.25;
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.25, 0.25]);
    opt.paramGroups[1].betas = [0.5, 0.6];
    expect(opt.stateDict().param_groups[1].betas).toEqual([0.5, 0.6]);
  });

  it('zeroGrad drops the gradients, or zeroes them in place', () => {
    const p = torch.ones([2]).requiresGrad_();
    const opt = new optim.SGD([p], { lr: 0.1 });
    p.grad = torch.ones([2]);
    opt.zeroGrad(false);
    expect(p.grad!.toArray()).toEqual([0, 0]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });

  it('loadStateDict refuses a mismatched state dict and leaves the optimiser as it was', () => {
    const p = [torch.zeros([2]).requiresGrad_(), torch.zeros([3]).requiresGrad_()];
    const opt = new optim.AdamW(p, { lr: 0.1 });
    p.forEach((x) => (x.grad = torch.ones(x.shape as number[])));
    opt.step();
    const sd = opt.stateDict();
    const other = new optim.AdamW([p[0]]);
    expect(() => other.loadStateDict(sd)).toThrow(/doesn't match the size/);
    const bad = { ...sd, state: { ...sd.state, 1: { ...sd.state[1], exp_avg: torch.zeros([4]) } } };
    const fresh = new optim.AdamW(p, { lr: 0.3 });
    expect(() => fresh.loadStateDict(bad)).toThrow(/shape \[4\], its parameter \[3\]/);
    expect(fresh.lr).toBe(0.3);
    expect(Object.keys(fresh.stateDict().state)).toEqual([]);
    expect(() => new optim.Adam(p).loadStateDict({ ...sd, param_groups: [{ ...sd.param_groups[0], decoupled_weight_decay: true }] }))
      .toThrow(/AdamW/);
    // a `step` saved as a number (torch < 1.12) is accepted and becomes a float32 tensor, as torch.optim converts it
    const old = { ...sd, state: { 0: { ...sd.state[0], step: 1 }, 1: { ...sd.state[1], step: 1 } } };
    fresh.loadStateDict(old);
    const step = fresh.stateDict().state[0].step!;
    expect([step.dtype, step.item()]).toEqual(['float32', 1]);
  });

  it("accepts torch 2.x's param group keys (decoupled_weight_decay, fused: null, differentiable, ...)", () => {
    const p = [torch.zeros([2]).requiresGrad_()];
    const opt = new optim.AdamW(p);
    opt.loadStateDict({
      state: new Map([[0, { step: torch.tensor(3, { dtype: 'float32' }), exp_avg: torch.ones([2]), exp_avg_sq: torch.ones([2]) }]]),
      param_groups: [{
        lr: 2e-4, betas: [0.85, 0.995], eps: 1e-7, weight_decay: 0.02, amsgrad: false, maximize: false, foreach: null,
        capturable: false, differentiable: false, fused: null, decoupled_weight_decay: true, initial_lr: 1e-3, params: [0],
      }],
    });
    const g = opt.paramGroups[0];
    expect([g.lr, [...g.betas], g.eps, g.weightDecay]).toEqual([2e-4, [0.85, 0.995], 1e-7, 0.02]);
    expect((opt.stateDict().state[0].step as Tensor).item()).toBe(3);
  });

  it('a disposed optimiser refuses to step', () => {
    const opt = new optim.Adam([torch.zeros([2]).requiresGrad_()]);
    opt.dispose();
    expect(() => opt.step()).toThrow(/disposed/);
  });
});
