// checkpoint: loading and saving an 84 MB seed-style checkpoint (the seed GRU's state dict, its AdamW state,
// numbers, a numpy float, an argparse.Namespace) with lvmtorch's loadTorchFile/saveTorchFile against Python's
// torch.load/torch.save, interleaved in rounds, from a warm page cache. Rows:
//   load         loadTorchFile (every record's CRC-32 checked)        vs torch.load (checks none)
//   load, no CRC loadTorchFile(path, { checkCrc: false })            vs torch.load
//   load, mmap   loadTorchFile(path, { mmap: true })                  vs torch.load(mmap=True), and vs torch.load
//   save         saveTorchFile: atomic and durable (temporary file, fsync, rename, fsync of the folder) vs
//                torch.save, which writes in place and syncs nothing, so ours also pays for durability
// and, to say what durability costs here, the time of fsync alone after a plain 84 MB write. Python runs with
// the malloc settings lvmtorch applies to itself (see below).
//
//   npm run bench -- checkpoint [--rounds=7]
//
// Run as `node bench/checkpoint.js --worker` this file is the lvmtorch worker.
import { closeSync, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, spread, startWorker } from './lib/harness.js';

export const description = 'load (copied, mapped) and save an 84 MB seed-style checkpoint: lvmtorch vs torch.load / torch.save';

// lvmtorch time ÷ Python's torch.load / torch.save (the mmap row is also shown against torch.load(mmap=True)).
const TARGETS = { load: 0.5, loadNoCrc: 0.5, loadMmap: 0.5, save: 1.0 };
const SETTLE_MS = 50;
const MALLOC_AS_LVMTORCH = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(256 << 20) };
const ROWS = [
  // [row, lvmtorch action, python action]
  ['load', 'load', 'load'],
  ['load, no CRC', 'loadNoCrc', 'load'],
  ['load, mmap', 'loadMmap', 'loadMmap'],
  ['save', 'save', 'save'],
];

