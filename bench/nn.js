// nn: the seed GRU written in TypeScript as a composition of torch.nn modules (bench/lib/seed-gru-nn.js) against
// the built-in fused model (models.gru(), the same parameters) and the seed's class in Python PyTorch 2.13 at each
// thread setting: training samples/s (trainStep: the seed's loss, AdamW(5e-4, 0.01), clip 1.0; the composition's
// forward and loss run on the JS thread; backward, clipping and the step one job on the compute lane) at batch 32
// and 64, and forward latency (eval, no graph) at batch 1 and 32. Rounds are interleaved (the order rotated each round); each sample is the
// median of --steps calls; a row gives the median over rounds with min–max.
// Targets (issue 26): the composition >= 0.9x the built-in model's samples/s and >= 1.2x the best Python setting,
// training and forward alike (for latency: the inverse ratio of ms).
//
//   npm run bench -- nn [--rounds=3] [--steps=10] [--train-sizes=32,64] [--forward-sizes=1,32]
//
// Run as `node bench/nn.js --worker [--threads=N]` this file is the lvmtorch worker (the default variant).
import { fileURLToPath } from 'node:url';

import { formatTable, median, spread, startWorker } from './lib/harness.js';

export const description = 'the seed GRU as a TypeScript torch.nn composition vs the built-in fused model and Python 2.13: train samples/s (batch 32, 64) and forward ms (batch 1, 32)';

const TARGET_BUILTIN = 0.9;
const TARGET_PYTHON = 1.2;

