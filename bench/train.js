// train: samples/s of one full training epoch of the seed's GRU (7,359,232 parameters), LSTM (5,384,448) and
// Transformer (17,867,520) at batch 32 and 64, lvmtorch (the Trainer's loop: batches gathered natively, each step
// one native call off the JS thread) on EACH libtorch variant this machine has a binary and a libtorch for, against
// the same loop in Python PyTorch (bench/python/train.py, the seed's classes of test/python/models_reference.py) on
// each Python PyTorch found (pip's 2.13 in .venv, Debian's 1.13 in /usr/bin/python3), on the same data file, all
// interleaved in rounds (the order rotated each round); medians with min–max. The loss is the seed's (InfoNCE 1,
// moment 0.1, variance 0.01), AdamW(5e-4, 0.01), clip 1.0.
//
// Each row also says its share of the GEMM floor: a step's matrix-product FLOPs counted from the model's shapes
// (bench/lib/flops.js) at the machine's fp32 GEMM rate, measured in the same run (a 1024 x 1024 x 1024 float32
// matmul in each Python 2.13 worker, the median of ~0.5 s of calls each round; the best setting's best round is the
// rate; lvmtorch's defaults measure it too, for comparison).
//
//   npm run bench -- train [--rounds=3] [--rows=1024] [--sizes=32,64] [--warmup-steps=4] [--models=gru,lstm,transformer]
//                          [--sweep=none] [--variants=torch-2.13-cpu,torch-1.13-cpu] [--lvmtorch=auto] [--python=auto]
//                          [--python-other=1x2]
//
// Threads. Each worker process runs at one thread setting for its whole life, set through the API at startup:
// 'default' (nothing set: what the process gets by itself), 'N' (N intra-op threads; MKL follows them) or 'NxM'
// (N intra-op threads and an OpenBLAS pool of M: Debian's 1.13, where the two pools are separate and 2 + 2 threads
// on 2 cores fight, see DESIGN.md "Threads").
//   --lvmtorch       per variant, for the swept models: 'auto' = its defaults plus every explicit setting ({1,2}
//                    intra-op, x {1,2} OpenBLAS where it has OpenBLAS), 'default' = its defaults only, or a list
//                    ('default,1x2')
//   --python         the newest Python PyTorch (the anchor, 2.13): 'auto' = each of its sensible settings; per row
//                    the best median is the anchor the targets are measured against
//   --python-other   the other Pythons (1.13), for the swept models: default '1x2' with OpenBLAS (DESIGN.md's
//                    fastest), else 'auto'
//   --sweep          the models that run every setting above (e.g. 'gru', or 'all'; default 'none': ~3 more minutes
//                    for the GRU); the others run only lvmtorch's defaults per variant and the anchor Python's
//                    settings (its best is still the anchor), and no other Python
// The targets are about lvmtorch at its defaults (what a user gets): >= 1.2x the best Python 2.13 setting on every
// row, and the GRU at >= 50% of the GEMM floor.
//
// Run as `node bench/train.js --worker [--threads=N] [--blas=M]` this file is the lvmtorch worker (the variant is
// the one its environment selects: LIBTORCH).
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { floorSamplesPerSecond, trainingFlops } from './lib/flops.js';
import { formatTable, median, outDir, spread } from './lib/harness.js';
import { writeRandomWindows } from './lib/data.js';

export const description = 'one training epoch of the seed GRU, LSTM and Transformer: lvmtorch per libtorch variant vs Python PyTorch 2.13 (best threads) and 1.13, samples/s and share of the GEMM floor';

const TARGET = 1.2; // lvmtorch at its defaults >= 1.2 x the best Python 2.13's samples/s on CPU, every row
const FLOOR_TARGET = { gru: 0.5 }; // lvmtorch at its defaults >= this share of the GEMM floor
const KINDS = { gru: 'gru', lstm: 'lstm', transformer: 'transformer' }; // kind -> lvmtorch's models.<factory>
const GEMM = { n: 1024, seconds: 0.5 };

