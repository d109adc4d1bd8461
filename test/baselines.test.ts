// Metrics, baselines and torch.linalg against numpy / PyTorch (test/python/baselines_reference.py): the numbers
// every run is judged by must be right before any model is judged by them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { computeBaselines, datasets, scorePredictions, torch, Tensor } from '../dist/index.js';
import { targetMean } from '../dist/lvm/train/metrics.js';
import { fitRidge } from '../dist/lvm/train/baselines.js';
import type { Dataset } from '../dist/lvm/data/dataset.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

// lib/lvm/train/baselines.ts and test/python/baselines_reference.py: the ridge strengths tried.
const RIDGE_GRID = [1e-3, 1e-2, 1e-1, 1, 10, 100];
const missing = pythonTorchMissing();
if (missing) console.warn(`baseline and metric comparisons with PyTorch skipped: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-baselines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A dataset whose row i has the context x[i] and the target y[i]: every vector stored once, rows gathered by index.
function rowsOf(x: Tensor, y: Tensor): Dataset {
  const [n, t, d] = x.shape;
  return new datasets.Dataset({
    vectors: torch.cat([x.reshape(n * t, d), y]),
    contextIndex: torch.arange(0, n * t, 1, { dtype: 'int64' }).view(n, t),
    targetIndex: torch.arange(n * t, n * t + n, 1, { dtype: 'int64' }),
  });
}

// Exact ties: rows of D = 8 with four entries of +-1 (norm 2, so normalised entries are +-0.5 and every similarity
// is a multiple of 0.25, the same whatever the order of the sums), targets drawn with repeats from a pool of 9.
function tieCase(n = 41, d = 8): { pred: Tensor; target: Tensor } {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const vector = () => {
    const v = new Float32Array(d);
    for (let k = 0; k < 4;) {
      const j = Math.floor(next() * d);
      if (v[j] === 0) { v[j] = next() < 0.5 ? -1 : 1; k++; }
    }
    return v;
  };
  const pool = Array.from({ length: 9 }, vector);
  const rows = (f: (i: number) => Float32Array) => torch.tensor(Float32Array.from(Array.from({ length: n }, (_, i) => [...f(i)]).flat()), { shape: [n, d] });
  const target = rows(() => pool[Math.floor(next() * pool.length)]);
  const own = target.toTypedArray() as Float32Array;
  // Half the predictions are their own target exactly (tied with its repeats), the others a fresh vector.
  const pred = rows((i) => (i % 2 === 0 ? own.slice(i * d, (i + 1) * d) : vector()));
  return { pred, target };
}

const fromBase64 = (s: string, shape: number[]) =>
  torch.tensor(new Float64Array(new Uint8Array(Buffer.from(s, 'base64')).buffer), { shape });

describe('against numpy and PyTorch', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  torch.manualSeed(7);
  const T = 3, D = 16;
  // A target that depends on the context linearly and not: ridge has something to find and something to miss.
  const make = (n: number, t = T, d = D) => {
    const x = torch.randn([n, t, d]);
    const mix = x.select(1, t - 1).mul(0.8).add(x.select(1, t - 2).mul(0.3)).add(x.select(1, 0).square().mul(0.2));
    return { x, y: mix.add(torch.randn([n, d]).mul(0.3)).add(1).normalize({ dim: 1 }) };
  };
  const train = make(600);
  const val = make(150);
  const pred = torch.randn([2500, 32], { dtype: 'float64' });
  const target = pred.add(torch.randn([2500, 32], { dtype: 'float64' }).mul(1.5));
  const centre = torch.randn([32], { dtype: 'float64' }).mul(0.5);
  const ties = tieCase();
  const A = torch.tidy(() => { const m = torch.randn([20, 20], { dtype: 'float64' }); return m.matmul(m.t()).add(torch.eye(20, 20, { dtype: 'float64' })); });
  const B = torch.randn([20, 3], { dtype: 'float64' });
  // Ridge's other paths: p = 2 x 400 = 800 (the Gram matrix in two column blocks) over 2,100 rows (two chunks of
  // 2,048), and 30 rows < p = 48 (the N x N kernel form).
  const wide = make(2100, 2, 400);
  const wideVal = make(200, 2, 400);
  const small = make(30);
  let py: {
    metrics: Record<string, number>; mean: Record<string, number>; copyLast: Record<string, number>; ridge: number[];
    contextMean: Record<string, number>; ridgePredictions: string[];
    ties: Record<string, number>; trainMean: number[]; centred: Record<string, Record<string, number>>;
    ridgeWide: number[]; ridgeSmall: number[];
    solve: string; cholesky: string; choleskySolve: string;
  };

  it('runs the reference', async () => {
    await torch.saveTorchFile({
      xTrain: train.x, yTrain: train.y, xVal: val.x, yVal: val.y, pred, target, centre, A, B, tiePred: ties.pred, tieTarget: ties.target,
      xWide: wide.x, yWide: wide.y, xWideVal: wideVal.x, yWideVal: wideVal.y, xSmall: small.x, ySmall: small.y,
    }, join(dir, 'in.pt'));
    py = runPython('baselines_reference.py', { file: join(dir, 'in.pt') });
    expect(py.ridge).toHaveLength(RIDGE_GRID.length);
  });

  it('scorePredictions: cosine, MSE and retrieval top-1/top-5 over all targets (2,500 rows, in chunks)', async () => {
    const m = await scorePredictions(pred, target);
    expect(m.cosine).toBeCloseTo(py.metrics.cosine, 12);
    expect(m.mse).toBeCloseTo(py.metrics.mse, 12);
    expect(m.top1).toBe(py.metrics.top1);
    expect(m.top5).toBe(py.metrics.top5);
    expect(m.top1).toBeGreaterThan(0);  // the case exercises the ranks, not only zeros
    expect(m.top5).toBeGreaterThan(m.top1);
    expect(m.count).toBe(2500);
    expect(m).not.toHaveProperty('centredCosine');  // no centre given, none computed
  });

  it('scorePredictions with a centre: the centred cosine, MRR and median rank as PyTorch computes them', async () => {
    const m = await scorePredictions(pred, target, { centre });
    expect(m.centredCosine).toBeCloseTo(py.metrics.centredCosine, 12);
    expect(m.centredCosine).not.toBeCloseTo(m.cosine, 2);  // the centre moved it
    expect(m.mrr).toBeCloseTo(py.metrics.mrr, 12);
    expect(m.medianRank).toBe(py.metrics.medianRank);  // 2,500 rows: the lower of the two middle ranks, as torch.median
    expect(m.medianRank).toBeGreaterThan(1);
    expect(m.mrr).toBeGreaterThan(m.top1);  // rows of rank 1-4 add to it
    expect(m.top1).toBe(py.metrics.top1);
    // The other numbers are those without a centre.
    const { centredCosine, ...rest } = m;
    expect(rest).toEqual(await scorePredictions(pred, target));
  });

  it('ranks with exact ties count them in the row\'s favour, as the top-k always did, in MRR and the median too', async () => {
    const m = await scorePredictions(ties.pred, ties.target);
    expect(m.top1).toBe(py.ties.top1);
    expect(m.top5).toBe(py.ties.top5);
    expect(m.mrr).toBeCloseTo(py.ties.mrr, 12);
    expect(m.medianRank).toBe(py.ties.medianRank);  // 41 rows: the middle one
    expect(m.top1).toBeGreaterThanOrEqual(0.5);  // every exact copy of its target is rank 0 despite the repeats
  });

  it('targetMean: the raw mean of the train targets, as PyTorch\'s', () => {
    const mu = targetMean(rowsOf(train.x, train.y));
    expect(mu.shape).toEqual([D]);
    expect(mu.dtype).toBe('float32');
    const want = torch.tensor(Float64Array.from(py.trainMean), { shape: [D] });
    expect(mu.double().sub(want).abs().max().item()).toBeLessThan(1e-6);
  });

  it('mean, copy-last, context-mean and ridge (strength chosen on val) score as the formulas do', async () => {
    const r = await computeBaselines(rowsOf(train.x, train.y), { val: rowsOf(val.x, val.y) });
    expect(r.scores.mean!.val.cosine).toBeCloseTo(py.mean.cosine, 5);
    expect(r.scores['copy-last']!.val.cosine).toBeCloseTo(py.copyLast.cosine, 5);
    expect(r.scores['context-mean']!.val.cosine).toBeCloseTo(py.contextMean.cosine, 5);
    expect(Math.abs(r.scores['copy-last']!.val.top5 - py.copyLast.top5)).toBeLessThanOrEqual(1 / 150);  // float32 data: one near-tie may flip
    const best = Math.max(...py.ridge);
    expect(r.scores.ridge!.val.cosine).toBeCloseTo(best, 5);
    expect(RIDGE_GRID[py.ridge.indexOf(best)]).toBe(r.ridgeLambda);
    expect(r.scores.oracle).toBeUndefined();  // this data has none
    // Ridge learns the linear part: it must beat predicting the mean here.
    expect(r.scores.ridge!.val.cosine).toBeGreaterThan(r.scores.mean!.val.cosine);
  });

  it('every baseline\'s centred cosine about the train targets\' mean, MRR and median rank, as PyTorch\'s', async () => {
    const r = await computeBaselines(rowsOf(train.x, train.y), { val: rowsOf(val.x, val.y) });
    const chosen = `ridge${RIDGE_GRID.indexOf(r.ridgeLambda)}`;
    for (const [ours, theirs] of [['mean', 'mean'], ['copy-last', 'copyLast'], ['context-mean', 'contextMean'], ['ridge', chosen]] as const) {
      const got = r.scores[ours]!.val;
      const want = py.centred[theirs];
      expect(got.centredCosine, ours).toBeCloseTo(want.centredCosine, 5);  // float32 data and centre; float64 there
      expect(Math.abs(got.mrr - want.mrr), ours).toBeLessThan(0.01);  // float32: a near-tie may flip
      expect(Math.abs(got.medianRank - want.medianRank), ours).toBeLessThanOrEqual(1);
    }
    // Predicting the mean direction scores well on raw cosine and about nothing once centred; ridge keeps its lead.
    expect(r.scores.mean!.val.cosine).toBeGreaterThan(0.5);
    expect(Math.abs(r.scores.mean!.val.centredCosine)).toBeLessThan(0.05);
    expect(r.scores.ridge!.val.centredCosine).toBeGreaterThan(0.3);
    // The centre given explicitly is the one used by default.
    const mu = targetMean(rowsOf(train.x, train.y));
    expect(await computeBaselines(rowsOf(train.x, train.y), { val: rowsOf(val.x, val.y) }, { centre: mu })).toEqual(r);
  });

  it('fitRidge gives the chosen ridge as a linear map whose predictions are PyTorch\'s', async () => {
    const { weight, bias, lambda } = await fitRidge(rowsOf(train.x, train.y), rowsOf(val.x, val.y));
    const i = RIDGE_GRID.indexOf(lambda);
    expect(i).toBe(py.ridge.indexOf(Math.max(...py.ridge)));
    const [n, t, d] = val.x.shape;
    expect([weight.shape, bias.shape, weight.dtype]).toEqual([[d, t * d], [d], 'float32']);
    const ours = val.x.reshape([n, t * d]).matmul(weight.t()).add(bias).double();
    const diff = ours.sub(fromBase64(py.ridgePredictions[i], [n, d])).abs().max().item() as number;
    expect(diff).toBeLessThan(1e-4);  // float32 map and data; float64 there
    for (const x of [weight, bias, ours]) x.dispose();
  });

  it('ridge over several row chunks and Gram blocks, and in the kernel form for fewer rows than p', async () => {
    for (const [got, want] of [
      [await computeBaselines(rowsOf(wide.x, wide.y), { val: rowsOf(wideVal.x, wideVal.y) }), py.ridgeWide],
      [await computeBaselines(rowsOf(small.x, small.y), { val: rowsOf(val.x, val.y) }), py.ridgeSmall],
    ] as const) {
      const best = Math.max(...want);
      expect(got.scores.ridge!.val.cosine).toBeCloseTo(best, 5);
      expect(RIDGE_GRID[want.indexOf(best)]).toBe(got.ridgeLambda);
    }
  });

  it('torch.linalg.solve, cholesky and choleskySolve equal PyTorch\'s', () => {
    const close = (got: Tensor, want: Tensor) => expect(got.sub(want).abs().max().item()).toBeLessThan(1e-10);
    close(torch.linalg.solve(A, B), fromBase64(py.solve, [20, 3]));
    const L = torch.linalg.cholesky(A);
    close(L, fromBase64(py.cholesky, [20, 20]));
    close(torch.linalg.choleskySolve(B, L), fromBase64(py.choleskySolve, [20, 3]));
  });
});

describe('bad input', () => {
  it('linalg names what is wrong', () => {
    expect(() => torch.linalg.solve(torch.randn([3, 4]), torch.randn([3]))).toThrow(/square.*\[3, 4\]/);
    expect(() => torch.linalg.cholesky(torch.ones([3, 3], { dtype: 'int64' }))).toThrow(/float32 or float64/);
    expect(() => torch.linalg.cholesky(torch.full([2, 2], -1, { dtype: 'float64' }))).toThrow(/positive-definite|not positive/i);
    expect(() => torch.linalg.solve(torch.zeros([2, 2], { dtype: 'float64' }), torch.ones([2, 1], { dtype: 'float64' }))).toThrow(/singular/i);
  });

  it('scorePredictions refuses mismatched shapes and empty input', async () => {
    await expect(scorePredictions(torch.randn([3, 4]), torch.randn([3, 5]))).rejects.toThrow(/\[3,4\].*\[3,5\]/);
    await expect(scorePredictions(torch.randn([0, 4]), torch.randn([0, 4]))).rejects.toThrow(/no rows/);
  });

  it('a centre that is not [D] is a RangeError naming both shapes', async () => {
    const [p, t] = [torch.randn([3, 4]), torch.randn([3, 4])];
    for (const bad of [torch.randn([5]), torch.randn([1, 4]), torch.zeros([4], { dtype: 'int64' })]) {
      await expect(scorePredictions(p, t, { centre: bad })).rejects.toThrow(RangeError);
    }
    await expect(scorePredictions(p, t, { centre: torch.randn([5]) })).rejects.toThrow(/\[4\].*got \[5\]/);
    await expect(scorePredictions(p, t, { centre: torch.randn([1, 4]) })).rejects.toThrow(/got \[1,4\]/);
    const x = torch.randn([6, 2, 4]);
    const y = torch.randn([6, 4]);
    await expect(computeBaselines(rowsOf(x, y), { val: rowsOf(x, y) }, { centre: torch.randn([3]) })).rejects.toThrow(/\[4\].*got \[3\]/);
  });
});
