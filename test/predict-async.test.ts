// model.predictAsync(): the forward on the compute lane (native/core/lane.h), grad off, in eval mode. What it must give: exactly
// predict()'s answer for every kind of model; an event loop that keeps turning while it computes; many calls in
// flight on one model at once (the native forward only reads the module), each with its own right answer; bad
// input rejected with forward()'s errors, the process alive; a model or input disposed mid-call without harm;
// the train/eval flag JS sees left as it was; what would change the model under running calls refused.
import { describe, expect, it } from 'vitest';

import { models, torch, trainStep, type Tensor, optim } from '../dist/index.js';

const SMALL = { inputDim: 12, outputDim: 10, dModel: 8, numLayers: 2, heads: 2, ffDim: 32, maxLen: 10, dropout: 0.3 };
const KINDS = {
  gru: () => models.gru(SMALL),
  lstm: () => models.lstm(SMALL),
  transformer: () => models.transformer(SMALL),
  mamba2: () => models.mamba2({ ...SMALL, dModel: 16, dState: 8, headdim: 8, chunkSize: 4 }),
  latent_mamba: () => models.latentMamba(SMALL),
};

const same = (a: Tensor, b: Tensor): void => {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  expect(a.toTypedArray()).toEqual(b.toTypedArray());
};

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('predictAsync', () => {
  torch.manualSeed(21);

  it.each(Object.keys(KINDS))('%s: exactly predict() (eval), normalised and raw', async (kind) => {
    const m = KINDS[kind as keyof typeof KINDS]().eval();
    const x = torch.randn([3, 5, 12]);
    same(await m.predictAsync(x), m.predict(x));
    const sync = torch.noGrad(() => m.forward(x, { raw: true }));
    const got = await m.predictAsync(x, { raw: true });
    same(got.raw, sync.raw);
    same(got.normalised, sync.normalised);
    expect(got.normalised.requiresGrad).toBe(false);
    m.dispose();
  });

  it('runs in eval mode on a model in training mode, and leaves its flag as it was', async () => {
    const m = models.latentMamba({ ...SMALL, dropout: 0.5 });
    const x = torch.randn([4, 5, 12]);
    const want = m.eval().predict(x);
    m.train();
    same(await m.predictAsync(x), want);
    expect(m.training).toBe(true);
    // Dropout acts again once the call has settled.
    expect(m.forward(x).toArray()).not.toEqual(m.forward(x).toArray());
    m.dispose();
  });

  it('the event loop turns while a big forward runs', async () => {
    const m = models.latentMamba().eval(); // the seed server's model, 5M parameters
    const x = torch.randn([32, 60, 784]);
    const started = performance.now();
    let done = false;
    const pending = m.predictAsync(x).then((r) => { done = true; return r; });
    let ticks = 0;
    while (!done) {
      await new Promise((r) => setTimeout(r, 2));
      ticks++;
    }
    const ms = performance.now() - started;
    const got = await pending;
    expect(ms, 'the forward takes long enough to mean something').toBeGreaterThan(40);
    expect(ticks, `${ticks} timer ticks in ${ms.toFixed(0)} ms`).toBeGreaterThanOrEqual(5);
    same(got, m.predict(x));
    m.dispose();
  });

  it('200 calls in flight on one model at once all resolve, each with its own answer', async () => {
    const m = models.latentMamba({ inputDim: 784, outputDim: 768, dModel: 64, numLayers: 2 }).eval();
    const inputs = Array.from({ length: 200 }, (_, i) => torch.randn([1 + (i % 4), 2 + (i % 3), 784]));
    const want = inputs.map((x) => m.predict(x));
    const got = await Promise.all(inputs.map((x, i) => (i % 2 ? m.predictAsync(x) : m.predictAsync(x, { raw: true }).then((r) => r.normalised))));
    got.forEach((g, i) => same(g, want[i]));
    m.dispose();
  });

  it.each(Object.keys(KINDS))('%s: 40 concurrent calls equal predict()', async (kind) => {
    const m = KINDS[kind as keyof typeof KINDS]().eval();
    const inputs = Array.from({ length: 40 }, (_, i) => torch.randn([1 + (i % 5), 1 + (i % 7), 12]));
    const want = inputs.map((x) => m.predict(x));
    (await Promise.all(inputs.map((x) => m.predictAsync(x)))).forEach((g, i) => same(g, want[i]));
    m.dispose();
  });

  it('bad input rejects with a clear error; NaN is computed; the process lives on', async () => {
    const m = models.latentMamba(SMALL).eval();
    const shape = await rejection(m.predictAsync(torch.randn([2, 5, 11])));
    expect(shape).toBeInstanceOf(RangeError);
    expect(shape.message).toMatch(/x must be \[batch, context, 12\], got \[2, 5, 11\]/);
    expect((await rejection(m.predictAsync(torch.randn([2, 12])))).message).toMatch(/got \[2, 12\]/);
    expect((await rejection(m.predictAsync(torch.randn([2, 0, 12])))).message).toMatch(/got \[2, 0, 12\]/);
    const dtype = await rejection(m.predictAsync(torch.randn([2, 5, 12], { dtype: 'float64' })));
    expect(dtype).toBeInstanceOf(RangeError);
    expect(dtype.message).toMatch(/x is Double but the model is Float/);
    const ints = await rejection(m.predictAsync(torch.zeros([2, 5, 12], { dtype: 'int64' })));
    expect(ints.message).toMatch(/x is Long but the model is Float/);
    const disposed = torch.randn([2, 5, 12]);
    disposed.dispose();
    expect((await rejection(m.predictAsync(disposed))).message).toMatch(/x was disposed/);
    expect(await rejection(m.predictAsync({} as Tensor))).toBeInstanceOf(Error);
    const nan = torch.randn([2, 5, 12]);
    nan.select(0, 1).fill_(NaN);
    const out = await m.predictAsync(nan);
    const rows = out.toArray() as number[][];
    expect(rows[0].every(Number.isFinite)).toBe(true);
    expect(rows[1].every(Number.isNaN)).toBe(true);
    // After every refusal: nothing left in flight, and the model still answers.
    expect(m.pendingPredictions).toBe(0);
    const x = torch.randn([1, 3, 12]);
    same(await m.predictAsync(x), m.predict(x));
    m.dispose();
    expect((await rejection(m.predictAsync(x))).message).toMatch(/the model was disposed/);
  });

  it('disposing the model and the input mid-call is safe: the running calls resolve with the right answers', async () => {
    const m = models.latentMamba({ inputDim: 784, outputDim: 768, dModel: 128, numLayers: 2 }).eval();
    const inputs = Array.from({ length: 8 }, () => torch.randn([4, 20, 784]));
    const want = inputs.map((x) => m.predict(x));
    const pending = inputs.map((x) => m.predictAsync(x));
    for (const x of inputs) x.dispose();
    m.dispose();
    (await Promise.all(pending)).forEach((g, i) => same(g, want[i]));
    expect(() => m.predict(torch.randn([1, 2, 784]))).toThrow(/disposed/);
  });

  it('while calls run: train() waits for them, to(), loadStateDict(), a training forward and trainStep() are refused', async () => {
    const m: models.NativeModel = models.latentMamba({ inputDim: 784, outputDim: 768, dModel: 128, numLayers: 2, dropout: 0.5 }).eval();
    const x = torch.randn([8, 30, 784]);
    const want = m.predict(x);
    const pending = [m.predictAsync(x), m.predictAsync(x)];
    expect(m.pendingPredictions).toBe(2);
    m.train();
    expect(m.training).toBe(true);
    expect(() => m.forward(x)).toThrow(/predictAsync\(\) calls are running on this model in eval mode/);
    expect(() => m.to('cpu', 'float64')).toThrow(/to\(\) would change the model under 2 running predictAsync/);
    expect(() => m.loadStateDict(m.stateDict())).toThrow(/loadStateDict\(\) would change the model/);
    const opt = new optim.AdamW(m.parameters());
    await expect(trainStep(m, opt, x, torch.randn([8, 768]))).rejects.toThrow(/predictAsync\(\) calls are running/);
    // A call started now still runs in eval mode, though train() was asked for.
    pending.push(m.predictAsync(x));
    (await Promise.all(pending)).forEach((g) => same(g, want));
    expect(m.pendingPredictions).toBe(0);
    // The deferred train() took effect: dropout acts.
    expect(m.forward(x).toArray()).not.toEqual(m.forward(x).toArray());
    m.eval();
    m.to('cpu', 'float64');
    expect((await m.predictAsync(x.to('float64'))).dtype).toBe('float64');
    m.dispose();
  });
});
