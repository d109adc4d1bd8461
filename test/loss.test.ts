// The fused composite loss (lib/lvm/loss/composite.ts, native/lvm/loss/composite_loss.cc) against: the unfused reference
// built from Tensor ops with autograd (lib/lvm/loss/reference.ts), real PyTorch computing DESIGN.md's formulas with its
// own functionals and autograd (test/python/loss_reference.py), the seed's own compute_losses (through a committed
// fixture of its results, test/fixtures/seed-loss.json), and central finite differences. Values and gradients must agree within 1e-6 (absolute + relative, element by element) in float64,
// on random batches and on the edge cases: one row, identical rows, zero rows, very small and very large tau.
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  compositeLoss, NonFiniteLossError, torch, type Candidates, type CompositeLossResult, type CompositeWeights, LOSS_PRESETS,
} from '../dist/index.js';
import { compositeLossReference } from '../dist/lvm/loss/reference.js';
import { needPython, pythonTorchMissing, runPython } from './helpers/python.js';
import { mulberry32, normalFrom } from './helpers/random.js';

type Tensor = torch.Tensor;
type Weights = CompositeWeights;
const TERMS = ['info', 'moment', 'variance', 'mse', 'cosMse', 'document', 'cosine'] as const;

const random = mulberry32(20251013);
const normal = normalFrom(random);

const W_ALL: Weights = { tau: 0.2, info: 0.7, moment: 0.3, variance: 0.5, mse: 0.9, cosMse: 1.3, document: 0 };
const W_SEED: Weights = { ...LOSS_PRESETS.seed };
const W_SEED_MSE: Weights = { ...LOSS_PRESETS.seed, mse: 0.25 };
const W_COS: Weights = { ...LOSS_PRESETS.cosine };

interface Case {
  name: string;
  dtype: 'float64' | 'float32';
  shape: [number, number];
  pred: Float64Array;
  target: Float64Array;
  weights: Weights;
  targetGrad?: boolean;
  /** Whether the loss is differentiable here, so that finite differences apply. */
  smooth?: boolean;
  /** The document term's candidates: M vectors of D, each row's target and context among them (-1: absent). */
  candidates?: { vectors: Float64Array; positive: number[]; context: number[][] };
}

const randomRows = (B: number, D: number, f: () => number = normal): Float64Array => Float64Array.from({ length: B * D }, f);
const unitRows = (B: number, D: number): Float64Array => {
  const a = randomRows(B, D);
  for (let i = 0; i < B; i++) {
    let n = 0;
    for (let j = 0; j < D; j++) n += a[i * D + j] ** 2;
    for (let j = 0; j < D; j++) a[i * D + j] /= Math.sqrt(n);
  }
  return a;
};
const repeatRow = (B: number, D: number): Float64Array => {
  const row = randomRows(1, D);
  return Float64Array.from({ length: B * D }, (_, k) => row[k % D]);
};
const zeroRow = (a: Float64Array, D: number, row: number): Float64Array => (a.fill(0, row * D, (row + 1) * D), a);