export async function run({ options = {}, log = console.log } = {}) {
  const { discover, describeThreads, explicitSettings, threadArgs, threadEnv } = await import('./lib/variants.js');
  const rounds = Number(options.rounds ?? 3);
  const steps = Number(options.steps ?? 10);
  const trainSizes = String(options['train-sizes'] ?? '32,64').split(',').map(Number);
  const forwardSizes = String(options['forward-sizes'] ?? '1,32').split(',').map(Number);
  const found = discover();
  const variant = found.lvmtorch.find((v) => v.isDefault) ?? found.lvmtorch[0];
  const anchor = found.pythons.find((p) => p.isAnchor);
  const plan = [];
  if (variant) {
    plan.push({ id: `lvmtorch ${variant.minor}`, kind: 'lvmtorch', impls: ['nn', 'builtin'], command: process.execPath,
      args: [fileURLToPath(import.meta.url), '--worker'], env: threadEnv(variant.env) });
  }
  for (const s of anchor ? explicitSettings(anchor.openblas, 2) : []) {
    plan.push({ id: `python ${anchor.minor} ${s.spec}`, kind: 'python', impls: ['python'], command: anchor.python,
      args: ['bench/python/nn.py', ...threadArgs(s)], env: threadEnv(process.env) });
  }
  const workers = [];
  for (const item of plan) {
    try {
      const w = await startWorker(item.id, item.command, item.args, { env: item.env });
      workers.push({ ...item, worker: w, threads: describeThreads(w.hello) });
      log(`  ${item.id.padEnd(20)} runs ${describeThreads(w.hello)}, torch ${w.hello.torch ?? w.hello.libtorch}`);
    } catch (e) {
      log(`  skipped: ${item.id}: ${e.message}`);
    }
  }
  const cases = [...trainSizes.map((B) => ({ mode: 'train', B })), ...forwardSizes.map((B) => ({ mode: 'forward', B }))];
  const jobs = workers.flatMap((w) => w.impls.flatMap((impl) => cases.map((c) => ({ w, impl, ...c, samples: [] }))));
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (let k = 0; k < jobs.length; k++) {
      const job = jobs[(k + round) % jobs.length];
      const r = await job.w.worker.request({ impl: job.impl, mode: job.mode, B: job.B, steps: round === 0 ? 2 : steps });
      if (round > 0) job.samples.push(r.ms);
    }
  }
  process.stderr.write('\n');
  await Promise.all(workers.map((w) => w.worker.close()));

  const ms = (j) => median(j.samples);
  const find = (impl, c) => jobs.filter((j) => j.impl === impl && j.mode === c.mode && j.B === c.B);
  const rows = [];
  const verdicts = [];
  for (const c of cases) {
    const [nn] = find('nn', c), [builtin] = find('builtin', c);
    const pythons = find('python', c);
    const best = pythons.length ? pythons.reduce((a, b) => (ms(a) <= ms(b) ? a : b)) : undefined;
    const rate = (j) => (c.mode === 'train' ? `${(c.B / (ms(j) / 1000)).toFixed(0)}/s` : '');
    for (const j of [nn, builtin, ...pythons].filter(Boolean)) {
      const label = j.impl === 'nn' ? 'TypeScript nn composition' : j.impl === 'builtin' ? 'built-in models.gru() (fused)' : `${j.w.id}${j === best ? ' (best)' : ''}`;
      const vsBuiltin = j === nn && builtin ? ms(builtin) / ms(nn) : undefined;
      const vsPython = j !== best && best && j.impl !== 'python' ? ms(best) / ms(j) : undefined;
      rows.push([c.mode, c.B, label, j.threads, ms(j).toFixed(2), spread(j.samples, 2), rate(j),
        vsBuiltin === undefined ? '' : `${vsBuiltin.toFixed(2)}×`, vsPython === undefined ? '' : `${vsPython.toFixed(2)}×`]);
      if (j === nn) {
        verdicts.push({ mode: c.mode, B: c.B, vsBuiltin, vsPython,
          pass: (vsBuiltin ?? 0) >= TARGET_BUILTIN && (vsPython ?? 0) >= TARGET_PYTHON });
      }
    }
  }
  const table = [
    `the seed GRU (7,359,232 parameters): ms per train step (trainStep, the seed's loss, AdamW, clip 1) or per forward ` +
      `(eval, no graph); each sample the median of ${steps} calls, median (min–max) of ${rounds} interleaved rounds; ` +
      `"÷ built-in" and "÷ best python" are speed ratios (> 1: the row is faster); targets for the composition: ` +
      `>= ${TARGET_BUILTIN}× the built-in and >= ${TARGET_PYTHON}× the best Python`,
    '',
    formatTable(['<mode', 'batch', '<implementation', '<threads', 'ms', 'min–max', 'samples/s', '÷ built-in', '÷ best python'], rows),
    '',
    `targets: ${verdicts.map((v) => `${v.mode} B=${v.B} ${v.pass ? 'PASS' : 'MISS'}`).join(', ')}`,
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, steps, trainSizes, forwardSizes }, targets: { builtin: TARGET_BUILTIN, python: TARGET_PYTHON }, verdicts,
      results: jobs.map((j) => ({ worker: j.w.id, impl: j.impl, mode: j.mode, B: j.B, threads: j.threads, ms: ms(j), samples: j.samples })),
    },
  };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, LOSS_PRESETS, models, nn, optim, torch, trainStep } = await import('../dist/index.js');
  const { seedGruClass } = await import('./lib/seed-gru-nn.js');
  const threads = process.argv.find((a) => a.startsWith('--threads='));
  if (threads) torch.setNumThreads(Number(threads.slice(10)));
  const d = doctor();
  console.log(JSON.stringify({
    impl: 'lvmtorch', variant: d.variant, libtorch: d.libtorch?.version, threads: torch.getNumThreads(),
    blas: { kind: d.blas?.kind, threads: d.blas?.threads ?? null },
  }));
  torch.manualSeed(0);
  const builtin = models.gru({ dropout: 0 });
  const composed = new (seedGruClass(nn))();
  composed.loadStateDict(builtin.stateDict());
  const state = {
    builtin: { model: builtin, opt: new optim.AdamW(builtin.parameters(), { lr: 5e-4, weightDecay: 0.01 }) },
    nn: { model: composed, opt: new optim.AdamW(composed.parameters(), { lr: 5e-4, weightDecay: 0.01 }) },
  };
  for await (const line of createInterface({ input: process.stdin })) {
    const { impl, mode, B, steps } = JSON.parse(line);
    const { model, opt } = state[impl];
    const x = torch.randn([B, 5, 768]), y = torch.randn([B, 768]);
    const times = [];
    if (mode === 'train') model.train();
    else model.eval();
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      if (mode === 'train') await trainStep(model, opt, x, y, { weights: LOSS_PRESETS.seed, clipNorm: 1 });
      else if (impl === 'builtin') (await model.predictAsync(x)).dispose();
      else torch.tidy(() => torch.noGrad(() => model.forward(x).normalize({ dim: 1 })));
      times.push(performance.now() - t0);
    }
    x.dispose();
    y.dispose();
    console.log(JSON.stringify({ ms: median(times) }));
  }
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) await worker();
