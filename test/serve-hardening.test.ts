// The server against the defects a hostile probe found (issue 23), each reproduced as it was reported: a batch
// of 100,000 tiny sequences, a FIFO and a stalled file system behind /model/load, finite numbers that overflow
// float32, and the minor ones (content types, deep nesting, methods, slow clients). Each must be answered in
// bounded time with a 4xx naming what was wrong, while /health stays prompt.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { models, torch } from '../dist/index.js';
import { createServer, type LvmtorchServer } from '../dist/lvm/serve/index.js';
import { send } from './helpers/http.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-hardening-'));
const allowed = join(dir, 'models');
mkdirSync(allowed);
const gruPath = join(allowed, 'gru.pt');
let server: LvmtorchServer;
let base: string;

beforeAll(async () => {
  torch.manualSeed(3);
  const m = models.gru({ dModel: 32, numLayers: 1 });
  await torch.saveTorchFile({ epoch: 1, model_state_dict: m.stateDict(), model_config: { ...m.config } }, gruPath);
  m.dispose();
  server = await createServer({
    checkpoint: gruPath, allowLoad: allowed, maxBatchRows: 200_000, loadTimeoutMs: 1000,
    timeouts: { headersMs: 500, requestMs: 1000, keepAliveMs: 500 },
  });
  base = `http://127.0.0.1:${(await server.listen({ port: 0, host: '127.0.0.1' })).split(':').at(-1)}`;
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const json = { 'content-type': 'application/json' };
const post = (path: string, body: string) => send(base, 'POST', path, json, body);
const unit = (seed: number) => Array.from({ length: 768 }, (_, i) => Math.sin(seed + i) / 20);
const vectors = (value: number) => `[${Array.from({ length: 768 }, (_, i) => (i === 7 ? value : 0.01)).join(',')}]`;

/** Runs `work` while polling /health every 10 ms; returns its result and the slowest /health answer. */
async function whileHealthy<T>(work: () => Promise<T>): Promise<{ result: T; slowestHealthMs: number; polls: number }> {
  let done = false;
  let slowest = 0;
  let polls = 0;
  const poll = (async () => {
    while (!done) {
      const a = await send(base, 'GET', '/health', {});
      expect(a.status).toBe(200);
      slowest = Math.max(slowest, a.ms);
      polls++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    return { result: await work(), slowestHealthMs: slowest, polls };
  } finally {
    done = true;
    await poll;
  }
}

describe('one request cannot freeze the server', () => {
  it('/infer/batch of 100,000 sequences of [[0]] (the probe\'s body): answered within a second, /health prompt', async () => {
    const body = JSON.stringify({ sequences: Array(100_000).fill([[0]]) });
    const t0 = performance.now();
    const { result, slowestHealthMs } = await whileHealthy(() => post('/infer/batch', body));
    const ms = performance.now() - t0;
    console.log(`100,000 sequences: ${result.status} in ${ms.toFixed(0)} ms (it took > 60 s before), slowest /health ${slowestHealthMs.toFixed(0)} ms`);
    expect(result.status).toBe(400);
    expect(JSON.parse(result.text).detail).toMatch(/Expected 768D vectors, got 1D \(sequences\[0\]\[0\]\)/);
    expect(ms).toBeLessThan(1000);
    expect(slowestHealthMs).toBeLessThan(200);
  });

  it('sequences of many lengths are grouped in linear time: 20,000 real sequences of 1 to 4 steps', async () => {
    const seqs = Array.from({ length: 20_000 }, (_, i) => Array.from({ length: 1 + (i % 4) }, () => [0]));
    const t0 = performance.now();
    const r = await post('/infer/batch', JSON.stringify({ sequences: seqs, use_mock: true }));
    expect(r.status).toBe(400); // 1-D vectors: refused, but only after every sequence was grouped
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('more sequences than --max-batch-rows is a 422 before any is read', async () => {
    const small = await createServer({ checkpoint: gruPath, maxBatchRows: 4 });
    try {
      const r = await small.inject({ method: 'POST', url: '/infer/batch', headers: json, payload: { sequences: Array(5).fill([unit(1)]) } });
      expect(r.statusCode).toBe(422);
      expect(r.json().detail[0]).toMatchObject({ type: 'too_long', loc: ['body', 'sequences'], msg: expect.stringMatching(/at most 4 items.*not 5/) });
      const ok = await small.inject({ method: 'POST', url: '/infer/batch', headers: json, payload: { sequences: Array(4).fill([unit(1)]) } });
      expect(ok.statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('/model/load of a FIFO inside --allow-load is refused at once, not waited on', async () => {
    const fifo = join(allowed, 'fifo.pt');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    const { result } = await whileHealthy(() => send(base, 'POST', `/model/load?model_path=${encodeURIComponent(fifo)}`, {}));
    expect(result.status).toBe(400);
    expect(JSON.parse(result.text).detail).toMatch(/fifo\.pt: not a regular file \(a FIFO\)/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await post('/infer', JSON.stringify({ vector_sequence: [unit(2)] }))).status).toBe(200);
  });

  it('/model/load on a stalled file system fails after --load-timeout-ms, and /health is answered all along', async () => {
    // A stalled mount, as the process sees it: every libuv pool thread stuck in a file system call. Opening a FIFO
    // for reading blocks until a writer comes; four such opens fill the pool (UV_THREADPOOL_SIZE, 4 by default).
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const fifos = Array.from({ length: threads }, (_, i) => join(dir, `stall-${i}`));
    for (const f of fifos) execFileSync('mkfifo', [f]);
    const stuck: Promise<FileHandle>[] = fifos.map((f) => open(f, 'r'));
    try {
      const t0 = performance.now();
      const { result, slowestHealthMs, polls } = await whileHealthy(() => send(base, 'POST', `/model/load?model_path=${encodeURIComponent(gruPath)}`, {}));
      const ms = performance.now() - t0;
      console.log(`/model/load on a stalled file system: ${result.status} after ${ms.toFixed(0)} ms; /health answered ${polls} times meanwhile, slowest ${slowestHealthMs.toFixed(0)} ms`);
      expect(result.status).toBe(400);
      expect(JSON.parse(result.text).detail).toMatch(/the previous model is still served: .*gru\.pt: not (reached|read) within 1000 ms/);
      expect(ms).toBeGreaterThanOrEqual(990);
      expect(ms).toBeLessThan(3000);
      expect(slowestHealthMs).toBeLessThan(200);
    } finally {
      // A writer for each FIFO lets its open return.
      const writers = fifos.map((f) => openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      for (const h of await Promise.all(stuck)) await h.close();
      writers.forEach((fd) => closeSync(fd));
    }
    expect((await post('/infer', JSON.stringify({ vector_sequence: [unit(3)] }))).status).toBe(200);
  });
});

describe('numbers beyond float32', () => {
  it('a finite value that overflows float32 (1e300) is a 400 naming its position', async () => {
    const r = await post('/infer', `{"vector_sequence": [${vectors(1e300)}]}`);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).detail).toMatch(/vector_sequence\[0\]\[7\] is 1e\+300, beyond float32's range/);
    const b = await post('/infer/batch', `{"sequences": [[${vectors(0.1)}], [${vectors(0.1)}, ${vectors(-3.5e38)}]]}`);
    expect(b.status).toBe(400);
    expect(JSON.parse(b.text).detail).toMatch(/sequences\[1\]\[1\]\[7\] is -3\.5e\+38, beyond float32's range/);
  });

  it('float32 values that overflow inside the model (3e38) are a 400, never a 200 with nulls', async () => {
    const r = await post('/infer', `{"vector_sequence": [${vectors(3e38)}]}`);
    expect(r.status, r.text).toBe(400);
    expect(JSON.parse(r.text).detail).toMatch(/prediction for vector_sequence is not finite/);
    const b = await post('/infer/batch', `{"sequences": [[${vectors(0.1)}], [${vectors(3e38)}]]}`);
    expect(b.status).toBe(400);
    expect(JSON.parse(b.text).detail).toMatch(/prediction for sequences\[1\] is not finite/);
    // The mock (the normalised mean) is computed in float64: finite for any float32 input.
    const mock = await post('/infer', `{"vector_sequence": [${vectors(3e38)}, ${vectors(3e38)}], "use_mock": true}`);
    expect(mock.status).toBe(200);
    expect((JSON.parse(mock.text).predicted_vector as unknown[]).every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
  });

  it('a model whose weights are not finite is refused, at start and by /model/load', async () => {
    torch.manualSeed(4);
    const m = models.gru({ dModel: 8, numLayers: 1 });
    const sd = m.stateDict();
    sd['head.3.bias'] = torch.full([768], NaN);
    const path = join(allowed, 'nan.pt');
    await torch.saveTorchFile({ model_state_dict: sd, model_config: { ...m.config } }, path);
    m.dispose();
    await expect(createServer({ checkpoint: path })).rejects.toThrow(/nan\.pt: head\.3\.bias holds NaN or infinite values/);
    const r = await send(base, 'POST', `/model/load?model_path=${encodeURIComponent(path)}`, {});
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).detail).toMatch(/head\.3\.bias holds NaN or infinite values/);
  });
});

describe('the minor findings', () => {
  it('NaN and Infinity as Python writes them are 400s naming them; inside strings they are text', async () => {
    expect(JSON.parse((await post('/infer', `{"vector_sequence": [${vectors(NaN).replace('NaN', 'NaN')}]}`)).text).detail).toMatch(/vector_sequence\[0\]\[7\] is NaN/);
    expect(JSON.parse((await post('/infer', `{"vector_sequence": [${vectors(Infinity)}]}`)).text).detail).toMatch(/\[0\]\[7\] is Infinity/);
    const strings = await post('/infer', JSON.stringify({ vector_sequence: [unit(4)], note: 'NaN, Infinity and -Infinity "quoted" \\ NaN' }));
    expect(strings.status).toBe(200);
  });

  it('text/plain is a 415, as every type but JSON; application/json with a charset and +json types are read', async () => {
    const body = JSON.stringify({ vector_sequence: [unit(5)] });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await send(base, 'POST', '/infer', { 'content-type': type }, body);
      expect(r.status, type).toBe(415);
      expect(JSON.parse(r.text).detail).toMatch(/Unsupported Media Type/);
    }
    for (const type of ['application/json; charset=utf-8', 'application/vnd.api+json']) {
      expect((await send(base, 'POST', '/infer', { 'content-type': type }, body)).status, type).toBe(200);
    }
  });

  it('a body nested 10,000 deep is a FastAPI-shaped 422, and large inputs are not echoed whole', async () => {
    const deepObject = await post('/infer', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`);
    expect(deepObject.status).toBe(422);
    expect(JSON.parse(deepObject.text).detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'vector_sequence'], msg: 'Field required' });
    const deepList = await post('/infer', `{"vector_sequence": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    expect(deepList.status).toBe(400);
    const nested = await post('/infer', `{"vector_sequence": [${'['.repeat(10_000)}${']'.repeat(10_000)}]}`);
    expect(nested.status).toBe(400);
    const wide = await post('/infer', JSON.stringify({ vector_sequence: [Array(768).fill([1, 2])] }));
    expect(wide.status).toBe(422);
    expect(JSON.parse(wide.text).detail[0]).toMatchObject({ type: 'float_type', loc: ['body', 'vector_sequence', 0, 0], input: [1, 2] });
    const huge = await post('/infer', JSON.stringify({ vector_sequence: { big: Array(100_000).fill(1) } }));
    expect(huge.status).toBe(422);
    expect(JSON.parse(huge.text).detail[0].input).toMatch(/an object of 1 keys, too large to repeat/);
    expect(huge.text.length).toBeLessThan(1000);
  });

  it('an unknown route is a 404 whatever the method and body; a known path with another method a 405', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'POST', 'GET']) {
      const r = await send(base, method, '/nope/x', json, '{"broken": ');
      expect(r.status, method).toBe(404);
      expect(JSON.parse(r.text)).toEqual({ detail: 'Not Found' });
    }
    const r = await send(base, 'GET', '/infer', {});
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
    expect(JSON.parse(r.text)).toEqual({ detail: 'Method Not Allowed' });
    expect((await send(base, 'DELETE', '/health', {})).headers.allow).toMatch(/GET/);
  });

  it('slow clients are cut off: headers not sent in time, a body not sent in time, an idle kept-alive connection', async () => {
    const socketFor = (write: (s: ReturnType<typeof connect>) => void) => new Promise<{ ms: number; text: string }>((resolve) => {
      const port = Number(new URL(base).port);
      const t0 = performance.now();
      const s = connect(port, '127.0.0.1', () => write(s));
      let text = '';
      s.on('data', (d) => (text += d));
      s.on('close', () => resolve({ ms: performance.now() - t0, text }));
      s.on('error', () => undefined);
    });
    // Headers begun and never finished (slowloris).
    const headers = await socketFor((s) => s.write('POST /infer HTTP/1.1\r\nHost: x\r\n'));
    // Headers done, a body of 1000 bytes announced and 10 sent.
    const body = await socketFor((s) => s.write('POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"vector_s'));
    // A request answered, then the connection kept alive and left idle.
    const idle = await socketFor((s) => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    console.log(`slow clients closed after: headers ${headers.ms.toFixed(0)} ms, body ${body.ms.toFixed(0)} ms, idle keep-alive ${idle.ms.toFixed(0)} ms`);
    expect(headers.text).toMatch(/^HTTP\/1.1 408 [\s\S]*"detail":"Request Timeout/);
    expect(headers.ms).toBeLessThan(500 + 1000 + 500); // the timeout, Node's check interval, slack
    expect(body.text).toMatch(/^HTTP\/1.1 408/);
    expect(body.ms).toBeLessThan(1000 + 1000 + 500);
    expect(idle.text).toMatch(/^HTTP\/1.1 200/);
    expect(idle.ms).toBeLessThan(500 + 1000 + 500);
  });
});
