// baselines: what fit() spends outside its train steps, on the default corpus (datasets.synthetic({ seed: 0 }),
// split 80/10/10 by document, seed 0: 7,600 train, 950 val and 950 test windows of 5 x 768): computeBaselines()
// (mean, copy-last, ridge with its strength chosen on val, the oracle; scored on val and test), one epoch's val
// score and the final train score (scoreModel with npm start's GRU, d-model 256, 2 layers), each timed with the
// largest gap between the ticks of a 10 ms timer meanwhile (how long the event loop was held). The work, and
// whether it is awaited, is the library's: the same file times an older build whose calls were synchronous.
//
//   npm run bench -- baselines [--rounds=3]
import { formatTable, median, spread } from './lib/harness.js';

export const description = 'computeBaselines() and scoreModel() on the default corpus: seconds, and the longest the event loop was held';

export async function run({ options = {}, log = console.log } = {}) {
  const { computeBaselines, datasets, models, scoreModel, torch } = await import('../dist/index.js');
  const rounds = Number(options.rounds ?? 3);
  const data = datasets.synthetic({ seed: 0 });
  const s = datasets.splitByDocument(data, { train: 0.8, val: 0.1, test: 0.1, seed: 0 });
  torch.manualSeed(0);
  const model = models.gru({ dModel: 256, numLayers: 2 });
  const jobs = {
    'computeBaselines(train, { val, test })': () => computeBaselines(s.train, { val: s.val, test: s.test }),
    'scoreModel(model, val): one epoch\'s score': () => scoreModel(model, s.val),
    'scoreModel(model, train): the final one': () => scoreModel(model, s.train),
  };
  const samples = Object.fromEntries(Object.keys(jobs).map((k) => [k, { seconds: [], held: [] }]));
  log(`  ${torch.getNumThreads()} intra-op threads; train ${s.train.size}, val ${s.val.size}, test ${s.test.size} windows`);
  for (let round = 0; round < rounds; round++) {
    for (const [name, job] of Object.entries(jobs)) {
      const { seconds, held } = await timed(job);
      samples[name].seconds.push(seconds);
      samples[name].held.push(held);
    }
    process.stderr.write(` ${round + 1}`);
  }
  process.stderr.write('\n');
  model.dispose();
  for (const d of [data, s.train, s.val, s.test]) d.dispose();
  const rows = Object.entries(samples).map(([name, v]) => [name, median(v.seconds).toFixed(2), spread(v.seconds, 2),
    (median(v.held) * 1000).toFixed(0)]);
  return {
    table: [`seconds per call on the default corpus, median (min–max) of ${rounds} rounds; held: the largest gap between ` +
      'ticks of a 10 ms timer during the call, ms', '', formatTable(['<call', 's', 'min–max', 'held ms'], rows)].join('\n'),
    results: { rounds, samples },
  };
}

async function timed(job) {
  const started = performance.now();
  let last = started;
  let held = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    held = Math.max(held, now - last);
    last = now;
  }, 10);
  await job();
  const now = performance.now();
  clearInterval(timer);
  return { seconds: (now - started) / 1000, held: Math.max(held, now - last) / 1000 };
}