const cases: Case[] = [];
const add = (c: Omit<Case, 'dtype'> & { dtype?: Case['dtype'] }): void => { cases.push({ dtype: 'float64', ...c }); };
for (const [B, D] of [[2, 3], [5, 8], [16, 32], [32, 96]] as const) {
  add({ name: `random ${B}x${D}, seed weights`, shape: [B, D], pred: randomRows(B, D), target: randomRows(B, D), weights: W_SEED, smooth: true });
  add({ name: `random ${B}x${D}, every term`, shape: [B, D], pred: randomRows(B, D), target: randomRows(B, D), weights: W_ALL, smooth: true });
  add({ name: `random ${B}x${D}, cosine regression`, shape: [B, D], pred: randomRows(B, D), target: unitRows(B, D), weights: W_COS, smooth: true });
}
add({ name: 'random 8x16, every term, target requires grad', shape: [8, 16], pred: randomRows(8, 16), target: randomRows(8, 16), weights: W_ALL, targetGrad: true, smooth: true });
add({ name: 'seed weights with mse, unit-norm targets', shape: [12, 24], pred: randomRows(12, 24, () => 0.3 * normal()), target: unitRows(12, 24), weights: W_SEED_MSE, smooth: true });
add({ name: 'batch of 1 (info, mse, cosMse)', shape: [1, 6], pred: randomRows(1, 6), target: randomRows(1, 6), weights: { ...W_ALL, moment: 0, variance: 0 }, targetGrad: true, smooth: true });
add({ name: 'batch of 2, every term', shape: [2, 5], pred: randomRows(2, 5), target: randomRows(2, 5), weights: W_ALL, targetGrad: true, smooth: true });
add({ name: 'identical pred rows (std 0)', shape: [6, 7], pred: repeatRow(6, 7), target: randomRows(6, 7), weights: W_ALL, targetGrad: true });
add({ name: 'identical target rows (std 0)', shape: [6, 7], pred: randomRows(6, 7), target: repeatRow(6, 7), weights: W_ALL, targetGrad: true });
add({ name: 'identical rows everywhere', shape: [5, 4], pred: repeatRow(5, 4), target: repeatRow(5, 4), weights: W_ALL, targetGrad: true });
add({ name: 'zero rows in pred and target', shape: [6, 5], pred: zeroRow(randomRows(6, 5), 5, 1), target: zeroRow(randomRows(6, 5), 5, 3), weights: W_ALL, targetGrad: true });
add({ name: 'tau 1e-4 (logits up to 1e4)', shape: [10, 12], pred: randomRows(10, 12), target: randomRows(10, 12), weights: { ...W_ALL, tau: 1e-4 }, targetGrad: true });
add({ name: 'tau 1e4 (logits near 0)', shape: [10, 12], pred: randomRows(10, 12), target: randomRows(10, 12), weights: { ...W_ALL, tau: 1e4 }, targetGrad: true, smooth: true });
add({ name: 'tau 0.01', shape: [4, 6], pred: randomRows(4, 6), target: randomRows(4, 6), weights: { ...W_ALL, tau: 0.01 }, targetGrad: true, smooth: true });
{
  const same = randomRows(8, 10);
  add({ name: 'pred equals target', shape: [8, 10], pred: same, target: Float64Array.from(same), weights: W_ALL, smooth: true });
}
add({ name: 'float32 random 16x32, every term', dtype: 'float32', shape: [16, 32], pred: randomRows(16, 32), target: randomRows(16, 32), weights: W_ALL });
add({ name: 'float32 seed weights, tau 0.07', dtype: 'float32', shape: [32, 64], pred: randomRows(32, 64), target: unitRows(32, 64), weights: W_SEED_MSE });
// Below tau = 2/80 (float32) or 2/700 (float64) the softmaxes take per-row and per-column maxima (composite_loss.cc).
add({ name: 'float32 tau 0.01 (per-row maxima)', dtype: 'float32', shape: [16, 32], pred: randomRows(16, 32), target: randomRows(16, 32), weights: { ...W_ALL, tau: 0.01 }, targetGrad: true });
add({ name: 'tau 0.002 (per-row maxima)', shape: [6, 9], pred: randomRows(6, 9), target: randomRows(6, 9), weights: { ...W_ALL, tau: 0.002 }, targetGrad: true });
cases.push(documentCase('document term only, 6 rows, 14 candidates', 6, 8, 14, 3, { ...W_ALL, info: 0, moment: 0, variance: 0, mse: 0, cosMse: 0, document: 1 }));
cases.push(documentCase('document term with every other term', 5, 6, 12, 4, { ...W_ALL, document: 0.8 }));
cases.push(documentCase('document term, tau 0.05', 8, 16, 20, 5, { ...W_ALL, tau: 0.05, document: 1 }));
cases.push(documentCase('float32 document term, tau 0.05', 8, 16, 20, 5, { ...W_ALL, tau: 0.05, document: 1 }, 'float32'));

// M candidates for B rows: row i's target is candidate positive[i] (the target itself, as Dataset.batches gives
// it), its T context rows other candidates or -1; candidate M - 1 repeats row 0's target, a copy to be masked.
function documentCase(name: string, B: number, D: number, M: number, T: number, weights: Weights, dtype: Case['dtype'] = 'float64'): Case {
  const target = randomRows(B, D);
  const vectors = randomRows(M, D);
  const positive = Array.from({ length: B }, (_, i) => 2 * i);
  positive.forEach((p, i) => vectors.set(target.subarray(i * D, (i + 1) * D), p * D));
  vectors.set(target.subarray(0, D).map((v) => 3 * v), (M - 1) * D);  // same direction, other norm
  const context = positive.map((p) => Array.from({ length: T }, (_, k) => (k === 0 ? -1 : (p + 1 + 2 * k) % (M - 1))));
  return { name, dtype, shape: [B, D], pred: randomRows(B, D), target, weights, smooth: true, candidates: { vectors, positive, context } };
}