export async function run({ options = {}, log = console.log } = {}) {
  const {
    discover, selectVariants, anchorPython, DEFAULTS, startPlan, explicitSettings, parseSetting, settingLabel,
    settingsFrom, threadArgs, threadEnv
  } = await import('./lib/variants.js');
  const { models } = await import('../dist/index.js');
  const rounds = Number(options.rounds ?? 3);
  const rows = Number(options.rows ?? 1024);
  const sizes = String(options.sizes ?? '32,64').split(',').map(Number);
  const warmupSteps = Number(options['warmup-steps'] ?? 4);
  const kinds = String(options.models ?? Object.keys(KINDS).join(',')).split(',').filter(Boolean);
  for (const k of kinds) if (!(k in KINDS)) throw new Error(`--models: no model "${k}" (there are ${Object.keys(KINDS).join(', ')})`);
  const sweepOpt = String(options.sweep ?? 'none');
  const sweep = new Set(sweepOpt === 'all' ? kinds : sweepOpt === 'none' ? [] : sweepOpt.split(',').filter((k) => kinds.includes(k)));
  const cores = cpus().length;
  if (options.threads !== undefined || options.blas !== undefined) {
    log('  note: --threads/--blas are no longer read: use --lvmtorch=, --python=, --python-other= (e.g. 1x2)');
  }
  if (!sweep.size && (options.lvmtorch !== undefined || options['python-other'] !== undefined)) {
    log('  note: --lvmtorch= and --python-other= set the swept models\' settings: add --sweep=gru (or all)');
  }
  // The seed's sizes, as lvmtorch's factories have them; the Python workers build the same classes from them.
  const configs = {};
  const params = {};
  for (const k of kinds) {
    const m = models[KINDS[k]]();
    configs[k] = { ...m.config };
    params[k] = m.numParameters();
    m.dispose();
  }

  const found = discover();
  const variants = selectVariants(found, options.variants, log);

  // The plan: one worker process per (implementation, thread setting). `all` workers run every model; the others
  // (explicit lvmtorch settings, the other Pythons) only the swept ones, and are not started when none is.
  const plan = [];
  for (const v of variants) {
    const extra = options.lvmtorch === 'default' || !sweep.size ? []
      : settingsFrom(options.lvmtorch, explicitSettings(v.openblas, cores)).filter((s) => s.spec !== 'default');
    for (const s of [DEFAULTS, ...extra]) {
      plan.push({
        id: `lvmtorch-${v.minor}/${s.spec}`, group: `lvmtorch ${v.minor}`, kind: 'lvmtorch', variant: v.variant, setting: s,
        all: s === DEFAULTS,
        command: process.execPath, args: [fileURLToPath(import.meta.url), '--worker', ...threadArgs(s)], env: threadEnv(v.env),
      });
    }
  }
  const pythons = found.pythons;
  for (const p of pythons) {
    if (!p.isAnchor && !sweep.size) continue;
    const auto = explicitSettings(p.openblas, cores);
    const settings = p.isAnchor ? settingsFrom(options.python, auto)
      : settingsFrom(options['python-other'], p.openblas ? [parseSetting('1x2')] : auto);
    for (const s of settings) {
      plan.push({
        id: `python-${p.minor}/${s.spec}`, group: `python ${p.minor}`, kind: 'python', python: p.python, setting: s,
        all: p.isAnchor, anchor: p.isAnchor,
        command: p.python, args: ['bench/python/train.py', ...threadArgs(s)], env: threadEnv(process.env),
      });
    }
  }
  const anchor = anchorPython(found);
  const anchorGroup = `python ${anchor.minor}`;
  const runs = (w, kind) => w.all || sweep.has(kind);

  const file = join(outDir, 'train-data.npz');
  await writeRandomWindows(file, rows);
  log(`  models: ${kinds.map((k) => `${k} (${params[k].toLocaleString('en-US')} parameters${sweep.has(k) ? ', every thread setting' : ''})`).join(', ')}`);
  log(`  starting ${plan.length} workers ...`);
  const workers = await startPlan(plan, log, 15);

  // samples[kind][B][worker id] = samples/s per round; gemm[worker id] = GFLOP/s per round (anchor Pythons and
  // lvmtorch's defaults); pyParams[kind] = what Python's class counts.
  const samples = Object.fromEntries(kinds.map((k) => [k, Object.fromEntries(sizes.map((B) =>
    [B, Object.fromEntries(workers.filter((w) => runs(w, k)).map((w) => [w.id, []]))]))]));
  const gemmWorkers = workers.filter((w) => w.anchor || (w.kind === 'lvmtorch' && w.all));
  const gemm = Object.fromEntries(gemmWorkers.map((w) => [w.id, []]));
  const pyParams = {};
  const dead = new Set();
  const ask = async (w, req) => {
    try {
      return await w.worker.request(req);
    } catch (e) {
      dead.add(w.id);
      log(`\n  ${w.id} failed and is left out from here on: ${e.message}`);
      return null;
    }
  };
  for (let round = 0; round <= rounds; round++) {
    const t0 = Date.now();
    process.stderr.write(round === 0 ? `  warm-up round (${warmupSteps} steps each)` : ` ${round}`);
    for (const kind of kinds) {
      for (const B of sizes) {
        const ws = workers.filter((w) => runs(w, kind));
        for (let k = 0; k < ws.length; k++) {
          const w = ws[(k + round) % ws.length];
          if (dead.has(w.id)) continue;
          const r = await ask(w, { file, B, kind, config: configs[kind], maxRows: round === 0 ? warmupSteps * B : undefined });
          if (r && round > 0) samples[kind][B][w.id].push(r.samplesPerSecond);
          if (r?.params !== undefined && w.kind === 'python') pyParams[kind] ??= r.params;
        }
      }
    }
    for (let k = 0; k < gemmWorkers.length; k++) {
      const w = gemmWorkers[(k + round) % gemmWorkers.length];
      if (dead.has(w.id)) continue;
      const r = await ask(w, { gemm: GEMM });
      if (r && round > 0) gemm[w.id].push(r.gflops);
    }
    process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  await Promise.all(workers.map((w) => w.worker.close().catch(() => {})));

  // The machine's GEMM rate: the best round of the best anchor setting (a floor is what the machine can do, and a
  // round the other core was busy in says less about that than the best one).
  const gemmBest = (id) => (gemm[id]?.length ? Math.max(...gemm[id]) : NaN);
  const anchorGemm = gemmWorkers.filter((w) => w.anchor && !Number.isNaN(gemmBest(w.id)))
    .reduce((best, w) => (!best || gemmBest(w.id) > gemmBest(best.id) ? w : best), null);
  const rate = anchorGemm ? gemmBest(anchorGemm.id) : NaN;
  const gemmText = gemmWorkers.filter((w) => gemm[w.id].length)
    .map((w) => `${w.group} ${settingLabel(w.setting)} ${median(gemm[w.id]).toFixed(0)} (${spread(gemm[w.id], 0)})`).join(', ');

  // Tables: per model and batch size, every row; the anchor is the best Python 2.13 setting's median.
  const groups = [...new Set(workers.map((w) => w.group))];
  const pyGroups = groups.filter((g) => g.startsWith('python'));
  const med = (kind, B, id) => (samples[kind][B][id]?.length ? median(samples[kind][B][id]) : NaN);
  const bestOf = (kind, B, group) => workers.filter((w) => w.group === group && !Number.isNaN(med(kind, B, w.id)))
    .reduce((best, w) => (!best || med(kind, B, w.id) > med(kind, B, best.id) ? w : best), null);
  const results = [];
  const summary = { gemm: { n: GEMM.n, gflops: rate, setting: anchorGemm?.setting.spec ?? null }, anchors: [], targets: [], settings: [] };
  const tables = [];
  for (const kind of kinds) {
    const tableRows = [];
    const floorTarget = FLOOR_TARGET[kind];
    for (const B of sizes) {
      const best = Object.fromEntries(pyGroups.map((g) => [g, bestOf(kind, B, g)]));
      const anchorW = best[anchorGroup];
      const anchorSps = anchorW ? med(kind, B, anchorW.id) : NaN;
      const floor = floorSamplesPerSecond(configs[kind], B, rate);
      let first = true;
      for (const g of groups) {
        for (const w of workers.filter((x) => x.group === g && runs(x, kind))) {
          const s = samples[kind][B][w.id];
          const m = med(kind, B, w.id);
          const isDefaultRow = w.kind === 'lvmtorch' && w.setting.spec === 'default';
          const isBest = w.kind === 'python' && best[g] === w && workers.filter((x) => x.group === g && runs(x, kind)).length > 1;
          const ratios = pyGroups.map((pg) => (best[pg] ? m / med(kind, B, best[pg].id) : NaN));
          const anchorRatio = m / anchorSps;
          const share = m / floor;
          tableRows.push([
            first ? `B=${B}` : '',
            `${g}${w.setting.spec === 'default' ? ' (defaults)' : ''}${isBest ? ' (best)' : ''}`,
            w.threads,
            Number.isNaN(m) ? '-' : m.toFixed(0), spread(s, 0),
            ...ratios.map((r) => (Number.isNaN(r) ? '' : `${r.toFixed(2)}×`)),
            Number.isNaN(share) ? '' : `${(share * 100).toFixed(0)}%`,
            isDefaultRow && !Number.isNaN(anchorRatio) ? (anchorRatio >= TARGET ? 'PASS' : 'MISS') : '',
            ...(floorTarget ? [isDefaultRow && !Number.isNaN(share) ? (share >= floorTarget ? 'PASS' : 'MISS') : ''] : []),
          ]);
          first = false;
          results.push({
            model: kind, B, id: w.id, group: g, kind: w.kind, setting: w.setting.spec, threads: w.threads, medianSamplesPerSecond: m,
            samplesPerSecond: s, ratioToBest: Object.fromEntries(pyGroups.map((pg, i) => [pg, ratios[i]])),
            floorShare: share,
            ...(isDefaultRow ? { target: TARGET, pass: anchorRatio >= TARGET,
              ...(floorTarget ? { floorTarget, floorPass: share >= floorTarget } : {}) } : {}),
          });
        }
      }
      if (anchorW) summary.anchors.push(`${kind} B=${B} ${settingLabel(anchorW.setting)} (${anchorSps.toFixed(0)} samples/s)`);
    }
    const f = sizes.map((B) => `B=${B} ${(trainingFlops(configs[kind], B).step / 1e9).toFixed(2)} GFLOP a step, ` +
      `floor ${floorSamplesPerSecond(configs[kind], B, rate).toFixed(0)} samples/s`).join('; ');
    const py = pyParams[kind];
    tables.push([
      `${kind}: ${params[kind].toLocaleString('en-US')} parameters (Python's class: ${py === undefined ? '?' : py.toLocaleString('en-US')}` +
        `${py !== undefined && py !== params[kind] ? ', DIFFERENT' : ''}); ` +
        `${(trainingFlops(configs[kind], 1).forward / 1e6).toFixed(1)} MFLOP forward a sample; ${f}`,
      '',
      formatTable(['<batch', '<implementation', '<threads (as run)', 'samples/s', 'min–max',
        ...pyGroups.map((g) => `÷${g.replace('python ', 'py')}${g === anchorGroup ? ' best' : ''}`),
        'of floor', `defaults ≥${TARGET}× py${anchor.minor}`, ...(floorTarget ? [`≥${floorTarget * 100}% floor`] : [])], tableRows),
    ].join('\n'));
  }
  // Per variant: the targets (defaults against the anchor, the floor) and, for the swept models, what the explicit
  // settings say the defaults should be.
  const range = (kind, B, id) => [Math.min(...samples[kind][B][id]), Math.max(...samples[kind][B][id])];
  for (const v of variants) {
    const def = workers.find((w) => w.variant === v.variant && w.setting.spec === 'default');
    if (!def) continue;
    const targets = [];
    for (const kind of kinds) {
      for (const B of sizes.filter((b) => !Number.isNaN(med(kind, b, def.id)))) {
        const r = med(kind, B, def.id) / med(kind, B, bestOf(kind, B, anchorGroup)?.id);
        const share = med(kind, B, def.id) / floorSamplesPerSecond(configs[kind], B, rate);
        targets.push({ model: kind, B, ratio: r, pass: r >= TARGET, floorShare: share,
          ...(FLOOR_TARGET[kind] ? { floorPass: share >= FLOOR_TARGET[kind] } : {}) });
      }
    }
    summary.targets.push({ variant: v.variant, targets,
      text: `lvmtorch ${v.minor} ${targets.map((t) => `${t.model} B=${t.B} ${t.ratio.toFixed(2)}× ${t.pass ? 'PASS' : 'MISS'}` +
        `${t.floorPass !== undefined ? ` (${(t.floorShare * 100).toFixed(0)}% of floor ${t.floorPass ? 'PASS' : 'MISS'})` : ''}`).join(', ')}` });
    for (const kind of kinds.filter((k) => sweep.has(k))) {
      const measured = sizes.filter((B) => !Number.isNaN(med(kind, B, def.id)));
      const explicit = workers.filter((w) => w.variant === v.variant && w.setting.spec !== 'default' &&
        measured.every((B) => !Number.isNaN(med(kind, B, w.id))));
      if (!explicit.length || !measured.length) continue;
      // The explicit setting with the best geometric mean of (its median ÷ the defaults' median) over the batch sizes.
      const gain = (w) => Math.exp(measured.reduce((t, B) => t + Math.log(med(kind, B, w.id) / med(kind, B, def.id)), 0) / measured.length);
      const ranked = [...explicit].sort((x, y) => gain(y) - gain(x));
      const fastest = ranked[0];
      const overlaps = measured.every((B) => {
        const [dlo, dhi] = range(kind, B, def.id);
        const [flo, fhi] = range(kind, B, fastest.id);
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
        variant: v.variant, model: kind, defaults: def.threads, fastest: fastest.setting.spec, gainOverDefaults: gain(fastest),
        ranking: ranked.map((w) => ({ setting: w.setting.spec, gainOverDefaults: gain(w) })), withinNoise: overlaps && !same,
        twin: twin?.setting.spec ?? null, gainOverTwin: overTwin,
        text: `lvmtorch ${v.minor} ${kind}, defaults ${def.threads}: ${verdict}; each setting against the defaults, ` +
          `${measured.map((B) => `B=${B}`).join('/')}: ` +
          ranked.map((w) => `${settingLabel(w.setting)}${w.threads === def.threads ? ' (= defaults)' : ''} ${measured.map((B) => pct(med(kind, B, w.id) / med(kind, B, def.id))).join('/')}`).join(', '),
      });
    }
  }
  const table = [
    `samples/s over one epoch of ${rows} rows ([B, 5, 768]); median of ${rounds} interleaved rounds (min–max); ` +
      `${workers.length} worker processes, each at one thread setting; "÷py" = samples/s ÷ that Python's best setting's ` +
      `(> 1 = faster than it); "of floor" = samples/s ÷ the GEMM floor's`,
    `GEMM rate (${GEMM.n}×${GEMM.n}×${GEMM.n} float32 matmul, GFLOP/s, median (min–max)): ${gemmText || 'not measured'}; ` +
      `the floor uses ${Number.isNaN(rate) ? '?' : rate.toFixed(0)} (python ${anchor.minor}'s best setting, its best round)`,
    '',
    tables.join('\n\n'),
    '',
    `python ${anchor.minor} at its best setting (the anchor): ${summary.anchors.join('; ')}`,
    `targets, lvmtorch at its defaults ≥ ${TARGET}× python ${anchor.minor} at its best` +
      `${Object.keys(FLOOR_TARGET).length ? `, ${Object.entries(FLOOR_TARGET).map(([k, t]) => `${k} ≥ ${t * 100}% of the GEMM floor`).join(', ')}` : ''}:`,
    ...summary.targets.map((t) => `  ${t.text}`),
    ...(summary.settings.length ? ['thread settings (which defaults each variant should have; noisy on a shared machine):',
      ...summary.settings.map((s) => `  ${s.text}`)] : []),
    ...(found.skipped.length ? [`not run: ${found.skipped.join('; ')}`] : []),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, rows, sizes, warmupSteps, models: kinds, sweep: [...sweep], gemm: GEMM },
      target: { overBestPython: TARGET, floorShare: FLOOR_TARGET, python: anchor.python },
      models: Object.fromEntries(kinds.map((k) => [k, { config: configs[k], params: params[k], pythonParams: pyParams[k] ?? null,
        flops: Object.fromEntries(sizes.map((B) => [B, trainingFlops(configs[k], B)])) }])),
      gemm: { gflops: rate, perWorker: gemm },
      skipped: found.skipped,
      workers: workers.map((w) => ({ id: w.id, command: w.command, args: w.args, setting: w.setting.spec,
        env: { LIBTORCH: w.env.LIBTORCH, OMP_NUM_THREADS: w.env.OMP_NUM_THREADS, OPENBLAS_NUM_THREADS: w.env.OPENBLAS_NUM_THREADS },
        hello: w.worker.hello, failed: dead.has(w.id) })),
      summary,
      results,
    },
  };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

