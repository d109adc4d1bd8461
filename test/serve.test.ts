// The inference server (lib/lvm/serve/): the seed server's endpoints and fields, answers equal to the model's own
// forward and, for the seed's LatentMamba, to PyTorch's; every bad input a 4xx naming it, and the next request
// served; micro-batching under concurrency, hot swaps, retrieval, metrics; and, as a process, SIGTERM draining
// and steady memory.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { models, torch } from '../dist/index.js';
import { createServer, type LvmtorchServer } from '../dist/lvm/serve/index.js';
import { startServe } from './helpers/http.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { mulberry32, normalFrom } from './helpers/random.js';
import { skipUnless } from './helpers/skip.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-serve-'));
const allowed = join(dir, 'models');
mkdirSync(allowed);
const missing = pythonTorchMissing();
const normal = normalFrom(mulberry32(8003));

/** A sequence of `steps` random unit vectors of `d` values. */
function sequence(steps: number, d = 768): number[][] {
  return Array.from({ length: steps }, () => {
    const v = Array.from({ length: d }, normal);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
}

type Json = Record<string, any>;

async function call(server: LvmtorchServer | string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: Json; headers: Headers }> {
  const base = typeof server === 'string' ? server : `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  const r = await fetch(base + path, body === undefined && raw === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : { text }, headers: r.headers };
}

const maxAbsDiff = (a: number[], b: ArrayLike<number>): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

// A small GRU over 768-D vectors (our own checkpoint layout), and the seed server's LatentMamba written by PyTorch.
let gruPath: string;
let gru2Path: string;
let seedPath: string;
let gru: LvmtorchServer;
let seed: LvmtorchServer | null = null;

async function writeGru(path: string, seedValue: number, valCosine: number): Promise<void> {
  torch.manualSeed(seedValue);
  const m = models.gru({ dModel: 32, numLayers: 1 });
  await torch.saveTorchFile({ epoch: 4, model_state_dict: m.stateDict(), val_cosine: valCosine, model_config: { ...m.config } }, path);
  m.dispose();
}

beforeAll(async () => {
  gruPath = join(allowed, 'gru.pt');
  gru2Path = join(allowed, 'gru2.pt');
  await writeGru(gruPath, 1, 0.8125);
  await writeGru(gru2Path, 2, 0.5);
  gru = await createServer({ checkpoint: gruPath, allowLoad: allowed, maxBatch: 32, maxWaitMs: 2, bodyLimit: 4 * 1024 * 1024 });
  await gru.listen({ port: 0, host: '127.0.0.1' });
  if (!missing) {
    runPython('serve_reference.py', { mode: 'write', dir });
    seedPath = join(dir, 'latent_mamba.pt');
    seed = await createServer({ checkpoint: seedPath, bank: join(dir, 'bank.npz') });
    await seed.listen({ port: 0, host: '127.0.0.1' });
  }
}, 120_000);

afterAll(async () => {
  await gru?.close();
  await seed?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the seed server\'s endpoints and fields', () => {
  it('GET /, /health and /model/info', async () => {
    const info = await call(gru, '/');
    expect(info.status).toBe(200);
    expect(info.json).toMatchObject({ name: 'LVM Inference API', version: '1.0.0' });
    expect(info.json.endpoints).toContain('POST /infer - Single sequence inference');
    expect((await call(gru, '/health')).json).toEqual({ status: 'healthy', model_loaded: true, device: 'cpu', mock_mode_available: true });
    const m = (await call(gru, '/model/info')).json;
    expect(m).toMatchObject({ loaded: true, model_path: gruPath, d_input: 768, d_hidden: 32, n_layers: 1, device: 'cpu', kind: 'gru' });
    expect(m.num_parameters).toBe(gru.lvmtorch.model.module.numParameters());
    expect(m.confidence).toBe(0.8125);
    expect(m.confidence_source).toMatch(/val_cosine/);
    expect(m.tmd_codes).toMatch(/^ignored/);
  });

  it('serves the seed server\'s LatentMamba state dict as PyTorch computes it (1e-5), with the seed\'s fields', async (ctx) => {
    skipUnless(ctx, missing);
    const requests = [
      { vector_sequence: sequence(5), tmd_codes: [3, 17, 42] },
      { vector_sequence: sequence(1), tmd_codes: [15, 31, 63] },
      { vector_sequence: sequence(8), tmd_codes: [0, 0, 0] },
    ];
    const want = runPython<number[][]>('serve_reference.py', { mode: 'predict', dir, requests });
    for (const [i, body] of requests.entries()) {
      const r = await call(seed!, '/infer', { ...body, temperature: 1.0, use_mock: false });
      expect(r.status).toBe(200);
      expect(Object.keys(r.json).sort()).toEqual(['confidence', 'is_mock', 'latency_ms', 'model_version', 'predicted_vector']);
      expect(r.json.predicted_vector).toHaveLength(768);
      expect(Number.isInteger(r.json.latency_ms)).toBe(true);
      expect(r.json.is_mock).toBe(false);
      expect(maxAbsDiff(r.json.predicted_vector, want[i])).toBeLessThan(1e-5);
    }
    const m = (await call(seed!, '/model/info')).json;
    expect(m).toMatchObject({ d_input: 784, d_hidden: 512, n_layers: 2, num_parameters: 5_006_608, kind: 'latent_mamba' });
    expect(m.tmd_codes).toMatch(/^required/);
    const batch = await call(seed!, '/infer/batch', { sequences: requests.map((r) => r.vector_sequence), tmd_codes_batch: requests.map((r) => r.tmd_codes) });
    expect(batch.status).toBe(200);
    expect(Object.keys(batch.json).sort()).toEqual(['avg_latency_ms', 'count', 'is_mock', 'predictions', 'total_latency_ms']);
    expect(batch.json.count).toBe(3);
    batch.json.predictions.forEach((p: number[], i: number) => expect(maxAbsDiff(p, want[i])).toBeLessThan(1e-5));
  });

  it('answers equal the model\'s own forward (1e-6), one by one and in a batch of mixed lengths', async () => {
    const seqs = [sequence(5), sequence(3), sequence(5), sequence(1), sequence(3)];
    const module = gru.lvmtorch.model.module;
    const own = seqs.map((s) => torch.tidy(() => Array.from(module.predict(torch.tensor(s).unsqueeze(0)).toTypedArray() as Float32Array)));
    for (const [i, s] of seqs.entries()) {
      const r = await call(gru, '/infer', { vector_sequence: s, tmd_codes: [1, 2, 3] });
      expect(r.status).toBe(200);
      expect(maxAbsDiff(r.json.predicted_vector, own[i])).toBeLessThan(1e-6);
      expect(r.json.confidence).toBe(0.8125);
    }
    const b = await call(gru, '/infer/batch', { sequences: seqs });
    expect(b.status).toBe(200);
    expect(b.json.count).toBe(5);
    b.json.predictions.forEach((p: number[], i: number) => expect(maxAbsDiff(p, own[i])).toBeLessThan(1e-6));
    expect((await call(gru, '/infer/batch', { sequences: [] })).json).toMatchObject({ predictions: [], count: 0 });
  });

  it('serves a checkpoint the seed\'s Python trainer wrote ({epoch, model_state_dict, optimizer_state_dict, ...})', async (ctx) => {
    skipUnless(ctx, missing);
    const config = { kind: 'lstm', inputDim: 768, outputDim: 768, dModel: 24, numLayers: 2, dropout: 0.2 };
    runPython('checkpoint_reference.py', { dir, jobs: [{ job: 'export', file: 'seed_trainer.pt', kind: 'lstm', config, epoch: 7 }] });
    const server = await createServer({ checkpoint: join(dir, 'seed_trainer.pt'), cors: 'https://app.example' });
    await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const info = (await call(server, '/model/info')).json;
      expect(info).toMatchObject({ kind: 'lstm', d_input: 768, d_hidden: 24, n_layers: 2, confidence: 0.5 });
      expect(info.model_version).toMatch(/^lstm-768x24x2:seed_trainer\.pt@epoch7$/);
      const s = sequence(5);
      const own = torch.tidy(() => Array.from(server.lvmtorch.model.module.predict(torch.tensor(s).unsqueeze(0)).toTypedArray() as Float32Array));
      const port = (server.server.address() as { port: number }).port;
      const r = await fetch(`http://127.0.0.1:${port}/infer`, {
        method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://app.example' }, body: JSON.stringify({ vector_sequence: s }),
      });
      expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(maxAbsDiff(((await r.json()) as Json).predicted_vector, own)).toBeLessThan(1e-6);
    } finally {
      await server.close();
    }
  });

  it('use_mock answers the normalised mean of the input, flagged', async () => {
    const s = sequence(4);
    const r = await call(gru, '/infer', { vector_sequence: s, use_mock: true });
    const mean = s[0].map((_, i) => s.reduce((a, v) => a + v[i], 0));
    const n = Math.hypot(...mean);
    expect(r.json.is_mock).toBe(true);
    expect(r.json.confidence).toBe(0);
    expect(maxAbsDiff(r.json.predicted_vector, mean.map((x) => x / n))).toBeLessThan(1e-6);
  });
});

