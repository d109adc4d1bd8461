// Two lanes off the JS thread (native/core/lane.h, native/core/promise_worker.h): compute jobs run on the compute lane, file
// I/O and waiting (checkpoint reads and writes, the distributed rendezvous) on the I/O lane, and no job parks a
// libuv worker. What that must give: while compute jobs are in flight, more of them than libuv has threads, Node's
// own fs calls and a checkpoint load still answer at once, and a predictAsync never queues behind a rendezvous;
// the event loop stays alive while a job is in flight, and only then; a worker thread that ends with a job in
// flight takes nothing down.
import { spawnSync } from 'node:child_process';
import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { models, torch, type Tensor } from '../dist/index.js';
import { World } from '../dist/torch/distributed/index.js';
import { freePort } from '../dist/torch/distributed/launch.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-lanes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A forward that takes at least MIN_MS on this machine, found by doubling the batch.
const MIN_MS = 300;
let model: models.NativeModel;
let x: Tensor;
beforeAll(() => {
  model = models.gru({ inputDim: 64, outputDim: 64, dModel: 256, numLayers: 2 });
  model.eval();
  for (let batch = 64; ; batch *= 2) {
    x?.dispose();
    x = torch.randn([batch, 20, 64]);
    const t0 = performance.now();
    torch.tidy(() => model.predict(x));
    if (performance.now() - t0 >= MIN_MS || batch >= 65_536) break;
  }
}, 120_000);

/** Starts `n` long forwards on the compute lane; `firstDone` resolves when the first settles, `all` with all. */
function computeJobs(n: number) {
  const jobs = Array.from({ length: n }, () => model.predictAsync(x).then((t) => { t.dispose(); return performance.now(); }));
  return { firstDone: Promise.race(jobs), all: Promise.all(jobs) };
}

const settledAt = <T>(p: Promise<T>): Promise<number> => p.then(() => performance.now());

describe('the compute lane does not hold up libuv, nor the I/O lane', () => {
  it('fs.promises.readFile and a checkpoint load finish before a long compute job', async () => {
    const small = join(dir, 'small.bin');
    writeFileSync(small, Buffer.alloc(4096, 7));
    const ckpt = join(dir, 'small.pt');
    await torch.saveTorchFile({ w: torch.randn([64, 64]), b: torch.randn([64]) }, ckpt);

    const { firstDone, all } = computeJobs(2);
    const reads = [1, 2, 3].map(() => settledAt(fs.readFile(small)));
    const loaded = torch.loadTorchFile<{ w: Tensor; b: Tensor }>(ckpt);
    const loadedAt = settledAt(loaded);
    const first = await firstDone;
    for (const at of await Promise.all(reads)) expect(at).toBeLessThan(first);
    expect(await loadedAt).toBeLessThan(first); // its storages were read on the I/O lane, not behind the forwards
    const { w, b } = await loaded;
    expect(w.shape).toEqual([64, 64]);
    w.dispose();
    b.dispose();
    await all;
  }, 120_000);

  it('with more jobs in flight than libuv has threads, fs.promises.stat still answers promptly', async () => {
    const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const { firstDone, all } = computeJobs(pool + 4);
    const t0 = performance.now();
    const stats = Array.from({ length: 10 }, () => settledAt(fs.stat(dir)));
    const first = await firstDone;
    const answered = await Promise.all(stats);
    for (const at of answered) expect(at).toBeLessThan(first);
    expect(Math.max(...answered) - t0).toBeLessThan(MIN_MS);
    await all;
  }, 120_000);

  it('a predictAsync does not wait behind a rendezvous that waits', async () => {
    // Rank 1 of 2 with no rank 0: the rendezvous waits on the I/O lane until its timeout.
    const timeoutMs = 4_000;
    const t0 = performance.now();
    const rendezvous = World.init({ rank: 1, worldSize: 2, masterPort: await freePort(), timeoutMs }).then(
      () => { throw new Error('joined a world with no rank 0'); },
      () => performance.now());
    const small = torch.randn([2, 20, 64]);
    const predicted = await model.predictAsync(small);
    const predictedAt = performance.now();
    predicted.dispose();
    small.dispose();
    expect(predictedAt - t0).toBeLessThan(timeoutMs / 2);
    expect(await rendezvous).toBeGreaterThan(predictedAt);
  }, 60_000);
});

// A script in a child process: the addon from dist/, its last line of stdout is JSON.
function runChild(source: string, timeout = 60_000) {
  const index = new URL('../dist/index.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source.replaceAll('INDEX', JSON.stringify(index))],
    { encoding: 'utf8', timeout });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined };
}

describe('the event loop and the lanes', () => {
  it('stays alive while a job is in flight, and lets the process exit when none is', () => {
    // Nothing but the job keeps the loop alive: the process must wait for it, print, then exit by itself.
    const t0 = performance.now();
    const r = runChild(`
      import { models, torch } from INDEX;
      const m = models.gru({ inputDim: 16, outputDim: 16, dModel: 16, numLayers: 1 });
      m.predictAsync(torch.randn([2, 5, 16])).then((y) => console.log(JSON.stringify(y.shape)));`);
    expect(r.timedOut).toBe(false);
    expect([r.status, r.signal, r.stderr]).toEqual([0, null, '']);
    expect(r.stdout.trim()).toBe('[2,16]');
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('a worker thread that ends with jobs in flight takes nothing down; the next worker works', () => {
    const r = runChild(`
      import { Worker } from 'node:worker_threads';
      const body = (n) => \`
        import { parentPort } from 'node:worker_threads';
        import { models, torch } from \${JSON.stringify(INDEX)};
        const m = models.gru({ inputDim: 64, outputDim: 64, dModel: 256, numLayers: 2 });
        const x = torch.randn([512, 20, 64]);
        const jobs = Array.from({ length: \${n} }, () => m.predictAsync(x));
        parentPort.postMessage('started');
        await Promise.all(jobs);
        parentPort.postMessage('done');\`;
      const run = (n, terminate) => new Promise((resolve, reject) => {
        const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(body(n))));
        w.on('message', (m) => { if (m === 'started' && terminate) w.terminate(); if (m === 'done') resolve('done'); });
        w.on('error', reject);
        w.on('exit', (code) => resolve('exit ' + code));
      });
      const terminated = await run(4, true);
      const finished = await run(1, false);
      console.log(JSON.stringify({ terminated, finished }));`, 120_000);
    expect(r.timedOut).toBe(false);
    expect([r.status, r.signal]).toEqual([0, null]);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ terminated: 'exit 1', finished: 'done' });
  }, 150_000);
});
