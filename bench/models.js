// models: forward + backward of each LVM at the seed's sizes (models.gru(), lstm(), transformer(), mamba2()), batch
// 32, context 5, train mode, against the seed's Python classes in PyTorch (bench/python/models.py) on the same
// thread settings; interleaved rounds, medians, printed as ratios. Target: lvmtorch <= 1.0x Python's time.
//
//   npm run bench -- models [--rounds=3] [--sample=1] [--batch=32] [--kinds=gru,lstm,transformer,mamba2] [--threads=1] [--blas=2]
//
// Run as `node bench/models.js --worker` this file is the lvmtorch worker.
import { fileURLToPath } from 'node:url';

import { formatTable, median, startWorker, timeRepeated } from './lib/harness.js';

export const description = 'forward+backward of each model at the seed\'s sizes vs the seed\'s Python classes';

const TARGET = 1.0;

export async function run({ options = {}, log = console.log } = {}) {
  // Python PyTorch of the libtorch this process loads by default (2.13 here): like for like with lvmtorch's worker.
  const python = (await import('./lib/variants.js')).defaultPython();
  const rounds = Number(options.rounds ?? 3);
  const sample = Number(options.sample ?? 1);
  const B = Number(options.batch ?? 32);
  const threads = Number(options.threads ?? 1);
  const blasThreads = Number(options.blas ?? 2);
  const { models } = await import('../dist/index.js');
  const kinds = String(options.kinds ?? ['gru', 'lstm', 'transformer', 'mamba2'].filter((k) => k in models).join(','))
    .split(',');
  const configs = Object.fromEntries(kinds.map((k) => { const m = models[k](); const c = { ...m.config }; m.dispose(); return [k, c]; }));
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(blasThreads) };
  const workers = {
    lvmtorch: await startWorker('lvmtorch', process.execPath, [fileURLToPath(import.meta.url), '--worker'], { env }),
    python: await startWorker('python', python, ['bench/python/models.py'], { env }),
  };
  for (const w of Object.values(workers)) log(`  ${w.name}: ${JSON.stringify(w.hello)}`);
  const samples = Object.fromEntries(kinds.map((k) => [k, { lvmtorch: [], python: [] }]));
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (const kind of kinds) {
      for (const impl of round % 2 ? ['python', 'lvmtorch'] : ['lvmtorch', 'python']) {
        const r = await workers[impl].request({ kind, config: configs[kind], B, threads, blasThreads, seconds: round === 0 ? 0.2 : sample });
        if (round > 0) samples[kind][impl].push(r.ms);
      }
    }
  }
  process.stderr.write('\n');
  await Promise.all(Object.values(workers).map((w) => w.close()));
  const rows = [];
  const results = [];
  for (const kind of kinds) {
    const ours = median(samples[kind].lvmtorch);
    const py = median(samples[kind].python);
    const ratio = ours / py;
    rows.push([kind, ours.toFixed(1), py.toFixed(1), `${ratio.toFixed(2)}×`, ratio <= TARGET ? 'PASS' : 'MISS']);
    results.push({ kind, config: configs[kind], lvmtorchMs: ours, pythonMs: py, ratio, samples: samples[kind] });
  }
  const table = [
    `ms per forward+backward, [${B}, 5, 768] float32, train mode; median of ${rounds} interleaved rounds of ~${sample} s; ` +
      `${threads} intra-op thread(s), ${blasThreads} BLAS thread(s) on both sides`,
    '',
    formatTable(['<model', 'lvmtorch', 'python', 'lvmtorch ÷ python', `≤${TARGET}×`], rows),
  ].join('\n');
  return { table, results: { config: { rounds, sample, B, threads, blasThreads }, target: { overPython: TARGET }, results } };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { torch, models } = await import('../dist/index.js');
  console.log(JSON.stringify({ impl: 'lvmtorch', node: process.version }));
  const built = new Map();
  for await (const line of createInterface({ input: process.stdin })) {
    const { kind, config, B, seconds, threads, blasThreads } = JSON.parse(line);
    torch.setNumThreads(threads);
    torch.setBlasThreads(blasThreads);
    if (!built.has(kind)) {
      torch.manualSeed(0);
      built.set(kind, models[kind](config).train());
    }
    const model = built.get(kind);
    const params = model.parameters();
    const x = torch.randn([B, 5, config.inputDim]);
    const once = () => {
      torch.tidy(() => model.forward(x, { raw: true }).raw.sum().backward());
      for (const p of params) p.grad = null;
    };
    const r = timeRepeated(once, seconds);
    x.dispose();
    console.log(JSON.stringify(r));
  }
}

if (process.argv.includes('--worker')) await worker();
