// distributed: data-parallel training of the seed GRU (7,359,232 parameters) on this machine, the honest comparison
// on 2 cores: two ranks of one thread each (lvmtorch's World: TCPStore + Gloo, gradients all-reduced in buckets
// while backward runs) against one rank of two threads, and the same against what a PyTorch user runs instead,
// torchrun-style DistributedDataParallel on gloo (bench/python/distributed.py), all at the same global batch and on
// the same data file; then the all-reduce rate of a gradient-sized tensor (29.4 MB) between two ranks, lvmtorch's
// World.allReduce against dist.all_reduce. Each job starts its ranks afresh (rendezvous, warm-up steps, then one
// timed epoch between barriers); the jobs are interleaved in rounds, the order rotated each round; medians with
// min–max.
//
//   npm run bench -- distributed [--rounds=3] [--rows=1024] [--sizes=32,128] [--warmup-steps=3] [--iters=10]
//
// Run as `node bench/distributed.js --worker '<json>'` this file is one lvmtorch rank (torchrun's variables in its
// environment); rank 0 prints the result line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, outDir, rootDir, spread } from './lib/harness.js';
import { writeRandomWindows } from './lib/data.js';

export const description = 'data-parallel training of the seed GRU: 2 ranks x 1 thread vs 1 rank x 2 threads, lvmtorch (World, Gloo) vs PyTorch DDP (gloo), samples/s, and all-reduce bytes/s';

const SELF = fileURLToPath(import.meta.url);
const GRADIENT_BYTES = 7_359_232 * 4;  // the seed GRU's gradients, float32

