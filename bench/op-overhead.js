// op-overhead: the time per call of small ops, where the binding's own cost (argument checks, tensor ids,
// lifetime tracking) is most of the time: add of two 16-element float32 tensors, matmul of two 8x8, sum of 16.
// lvmtorch on EACH libtorch variant this machine has (bench/lib/variants.js) is compared in the same run with
// Python PyTorch 2.13 (at each of its thread settings; the best median per op is the anchor), Python PyTorch 1.13
// (bench/python/op_overhead.py) and, per variant, a plain C++ libtorch loop (bench/cpp/op_overhead.cc, compiled
// per variant), the floor. Each implementation is a worker process; they are interleaved in rounds (a discarded
// warm-up round, then `rounds` rounds, the order rotated each round) and the median of the rounds is reported per
// op and implementation. lvmtorch and its floor run at lvmtorch's default threads (what a user gets; ops this small
// never enter a parallel region).
//
//   npm run bench -- op-overhead [--rounds=7] [--sample=0.3] [--variants=torch-2.13-cpu,...]
//                                [--python=auto] [--python-other=1] [--lvmtorch=default]
//   (sample: seconds of looping per measurement; --python: the newest Python's settings, 'auto' = omp 1 and 2;
//    --python-other: the other Pythons' settings; --lvmtorch: one setting for lvmtorch and the floor)
//
// Run as `node bench/op-overhead.js --worker [--threads=N]` this file is the lvmtorch worker.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

import { buildCpp, formatTable, median, spread, startWorker } from './lib/harness.js';

export const description = 'per-call time of small ops: lvmtorch per libtorch variant vs Python PyTorch 2.13 (best threads) and 1.13 vs a plain C++ loop (floor)';

const OPS = [
  { op: 'add', what: 'add, 2 × [16] f32' },
  { op: 'matmul', what: 'matmul, 2 × [8,8] f32' },
  { op: 'sum', what: 'sum, [16] f32' },
];

// What a row runs per variant (the loop body, per op: add / matmul / sum). The first row is the one the targets
// are about; the others are the same ops written another way.
const LVMTORCH_ROWS = [
  { key: 'dispose', worker: 'lvmtorch', label: '', code: 'const r = a.add(b); r.dispose()   (a.matmul(b), a.sum())' },
  { key: 'tidy', worker: 'lvmtorch', label: ' tidy', code: 'torch.tidy(() => { a.add(b); })   (one op per scope)' },
  { key: 'tidy100', worker: 'lvmtorch', label: ' tidy×100',
    code: 'torch.tidy(() => { for (100×) a.add(b); })   (a training step\'s worth of ops per scope)' },
  { key: 'gc', worker: 'lvmtorch-gc', label: ' GC',
    code: 'a.add(b)   (no dispose: freed by the GC; the loop yields to the event loop every 1000 ops)' },
];

const TARGET_RATIO = 0.9; // lvmtorch ≤ 0.9 × the best Python 2.13
const TARGET_OVER_FLOOR_US = 0.25; // lvmtorch ≤ its variant's floor + 0.25 µs

