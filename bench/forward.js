// forward: latency of one inference call (ms) of the seed's GRU, LSTM and Transformer and of the seed server's
// LatentMamba, at the seed's sizes, on [B, 5, inputDim] at batch 1 and 32: lvmtorch's two eval forwards, `await
// model.predictAsync(x)` (on the compute lane, off the JS thread) and `model.predict(x)` (synchronous, no graph), on
// EACH libtorch variant at its defaults, against `with torch.inference_mode(): model(x)` in Python PyTorch 2.13
// (bench/python/forward.py, the seed's classes of test/python/models_reference.py) at each thread setting (OMP 1 and
// 2; the faster per row is the anchor). Same weights on every side (made by lvmtorch, saved with torch.save's
// format, loaded by torch.load(weights_only=True)); the predictions are checked to agree within 1e-4 before any
// timing. Each round asks every (implementation, mode) in a rotated order for ~--sample seconds of calls and takes
// their median; a row is the median of the rounds' medians, with min–max.
// Target: every lvmtorch row at its defaults >= 1.0x, the ratio being Python's best ms ÷ lvmtorch's ms (> 1 =
// lvmtorch is faster).
//
//   npm run bench -- forward [--rounds=5] [--sample=0.5] [--sizes=1,32] [--models=gru,lstm,transformer,latent_mamba]
//                            [--variants=torch-2.13-cpu,torch-1.13-cpu] [--python=auto]
//
// Run as `node bench/forward.js --worker` this file is the lvmtorch worker (the variant is the one its environment
// selects: LIBTORCH).
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, outDir, spread } from './lib/harness.js';

export const description = 'inference latency of the seed GRU, LSTM, Transformer and LatentMamba at batch 1 and 32: lvmtorch predictAsync/predict per variant vs Python 2.13 inference_mode (best threads), ms';

const TARGET = 1.0; // Python 2.13's best ms ÷ lvmtorch's ms, every lvmtorch row
const TOLERANCE = 1e-4; // max |difference| of the normalised predictions before timing
const FACTORIES = { gru: 'gru', lstm: 'lstm', transformer: 'transformer', latent_mamba: 'latentMamba' };
const MODES = { async: 'predictAsync', sync: 'predict (sync)' };