function candidatesOf(c: Case): Candidates | undefined {
  const k = c.candidates;
  if (!k) return undefined;
  const M = k.vectors.length / c.shape[1];
  return {
    vectors: c.dtype === 'float64' ? torch.tensor(k.vectors, { shape: [M, c.shape[1]] }) : torch.tensor(Float32Array.from(k.vectors), { shape: [M, c.shape[1]] }),
    positive: torch.tensor(BigInt64Array.from(k.positive, BigInt)),
    context: torch.tensor(BigInt64Array.from(k.context.flat(), BigInt), { shape: [k.context.length, k.context[0].length] }),
  };
}

function leaf(data: Float64Array, c: Case, grad: boolean): Tensor {
  const t = c.dtype === 'float64' ? torch.tensor(data, { shape: c.shape }) : torch.tensor(Float32Array.from(data), { shape: c.shape });
  return grad ? t.requiresGrad_() : t;
}

interface Run extends CompositeLossResult { gradPred: Float64Array; gradTarget?: Float64Array }

type LossFn = (pred: Tensor, target: Tensor, w: Weights & { candidates?: Candidates }) => CompositeLossResult;

function runLoss(c: Case, fn: LossFn): Run {
  const pred = leaf(c.pred, c, true);
  const target = leaf(c.target, c, c.targetGrad ?? false);
  const r = fn(pred, target, { ...c.weights, candidates: candidatesOf(c) } as Weights);
  r.total.backward();
  const out: Run = { ...r, gradPred: Float64Array.from(pred.grad!.toTypedArray() as Float64Array) };
  if (c.targetGrad) out.gradTarget = Float64Array.from(target.grad!.toTypedArray() as Float64Array);
  return out;
}

const b64 = (a: Float64Array, dtype: Case['dtype']): string => {
  const typed = dtype === 'float64' ? a : Float32Array.from(a);
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64');
};
// base64 little-endian values of `dtype` (float64 unless said) as float64.
const fromB64 = (s: string, dtype: Case['dtype'] = 'float64'): Float64Array => {
  const buf = Buffer.from(s, 'base64');
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return dtype === 'float64' ? new Float64Array(bytes) : Float64Array.from(new Float32Array(bytes));
};
const pyNumber = (v: number | string): number => (typeof v === 'number' ? v : Number(v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v));

/** Element by element: |a - b| <= tol * (1 + |b|); NaN only where the other is NaN. */
function expectClose(actual: ArrayLike<number> | number, expected: ArrayLike<number> | number, tol: number, what: string): void {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const b = typeof expected === 'number' ? [expected] : Array.from(expected);
  expect(a.length, `${what}: length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]) || Number.isNaN(a[i])) {
      expect(Number.isNaN(a[i]), `${what}[${i}]: ${a[i]} vs ${b[i]}`).toBe(Number.isNaN(b[i]));
      continue;
    }
    if (Math.abs(a[i] - b[i]) > tol * (1 + Math.abs(b[i]))) {
      expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]} (difference ${Math.abs(a[i] - b[i])}, tolerance ${tol} * (1 + |expected|))`);
    }
  }
}

const tolOf = (c: Case): number => (c.dtype === 'float64' ? 1e-6 : 1e-4);

const pythonMissing = pythonTorchMissing();
let python: { results: { design: Record<string, number | string> }[] };
const fused = new Map<string, Run>();

beforeAll(() => {
  for (const c of cases) fused.set(c.name, runLoss(c, compositeLoss));
  if (pythonMissing) return;  // the tests that need it skip, saying why (CI fails them)
  python = runPython('loss_reference.py', {
    cases: cases.map((c) => ({
      name: c.name, dtype: c.dtype, shape: c.shape, pred: b64(c.pred, c.dtype), target: b64(c.target, c.dtype),
      weights: c.weights, targetGrad: c.targetGrad ?? false,
      candidates: c.candidates && { vectors: b64(c.candidates.vectors, c.dtype), positive: c.candidates.positive, context: c.candidates.context },
    })),
  });
});

