// train: samples/s of one full training epoch of the seed's GRU (7,359,232 parameters) at batch 32 and 64, lvmtorch
// (the Trainer's loop: batches gathered natively, each step one native call off the JS thread) on EACH libtorch
// variant this machine has a binary and a libtorch for, against the same loop in Python PyTorch
// (bench/python/train.py) on each Python PyTorch found (pip's 2.13 in .venv, Debian's 1.13 in /usr/bin/python3),
// on the same data file, all interleaved in rounds (the order rotated each round); medians with min–max.
// The loss is the seed's (InfoNCE 1, moment 0.1, variance 0.01), AdamW(5e-4, 0.01), clip 1.0.
//
//   npm run bench -- train [--rounds=3] [--rows=1024] [--sizes=32,64] [--warmup-steps=4]
//                          [--variants=torch-2.13-cpu,torch-1.13-cpu] [--lvmtorch=auto] [--python=auto] [--python-other=1x2]
//
// Threads. Each worker process runs at one thread setting for its whole life, set through the API at startup:
// 'default' (nothing set: what the process gets by itself), 'N' (N intra-op threads; MKL follows them) or 'NxM'
// (N intra-op threads and an OpenBLAS pool of M: Debian's 1.13, where the two pools are separate and 2 + 2 threads
// on 2 cores fight, see DESIGN.md "Threads").
//   --lvmtorch       per variant: 'auto' = its defaults plus every explicit setting ({1,2} intra-op, x {1,2}
//                    OpenBLAS where it has OpenBLAS), 'default' = its defaults only, or a list ('default,1x2')
//   --python         the newest Python PyTorch (the anchor, 2.13): 'auto' = each of its sensible settings; per row
//                    the best median is the anchor the targets are measured against
//   --python-other   the other Pythons (1.13): default '1x2' with OpenBLAS (DESIGN.md's fastest), else 'auto'
// The target is about lvmtorch at its defaults (what a user gets): >= 1.0x the best Python 2.13 setting.
//
// Run as `node bench/train.js --worker [--threads=N] [--blas=M]` this file is the lvmtorch worker (the variant is
// the one its environment selects: LIBTORCH).
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, outDir, spread, startWorker } from './lib/harness.js';

export const description = 'one training epoch of the seed GRU: lvmtorch per libtorch variant vs Python PyTorch 2.13 (best threads) and 1.13, samples/s';

const TARGET = 1.0; // lvmtorch at its defaults >= 1.0 x the best Python 2.13's samples/s on CPU