export async function run({ options = {}, log = console.log } = {}) {
  const {
    discover, selectVariants, anchorPython, DEFAULTS, startPlan, explicitSettings, settingLabel, settingsFrom,
    threadArgs, threadEnv
  } = await import('./lib/variants.js');
  const { torch, models } = await import('../dist/index.js');
  const rounds = Number(options.rounds ?? 5);
  const sample = Number(options.sample ?? 0.5);
  const sizes = String(options.sizes ?? '1,32').split(',').map(Number);
  const kinds = String(options.models ?? Object.keys(FACTORIES).join(',')).split(',').filter(Boolean);
  for (const k of kinds) if (!(k in FACTORIES)) throw new Error(`--models: no model "${k}" (there are ${Object.keys(FACTORIES).join(', ')})`);
  const cores = cpus().length;

  // The weights and inputs every worker reads: one file per model.
  const setups = {};
  for (const kind of kinds) {
    torch.manualSeed(0);
    const m = models[FACTORIES[kind]]();
    const file = join(outDir, `forward-${kind}.pt`);
    const sd = m.stateDict();
    const inputs = Object.fromEntries(sizes.map((B) => [`x${B}`, torch.randn([B, 5, m.config.inputDim])]));
    await torch.save({ state_dict: sd, ...inputs }, file);
    for (const t of [...Object.values(sd), ...Object.values(inputs)]) t.dispose();
    setups[kind] = { kind, config: { ...m.config }, file, sizes, params: m.numParameters() };
    m.dispose();
  }

  const found = discover();
  const variants = selectVariants(found, options.variants, log);
  const anchor = anchorPython(found);
  const plan = [
    ...variants.map((v) => ({
      id: `lvmtorch-${v.minor}`, group: `lvmtorch ${v.minor}`, kind: 'lvmtorch', variant: v.variant, setting: DEFAULTS,
      command: process.execPath, args: [fileURLToPath(import.meta.url), '--worker'], env: threadEnv(v.env),
    })),
    ...settingsFrom(options.python, explicitSettings(anchor.openblas, cores)).map((s) => ({
      id: `python-${anchor.minor}/${s.spec}`, group: `python ${anchor.minor}`, kind: 'python', setting: s,
      command: anchor.python, args: ['bench/python/forward.py', ...threadArgs(s)], env: threadEnv(process.env),
    })),
  ];
  log(`  starting ${plan.length} workers ...`);
  const workers = await startPlan(plan, log, 9);
  // One unit per (worker, mode): lvmtorch has two eval forwards, Python one.
  const units = workers.flatMap((w) => (w.kind === 'lvmtorch'
    ? Object.keys(MODES).map((mode) => ({ id: `${w.id}/${mode}`, w, mode, label: `${w.group} ${MODES[mode]}` }))
    : [{ id: w.id, w, mode: 'python', label: `${w.group} ${settingLabel(w.setting)}` }]));

  // Same weights, same answers: each unit's normalised predictions against the first Python's.
  const checks = {};
  const params = {};
  const usable = [];
  for (const kind of kinds) {
    const outs = {};
    for (const w of workers) {
      const r = await w.worker.request({ load: setups[kind] });
      params[kind] = { ...params[kind], [w.id]: r.params };
      for (const [mode, byB] of Object.entries(r.outputs)) outs[w.kind === 'python' ? w.id : `${w.id}/${mode}`] = byB;
    }
    const ref = units.find((u) => u.w.kind === 'python');
    const diffs = Object.fromEntries(units.map((u) => [u.id, Math.max(...sizes.map((B) => maxAbsDiff(outs[u.id][B], outs[ref.id][B])))]));
    const worst = Math.max(...Object.values(diffs));
    checks[kind] = { reference: ref.id, maxAbsDiff: diffs, worst, pass: worst <= TOLERANCE };
    log(`  ${kind}: ${setups[kind].params.toLocaleString('en-US')} parameters; predictions agree within ${worst.toExponential(1)}` +
      `${worst <= TOLERANCE ? '' : ` — MORE THAN ${TOLERANCE}: not timed`}`);
    if (worst <= TOLERANCE) usable.push(kind);
  }

  const samples = Object.fromEntries(usable.map((k) => [k, Object.fromEntries(sizes.map((B) =>
    [B, Object.fromEntries(units.map((u) => [u.id, []]))]))]));
  for (let round = 0; round <= rounds; round++) {
    const t0 = Date.now();
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (const kind of usable) {
      for (const B of sizes) {
        for (let k = 0; k < units.length; k++) {
          const u = units[(k + round) % units.length];
          const r = await u.w.worker.request({ time: { kind, B, mode: u.mode, seconds: round === 0 ? Math.min(0.2, sample) : sample, minCalls: 5 } });
          if (round > 0) samples[kind][B][u.id].push(r.ms);
        }
      }
    }
    process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  await Promise.all(workers.map((w) => w.worker.close().catch(() => {})));

  const med = (kind, B, id) => (samples[kind][B][id].length ? median(samples[kind][B][id]) : NaN);
  const tableRows = [];
  const results = [];
  const summary = { anchors: [], targets: [] };
  const pyUnits = units.filter((u) => u.w.kind === 'python');
  for (const kind of usable) {
    let firstOfKind = true;
    for (const B of sizes) {
      const best = pyUnits.reduce((b, u) => (!b || med(kind, B, u.id) < med(kind, B, b.id) ? u : b), null);
      const bestMs = med(kind, B, best.id);
      summary.anchors.push(`${kind} B=${B} ${settingLabel(best.w.setting)} (${bestMs.toFixed(2)} ms)`);
      let first = true;
      for (const u of units) {
        const m = med(kind, B, u.id);
        const ratio = bestMs / m;
        const isOurs = u.w.kind === 'lvmtorch';
        tableRows.push([
          firstOfKind ? kind : '', first ? `B=${B}` : '',
          `${u.label}${u === best && pyUnits.length > 1 ? ' (best)' : ''}`, u.w.threads,
          m.toFixed(m < 10 ? 2 : 1), spread(samples[kind][B][u.id], m < 10 ? 2 : 1),
          `${ratio.toFixed(2)}×`, isOurs ? (ratio >= TARGET ? 'PASS' : 'MISS') : '',
        ]);
        firstOfKind = false;
        first = false;
        results.push({ model: kind, B, id: u.id, mode: u.mode, threads: u.w.threads, medianMs: m, ms: samples[kind][B][u.id],
          speedupOverBestPython: ratio, ...(isOurs ? { target: TARGET, pass: ratio >= TARGET } : {}) });
      }
    }
  }
  for (const w of workers.filter((x) => x.kind === 'lvmtorch')) {
    const mine = results.filter((r) => r.id.startsWith(`${w.id}/`));
    const misses = mine.filter((r) => !r.pass);
    summary.targets.push({ variant: w.variant, rows: mine.length, misses: misses.length,
      text: `lvmtorch ${w.group.replace('lvmtorch ', '')}: ${mine.length - misses.length} of ${mine.length} rows PASS` +
        `${misses.length ? `; MISS: ${misses.map((r) => `${r.model} B=${r.B} ${r.mode} ${r.speedupOverBestPython.toFixed(2)}×`).join(', ')}` : ''}` });
  }
  const table = [
    `ms per call (eval mode, no graph), [B, 5, inputDim] float32 (768; LatentMamba 784); each round the median of ` +
      `~${sample} s of calls, then the median of ${rounds} interleaved rounds (min–max); ` +
      `"py best ÷ this" = the faster Python setting's ms ÷ this row's ms (> 1 = faster than Python)`,
    '',
    formatTable(['<model', '<batch', '<implementation', '<threads (as run)', 'ms', 'min–max', 'py best ÷ this', `≥${TARGET}×`], tableRows),
    '',
    `python ${anchor.minor} at its best setting (the anchor): ${summary.anchors.join('; ')}`,
    `target, every lvmtorch row ≥ ${TARGET}× (python's best ms ÷ lvmtorch's): ${summary.targets.map((t) => t.text).join('; ')}`,
    `outputs checked before timing (max |Δ| of the normalised predictions against ${pyUnits[0]?.id}, both batch sizes): ` +
      kinds.map((k) => `${k} ${checks[k].worst.toExponential(1)}${checks[k].pass ? '' : ' (NOT TIMED)'}`).join(', '),
    ...(found.skipped.length ? [`not run: ${found.skipped.join('; ')}`] : []),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, sample, sizes, models: kinds },
      target: { speedupOverBestPython: TARGET, tolerance: TOLERANCE, python: anchor.python },
      models: Object.fromEntries(kinds.map((k) => [k, { config: setups[k].config, params: setups[k].params, paramsPerWorker: params[k] }])),
      checks,
      workers: workers.map((w) => ({ id: w.id, command: w.command, args: w.args, setting: w.setting.spec, hello: w.worker.hello })),
      summary,
      results,
    },
  };
}