describe('bad input: a 4xx naming what is wrong, never a 500, and the next request is served', () => {
  const good = () => ({ vector_sequence: sequence(2), tmd_codes: [1, 2, 3] });
  const seqWith = (v: string) => `{"vector_sequence": [[${Array.from({ length: 767 }, () => '0.1').join(',')}, ${v}]], "tmd_codes": [1, 2, 3]}`;
  const cases: [string, unknown, string | undefined, number, RegExp | Json][] = [
    ['no vector_sequence', { tmd_codes: [1, 2, 3] }, undefined, 422, { type: 'missing', loc: ['body', 'vector_sequence'] }],
    ['vector_sequence not a list', { vector_sequence: 3 }, undefined, 422, { type: 'list_type', loc: ['body', 'vector_sequence'] }],
    ['a string among the numbers', undefined, seqWith('"x"'), 422, { type: 'float_type', loc: ['body', 'vector_sequence', 0, 767], input: 'x' }],
    ['a vector of 767 values', { vector_sequence: [sequence(1)[0].slice(1)] }, undefined, 400, /Expected 768D vectors, got 767D/],
    ['an empty sequence', { vector_sequence: [] }, undefined, 400, /vector_sequence is empty/],
    ['NaN (as Python\'s json writes it)', undefined, seqWith('NaN'), 400, /vector_sequence\[0\]\[767\] is NaN/],
    ['Infinity', undefined, seqWith('-Infinity'), 400, /vector_sequence\[0\]\[767\] is -Infinity/],
    ['tmd_codes of 2', { ...good(), tmd_codes: [1, 2] }, undefined, 422, { type: 'too_short', loc: ['body', 'tmd_codes'] }],
    ['tmd_codes of 4', { ...good(), tmd_codes: [1, 2, 3, 4] }, undefined, 422, { type: 'too_long', loc: ['body', 'tmd_codes'] }],
    ['a code that is not an integer', { ...good(), tmd_codes: [1, 2.5, 3] }, undefined, 422, { type: 'int_type', loc: ['body', 'tmd_codes', 1] }],
    ['temperature 5', { ...good(), temperature: 5 }, undefined, 422, { type: 'less_than_equal', loc: ['body', 'temperature'] }],
    ['broken JSON', undefined, '{"vector_sequence": [[0.1,', 422, { type: 'json_invalid' }],
    ['a JSON list as the body', [1, 2], undefined, 422, { type: 'model_attributes_type', loc: ['body'] }],
    ['batch: counts that differ', { sequences: [sequence(1), sequence(1)], tmd_codes_batch: [[1, 2, 3]] }, undefined, 400, /must match number of TMD code sets \(2 sequences, 1 codes\)/],
    ['batch: an empty sequence inside', { sequences: [sequence(1), []] }, undefined, 400, /sequences\[1\] is empty/],
    ['batch: NaN inside', undefined, `{"sequences": [[[${Array.from({ length: 768 }, (_, i) => (i === 5 ? 'NaN' : '0.1')).join(',')}]]]}`, 400, /sequences\[0\]\[0\]\[5\] is NaN/],
  ];

  it.each(cases)('%s', async (_what, body, raw, status, detail) => {
    const path = _what.startsWith('batch') ? '/infer/batch' : '/infer';
    const r = await call(gru, path, body, raw);
    expect(r.status, JSON.stringify(r.json)).toBe(status);
    if (detail instanceof RegExp) expect(r.json.detail).toMatch(detail);
    else expect(r.json.detail[0]).toMatchObject(detail);
    expect((await call(gru, '/infer', good())).status).toBe(200);
  });

  it('tmd_codes are required, and in range, for a model that reads them (the seed\'s wording)', async (ctx) => {
    skipUnless(ctx, missing);
    const s = sequence(2);
    expect((await call(seed!, '/infer', { vector_sequence: s })).json.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'tmd_codes'] });
    expect((await call(seed!, '/infer', { vector_sequence: s, tmd_codes: [16, 0, 0] })).json).toEqual({ detail: 'Domain code must be 0-15, got 16' });
    expect((await call(seed!, '/infer', { vector_sequence: s, tmd_codes: [0, 32, 0] })).json).toEqual({ detail: 'Task code must be 0-31, got 32' });
    expect((await call(seed!, '/infer', { vector_sequence: s, tmd_codes: [0, 0, -1] })).json).toEqual({ detail: 'Modifier code must be 0-63, got -1' });
    expect((await call(seed!, '/infer/batch', { sequences: [s] })).json.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'tmd_codes_batch'] });
  });

  it('a body over the limit is a 413, a content type without a parser a 415, an unknown route a 404', async () => {
    const big = `{"vector_sequence": [${Array.from({ length: 300 }, () => `[${Array.from({ length: 768 }, () => '0.123456789').join(',')}]`).join(',')}]}`;
    expect(big.length).toBeGreaterThan(4 * 1024 * 1024 * 0.5);
    const huge = big + ' '.repeat(4 * 1024 * 1024);
    const r = await call(gru, '/infer', undefined, huge);
    expect(r.status).toBe(413);
    expect(r.json.detail).toMatch(/larger than this server's limit of 4194304 bytes/);
    const port = (gru.server.address() as { port: number }).port;
    const xml = await fetch(`http://127.0.0.1:${port}/infer`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<x/>' });
    expect(xml.status).toBe(415);
    expect(((await xml.json()) as Json).detail).toMatch(/Unsupported Media Type: application\/xml/);
    // Every type but JSON, text included (FastAPI would read text as a body of the wrong shape, a 422).
    const text = await fetch(`http://127.0.0.1:${port}/infer`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(415);
    expect((await call(gru, '/nope')).json).toEqual({ detail: 'Not Found' });
    expect((await call(gru, '/infer', good())).status).toBe(200);
  });

  it('/model/load: 403 outside the allowed folder, 404 for a missing file, 400 for a bad file, the old model kept', async () => {
    const before = (await call(gru, '/infer', good())).status;
    expect(before).toBe(200);
    const load = (q: string) => fetch(`http://127.0.0.1:${(gru.server.address() as { port: number }).port}/model/load?${q}`, { method: 'POST' })
      .then(async (r) => ({ status: r.status, json: await r.json() as Json }));
    const outside = join(dir, 'outside.pt');
    copyFileSync(gruPath, outside);
    expect(await load(`model_path=${encodeURIComponent(outside)}`)).toMatchObject({ status: 403, json: { detail: expect.stringMatching(/outside the folder/) } });
    expect((await load(`model_path=${encodeURIComponent(join(allowed, '..', 'outside.pt'))}`)).status).toBe(403);
    expect(await load(`model_path=${encodeURIComponent(join(allowed, 'nope.pt'))}`)).toMatchObject({ status: 404, json: { detail: expect.stringMatching(/not found/) } });
    writeFileSync(join(allowed, 'corrupt.pt'), 'PK\x03\x04 not really a zip');
    const bad = await load(`model_path=${encodeURIComponent(join(allowed, 'corrupt.pt'))}`);
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/Model loading failed, the previous model is still served: .*corrupt\.pt/);
    expect((await load('device=cpu')).json.detail[0]).toMatchObject({ type: 'missing', loc: ['query', 'model_path'] });
    expect((await call(gru, '/model/info')).json.model_path).toBe(gruPath);
    expect((await call(gru, '/infer', good())).status).toBe(200);
  });

  it('/model/load is a 403 unless the server was started with a folder to load from', async () => {
    const plain = await createServer({ checkpoint: gruPath });
    await plain.listen({ port: 0, host: '127.0.0.1' });
    try {
      const port = (plain.server.address() as { port: number }).port;
      const r = await fetch(`http://127.0.0.1:${port}/model/load?model_path=${encodeURIComponent(gruPath)}`, { method: 'POST' });
      expect(r.status).toBe(403);
      expect(((await r.json()) as Json).detail).toMatch(/--allow-load DIR/);
      expect((await call(plain, '/nearest', { vector: sequence(1)[0] })).json.detail).toMatch(/no bank/);
    } finally {
      await plain.close();
    }
  });
});