export async function run({ options = {}, log = console.log } = {}) {
  // Python PyTorch of the libtorch this process loads by default (2.13 here): like for like with lvmtorch's worker.
  const python = (await import('./lib/variants.js')).defaultPython();
  const rounds = Number(options.rounds ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-bench-ckpt-'));
  const src = join(dir, 'best_model.pt');
  const workers = {
    lvmtorch: await startWorker('lvmtorch', process.execPath, [fileURLToPath(import.meta.url), '--worker']),
    // With glibc's default (dynamic) trim threshold Python gives a freed checkpoint's memory back to the kernel
    // at random and its next torch.load pays the page faults (15-75 ms here, bimodal); lvmtorch sets these two at
    // load (native/torch/runtime.cc), so Python gets the same.
    python: await startWorker('python', python, ['bench/python/checkpoint.py'], { env: { ...process.env, ...MALLOC_AS_LVMTORCH } }),
  };
  try {
    const { params } = await workers.python.request({ action: 'make', path: src });
    const mb = statSync(src).size / 2 ** 20;
    log(`  ${src}: ${mb.toFixed(1)} MB (${params.toLocaleString('en')} parameters, with AdamW state)`);
    const actions = { lvmtorch: ['loadMmap', 'loadNoCrc', 'load', 'save'], python: ['loadMmap', 'load', 'save'] };
    const samples = { lvmtorch: {}, python: {} };
    const probes = [];
    for (let round = 0; round <= rounds; round++) {
      process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
      const order = round % 2 ? ['python', 'lvmtorch'] : ['lvmtorch', 'python'];
      await settle();
      const probe = await workers.lvmtorch.request({ action: 'fsyncProbe', path: join(dir, 'probe.bin'), bytes: statSync(src).size });
      if (round > 0) probes.push(probe);
      // Each save follows a copying load of the same side, so that both save what torch.load / loadTorchFile give.
      for (const step of ['loadMmap', 'loadNoCrc', 'load', 'save']) {
        for (const impl of order) {
          if (!actions[impl].includes(step)) continue;
          const path = step === 'save' ? join(dir, `saved-by-${impl}.pt`) : src;
          // What the previous call left running (the kernel writing back or freeing a file's pages, a GC) ends
          // before the next is timed, whoever left it.
          await settle();
          const { ms } = await workers[impl].request({ action: step, path });
          if (round > 0) (samples[impl][step] ??= []).push(ms);
        }
      }
    }
    process.stderr.write('\n');
    const rows = [];
    const results = {};
    for (const [row, ours, theirs] of ROWS) {
      const a = median(samples.lvmtorch[ours]);
      const b = median(samples.python[theirs]);
      const ratio = a / b;
      const target = TARGETS[ours];
      // The mmap row's target is against torch.load (the copying one), as the other load rows.
      const anchor = ours === 'loadMmap' ? median(samples.python.load) : b;
      const pass = a / anchor <= target;
      results[ours] = { lvmtorchMs: a, pythonMs: b, ratio, anchorMs: anchor, target, pass,
        samples: { lvmtorch: samples.lvmtorch[ours], python: samples.python[theirs] } };
      rows.push([row, a.toFixed(1), spread(samples.lvmtorch[ours], 1), `${ours === 'loadMmap' ? 'mmap=True ' : ''}${b.toFixed(1)}`,
        spread(samples.python[theirs], 1), `${ratio.toFixed(2)}×`,
        ours === 'loadMmap' ? `${(a / anchor).toFixed(2)}× of torch.load` : '', `≤ ${target}×`, pass ? 'PASS' : 'MISS']);
    }
    const m = (k) => median(probes.map((p) => p[k]));
    results.fsyncProbe = { writeMs: m('writeMs'), fsyncMs: m('fsyncMs'), renameMs: m('renameMs'), samples: probes };
    const table = [
      `ms per call, median of ${rounds} interleaved rounds (min–max), ${SETTLE_MS} ms apart; ${mb.toFixed(1)} MB file in the page cache`,
      '',
      formatTable(['<', 'lvmtorch ms', 'min–max', 'python ms', 'min–max', 'ratio', '<', 'target', ''], rows),
      '',
      `durability alone (a plain ${mb.toFixed(0)} MB write to a new file, no writeback started early): write ${m('writeMs').toFixed(1)} ms, ` +
        `fsync ${m('fsyncMs').toFixed(1)} ms, rename over the previous one ${m('renameMs').toFixed(1)} ms`,
    ].join('\n');
    return { table, results: { fileMB: mb, params, rounds, ...results, workers: { lvmtorch: workers.lvmtorch.hello, python: workers.python.hello } } };
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { torch, Tensor } = await import('../dist/index.js');
  const { loadTorchFile, saveTorchFile } = await import('../dist/torch/io/torch-file.js');
  torch.setNumThreads(1);
  console.log(JSON.stringify({ impl: 'lvmtorch', node: process.version }));
  let loaded;
  const disposeAll = (v, seen = new Set()) => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Tensor) return v.dispose();
    for (const x of v instanceof Map ? v.values() : Array.isArray(v) ? v : Object.values(v)) disposeAll(x, seen);
  };
  const LOADS = { load: {}, loadNoCrc: { checkCrc: false }, loadMmap: { mmap: true } };
  for await (const line of createInterface({ input: process.stdin })) {
    const { action, path, bytes } = JSON.parse(line);
    if (action === 'fsyncProbe') {
      console.log(JSON.stringify(fsyncProbe(path, bytes)));
      continue;
    }
    if (action in LOADS) disposeAll(loaded); // the previous checkpoint is freed outside the timing, on both sides
    const t0 = performance.now();
    if (action in LOADS) loaded = await loadTorchFile(path, LOADS[action]);
    else await saveTorchFile(loaded, path);
    console.log(JSON.stringify({ ms: performance.now() - t0 }));
  }
}

// A plain write of `bytes` to a new file, then fsync, then a rename over the previous probe: what each costs.
let probeData;
function fsyncProbe(path, bytes) {
  probeData ??= Buffer.alloc(bytes, 1);
  const temp = `${path}.tmp`;
  const t0 = performance.now();
  const fd = openSync(temp, 'w');
  for (let done = 0; done < bytes;) done += writeSync(fd, probeData, done, Math.min(bytes - done, 4 << 20), done);
  const t1 = performance.now();
  fsyncSync(fd);
  const t2 = performance.now();
  closeSync(fd);
  renameSync(temp, path);
  const t3 = performance.now();
  return { writeMs: t1 - t0, fsyncMs: t2 - t1, renameMs: t3 - t2 };
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await worker();
}