function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch, models } = await import('../dist/index.js');
  const d = doctor();
  console.log(JSON.stringify({
    impl: 'lvmtorch', node: process.version, variant: d.variant, libtorch: d.libtorch?.version, binary: d.binary?.path,
    threads: torch.getNumThreads(),
    blas: { kind: d.blas?.kind, threads: d.blas?.threads ?? null, core: d.blas?.core?.name ?? null },
  }));
  const loaded = new Map(); // kind -> { model, inputs: { B: x } }
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line);
    try {
      if (req.load) {
        const { kind, config, file, sizes } = req.load;
        const { kind: _, ...opts } = config;
        const model = models[FACTORIES[kind]](opts);
        const f = await torch.load(file);
        model.loadStateDict(f.state_dict);
        model.eval();
        loaded.set(kind, { model, inputs: Object.fromEntries(sizes.map((B) => [B, f[`x${B}`]])) });
        for (const t of Object.values(f.state_dict)) t.dispose();
        const outputs = { async: {}, sync: {} };
        for (const B of sizes) {
          const x = f[`x${B}`];
          const a = await model.predictAsync(x);
          const s = model.predict(x);
          outputs.async[B] = Array.from(a.toTypedArray());
          outputs.sync[B] = Array.from(s.toTypedArray());
          a.dispose();
          s.dispose();
        }
        console.log(JSON.stringify({ params: model.numParameters(), outputs }));
      } else if (req.time) {
        const { kind, B, mode, seconds, minCalls } = req.time;
        const { model, inputs } = loaded.get(kind);
        const x = inputs[B];
        const times = [];
        const more = (t0) => performance.now() - t0 < seconds * 1e3 || times.length < minCalls;
        if (mode === 'async') {
          (await model.predictAsync(x)).dispose();
          for (const t0 = performance.now(); more(t0);) {
            const t = performance.now();
            (await model.predictAsync(x)).dispose();
            times.push(performance.now() - t);
          }
        } else {
          model.predict(x).dispose();
          for (const t0 = performance.now(); more(t0);) { // no await: the synchronous call as a caller makes it
            const t = performance.now();
            model.predict(x).dispose();
            times.push(performance.now() - t);
          }
        }
        console.log(JSON.stringify({ calls: times.length, ms: median(times) }));
      } else {
        throw new Error(`unknown request ${line.slice(0, 80)}`);
      }
    } catch (e) {
      console.log(JSON.stringify({ error: e.message }));
    }
  }
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) await worker();