describe('under load', () => {
  it('500 concurrent requests give the answers one by one would, in batches of more than one', async () => {
    const seqs = Array.from({ length: 500 }, (_, i) => sequence(i % 10 === 0 ? 3 : 5));
    const module = gru.lvmtorch.model.module;
    const own = seqs.map((s) => torch.tidy(() => Array.from(module.predict(torch.tensor(s).unsqueeze(0)).toTypedArray() as Float32Array)));
    const before = await gru.lvmtorch.metrics.batchRows.get();
    const answers = await Promise.all(seqs.map((s) => call(gru, '/infer', { vector_sequence: s })));
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(maxAbsDiff(a.json.predicted_vector, own[i])).toBeLessThan(1e-6);
    });
    const after = await gru.lvmtorch.metrics.batchRows.get();
    const sum = (m: typeof after) => m.values.find((v) => v.metricName === 'lvmtorch_batch_rows_sum')!.value;
    const count = (m: typeof after) => m.values.find((v) => v.metricName === 'lvmtorch_batch_rows_count')!.value;
    const passes = count(after) - count(before);
    console.log(`500 concurrent requests: ${passes} forward passes, ${(500 / passes).toFixed(1)} rows each on average`);
    expect(sum(after) - sum(before)).toBe(500);
    expect(passes).toBeLessThan(500); // some requests shared a pass
  });

  it('a hot swap under load loses no request: each answer is the old model\'s or the new one\'s', async () => {
    const s = sequence(5);
    const oldAnswer = (await call(gru, '/infer', { vector_sequence: s })).json.predicted_vector as number[];
    // Waves of 30 concurrent requests; the swap is asked for after the second, and the waves go on until it is done.
    const startLoad = () => fetch(`http://127.0.0.1:${(gru.server.address() as { port: number }).port}/model/load?model_path=${encodeURIComponent(gru2Path)}`, { method: 'POST' });
    const answers: Awaited<ReturnType<typeof call>>[] = [];
    let load: Promise<Response> | undefined;
    let loadDone = false;
    for (let wave = 0; wave < 200 && !(loadDone && wave >= 10); wave++) {
      if (wave === 2) load = startLoad().finally(() => (loadDone = true));
      answers.push(...await Promise.all(Array.from({ length: 30 }, () => call(gru, '/infer', { vector_sequence: s }))));
    }
    const loaded = await load!;
    expect(loaded.status).toBe(200);
    const newAnswer = (await call(gru, '/infer', { vector_sequence: s })).json.predicted_vector as number[];
    expect(maxAbsDiff(newAnswer, oldAnswer)).toBeGreaterThan(1e-3);
    let olds = 0;
    for (const a of answers) {
      expect(a.status).toBe(200);
      const isOld = maxAbsDiff(a.json.predicted_vector, oldAnswer) < 1e-6;
      expect(isOld || maxAbsDiff(a.json.predicted_vector, newAnswer) < 1e-6).toBe(true);
      if (isOld) olds++;
    }
    console.log(`hot swap under ${answers.length} requests: ${olds} answered by the old model, ${answers.length - olds} by the new one`);
    expect(olds).toBeGreaterThanOrEqual(60);
    expect(answers.length - olds).toBeGreaterThan(0);
    expect((await call(gru, '/model/info')).json).toMatchObject({ model_path: gru2Path, confidence: 0.5 });
  });

  it('a request running during a swap finishes on the old model, which is freed after it', async (ctx) => {
    skipUnless(ctx, missing);
    const state = seed!.lvmtorch;
    torch.manualSeed(5);
    const other = models.latentMamba();
    const otherPath = join(dir, 'latent_mamba_2.pt');
    await torch.saveTorchFile(other.stateDict(), otherPath);
    other.dispose();
    const sequences = Array.from({ length: 32 }, () => sequence(40).map((v) => v.map((x) => Math.round(x * 1e4) / 1e4)));
    const body = { sequences, tmd_codes_batch: sequences.map(() => [1, 2, 3]) };
    const before = await call(seed!, '/infer/batch', body);
    const old = state.model.module;
    const running = call(seed!, '/infer/batch', body);
    while (state.batcher.pending === 0) await new Promise((r) => setImmediate(r)); // its forward pass has started
    await state.swap(otherPath, 'cpu');
    const answer = await running;
    expect(answer.status).toBe(200);
    answer.json.predictions.forEach((p: number[], i: number) => expect(maxAbsDiff(p, before.json.predictions[i])).toBeLessThan(1e-6));
    expect(() => old.handle).toThrow(/disposed/);
    const after = await call(seed!, '/infer/batch', body);
    expect(maxAbsDiff(after.json.predictions[0], before.json.predictions[0])).toBeGreaterThan(1e-3);
    await state.swap(seedPath, 'cpu'); // back to the seed's weights for the tests below
  });

  it('answers /health while a long forward pass runs (the pass is off the JS thread)', async (ctx) => {
    skipUnless(ctx, missing);
    // 32 sequences of 40 steps through the seed's 5M-parameter LatentMamba: ~13 GFLOP, a few hundred ms here.
    const rounded = (n: number) => Array.from({ length: n }, () => sequence(40).map((v) => v.map((x) => Math.round(x * 1e4) / 1e4)));
    let done = false;
    const batch = call(seed!, '/infer/batch', { sequences: rounded(32), tmd_codes_batch: Array.from({ length: 32 }, () => [1, 2, 3]) })
      .finally(() => (done = true));
    let answered = 0;
    const t0 = performance.now();
    while (!done) {
      if ((await call(seed!, '/health')).status === 200 && !done) answered++;
    }
    expect((await batch).status).toBe(200);
    console.log(`${answered} /health answers during one /infer/batch of 32 x 40 (${(performance.now() - t0).toFixed(0)} ms)`);
    expect(answered).toBeGreaterThanOrEqual(3);
  });
});