describe('fused composite loss = the unfused reference (Tensor ops + autograd)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const f = fused.get(c.name)!;
      const r = runLoss(c, compositeLossReference);
      const tol = tolOf(c);
      expectClose(f.value, r.value, tol, 'total');
      for (const k of TERMS) expectClose(f[k], r[k], tol, k);
      expectClose(f.gradPred, r.gradPred, tol, 'd total / d pred_raw');
      if (c.targetGrad) expectClose(f.gradTarget!, r.gradTarget!, tol, 'd total / d target');
      expect(f.finite).toBe(true);
    });
  }
});

describe('the reference itself', () => {
  it("logitsT 'transpose' (one GEMM) gives what the seed form (two GEMMs) gives", () => {
    const c = cases.find((x) => x.name === 'random 8x16, every term, target requires grad')!;
    const seedForm = runLoss(c, compositeLossReference);
    const transposed = runLoss(c, (p, t, w) => compositeLossReference(p, t, { ...w, logitsT: 'transpose' }));
    expectClose(transposed.value, seedForm.value, 1e-12, 'total');
    expectClose(transposed.gradPred, seedForm.gradPred, 1e-12, 'd total / d pred_raw');
    expectClose(transposed.gradTarget!, seedForm.gradTarget!, 1e-12, 'd total / d target');
  });
});

describe('fused composite loss = PyTorch (DESIGN.md formulas, F.* and autograd)', () => {
  cases.forEach((c, i) => {
    it(c.name, (ctx) => {
      needPython(ctx);
      const f = fused.get(c.name)!;
      const p = python.results[i].design;
      const tol = tolOf(c);
      expectClose(f.value, pyNumber(p.total), tol, 'total');
      for (const k of TERMS) expectClose(f[k], pyNumber(p[k]), tol, k);
      expectClose(f.gradPred, fromB64(p.gradPred as string), tol, 'd total / d pred_raw');
      if (c.targetGrad) expectClose(f.gradTarget!, fromB64(p.gradTarget as string), tol, 'd total / d target');
    });
  });
});

// test/fixtures/seed-loss.json: what the seed's own compute_losses gives on fixed batches, written by
// test/python/seed_loss_fixture.py from the seed's public source (LVMTORCH_SEED_REPO names a clone).
describe("fused composite loss = the seed's compute_losses (app/lvm/loss_utils.py, from a committed fixture)", () => {
  interface SeedCase {
    name: string; dtype: Case['dtype']; shape: [number, number]; weights: { tau: number; moment: number; variance: number; mse: number };
    pred: string; target: string; info: number | string; moment: number | string; variance: number | string; mse: number | string;
    total: number | string; gradPred?: string;
  }
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/seed-loss.json', import.meta.url), 'utf8')) as { source: string; cases: SeedCase[] };
  it('has the seed\'s source named and enough cases', () => {
    expect(fixture.source).toMatch(/lnsp-phase-4@14ae4fd:app\/lvm\/loss_utils\.py$/);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(7);
  });
  for (const sc of fixture.cases) {
    it(sc.name, () => {
      // The seed's total adds every term, weight 0 or not, and its InfoNCE always has weight 1.
      const c: Case = {
        name: sc.name, dtype: sc.dtype, shape: sc.shape, pred: fromB64(sc.pred, sc.dtype), target: fromB64(sc.target, sc.dtype),
        weights: { ...sc.weights, info: 1, cosMse: 0, document: 0 },
      };
      const f = runLoss(c, compositeLoss);
      const tol = tolOf(c);
      for (const k of ['info', 'moment', 'variance', 'mse'] as const) expectClose(f[k], pyNumber(sc[k]), tol, k);
      if (sc.shape[0] >= 2) {
        expectClose(f.value, pyNumber(sc.total), tol, 'total');
        expectClose(f.gradPred, fromB64(sc.gradPred!), tol, 'd total / d pred_raw');
      } else {  // one row: the seed's moment and variance are NaN, and so its total; ours leaves them out
        expect(Number.isNaN(pyNumber(sc.total)), 'the seed gives NaN for one row').toBe(true);
        expect(Number.isFinite(f.value)).toBe(true);
      }
    });
  }
});

