// checkpoint: loading and saving an 88 MB seed-style checkpoint (the seed GRU's state dict, its AdamW state,
// numbers, a numpy float, an argparse.Namespace) with lvmtorch's loadTorchFile/saveTorchFile against Python's
// torch.load/torch.save, interleaved in rounds, from a warm page cache. Our save is atomic (temporary file,
// fsync, rename, fsync of the folder); torch.save writes in place without fsync, so ours pays for durability.
//
//   npm run bench -- checkpoint [--rounds=7]
//
// Run as `node bench/checkpoint.js --worker` this file is the lvmtorch worker.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, startWorker } from './lib/harness.js';

export const description = 'load and save an 88 MB seed-style checkpoint: lvmtorch vs torch.load / torch.save';

const TARGETS = { load: 0.5, save: 1.0 }; // lvmtorch time ÷ Python's

export async function run({ options = {}, log = console.log } = {}) {
  // Python PyTorch of the libtorch this process loads by default (2.13 here): like for like with lvmtorch's worker.
  const python = (await import('./lib/variants.js')).defaultPython();
  const rounds = Number(options.rounds ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-bench-ckpt-'));
  const src = join(dir, 'best_model.pt');
  const workers = {
    lvmtorch: await startWorker('lvmtorch', process.execPath, [fileURLToPath(import.meta.url), '--worker']),
    python: await startWorker('python', python, ['bench/python/checkpoint.py']),
  };
  try {
    const { params } = await workers.python.request({ action: 'make', path: src });
    const mb = statSync(src).size / 2 ** 20;
    log(`  ${src}: ${mb.toFixed(1)} MB (${params.toLocaleString('en')} parameters, with AdamW state)`);
    const samples = { load: { lvmtorch: [], python: [] }, save: { lvmtorch: [], python: [] } };
    for (let round = 0; round <= rounds; round++) {
      process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
      const order = round % 2 ? ['python', 'lvmtorch'] : ['lvmtorch', 'python'];
      for (const action of ['load', 'save']) {
        for (const impl of order) {
          const path = action === 'load' ? src : join(dir, `saved-by-${impl}.pt`);
          const { ms } = await workers[impl].request({ action, path });
          if (round > 0) samples[action][impl].push(ms);
        }
      }
    }
    process.stderr.write('\n');
    const rows = [];
    const results = {};
    for (const action of ['load', 'save']) {
      const ours = median(samples[action].lvmtorch);
      const theirs = median(samples[action].python);
      const ratio = ours / theirs;
      results[action] = { lvmtorchMs: ours, pythonMs: theirs, ratio, target: TARGETS[action], samples: samples[action] };
      rows.push([action, ours.toFixed(1), theirs.toFixed(1), `${ratio.toFixed(2)}×`, `≤ ${TARGETS[action]}×`,
        ratio <= TARGETS[action] ? 'PASS' : 'MISS', `${(mb / ours * 1e3).toFixed(0)} MB/s`]);
    }
    const table = [
      `ms per call, median of ${rounds} interleaved rounds; ${mb.toFixed(1)} MB file in the page cache`,
      '',
      formatTable(['<', 'lvmtorch ms', 'python ms', 'ratio', 'target', '', 'lvmtorch'], rows),
    ].join('\n');
    return { table, results: { fileMB: mb, params, rounds, ...results, workers: { lvmtorch: workers.lvmtorch.hello, python: workers.python.hello } } };
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { torch, Tensor } = await import('../dist/index.js');
  const { loadTorchFile, saveTorchFile } = await import('../dist/io/torch-file.js');
  torch.setNumThreads(1);
  console.log(JSON.stringify({ impl: 'lvmtorch', node: process.version }));
  let loaded;
  const disposeAll = (v, seen = new Set()) => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Tensor) return v.dispose();
    for (const x of Array.isArray(v) ? v : Object.values(v)) disposeAll(x, seen);
  };
  for await (const line of createInterface({ input: process.stdin })) {
    const { action, path } = JSON.parse(line);
    if (action === 'load') disposeAll(loaded); // the previous checkpoint is freed outside the timing, on both sides
    const t0 = performance.now();
    if (action === 'load') {
      loaded = await loadTorchFile(path);
      console.log(JSON.stringify({ ms: performance.now() - t0 }));
    } else {
      await saveTorchFile(loaded, path);
      console.log(JSON.stringify({ ms: performance.now() - t0 }));
    }
  }
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await worker();
}
