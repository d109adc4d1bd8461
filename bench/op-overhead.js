// op-overhead: the time per call of small ops, where the binding's own cost (argument checks, tensor ids,
// lifetime tracking) is most of the time: add of two 16-element float32 tensors, matmul of two 8x8, sum of 16.
// lvmtorch is compared in the same run with Python PyTorch (bench/python/op_overhead.py) and with a plain C++
// libtorch loop (bench/cpp/op_overhead.cc), the floor. Each implementation is a worker process; they are
// interleaved in rounds (a discarded warm-up round, then `rounds` rounds, the order rotated each round) and
// the median of the rounds is reported per op and implementation.
//
//   npm run bench -- op-overhead [--rounds=7] [--sample=0.3]     (sample: seconds of looping per measurement)
//
// Run as `node bench/op-overhead.js --worker` this file is the lvmtorch worker.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { buildCpp, formatTable, median, startWorker } from './lib/harness.js';

export const description = 'per-call time of small ops: lvmtorch vs Python PyTorch vs a plain C++ loop (floor)';

const OPS = [
  { op: 'add', what: 'add, 2 × [16] f32' },
  { op: 'matmul', what: 'matmul, 2 × [8,8] f32' },
  { op: 'sum', what: 'sum, [16] f32' },
];

// What a row runs (the loop body, per op: add / matmul / sum). The first lvmtorch row is the one the targets
// are about; the others are the same ops written another way.
const IMPLS = [
  { id: 'lvmtorch', worker: 'lvmtorch', variant: 'dispose', label: 'lvmtorch',
    code: 'const r = a.add(b); r.dispose()   (a.matmul(b), a.sum())' },
  { id: 'lvmtorch-tidy', worker: 'lvmtorch', variant: 'tidy', label: 'lvmtorch tidy',
    code: 'torch.tidy(() => { a.add(b); })   (one op per scope)' },
  { id: 'lvmtorch-tidy100', worker: 'lvmtorch', variant: 'tidy100', label: 'lvmtorch tidy×100',
    code: 'torch.tidy(() => { for (100×) a.add(b); })   (a training step\'s worth of ops per scope)' },
  { id: 'lvmtorch-gc', worker: 'lvmtorch-gc', variant: 'gc', label: 'lvmtorch GC',
    code: 'a.add(b)   (no dispose: freed by the GC; the loop yields to the event loop every 1000 ops)' },
  { id: 'python', worker: 'python', label: 'python',
    code: 'r = a + b   (a @ b, a.sum(); torch 1.13, grad mode on)' },
  { id: 'c++', worker: 'c++', label: 'c++ (floor)',
    code: 'at::Tensor r = a + b;   (at::matmul(a, b), a.sum(); g++ -O2)' },
];

const TARGET_RATIO = 0.9; // lvmtorch ≤ 0.9 × python
const TARGET_OVER_FLOOR_US = 0.25; // lvmtorch ≤ floor + 0.25 µs

export async function run({ options = {}, log = console.log } = {}) {
  const rounds = Number(options.rounds ?? 7);
  const sample = Number(options.sample ?? 0.3);
  const warmup = 0.02; // seconds of looping before each measurement (the process was idle, caches are cold)
  const batch = 1000; // ops between clock reads, in every worker

  const cppBin = buildCpp('op_overhead', log);
  const workers = Object.fromEntries(await Promise.all([
    startWorker('lvmtorch', process.execPath, [fileURLToPath(import.meta.url), '--worker']),
    // The GC rows get a process of their own, so that their garbage does not slow the other rows down.
    startWorker('lvmtorch-gc', process.execPath, [fileURLToPath(import.meta.url), '--worker']),
    startWorker('python', '/usr/bin/python3', ['bench/python/op_overhead.py']),
    startWorker('c++', cppBin, []),
  ].map(async (w) => { const x = await w; return [x.name, x]; })));
  for (const w of Object.values(workers)) log(`  ${w.name}: ${JSON.stringify(w.hello)}`);
  const libs = new Set(Object.values(workers).map((w) => w.hello.libtorch));
  if (libs.size > 1) log(`  WARNING: the workers do not run the same libtorch: ${[...libs].join(', ')}`);

  const samples = Object.fromEntries(OPS.map(({ op }) => [op, Object.fromEntries(IMPLS.map((i) => [i.id, []]))]));
  const extra = {};
  const t0 = Date.now();
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (const { op } of OPS) {
      for (let k = 0; k < IMPLS.length; k++) {
        const impl = IMPLS[(k + round) % IMPLS.length];
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
  for (const { op, what } of OPS) {
    const med = Object.fromEntries(IMPLS.map((i) => [i.id, median(samples[op][i.id])]));
    for (const impl of IMPLS) {
      const us = med[impl.id];
      const s = samples[op][impl.id];
      const isLvm = impl.worker.startsWith('lvmtorch');
      const ratio = us / med.python;
      const overFloor = us - med['c++'];
      const passRatio = ratio <= TARGET_RATIO;
      const passFloor = overFloor <= TARGET_OVER_FLOOR_US;
      rows.push([
        impl === IMPLS[0] ? what : '', impl.label, us.toFixed(3),
        `${Math.min(...s).toFixed(3)}–${Math.max(...s).toFixed(3)}`,
        impl.id === 'python' ? '1.00×' : `${ratio.toFixed(2)}×`,
        impl.id === 'c++' ? '' : `${overFloor >= 0 ? '+' : ''}${overFloor.toFixed(3)}`,
        isLvm ? (passRatio ? 'PASS' : 'MISS') : '', isLvm ? (passFloor ? 'PASS' : 'MISS') : '',
      ]);
      results.push({
        op, impl: impl.id, code: impl.code, medianUs: us, samplesUs: s, ratioToPython: ratio, overFloorUs: overFloor,
        ...(isLvm ? { passRatio, passFloor } : {}), ...extra[`${op}/${impl.id}`],
      });
    }
  }
  const main = results.filter((r) => r.impl === IMPLS[0].id);
  const passed = main.filter((r) => r.passRatio && r.passFloor).length;
  const table = [
    `µs per call, median of ${rounds} interleaved rounds of ~${sample} s each (min–max over the rounds); ` +
      'one intra-op thread everywhere',
    '',
    formatTable(
      ['<op', '<implementation', 'µs/op', 'min–max', '÷python', '−floor µs', `≤${TARGET_RATIO}×py`,
        `≤floor+${TARGET_OVER_FLOOR_US}`],
      rows),
    '',
    ...IMPLS.map((i) => `  ${i.label.padEnd(18)} ${i.code}`),
    '',
    `targets (lvmtorch with dispose: ≤ ${TARGET_RATIO}× python and ≤ floor + ${TARGET_OVER_FLOOR_US} µs): ` +
      `${passed} of ${main.length} ops pass both` +
      (passed < main.length ? ` (missed: ${main.filter((r) => !(r.passRatio && r.passFloor)).map((r) => r.op).join(', ')})` : ''),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, sampleSeconds: sample, warmupSeconds: warmup, batch, threads: 1 },
      targets: { ratioToPython: TARGET_RATIO, overFloorUs: TARGET_OVER_FLOOR_US },
      workers: Object.fromEntries(Object.values(workers).map((w) => [w.name, w.hello])),
      results,
    },
  };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch } = await import('../dist/index.js');
  torch.setNumThreads(1);
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
    impl: 'lvmtorch', node: process.version, threads: torch.getNumThreads(), libtorch: mappedLibrary('libtorch_cpu'),
    binary: d.binary?.path, blas: d.blas?.openblas ?? d.blas?.libraries?.join(' '),
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