describe('gradients = central finite differences (float64)', () => {
  // Every element of each smooth case up to 200 elements: (L(x + h) - L(x - h)) / 2h with h = 1e-6.
  const small = cases.filter((c) => c.smooth && c.dtype === 'float64' && c.shape[0] * c.shape[1] <= 200);
  const lossAt = (c: Case, pred: Float64Array, target: Float64Array): number =>
    torch.noGrad(() => torch.tidy(() => compositeLoss(leaf(pred, c, false), leaf(target, c, false), { ...c.weights, candidates: candidatesOf(c) }).value));
  const numeric = (c: Case, which: 'pred' | 'target'): Float64Array => {
    const h = 1e-6;
    const base = which === 'pred' ? c.pred : c.target;
    const out = new Float64Array(base.length);
    for (let k = 0; k < base.length; k++) {
      const plus = Float64Array.from(base);
      const minus = Float64Array.from(base);
      plus[k] += h;
      minus[k] -= h;
      const lp = which === 'pred' ? lossAt(c, plus, c.target) : lossAt(c, c.pred, plus);
      const lm = which === 'pred' ? lossAt(c, minus, c.target) : lossAt(c, c.pred, minus);
      out[k] = (lp - lm) / (2 * h);
    }
    return out;
  };
  it('covers enough cases', () => expect(small.length).toBeGreaterThanOrEqual(8));
  for (const c of small) {
    it(c.name, () => {
      const f = fused.get(c.name)!;
      expectClose(f.gradPred, numeric(c, 'pred'), 1e-6, 'd total / d pred_raw vs finite differences');
      if (c.targetGrad) expectClose(f.gradTarget!, numeric(c, 'target'), 1e-6, 'd total / d target vs finite differences');
    });
  }
});

