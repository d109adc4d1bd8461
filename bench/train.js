// train: samples/s of one full training epoch of the seed's GRU (7,359,232 parameters) at batch 32 and 64, lvmtorch
// (the Trainer's loop: batches gathered natively, each step one native call off the JS thread) against the same
// loop in Python PyTorch (bench/python/train.py), on the same data file and thread settings, interleaved in rounds;
// medians reported. The loss is the seed's (InfoNCE 1, moment 0.1, variance 0.01), AdamW(5e-4, 0.01), clip 1.0.
//
//   npm run bench -- train [--rounds=3] [--rows=2048] [--sizes=32,64] [--threads=1] [--blas=2]
//
// DESIGN.md measured OMP 1 + BLAS 2 as the fastest split of these 2 cores for this step; both sides use the
// same split. Run as `node bench/train.js --worker` this file is the lvmtorch worker.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, outDir, startWorker } from './lib/harness.js';

export const description = 'one training epoch of the seed GRU: lvmtorch Trainer loop vs Python PyTorch, samples/s';

const TARGET = 1.1; // lvmtorch >= 1.10 x Python's samples/s on CPU

export async function run({ options = {}, log = console.log } = {}) {
  const rounds = Number(options.rounds ?? 3);
  const rows = Number(options.rows ?? 2048);
  const sizes = String(options.sizes ?? '32,64').split(',').map(Number);
  const threads = Number(options.threads ?? 1);
  const blasThreads = Number(options.blas ?? 2);
  const file = join(outDir, 'train-data.npz');
  await writeData(file, rows);
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(blasThreads) };
  const workers = {
    lvmtorch: await startWorker('lvmtorch', process.execPath, [fileURLToPath(import.meta.url), '--worker'], { env }),
    python: await startWorker('python', '/usr/bin/python3', ['bench/python/train.py'], { env }),
  };
  for (const w of Object.values(workers)) log(`  ${w.name}: ${JSON.stringify(w.hello)}`);
  const samples = Object.fromEntries(sizes.map((B) => [B, { lvmtorch: [], python: [] }]));
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (const B of sizes) {
      const order = round % 2 ? ['python', 'lvmtorch'] : ['lvmtorch', 'python'];
      for (const impl of order) {
        const r = await workers[impl].request({ file, B, threads, blasThreads });
        if (round > 0) samples[B][impl].push(r.samplesPerSecond);
      }
    }
  }
  process.stderr.write('\n');
  await Promise.all(Object.values(workers).map((w) => w.close()));

  const tableRows = [];
  const results = [];
  for (const B of sizes) {
    const ours = median(samples[B].lvmtorch);
    const py = median(samples[B].python);
    const ratio = ours / py;
    tableRows.push([`B=${B}`, ours.toFixed(0), py.toFixed(0), `${ratio.toFixed(2)}×`, ratio >= TARGET ? 'PASS' : 'MISS']);
    results.push({ B, lvmtorch: ours, python: py, ratio, samples: samples[B] });
  }
  const table = [
    `samples/s over one epoch of ${rows} rows (seed GRU, [B, 5, 768]); median of ${rounds} rounds; ` +
      `${threads} intra-op thread(s), ${blasThreads} BLAS thread(s) on both sides`,
    '',
    formatTable(['<batch', 'lvmtorch', 'python', 'lvmtorch ÷ python', `≥${TARGET}×`], tableRows),
  ].join('\n');
  return { table, results: { config: { rounds, rows, sizes, threads, blasThreads }, target: { overPython: TARGET }, results } };
}

// Random unit vectors: speed does not depend on what the vectors say.
async function writeData(file, rows) {
  const { torch, saveNpz } = await import('../dist/index.js');
  torch.manualSeed(0);
  torch.tidy(() => saveNpz({
    context_sequences: torch.randn([rows, 5, 768]).normalize({ dim: 2 }),
    target_vectors: torch.randn([rows, 768]).normalize({ dim: 1 }),
  }, file));
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { torch, models, AdamW, trainStep, loadNpz, SEED_COMPOSITE_WEIGHTS } = await import('../dist/index.js');
  console.log(JSON.stringify({ impl: 'lvmtorch', node: process.version }));
  const data = new Map();
  for await (const line of createInterface({ input: process.stdin })) {
    const { file, B, threads, blasThreads } = JSON.parse(line);
    torch.setNumThreads(threads);
    torch.setBlasThreads(blasThreads);
    if (!data.has(file)) data.set(file, loadNpz(file));
    const { context_sequences: xAll, target_vectors: yAll } = data.get(file);
    torch.manualSeed(0);
    const model = models.gru();
    const opt = new AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01 });
    const n = xAll.shape[0];
    const t0 = performance.now();
    const order = shuffled(n, torch);
    let loss = 0;
    for (let s = 0; s + B <= n; s += B) {
      const idx = order.slice(0, s, s + B);
      const x = xAll.indexSelect(0, idx);
      const y = yAll.indexSelect(0, idx);
      loss = (await trainStep(model, opt, x, y, { weights: SEED_COMPOSITE_WEIGHTS, clipNorm: 1 })).loss;
      idx.dispose();
      x.dispose();
      y.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    const rows = Math.floor(n / B) * B;
    order.dispose();
    opt.dispose();
    model.dispose();
    console.log(JSON.stringify({ rows, seconds, samplesPerSecond: rows / seconds, loss }));
  }
}

function shuffled(n, torch) {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return torch.tensor(a, { dtype: 'int64' });
}

if (process.argv.includes('--worker')) await worker();
