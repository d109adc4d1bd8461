// Evaluation off the JS thread: the baselines, the scoring and the model's forwards are native jobs on the
// compute lane (native/core/lane.h), so the event loop keeps turning during a whole fit() (baselines, every epoch's val score, the
// final scores) and during evaluate(); the jobs hold what they were given, so disposing it from JS mid-job is
// safe. The numbers themselves are checked against numpy/PyTorch in baselines.test.ts.
import { describe, expect, it } from 'vitest';

import { computeBaselines, datasets, evaluate, models, scoreModel, scorePredictions, torch, Trainer } from '../dist/index.js';

// 120 documents of 24 sentences: 2,280 windows of 5 x 768, about 1,820 train rows. The old synchronous baselines
// held the JS thread for seconds here (4.7 s measured, the machine busy: the N x N ridge kernel from 1,820 x 3,840
// rows, four solves).
const corpus = () => datasets.synthetic({ seed: 2, docs: 120 });
const TINY = { dModel: 16, numLayers: 1, dropout: 0 };

// The longest the event loop may go without a 10 ms timer firing once the call has returned its Promise. What
// still runs on the JS thread between awaits is small: a batch gathered (1,024 x 5 x 768 floats), a cat of the
// predictions, a history entry, each a few milliseconds: 12-25 ms measured quiet, up to 245 ms with both cores busy
// (vitest runs test files in parallel). 1,000 ms leaves room for that and still catches any synchronous baselines
// or scoring on this corpus (3.2 and 4.7 s, before).
const MAX_GAP_MS = 1000;
// The call's synchronous start, before its first await: fit() splits the data by document and validates each
// split there (lib/data: 50 ms here on a quiet machine, up to 300 ms measured with both cores busy elsewhere).
const MAX_SYNC_MS = 1500;

/**
 * Runs `work` with a 10 ms interval timer: how long its synchronous start took (no timer can fire meanwhile), and
 * then the largest gap between two ticks until its Promise settled.
 */
async function withTimer<T>(work: () => Promise<T>): Promise<{ result: T; syncMs: number; maxGap: number; ticks: number; ms: number }> {
  let last = 0;
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 10);
  try {
    const started = performance.now();
    const pending = work();
    last = performance.now();
    const syncMs = last - started;
    const result = await pending;
    const now = performance.now();
    return { result, syncMs, maxGap: Math.max(maxGap, now - last), ticks, ms: now - started };
  } finally {
    clearInterval(timer);
  }
}