function argValue(name) {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? null : Number(a.slice(name.length + 3));
}

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch, models, trainStep, LOSS_PRESETS, optim } = await import('../dist/index.js');
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
    const req = JSON.parse(line);
    if (req.gemm) {
      console.log(JSON.stringify(gemmRate(torch, req.gemm)));
      continue;
    }
    const { file, B, maxRows, kind = 'gru', config = {} } = req;
    if (!data.has(file)) data.set(file, torch.loadNpz(file));
    const { context_sequences: xAll, target_vectors: yAll } = data.get(file);
    torch.manualSeed(0);
    const { kind: _, ...opts } = config;
    const model = models[KINDS[kind]](opts);
    const params = model.numParameters();
    const opt = new optim.AdamW(model.parameters(), { lr: 5e-4, weightDecay: 0.01 });
    const n = maxRows ? Math.min(maxRows, xAll.shape[0]) : xAll.shape[0];
    const t0 = performance.now();
    const order = shuffled(n, torch);
    let loss = 0;
    for (let s = 0; s + B <= n; s += B) {
      const idx = order.slice(0, s, s + B);
      const x = xAll.indexSelect(0, idx);
      const y = yAll.indexSelect(0, idx);
      loss = (await trainStep(model, opt, x, y, { weights: LOSS_PRESETS.seed, clipNorm: 1 })).loss;
      idx.dispose();
      x.dispose();
      y.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    const rows = Math.floor(n / B) * B;
    order.dispose();
    opt.dispose();
    model.dispose();
    console.log(JSON.stringify({ rows, seconds, samplesPerSecond: rows / seconds, loss, params }));
  }
}

// GFLOP/s of an n x n x n float32 matmul through lvmtorch: the median of calls repeated for `seconds`.
function gemmRate(torch, { n, seconds }) {
  const a = torch.randn([n, n]);
  const b = torch.randn([n, n]);
  const times = [];
  a.matmul(b).dispose();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1e3 || times.length < 5) {
    const t = performance.now();
    a.matmul(b).dispose();
    times.push(performance.now() - t);
  }
  a.dispose();
  b.dispose();
  return { calls: times.length, ms: median(times), gflops: (2 * n ** 3) / (median(times) / 1e3) / 1e9 };
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