export async function run({ options = {}, log = console.log } = {}) {
  const { discover, anchorPython } = await import('./lib/variants.js');
  const { freePort } = await import('../dist/torch/distributed/launch.js');
  const rounds = Number(options.rounds ?? 3);
  const rows = Number(options.rows ?? 1024);
  const sizes = String(options.sizes ?? '32,128').split(',').map(Number);
  const warmup = Number(options['warmup-steps'] ?? 3);
  const iters = Number(options.iters ?? 10);
  const python = anchorPython(discover());
  const jobs = [
    { id: 'lvmtorch, 1 rank x 2 threads', impl: 'lvmtorch', ranks: 1, threads: 2 },
    { id: 'lvmtorch, 2 ranks x 1 thread', impl: 'lvmtorch', ranks: 2, threads: 1 },
    { id: `PyTorch ${python.minor}, 1 process x 2 threads`, impl: 'python', ranks: 1, threads: 2 },
    { id: `PyTorch ${python.minor} DDP, 2 ranks x 1 thread`, impl: 'python', ranks: 2, threads: 1 },
  ];
  const file = join(outDir, 'distributed-data.npz');
  await writeRandomWindows(file, rows);
  log(`  ${rows} rows per epoch, global batch ${sizes.join(' and ')}; ${rounds} rounds; Python: ${python.python} (torch ${python.version})`);

  const samples = Object.fromEntries(sizes.map((B) => [B, Object.fromEntries(jobs.map((j) => [j.id, []]))]));
  const allreduce = Object.fromEntries(jobs.filter((j) => j.ranks > 1).map((j) => [j.id, []]));
  for (let round = 1; round <= rounds; round++) {
    const t0 = Date.now();
    process.stderr.write(` ${round}`);
    for (const [i, B] of sizes.entries()) {
      for (let k = 0; k < jobs.length; k++) {
        const job = jobs[(k + round) % jobs.length];
        const req = { file, B, warmup, threads: job.threads, iters, allreduceBytes: i === 0 ? GRADIENT_BYTES : 0 };
        const r = await runJob(job, req, python.python, await freePort());
        samples[B][job.id].push(r.samplesPerSecond);
        if (r.allreduce) allreduce[job.id].push(r.allreduce.bytes / r.allreduce.seconds);
      }
    }
    process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');

  const base = jobs[0].id;
  const ddp = jobs[3].id;
  const tableRows = [];
  const results = [];
  for (const B of sizes) {
    for (const job of jobs) {
      const s = samples[B][job.id];
      const m = median(s);
      const row = { B, job: job.id, median: m, min: Math.min(...s), max: Math.max(...s),
        vsOneRank: m / median(samples[B][base]), vsPythonDdp: m / median(samples[B][ddp]) };
      results.push(row);
      tableRows.push([B, job.id, m.toFixed(1), spread(s, 1), `${row.vsOneRank.toFixed(2)}x`,
        job.impl === 'lvmtorch' && job.ranks > 1 ? `${row.vsPythonDdp.toFixed(2)}x` : '']);
    }
  }
  const table = formatTable(['global batch', '<job', 'samples/s', 'min–max', 'vs lvmtorch 1 rank', 'vs PyTorch DDP'], tableRows);
  const rate = Object.entries(allreduce).map(([id, xs]) =>
    `${id}: ${(median(xs) / 1e6).toFixed(0)} MB/s (${xs.map((x) => (x / 1e6).toFixed(0)).join(', ')})`).join('; ');
  return {
    table: `${table}\n\nall-reduce of ${(GRADIENT_BYTES / 1e6).toFixed(1)} MB between 2 ranks (median of ${iters}, per round): ${rate}`,
    results: { rows, sizes, warmup, python: python.version, samples: results, allreduce },
  };
}

// The ranks of one job, started as torchrun starts them; resolves with rank 0's result line.
function runJob(job, req, python, port) {
  const command = job.impl === 'lvmtorch' ? process.execPath : python;
  const args = job.impl === 'lvmtorch' ? [SELF, '--worker', JSON.stringify(req)]
    : [join(rootDir, 'bench/python/distributed.py'), JSON.stringify(req)];
  const ranks = Array.from({ length: job.ranks }, (_, rank) => new Promise((resolve, reject) => {
    const env = job.ranks > 1
      ? { ...process.env, RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(job.ranks), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) }
      : process.env;
    const child = spawn(command, args, { cwd: rootDir, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${job.id}: rank ${rank} exited with ${code}`))));
  }));
  return Promise.all(ranks).then((outs) => JSON.parse(outs[0].trim().split('\n').at(-1)));
}

// ---- one lvmtorch rank --------------------------------------------------------------------------------------

async function worker(req) {
  const { models, torch, trainStep, LOSS_PRESETS, optim } = await import('../dist/index.js');
  const { World } = await import('../dist/torch/distributed/index.js');
  torch.setNumThreads(req.threads);
  const options = World.fromEnv();
  const world = options && await World.init(options);
  const n = world?.worldSize ?? 1;
  const rank = world?.rank ?? 0;
  const { context_sequences: xAll, target_vectors: yAll } = torch.loadNpz(req.file);
  torch.manualSeed(0);
  const model = models.gru();
  await world?.broadcast(model.parameters(), 0);
  const opt = new optim.AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01 });
  const b = req.B / n;
  const mine = Array.from({ length: Math.ceil((xAll.shape[0] - rank) / n) }, (_, i) => rank + i * n);  // DistributedSampler's share
  const steps = Math.floor(mine.length / b);
  const step = async (rows) => {
    const idx = torch.tensor(rows, { dtype: 'int64' });
    const x = xAll.indexSelect(0, idx);
    const y = yAll.indexSelect(0, idx);
    await trainStep(model, opt, x, y, { weights: LOSS_PRESETS.cosine, clipNorm: 1, world });
    for (const t of [idx, x, y]) t.dispose();
  };
  for (let s = 0; s < req.warmup; s++) await step(mine.slice(s * b, (s + 1) * b));
  await world?.barrier();
  const t0 = performance.now();
  const order = shuffle(mine);
  for (let s = 0; s < steps; s++) await step(order.slice(s * b, (s + 1) * b));
  await world?.barrier();
  const seconds = (performance.now() - t0) / 1000;
  let allreduce = null;
  if (world && req.allreduceBytes) {
    const t = torch.ones([req.allreduceBytes / 4]);
    await world.allReduce([t]);
    const times = [];
    for (let i = 0; i < req.iters; i++) {
      const t1 = performance.now();
      await world.allReduce([t]);
      times.push((performance.now() - t1) / 1000);
    }
    allreduce = { bytes: req.allreduceBytes, seconds: median(times) };
  }
  const rows = steps * b * n;
  if (rank === 0) console.log(JSON.stringify({ rows, seconds, samplesPerSecond: rows / seconds, allreduce }));
  world?.close();
}

function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

if (process.argv[2] === '--worker' && process.argv[1] === SELF) await worker(JSON.parse(process.argv[3]));