describe('the event loop stays free', () => {
  it('during a whole fit(): baselines, every epoch, the final scores', async () => {
    const data = corpus();
    torch.manualSeed(0);
    const model = models.gru(TINY);
    const phases: string[] = [];
    const trainer = new Trainer(model, {
      epochs: 2, batchSize: 128, seed: 0,
      callbacks: { onTrainBegin: () => { phases.push('baselines'); }, onEpochEnd: (e) => { phases.push(`epoch ${e}`); } },
    });
    const { result, syncMs, maxGap, ticks, ms } = await withTimer(() => trainer.fit(data));
    expect(phases).toEqual(['baselines', 'epoch 1', 'epoch 2']);
    expect(result.baselines.scores.ridge!.val.cosine).toBeGreaterThan(result.baselines.scores.mean!.val.cosine);
    expect(Number.isFinite(result.scores.train.cosine)).toBe(true);
    // Every score of the run is centred on the train targets' mean: the mean baseline's is about 0 there.
    expect(Math.abs(result.baselines.scores.mean!.val.centredCosine)).toBeLessThan(0.05);
    expect(result.baselines.scores.mean!.val.cosine).toBeGreaterThan(0.4);
    expect(result.baselines.scores.ridge!.val.centredCosine).toBeGreaterThan(result.baselines.scores.mean!.val.centredCosine + 0.2);
    for (const split of ['train', 'val', 'test'] as const) expect(Number.isFinite(result.scores[split]!.centredCosine), split).toBe(true);
    expect(result.history.map((h) => h.val_centred_cosine).every(Number.isFinite)).toBe(true);
    expect(syncMs, 'fit()\'s synchronous start').toBeLessThan(MAX_SYNC_MS);
    expect(maxGap, `largest gap between 10 ms ticks over a ${ms.toFixed(0)} ms fit()`).toBeLessThan(MAX_GAP_MS);
    expect(ticks).toBeGreaterThan((ms - syncMs) / 10 / 4);
    model.dispose();
    data.dispose();
  });

  it('during evaluate()', async () => {
    const data = corpus();
    torch.manualSeed(0);
    const model = models.gru(TINY);
    const { result, syncMs, maxGap, ms } = await withTimer(() => evaluate(model, data, { seed: 0 }));
    expect(result.scores.test).toBeDefined();
    expect(result.baselines.scores.oracle!.val.cosine).toBeGreaterThan(result.baselines.scores.ridge!.val.cosine);
    expect(Math.abs(result.baselines.scores.mean!.test!.centredCosine)).toBeLessThan(0.05);
    expect(result.baselines.scores.oracle!.val.centredCosine).toBeGreaterThan(0.8);
    expect(result.baselines.scores.oracle!.val.medianRank).toBe(1);
    expect(syncMs, 'evaluate()\'s synchronous start').toBeLessThan(MAX_SYNC_MS);
    expect(maxGap, `largest gap between 10 ms ticks over a ${ms.toFixed(0)} ms evaluate()`).toBeLessThan(MAX_GAP_MS);
    model.dispose();
    data.dispose();
  });
});

describe('disposing from JS mid-job', () => {
  it('scorePredictions: the job holds pred and target', async () => {
    torch.manualSeed(5);
    const pred = torch.randn([3000, 64]);
    const target = pred.add(torch.randn([3000, 64]));
    const want = await scorePredictions(pred, target);
    const [p, t] = [pred.clone(), target.clone()];
    const pending = scorePredictions(p, t);
    p.dispose();
    t.dispose();
    expect(await pending).toEqual(want);
    pred.dispose();
    target.dispose();
  });

  it('computeBaselines: the job holds the datasets\' vectors, indices and oracle', async () => {
    const split = (d: ReturnType<typeof corpus>) => datasets.splitByDocument(d, { train: 0.8, val: 0.1, test: 0.1, seed: 0 });
    const a = corpus();
    const s = split(a);
    const want = await computeBaselines(s.train, { val: s.val, test: s.test });
    for (const d of [a, s.train, s.val, s.test]) d.dispose();

    const b = corpus();
    const t = split(b);
    const pending = computeBaselines(t.train, { val: t.val, test: t.test });
    for (const d of [b, t.train, t.val, t.test]) d.dispose();  // the last holders of the vectors' handle
    expect(await pending).toEqual(want);
  });

  it('scoreModel: a model disposed mid-scoring finishes the forward it runs; a later one says it was disposed', async () => {
    const data = corpus();
    const s = datasets.splitByDocument(data, { train: 0.8, val: 0.1, test: 0.1, seed: 0 });
    torch.manualSeed(0);
    const make = () => { torch.manualSeed(0); return models.gru(TINY); };
    const reference = make();
    const want = await scoreModel(reference, s.val);
    reference.dispose();

    expect(s.val.size).toBeLessThanOrEqual(1024);  // one forward
    expect(s.train.size).toBeGreaterThan(1024);  // two
    const before = torch.memory().tensors;
    const one = make();
    const pending = scoreModel(one, s.val);
    one.dispose();
    expect(await pending).toEqual(want);

    const many = make();
    const failing = scoreModel(many, s.train);
    many.dispose();
    await expect(failing).rejects.toThrow(/disposed/);
    expect(torch.memory().tensors, 'no tensor left behind').toBeLessThanOrEqual(before);
    for (const d of [data, s.train, s.val, s.test]) d.dispose();
  });
});
