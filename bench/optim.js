// optim: one AdamW step (the seed recipe: lr 5e-4, weight decay 0.01) over the seed GRU's 7,359,232 parameters (32
// tensors), gradients from one backward at batch 64: lvmtorch per libtorch variant, by its default path (PyTorch's
// fused CPU kernel on 2.x) and with fused: false (torch.optim's single-tensor path), against torch.optim.AdamW of
// each Python PyTorch: its CPU default (single-tensor), foreach=True, and fused=True where it has a CPU kernel
// (>= 2.4). Interleaved rounds; each sample is the median of --steps steps; the table gives the median over rounds.
// Target: lvmtorch's default step <= 5 ms on the default variant.
//
//   npm run bench -- optim [--rounds=5] [--steps=20] [--batch=64] [--threads=default|N|NxM]
//
// Run as `node bench/optim.js --worker` this file is the lvmtorch worker.
import { fileURLToPath } from 'node:url';

import { formatTable, median, spread, startWorker } from './lib/harness.js';

export const description = 'one AdamW step over the seed GRU (7.4M parameters): lvmtorch fused / single-tensor vs torch.optim default / foreach / fused, ms';

const TARGET_MS = 5;

export async function run({ options = {}, log = console.log } = {}) {
  const { discover, describeThreads, parseSetting, settingLabel, threadArgs, threadEnv } = await import('./lib/variants.js');
  const rounds = Number(options.rounds ?? 5);
  const steps = Number(options.steps ?? 20);
  const B = Number(options.batch ?? 64);
  const setting = parseSetting(options.threads ?? 'default');
  const found = discover();
  const plan = [
    ...found.lvmtorch.map((v) => ({
      id: `lvmtorch ${v.minor}`, kind: 'lvmtorch', minor: v.minor, isDefault: v.isDefault,
      command: process.execPath, args: [fileURLToPath(import.meta.url), '--worker', ...threadArgs(setting)], env: threadEnv(v.env),
      // 1.13 has no fused kernel: its one path is the single-tensor one
      configs: Number(v.minor.split('.')[0]) >= 2
        ? [{ label: 'default (fused kernel)', opts: {}, fusedPath: true }, { label: 'fused: false (single-tensor)', opts: { fused: false } }]
        : [{ label: 'default (single-tensor; no fused kernel)', opts: {} }],
    })),
    ...found.pythons.map((p) => ({
      id: `python ${p.minor}`, kind: 'python', minor: p.minor, isAnchor: p.isAnchor,
      command: p.python, args: ['bench/python/optim.py', ...threadArgs(setting)], env: threadEnv(process.env),
      configs: [
        { label: 'default (single-tensor)', opts: {} },
        { label: 'foreach=True', opts: { foreach: true } },
        ...(versionAtLeast(p.version, 2, 4) ? [{ label: 'fused=True', opts: { fused: true } }] : []),
      ],
    })),
  ];
  const workers = [];
  for (const item of plan) {
    try {
      const w = await startWorker(item.id, item.command, item.args, { env: item.env });
      workers.push({ ...item, worker: w, threads: describeThreads(w.hello) });
      log(`  ${item.id.padEnd(14)} ${settingLabel(setting)}: runs ${describeThreads(w.hello)}, torch ${w.hello.torch ?? w.hello.libtorch}`);
    } catch (e) {
      log(`  skipped: ${item.id}: ${e.message}`);
    }
  }
  const jobs = workers.flatMap((w) => w.configs.map((c) => ({ w, c, key: `${w.id} / ${c.label}`, samples: [] })));
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (let k = 0; k < jobs.length; k++) {
      const job = jobs[(k + round) % jobs.length];
      const r = await job.w.worker.request({ opts: job.c.opts, steps: round === 0 ? 3 : steps, B });
      if (round > 0) job.samples.push(r.ms);
    }
  }
  process.stderr.write('\n');
  await Promise.all(workers.map((w) => w.worker.close()));

  const anchor = jobs.find((j) => j.w.isAnchor && j.c.opts.fused === undefined && j.c.opts.foreach === undefined);
  const anchorFused = jobs.find((j) => j.w.isAnchor && j.c.opts.fused === true);
  const rows = jobs.map((j) => {
    const ms = median(j.samples);
    const target = j.w.kind === 'lvmtorch' && j.w.isDefault && Object.keys(j.c.opts).length === 0
      ? (ms <= TARGET_MS ? 'PASS' : 'MISS') : '';
    return [j.w.id, j.c.label, j.w.threads, ms.toFixed(2), spread(j.samples, 2),
      anchor ? `${(ms / median(anchor.samples)).toFixed(2)}×` : '', anchorFused ? `${(ms / median(anchorFused.samples)).toFixed(2)}×` : '', target];
  });
  const table = [
    `ms per AdamW(lr 5e-4, weight_decay 0.01).step() over the seed GRU (7,359,232 params, 32 tensors; grads of one backward at ` +
      `batch ${B}); each sample the median of ${steps} steps, median (min–max) of ${rounds} interleaved rounds`,
    '',
    formatTable(['<implementation', '<path', '<threads', 'ms', 'min–max',
      `÷ ${anchor ? anchor.w.id : 'python'} default`, `÷ ${anchorFused ? anchorFused.w.id : 'python'} fused`, `≤${TARGET_MS} ms`], rows),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, steps, B, threads: setting.spec }, target: { ms: TARGET_MS },
      results: jobs.map((j) => ({ implementation: j.w.id, path: j.c.label, opts: j.c.opts, threads: j.w.threads, ms: median(j.samples), samples: j.samples })),
    },
  };
}

function versionAtLeast(version, major, minor) {
  const [a, b] = version.split('.').map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

function argValue(name) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? null : Number(a.slice(name.length + 3));
}

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch, models, optim } = await import('../dist/index.js');
  const threads = argValue('threads');
  const blas = argValue('blas');
  if (threads !== null) torch.setNumThreads(threads);
  if (blas !== null) torch.setBlasThreads(blas);
  const d = doctor();
  console.log(JSON.stringify({
    impl: 'lvmtorch', variant: d.variant, libtorch: d.libtorch?.version, threads: torch.getNumThreads(),
    blas: { kind: d.blas?.kind, threads: d.blas?.threads ?? null, core: d.blas?.core?.name ?? null },
  }));
  let model = null;
  const optimizers = new Map();
  for await (const line of createInterface({ input: process.stdin })) {
    const { opts, steps, B } = JSON.parse(line);
    if (model === null) {
      torch.manualSeed(0);
      model = models.gru().train();
      const x = torch.randn([B, 5, model.config.inputDim]);
      torch.tidy(() => model.forward(x, { raw: true }).raw.sum().backward());
      x.dispose();
    }
    const key = JSON.stringify(opts);
    if (!optimizers.has(key)) optimizers.set(key, new optim.AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01, ...opts }));
    const opt = optimizers.get(key);
    opt.step();  // the first step of an optimiser makes its state
    const ms = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      opt.step();
      ms.push(performance.now() - t0);
    }
    console.log(JSON.stringify({ ms: median(ms), min: Math.min(...ms), max: Math.max(...ms) }));
  }
}

if (process.argv.includes('--worker')) await worker();