describe('retrieval', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  it('/nearest and /infer with k give the bank\'s k nearest texts as numpy finds them', async () => {
    const queries = [sequence(1)[0], sequence(1)[0]];
    const want = runPython<{ index: number; text: string; cosine: number }[][]>('serve_reference.py', { mode: 'nearest', dir, queries, k: 5 });
    for (const [i, q] of queries.entries()) {
      const r = await call(seed!, '/nearest', { vector: q, k: 5 });
      expect(r.status).toBe(200);
      expect(r.json.bank_size).toBe(500);
      expect(r.json.results.map((n: Json) => n.index)).toEqual(want[i].map((n) => n.index));
      expect(r.json.results.map((n: Json) => n.text)).toEqual(want[i].map((n) => n.text));
      expect(maxAbsDiff(r.json.results.map((n: Json) => n.cosine), want[i].map((n) => n.cosine))).toBeLessThan(1e-5);
    }
    const inf = await call(seed!, '/infer', { vector_sequence: sequence(3), tmd_codes: [1, 1, 1], k: 3 });
    const back = runPython<{ index: number }[][]>('serve_reference.py', { mode: 'nearest', dir, queries: [inf.json.predicted_vector], k: 3 });
    expect(inf.json.nearest.map((n: Json) => n.index)).toEqual(back[0].map((n) => n.index));
    expect((await call(seed!, '/nearest', { vector: [1, 2] })).json.detail).toMatch(/Expected a 768D vector, got 2D/);
  });
});