export async function run({ options = {}, log = console.log } = {}) {
  const { discover, describeThreads, explicitSettings, parseSetting, settingLabel, settingsFrom, threadArgs, threadEnv } =
    await import('./lib/variants.js');
  const rounds = Number(options.rounds ?? 7);
  const sample = Number(options.sample ?? 0.3);
  const warmup = 0.02; // seconds of looping before each measurement (the process was idle, caches are cold)
  const batch = 1000; // ops between clock reads, in every worker
  const cores = cpus().length;

  const found = discover();
  const wanted = options.variants ? String(options.variants).split(',') : null;
  const variants = found.lvmtorch.filter((v) => !wanted || wanted.includes(v.variant));
  for (const v of found.lvmtorch) if (!variants.includes(v)) log(`  skipped: lvmtorch ${v.variant} (not in --variants)`);
  const lvmSetting = parseSetting(options.lvmtorch ?? 'default');
  const anchor = found.pythons.find((p) => p.isAnchor);
  if (!anchor) throw new Error('no Python PyTorch found to compare with (see the skipped lines above)');

  // Workers and rows.
  const plan = [];
  const impls = [];
  for (const v of variants) {
    const env = threadEnv(v.env);
    const g = `lvmtorch ${v.minor}`;
    for (const w of ['lvmtorch', 'lvmtorch-gc']) {
      // The GC rows get a process of their own, so that their garbage does not slow the other rows down.
      plan.push({ name: `${w}-${v.minor}`, variant: v.variant, command: process.execPath,
        args: [fileURLToPath(import.meta.url), '--worker', ...threadArgs(lvmSetting)], env });
    }
    let cppBin = null;
    try {
      cppBin = buildCpp('op_overhead', { log, env: v.env });
      plan.push({ name: `c++-${v.minor}`, variant: v.variant, command: cppBin, args: threadArgs(lvmSetting), env });
    } catch (e) {
      log(`  skipped: the C++ floor for ${v.variant} did not compile: ${e.message.split('\n')[0]}`);
    }
    for (const r of LVMTORCH_ROWS) {
      impls.push({ id: `lvmtorch-${v.minor}${r.key === 'dispose' ? '' : `-${r.key}`}`, worker: `${r.worker}-${v.minor}`,
        variant: r.key, kind: r.key === 'dispose' ? 'lvmtorch-main' : 'lvmtorch', group: g, minor: v.minor,
        label: `${g}${r.label}`, code: r.code });
    }
    if (cppBin) {
      impls.push({ id: `c++-${v.minor}`, worker: `c++-${v.minor}`, kind: 'c++', group: g, minor: v.minor, label: `c++ ${v.minor} (floor)`,
        code: 'at::Tensor r = a + b;   (at::matmul(a, b), a.sum(); g++ -O2)' });
    }
  }
  for (const p of found.pythons) {
    const settings = p.isAnchor ? settingsFrom(options.python, explicitSettings(false, cores))
      : settingsFrom(options['python-other'], [parseSetting('1')]);
    for (const s of settings) {
      const name = `python-${p.minor}/${s.spec}`;
      plan.push({ name, command: p.python, args: ['bench/python/op_overhead.py', ...threadArgs(s)], env: threadEnv(process.env) });
      impls.push({ id: name, worker: name, kind: 'python', group: `python ${p.minor}`, minor: p.minor, setting: s,
        label: `python ${p.minor} (${settingLabel(s)})`, code: `r = a + b   (a @ b, a.sum(); torch ${p.version}, grad mode on)` });
    }
  }

  const started = await Promise.allSettled(plan.map((p) => startWorker(p.name, p.command, p.args, { env: p.env })));
  const workers = {};
  started.forEach((r, i) => {
    if (r.status === 'rejected') log(`  skipped: ${plan[i].name}: ${r.reason.message}`);
    else if (plan[i].command === process.execPath && r.value.hello.variant !== plan[i].variant) {
      log(`  skipped: ${plan[i].name} loaded ${r.value.hello.variant}, not ${plan[i].variant}`);
      r.value.close();
    } else workers[plan[i].name] = r.value;
  });
  for (const w of Object.values(workers)) {
    const h = w.hello;
    log(`  ${w.name.padEnd(18)} ${describeThreads(h)}; ${h.libtorch}${h.binary ? `; ${h.binary}` : ''}`);
  }
  const live = impls.filter((i) => workers[i.worker]);
  const pyGroups = [...new Set(live.filter((i) => i.kind === 'python').map((i) => i.group))];
  const anchorGroup = `python ${anchor.minor}`;

  const samples = Object.fromEntries(OPS.map(({ op }) => [op, Object.fromEntries(live.map((i) => [i.id, []]))]));
  const extra = {};
  const t0 = Date.now();
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (const { op } of OPS) {
      for (let k = 0; k < live.length; k++) {
        const impl = live[(k + round) % live.length];
        const r = await workers[impl.worker].request({ op, variant: impl.variant, seconds: sample, warmup, batch });
        if (round > 0) samples[op][impl.id].push(r.us);
        if (impl.variant === 'gc' && round > 0) {
          // Tensors the GC had not yet freed when the sample ended.
          (extra[`${op}/${impl.id}`] ??= { liveTensorsAtEnd: [] }).liveTensorsAtEnd.push(r.liveTensors);
        }
      }
    }
  }
  process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  await Promise.all(Object.values(workers).map((w) => w.close()));

  const rows = [];
  const results = [];
  const bestPython = {};
  for (const { op, what } of OPS) {
    const med = Object.fromEntries(live.map((i) => [i.id, median(samples[op][i.id])]));
    const best = Object.fromEntries(pyGroups.map((g) => [g, live.filter((i) => i.group === g)
      .reduce((b, i) => (!b || med[i.id] < med[b.id] ? i : b), null)]));
    bestPython[op] = Object.fromEntries(pyGroups.map((g) => [g, { impl: best[g].id, setting: best[g].setting.spec, us: med[best[g].id] }]));
    live.forEach((impl, n) => {
      const us = med[impl.id];
      const s = samples[op][impl.id];
      const isLvm = impl.kind === 'lvmtorch-main' || impl.kind === 'lvmtorch';
      const ratios = pyGroups.map((g) => us / med[best[g].id]);
      const ratio = us / med[best[anchorGroup].id];
      const floorId = `c++-${impl.minor}`;
      const overFloor = isLvm && med[floorId] !== undefined ? us - med[floorId] : null;
      const passRatio = ratio <= TARGET_RATIO;
      const passFloor = overFloor !== null && overFloor <= TARGET_OVER_FLOOR_US;
      const manyPy = live.filter((i) => i.group === impl.group).length > 1;
      rows.push([
        n === 0 ? what : '', `${impl.label}${impl.kind === 'python' && manyPy && best[impl.group] === impl ? ' best' : ''}`,
        us.toFixed(3), spread(s, 3),
        ...ratios.map((r) => `${r.toFixed(2)}×`),
        overFloor === null ? '' : `${overFloor >= 0 ? '+' : ''}${overFloor.toFixed(3)}`,
        impl.kind === 'lvmtorch-main' ? (passRatio ? 'PASS' : 'MISS') : '',
        impl.kind === 'lvmtorch-main' ? (passFloor ? 'PASS' : overFloor === null ? 'no floor' : 'MISS') : '',
      ]);
      results.push({
        op, impl: impl.id, code: impl.code, medianUs: us, samplesUs: s,
        ratioToBestPython: Object.fromEntries(pyGroups.map((g, i) => [g, ratios[i]])), overFloorUs: overFloor,
        ...(impl.kind === 'lvmtorch-main' ? { passRatio, passFloor } : {}), ...extra[`${op}/${impl.id}`],
      });
    });
  }
  const main = results.filter((r) => live.find((i) => i.id === r.impl)?.kind === 'lvmtorch-main');
  const codes = new Map();
  for (const i of live) {
    const key = i.kind === 'python' ? i.group : i.id.replace(/-\d+\.\d+/, '');
    if (!codes.has(key)) codes.set(key, [i.kind === 'python' ? i.group : i.label.replace(/ \d+\.\d+/, ''), i.code]);
  }
  const table = [
    `µs per call, median of ${rounds} interleaved rounds of ~${sample} s each (min–max over the rounds); ` +
      `lvmtorch and its floor at ${settingLabel(lvmSetting)} threads; ÷pyX: against that Python's best setting for the op`,
    '',
    formatTable(
      ['<op', '<implementation', 'µs/op', 'min–max', ...pyGroups.map((g) => `÷${g.replace('python ', 'py')}${g === anchorGroup ? ' best' : ''}`),
        '−floor µs', `≤${TARGET_RATIO}×py${anchor.minor}`, `≤floor+${TARGET_OVER_FLOOR_US}`],
      rows),
    '',
    ...[...codes.values()].map(([label, code]) => `  ${label.padEnd(18)} ${code}`),
    '',
    `python ${anchor.minor} at its best: ${OPS.map(({ op }) => `${op} ${settingLabel(parseSetting(bestPython[op][anchorGroup].setting))}`).join(', ')}`,
    ...variants.filter((v) => live.some((i) => i.minor === v.minor && i.kind === 'lvmtorch-main')).map((v) => {
      const mine = main.filter((r) => r.impl === `lvmtorch-${v.minor}`);
      const passed = mine.filter((r) => r.passRatio && r.passFloor);
      return `targets for lvmtorch ${v.minor} (with dispose: ≤ ${TARGET_RATIO}× python ${anchor.minor} best and ≤ its floor + ` +
        `${TARGET_OVER_FLOOR_US} µs): ${passed.length} of ${mine.length} ops pass both` +
        (passed.length < mine.length ? ` (missed: ${mine.filter((r) => !(r.passRatio && r.passFloor)).map((r) => r.op).join(', ')})` : '');
    }),
    ...(found.skipped.length ? [`not run: ${found.skipped.join('; ')}`] : []),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, sampleSeconds: sample, warmupSeconds: warmup, batch, lvmtorchThreads: lvmSetting.spec },
      targets: { ratioToBestPython: TARGET_RATIO, python: anchor.python, overFloorUs: TARGET_OVER_FLOOR_US },
      skipped: found.skipped,
      workers: Object.fromEntries(Object.values(workers).map((w) => [w.name, w.hello])),
      bestPython,
      results,
    },
  };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch } = await import('../dist/index.js');
  const threadsArg = process.argv.find((a) => a.startsWith('--threads='));
  if (threadsArg) torch.setNumThreads(Number(threadsArg.slice('--threads='.length)));
  const a = torch.randn([16]);
  const b = torch.randn([16]);
  const m1 = torch.randn([8, 8]);
  const m2 = torch.randn([8, 8]);

  // One function per op and variant, written out as a user would (no shared loop calling a callback).
  const loops = {
    'add/dispose': (n) => { for (let i = 0; i < n; i++) { const r = a.add(b); r.dispose(); } },
    'matmul/dispose': (n) => { for (let i = 0; i < n; i++) { const r = m1.matmul(m2); r.dispose(); } },
    'sum/dispose': (n) => { for (let i = 0; i < n; i++) { const r = a.sum(); r.dispose(); } },
    'add/tidy': (n) => { for (let i = 0; i < n; i++) torch.tidy(() => { a.add(b); }); },
    'matmul/tidy': (n) => { for (let i = 0; i < n; i++) torch.tidy(() => { m1.matmul(m2); }); },
    'sum/tidy': (n) => { for (let i = 0; i < n; i++) torch.tidy(() => { a.sum(); }); },
    'add/tidy100': (n) => {
      for (let i = 0; i < n; i += 100) torch.tidy(() => { for (let j = 0; j < 100; j++) a.add(b); });
    },
    'matmul/tidy100': (n) => {
      for (let i = 0; i < n; i += 100) torch.tidy(() => { for (let j = 0; j < 100; j++) m1.matmul(m2); });
    },
    'sum/tidy100': (n) => {
      for (let i = 0; i < n; i += 100) torch.tidy(() => { for (let j = 0; j < 100; j++) a.sum(); });
    },
    'add/gc': (n) => { for (let i = 0; i < n; i++) a.add(b); },
    'matmul/gc': (n) => { for (let i = 0; i < n; i++) m1.matmul(m2); },
    'sum/gc': (n) => { for (let i = 0; i < n; i++) a.sum(); },
  };
  const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

  const d = doctor();
  console.log(JSON.stringify({
    impl: 'lvmtorch', node: process.version, variant: d.variant, threads: torch.getNumThreads(),
    libtorch: mappedLibrary('libtorch_cpu'), binary: d.binary?.path,
    blas: { kind: d.blas?.kind, threads: d.blas?.threads ?? null, core: d.blas?.core?.name ?? null, name: d.blas?.name },
  }));

  for await (const line of createInterface({ input: process.stdin })) {
    const { op, variant, seconds, warmup, batch } = JSON.parse(line);
    const fn = loops[`${op}/${variant}`];
    if (!fn) {
      console.log(JSON.stringify({ error: `unknown op/variant ${op}/${variant}` }));
      continue;
    }
    const gc = variant === 'gc';
    const w0 = performance.now();
    while (performance.now() - w0 < warmup * 1e3) {
      fn(batch);
      if (gc) await yieldToEventLoop();
    }
    let iters = 0;
    let elapsed;
    const t0 = performance.now();
    do {
      fn(batch);
      if (gc) await yieldToEventLoop();
      iters += batch;
      elapsed = (performance.now() - t0) / 1e3;
    } while (elapsed < seconds);
    console.log(JSON.stringify({ iters, seconds: elapsed, us: (elapsed / iters) * 1e6, liveTensors: torch.memory().tensors }));
  }
}

// The libtorch this process really runs (the other workers report theirs the same way).
function mappedLibrary(name) {
  const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.includes(name) && l.includes('/'));
  return line ? line.slice(line.indexOf('/')) : '';
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await worker();
}