describe('edge cases and errors', () => {
  const t = (rows: number[][], dtype: 'float32' | 'float64' = 'float64'): Tensor => torch.tensor(rows, { dtype });

  it('one row: moment and variance are NaN diagnostics, left out of the total', () => {
    const r = fused.get('batch of 1 (info, mse, cosMse)')!;
    expect(r.moment).toBeNaN();
    expect(r.variance).toBeNaN();
    expect(Math.abs(r.info)).toBe(0);  // one row: each softmax has one entry
    expect(Number.isFinite(r.value)).toBe(true);
  });

  it('one row with moment or variance weighted is refused (the std of one row is undefined)', () => {
    expect(() => compositeLoss(t([[1, 2, 3]]), t([[3, 2, 1]]), { moment: 0.1 })).toThrow(RangeError);
    expect(() => compositeLoss(t([[1, 2, 3]]), t([[3, 2, 1]]), { variance: 0.01 })).toThrow(/at least 2 rows/);
  });

  it('NaN or infinity in an input throws NonFiniteLossError naming the input and the element', () => {
    const good = t([[1, 2], [3, 4], [5, 6]]);
    const err = (() => {
      try {
        compositeLoss(t([[1, 2], [3, NaN], [5, 6]]), good);
      } catch (e) {
        return e as NonFiniteLossError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err.code).toBe('ERR_LOSS_NOT_FINITE');
    expect(err.message).toMatch(/pred_raw has 1 NaN and 0 infinite elements, the first at \[1, 1\]/);
    expect(() => compositeLoss(good, t([[1, 2], [3, 4], [Infinity, -Infinity]]), { info: 0, mse: 1 }))
      .toThrow(/target has 0 NaN and 2 infinite elements, the first at \[2, 0\]/);
  });

  it("onNonFinite 'report' returns finite: false instead of throwing", () => {
    const r = compositeLoss(t([[1, 2], [NaN, 4]]), t([[1, 2], [3, 4]]), { onNonFinite: 'report' });
    expect(r.finite).toBe(false);
    expect(r.value).toBeNaN();
  });

  it('a finite input whose loss overflows float32 is reported as such', () => {
    const big = t([[1e30, -1e30], [2e30, 1e30]], 'float32');
    expect(() => compositeLoss(big, t([[0, 0], [1, 1]], 'float32'), { mse: 1 })).toThrow(/not finite though its inputs are/);
  });

  it('refuses bad shapes, dtypes, tau and weights', () => {
    const a = t([[1, 2], [3, 4]]);
    expect(() => compositeLoss(a, t([[1, 2, 3], [4, 5, 6]]))).toThrow(/target must have pred_raw's shape \[2, 2\]/);
    expect(() => compositeLoss(torch.tensor([1, 2], { dtype: 'float64' }), torch.tensor([1, 2], { dtype: 'float64' }))).toThrow(/\[B, D\]/);
    expect(() => compositeLoss(a, t([[1, 2], [3, 4]], 'float32'))).toThrow(/one floating dtype/);
    expect(() => compositeLoss(a, a, { tau: 0 })).toThrow(RangeError);
    expect(() => compositeLoss(a, a, { tau: Infinity })).toThrow(RangeError);
    expect(() => compositeLoss(a, a, { moment: -1 })).toThrow(/weight moment/);
    expect(() => compositeLoss(a, a, { onNonFinite: 'ignore' as 'report' })).toThrow(RangeError);
  });

  it('the document term without candidates, or with candidates that do not fit, is refused naming what is wrong', () => {
    const a = t([[1, 2], [3, 4]]);
    expect(() => compositeLoss(a, a, { document: 1 })).toThrow(/document term .* none were given/);
    const ok = { vectors: t([[1, 0], [0, 1], [1, 1]]), positive: torch.tensor([0n, 1n]), context: torch.tensor([[2n], [-1n]]) };
    expect(compositeLoss(a, a, { document: 1, candidates: ok }).document).toBeGreaterThan(0);
    expect(() => compositeLoss(a, a, { document: 1, candidates: { ...ok, vectors: t([[1, 0, 0]]) } })).toThrow(/candidates must be \[M, 2\]/);
    expect(() => compositeLoss(a, a, { document: 1, candidates: { ...ok, vectors: t([[1, 0]], 'float32') } })).toThrow(/candidates must be Double/);
    expect(() => compositeLoss(a, a, { document: 1, candidates: { ...ok, positive: torch.tensor([0n, 3n]) } })).toThrow(/positive must lie in \[0, 3\), got \[0, 3\]/);
    expect(() => compositeLoss(a, a, { document: 1, candidates: { ...ok, context: torch.tensor([[-2n], [0n]]) } })).toThrow(/context must lie in \[-1, 3\)/);
    expect(() => compositeLoss(a, a, { document: 1, candidates: { ...ok, positive: torch.tensor([0n]) } })).toThrow(/positive must be int64 \[B\] with B = 2/);
  });

  it('under noGrad the total carries no graph', () => {
    const p = torch.randn([4, 3], { dtype: 'float64' }).requiresGrad_();
    const r = torch.noGrad(() => compositeLoss(p, torch.randn([4, 3], { dtype: 'float64' })));
    expect(r.total.requiresGrad).toBe(false);
  });

  it('backward twice with retainGraph accumulates the same gradient twice (the saved state is not consumed)', () => {
    const c = cases.find((x) => x.name === 'random 5x8, every term')!;
    const pred = leaf(c.pred, c, true);
    const r = compositeLoss(pred, leaf(c.target, c, false), c.weights);
    r.total.backward(undefined, { retainGraph: true });
    r.total.backward();
    const twice = Array.from(pred.grad!.toTypedArray() as Float64Array);
    expectClose(twice, Array.from(fused.get(c.name)!.gradPred, (g) => 2 * g), 1e-12, '2 x gradient');
  });

  it('the total scales the upstream gradient (loss * 3)', () => {
    const c = cases.find((x) => x.name === 'random 5x8, seed weights')!;
    const pred = leaf(c.pred, c, true);
    compositeLoss(pred, leaf(c.target, c, false), c.weights).total.mul(3).backward();
    expectClose(Array.from(pred.grad!.toTypedArray() as Float64Array), Array.from(fused.get(c.name)!.gradPred, (g) => 3 * g), 1e-12, '3 x gradient');
  });

  it('all weights 0 gives a total of 0 and zero gradients', () => {
    const p = torch.randn([3, 4], { dtype: 'float64' }).requiresGrad_();
    const r = compositeLoss(p, torch.randn([3, 4], { dtype: 'float64' }), { info: 0 });
    expect(r.value).toBe(0);
    r.total.backward();
    expect(Array.from(p.grad!.toTypedArray() as Float64Array).every((g) => g === 0)).toBe(true);
  });
});