describe('/metrics', () => {
  it('counts requests by route and status, latencies and batch sizes, in Prometheus\' text format', async () => {
    await call(gru, '/infer', { vector_sequence: [] });
    const port = (gru.server.address() as { port: number }).port;
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await r.text();
    expect(text).toMatch(/^lvmtorch_requests_total\{route="\/infer",status="200"\} \d+$/m);
    expect(text).toMatch(/^lvmtorch_requests_total\{route="\/infer",status="400"\} \d+$/m);
    expect(text).toMatch(/^lvmtorch_request_duration_seconds_bucket\{le="0.01",route="\/infer"\} \d+$/m);
    expect(text).toMatch(/^lvmtorch_batch_rows_count \d+$/m);
    expect(text).toMatch(/^lvmtorch_process_resident_memory_bytes \d+$/m);
  });
});

describe('lvmtorch serve, the process', () => {
  it('SIGTERM stops accepting, finishes the requests in flight and exits 0, promptly', async () => {
    const { child, url, output } = await startServe(['--checkpoint', gruPath, '--max-batch', '4']);
    const body = { sequences: Array.from({ length: 8 }, () => sequence(30)) };
    const inFlight = Array.from({ length: 40 }, () => call(url, '/infer/batch', body));
    await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const signalled = performance.now();
    child.kill('SIGTERM');
    const answers = await Promise.allSettled(inFlight);
    const code = await exited;
    // Not held open by the clients' idle keep-alive connections (72 s, Fastify's keepAliveTimeout, before the fix).
    expect(performance.now() - signalled).toBeLessThan(30_000);
    const ok = answers.filter((a) => a.status === 'fulfilled' && a.value.status === 200).length;
    const refused = answers.filter((a) => a.status === 'rejected' || a.value.status === 503).length;
    console.log(`SIGTERM with 40 batch requests sent: ${ok} answered 200, ${refused} refused (not yet accepted), exit ${code}`);
    expect(code).toBe(0);
    expect(ok + refused).toBe(40);
    expect(ok).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 'rejected' || [200, 503].includes(a.value.status))).toBe(true);
    expect(output()).toMatch(/SIGTERM, finishing the requests in flight/);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('keeps its memory steady over 20,000 requests', async () => {
    const { child, url } = await startServe(['--checkpoint', gruPath]);
    try {
      const rss = async () => Number(/^lvmtorch_process_resident_memory_bytes (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())![1]);
      const bodies = Array.from({ length: 16 }, () => JSON.stringify({ vector_sequence: sequence(5) }));
      const burst = async (n: number) => {
        for (let i = 0; i < n; i += 16) {
          const rs = await Promise.all(bodies.map((b) => fetch(`${url}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b })));
          for (const r of rs) {
            expect(r.status).toBe(200);
            await r.arrayBuffer();
          }
        }
      };
      await burst(2000);
      const warm = await rss();
      await burst(20_000);
      const end = await rss();
      console.log(`RSS after 2,000 requests ${(warm / 2 ** 20).toFixed(1)} MB, after 20,000 more ${(end / 2 ** 20).toFixed(1)} MB`);
      expect(end - warm).toBeLessThan(40 * 2 ** 20);
    } finally {
      child.kill('SIGTERM');
    }
  }, 300_000);
});