export async function run({ options = {}, log = console.log } = {}) {
  const { discover, DEFAULTS, describeThreads, explicitSettings, parseSetting, settingLabel, settingsFrom, threadArgs, threadEnv } =
    await import('./lib/variants.js');
  const rounds = Number(options.rounds ?? 3);
  const rows = Number(options.rows ?? 1024);
  const sizes = String(options.sizes ?? '32,64').split(',').map(Number);
  const warmupSteps = Number(options['warmup-steps'] ?? 4);
  const cores = cpus().length;
  if (options.threads !== undefined || options.blas !== undefined) {
    log('  note: --threads/--blas are no longer read: use --lvmtorch=, --python=, --python-other= (e.g. 1x2)');
  }

  const found = discover();
  const wanted = options.variants ? String(options.variants).split(',') : null;
  const variants = found.lvmtorch.filter((v) => !wanted || wanted.includes(v.variant));
  for (const v of found.lvmtorch) if (!variants.includes(v)) log(`  skipped: lvmtorch ${v.variant} (not in --variants)`);

  // The plan: one worker process per (implementation, thread setting).
  const plan = [];
  for (const v of variants) {
    const extra = options.lvmtorch === 'default' ? []
      : settingsFrom(options.lvmtorch, explicitSettings(v.openblas, cores)).filter((s) => s.spec !== 'default');
    for (const s of [DEFAULTS, ...extra]) {
      plan.push({
        id: `lvmtorch-${v.minor}/${s.spec}`, group: `lvmtorch ${v.minor}`, kind: 'lvmtorch', variant: v.variant, setting: s,
        command: process.execPath, args: [fileURLToPath(import.meta.url), '--worker', ...threadArgs(s)], env: threadEnv(v.env),
      });
    }
  }
  const pythons = found.pythons;
  for (const p of pythons) {
    const auto = explicitSettings(p.openblas, cores);
    const settings = p.isAnchor ? settingsFrom(options.python, auto)
      : settingsFrom(options['python-other'], p.openblas ? [parseSetting('1x2')] : auto);
    for (const s of settings) {
      plan.push({
        id: `python-${p.minor}/${s.spec}`, group: `python ${p.minor}`, kind: 'python', python: p.python, setting: s,
        command: p.python, args: ['bench/python/train.py', ...threadArgs(s)], env: threadEnv(process.env),
      });
    }
  }
  const anchor = pythons.find((p) => p.isAnchor);
  if (!anchor) throw new Error('no Python PyTorch found to compare with (see the skipped lines above)');
  const anchorGroup = `python ${anchor.minor}`;

  const file = join(outDir, 'train-data.npz');
  await writeData(file, rows);
  log(`  starting ${plan.length} workers ...`);
  const workers = [];
  for (const item of plan) {
    // One at a time: 2 cores, and a Python import of torch takes seconds.
    try {
      const w = await startWorker(item.id, item.command, item.args, { env: item.env });
      if (item.kind === 'lvmtorch' && w.hello.variant !== item.variant) {
        log(`  skipped: ${item.id} loaded ${w.hello.variant}, not ${item.variant}`);
        await w.close();
        continue;
      }
      workers.push({ ...item, worker: w, threads: describeThreads(w.hello) });
      log(`  ${item.group.padEnd(14)} ${settingLabel(item.setting).padEnd(15)} runs ${describeThreads(w.hello, { core: true })}` +
        `, torch ${w.hello.torch ?? w.hello.libtorch}${w.hello.binary ? `, ${w.hello.binary}` : ` (${item.command})`}`);
    } catch (e) {
      log(`  skipped: ${item.id}: ${e.message}`);
    }
  }

  const samples = Object.fromEntries(sizes.map((B) => [B, Object.fromEntries(workers.map((w) => [w.id, []]))]));
  const dead = new Set();
  for (let round = 0; round <= rounds; round++) {
    const t0 = Date.now();
    process.stderr.write(round === 0 ? `  warm-up round (${warmupSteps} steps each)` : ` ${round}`);
    for (const B of sizes) {
      for (let k = 0; k < workers.length; k++) {
        const w = workers[(k + round) % workers.length];
        if (dead.has(w.id)) continue;
        try {
          const r = await w.worker.request({ file, B, maxRows: round === 0 ? warmupSteps * B : undefined });
          if (round > 0) samples[B][w.id].push(r.samplesPerSecond);
        } catch (e) {
          dead.add(w.id);
          log(`\n  ${w.id} failed and is left out from here on: ${e.message}`);
        }
      }
    }
    process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  await Promise.all(workers.map((w) => w.worker.close().catch(() => {})));

  // Tables: per batch size, every row; the anchor is the best Python 2.13 setting's median.
  const groups = [...new Set(workers.map((w) => w.group))];
  const pyGroups = groups.filter((g) => g.startsWith('python'));
  const med = (B, id) => (samples[B][id]?.length ? median(samples[B][id]) : NaN);
  const bestOf = (B, group) => workers.filter((w) => w.group === group && !Number.isNaN(med(B, w.id)))
    .reduce((best, w) => (!best || med(B, w.id) > med(B, best.id) ? w : best), null);
  const tableRows = [];
  const results = [];
  const summary = { anchors: [], targets: [], settings: [] };
  for (const B of sizes) {
    const best = Object.fromEntries(pyGroups.map((g) => [g, bestOf(B, g)]));
    const anchorW = best[anchorGroup];
    const anchorSps = anchorW ? med(B, anchorW.id) : NaN;
    let first = true;
    for (const g of groups) {
      for (const w of workers.filter((x) => x.group === g)) {
        const s = samples[B][w.id];
        const m = med(B, w.id);
        const isDefaultRow = w.kind === 'lvmtorch' && w.setting.spec === 'default';
        const isBest = w.kind === 'python' && best[g] === w && workers.filter((x) => x.group === g).length > 1;
        const ratios = pyGroups.map((pg) => (best[pg] ? m / med(B, best[pg].id) : NaN));
        const anchorRatio = m / anchorSps;
        tableRows.push([
          first ? `B=${B}` : '',
          `${g}${w.setting.spec === 'default' ? ' (defaults)' : ''}${isBest ? ' (best)' : ''}`,
          w.threads,
          Number.isNaN(m) ? '-' : m.toFixed(0), spread(s, 0),
          ...ratios.map((r) => (Number.isNaN(r) ? '' : `${r.toFixed(2)}×`)),
          isDefaultRow && !Number.isNaN(anchorRatio) ? (anchorRatio >= TARGET ? 'PASS' : 'MISS') : '',
        ]);
        first = false;
        results.push({
          B, id: w.id, group: g, kind: w.kind, setting: w.setting.spec, threads: w.threads, medianSamplesPerSecond: m,
          samplesPerSecond: s, ratioToBest: Object.fromEntries(pyGroups.map((pg, i) => [pg, ratios[i]])),
          ...(isDefaultRow ? { target: TARGET, pass: anchorRatio >= TARGET } : {}),
        });
      }
    }
    if (anchorW) summary.anchors.push(`B=${B} ${settingLabel(anchorW.setting)} (${anchorSps.toFixed(0)} samples/s)`);
  }
  // Per variant: the target (defaults against the anchor) and what the explicit settings say the defaults should be.
  const range = (B, id) => [Math.min(...samples[B][id]), Math.max(...samples[B][id])];
  for (const v of variants) {
    const def = workers.find((w) => w.variant === v.variant && w.setting.spec === 'default');
    if (!def) continue;
    const measured = sizes.filter((B) => !Number.isNaN(med(B, def.id)));
    const targets = measured.map((B) => {
      const r = med(B, def.id) / med(B, bestOf(B, anchorGroup)?.id);
      return { B, ratio: r, pass: r >= TARGET };
    });
    summary.targets.push({ variant: v.variant, targets,
      text: `lvmtorch ${v.minor} ${targets.map((t) => `B=${t.B} ${t.ratio.toFixed(2)}× ${t.pass ? 'PASS' : 'MISS'}`).join(', ')}` });
    const explicit = workers.filter((w) => w.variant === v.variant && w.setting.spec !== 'default' &&
      measured.every((B) => !Number.isNaN(med(B, w.id))));
    if (!explicit.length || !measured.length) continue;
    // The explicit setting with the best geometric mean of (its median ÷ the defaults' median) over the batch sizes.
    const gain = (w) => Math.exp(measured.reduce((t, B) => t + Math.log(med(B, w.id) / med(B, def.id)), 0) / measured.length);
    const ranked = [...explicit].sort((x, y) => gain(y) - gain(x));
    const fastest = ranked[0];
    const overlaps = measured.every((B) => {
      const [dlo, dhi] = range(B, def.id);
      const [flo, fhi] = range(B, fastest.id);
      return flo <= dhi && dlo <= fhi;
    });
    const same = fastest.threads === def.threads;
    // An explicit row that runs what the defaults run (same threads as reported) measures the noise between two
    // processes doing the same thing.
    const twin = explicit.find((w) => w.threads === def.threads && w !== fastest);
    const pct = (x) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(0)}%`;
    const overTwin = twin ? gain(fastest) / gain(twin) : null;
    const verdict = rounds < 3 ? `fewer than 3 rounds, no verdict (fastest: ${settingLabel(fastest.setting)})`
      : same ? 'the defaults are the fastest setting'
      : overlaps ? `${settingLabel(fastest.setting)} is fastest, but within noise of the defaults (ranges overlap)`
        : `suggests ${settingLabel(fastest.setting)} as the default (${pct(gain(fastest))} over the defaults` +
          `${twin ? `, ${pct(overTwin)} over ${settingLabel(twin.setting)}, which runs what the defaults run` : ''})`;
    summary.settings.push({
      variant: v.variant, defaults: def.threads, fastest: fastest.setting.spec, gainOverDefaults: gain(fastest),
      ranking: ranked.map((w) => ({ setting: w.setting.spec, gainOverDefaults: gain(w) })), withinNoise: overlaps && !same,
      twin: twin?.setting.spec ?? null, gainOverTwin: overTwin,
      text: `lvmtorch ${v.minor}, defaults ${def.threads}: ${verdict}; each setting against the defaults, ` +
        `${measured.map((B) => `B=${B}`).join('/')}: ` +
        ranked.map((w) => `${settingLabel(w.setting)}${w.threads === def.threads ? ' (= defaults)' : ''} ${measured.map((B) => pct(med(B, w.id) / med(B, def.id))).join('/')}`).join(', '),
    });
  }
  const table = [
    `samples/s over one epoch of ${rows} rows (seed GRU, [B, 5, 768]); median of ${rounds} interleaved rounds ` +
      `(min–max); ${workers.length} worker processes, each at one thread setting`,
    '',
    formatTable(['<batch', '<implementation', '<threads (as run)', 'samples/s', 'min–max',
      ...pyGroups.map((g) => `÷${g.replace('python ', 'py')}${g === anchorGroup ? ' best' : ''}`),
      `defaults ≥${TARGET}× py${anchor.minor}`], tableRows),
    '',
    `python ${anchor.minor} at its best setting (the anchor): ${summary.anchors.join('; ')}`,
    `target, lvmtorch at its defaults ≥ ${TARGET}× python ${anchor.minor} at its best: ${summary.targets.map((t) => t.text).join('; ')}`,
    ...(summary.settings.length ? ['thread settings (which defaults each variant should have; noisy on a shared machine):',
      ...summary.settings.map((s) => `  ${s.text}`)] : []),
    ...(found.skipped.length ? [`not run: ${found.skipped.join('; ')}`] : []),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, rows, sizes, warmupSteps },
      target: { overBestPython: TARGET, python: anchor.python },
      skipped: found.skipped,
      workers: workers.map((w) => ({ id: w.id, command: w.command, args: w.args, setting: w.setting.spec,
        env: { LIBTORCH: w.env.LIBTORCH, OMP_NUM_THREADS: w.env.OMP_NUM_THREADS, OPENBLAS_NUM_THREADS: w.env.OPENBLAS_NUM_THREADS },
        hello: w.worker.hello, failed: dead.has(w.id) })),
      summary,
      results,
    },
  };
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

function argValue(name) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? null : Number(a.slice(name.length + 3));
}

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch, models, AdamW, trainStep, loadNpz, SEED_COMPOSITE_WEIGHTS } = await import('../dist/index.js');
  const threads = argValue('threads');
  const blas = argValue('blas');
  if (threads !== null) torch.setNumThreads(threads);
  if (blas !== null) torch.setBlasThreads(blas);
  const d = doctor();
  console.log(JSON.stringify({
    impl: 'lvmtorch', node: process.version, variant: d.variant, libtorch: d.libtorch?.version, binary: d.binary?.path,
    threads: torch.getNumThreads(),
    blas: { kind: d.blas?.kind, threads: d.blas?.threads ?? null, core: d.blas?.core?.name ?? null },
  }));
  const data = new Map();
  for await (const line of createInterface({ input: process.stdin })) {
    const { file, B, maxRows } = JSON.parse(line);
    if (!data.has(file)) data.set(file, loadNpz(file));
    const { context_sequences: xAll, target_vectors: yAll } = data.get(file);
    torch.manualSeed(0);
    const model = models.gru();
    const opt = new AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01 });
    const n = maxRows ? Math.min(maxRows, xAll.shape[0]) : xAll.shape[0];
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

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) await worker();
