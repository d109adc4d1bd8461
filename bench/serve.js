// serve: `lvmtorch serve` against the seed's inference server rebuilt on its own stack (bench/python/seed_server.py:
// FastAPI + uvicorn + PyTorch, one synchronous forward per request inside `async def`, the batch endpoint looping),
// both serving the same LatentMamba weights (a raw state dict, 5,006,608 parameters, written here by the venv's
// PyTorch with torch.manual_seed(0)) to the same requests, over loopback, with autocannon as the load generator
// (in this process). Scenarios, each for --duration seconds after a --warmup, the servers interleaved in rounds (the
// order alternating), medians with min–max:
//   POST /infer        L=5 x 768 random unit vectors + tmd_codes, a pool of 64 different bodies rotated, 1 connection
//   POST /infer        the same, 16 connections (--connections)
//   POST /infer/batch  32 sequences of 5, a pool of 4 bodies rotated, 1 connection (batches/s)
// Before timing, a correctness check: the same /infer and /infer/batch bodies to both servers give predicted vectors
// within 1e-4 (max abs) of each other, well-formed answers and is_mock false.
// Targets (lvmtorch ÷ python): at 16 connections >= 5x the req/s with a lower p99; at 1 connection req/s >= 1.0x.
//
//   npm run bench -- serve [--duration=10] [--rounds=2] [--warmup=2] [--connections=16] [--python-threads=2]
//                          [--only=python|lvmtorch] [--max-batch=N] [--max-wait-ms=X] [--lvmtorch-args="..."]
//                          [--scenarios=infer-1,infer-16,batch-1]
//
// The lvmtorch side is `node dist/cli/main.js serve --checkpoint FILE --port P [--max-batch N --max-wait-ms X]` at its
// defaults (no thread variables from the shell). --only=python runs a second Python server in lvmtorch's place (to
// check the harness: every ratio should be ~1); --only=lvmtorch runs lvmtorch alone. The Python side needs fastapi and
// uvicorn in the venv: without them it is skipped, and the pip command that installs them is printed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { formatTable, loadSnapshot, median, outDir, rootDir, spread } from './lib/harness.js';

export const description = 'lvmtorch serve vs the seed\'s FastAPI + PyTorch server, same LatentMamba weights: req/s, p50/p99 over loopback';

const TARGETS = { highConnReqRatio: 5, lowConnReqRatio: 1.0 };
const TOLERANCE = 1e-4; // max |lvmtorch − python| over the predicted vectors
const PARAMETERS = 5_006_608; // LatentMamba(784, 512, 2): the seed's
const D = 768;
// The seed's own server on this machine kind (5M-parameter LSTM, one torch thread), measured earlier: for the
// reader to judge how close seed_server.py is.
const SEED_MEASURED = { 'infer-1': '52–63 req/s', 'infer-16': '50–77 req/s, p99 300–420 ms', 'batch-1': '1.4–2.9 batches/s' };

export async function run({ options = {}, log = console.log } = {}) {
  const { defaultPython, threadEnv } = await import('./lib/variants.js');
  const duration = Number(options.duration ?? 10);
  const rounds = Number(options.rounds ?? 2);
  const warmup = Number(options.warmup ?? 2);
  const connections = Number(options.connections ?? 16);
  // Python's best setting on these 2-core machines (2026-12-01, quiet): 2 threads, 95 req/s at 1 connection and 91 at
  // 16, against 56 and 59 with 1 thread (the seed's own measurement used 1).
  const pythonThreads = Number(options['python-threads'] ?? 2);
  const only = options.only ?? null;
  const seqLen = 5;
  const batchSize = 32;
  if (only !== null && only !== 'python' && only !== 'lvmtorch') throw new Error(`--only=${only}: write --only=python or --only=lvmtorch`);

  let autocannon;
  try {
    autocannon = (await import('autocannon')).default;
  } catch {
    throw new Error('autocannon is not installed: `npm ci` (it is a devDependency), or `npm install --no-save autocannon@9`');
  }

  const python = defaultPython(); // .venv/bin/python (PyTorch 2.13): writes the weights, runs the seed's server
  const file = join(outDir, 'serve-latent-mamba.pt');
  const made = JSON.parse(execFileSync(python, ['bench/python/seed_server.py', '--write-weights', file],
    { cwd: rootDir, encoding: 'utf8' }).trim().split('\n').pop());
  if (made.parameters !== PARAMETERS) throw new Error(`LatentMamba has ${made.parameters} parameters, expected ${PARAMETERS}`);
  log(`  weights: ${file} (LatentMamba, ${made.parameters.toLocaleString('en')} parameters, torch.manual_seed(0), PyTorch ${made.torch})`);

  // Which servers run. A side is what a ratio's numerator (lvmtorch) or denominator (python) is measured on.
  const notRun = [];
  const importable = () => {
    try {
      execFileSync(python, ['-c', 'import fastapi, uvicorn'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const pythonOk = only !== 'lvmtorch' && importable();
  if (only !== 'lvmtorch' && !pythonOk) {
    const line = pipCommand(python);
    notRun.push(`python: fastapi/uvicorn are not installed in ${python}; install them with: ${line}`);
    log(`\n  !!! PYTHON SIDE SKIPPED: fastapi and uvicorn are not importable by ${python}. Install them with:\n      ${line}\n`);
  }
  const pythonSide = (id, label) => ({
    id, label, kind: 'python', command: python,
    args: ['bench/python/seed_server.py', '--checkpoint', file, '--threads', String(pythonThreads)],
    env: threadEnv(process.env),
  });
  const lvmtorchArgs = [
    join(rootDir, 'dist/cli/main.js'), 'serve', '--checkpoint', file,
    ...(options['max-batch'] !== undefined ? ['--max-batch', String(options['max-batch'])] : []),
    ...(options['max-wait-ms'] !== undefined ? ['--max-wait-ms', String(options['max-wait-ms'])] : []),
    ...(options['lvmtorch-args'] ? String(options['lvmtorch-args']).split(/\s+/).filter(Boolean) : []),
  ];
  const plan = [];
  if (only !== 'lvmtorch' && pythonOk) plan.push(pythonSide('python', `python (${pythonThreads} thread${pythonThreads === 1 ? '' : 's'})`));
  if (only === 'python') {
    if (pythonOk) plan.push({ ...pythonSide('lvmtorch', 'python #2 (as lvmtorch)'), standIn: true });
  } else {
    plan.push({ id: 'lvmtorch', label: 'lvmtorch (defaults)', kind: 'lvmtorch', command: process.execPath, args: lvmtorchArgs, env: threadEnv(process.env) });
  }
  const standIn = plan.some((s) => s.standIn);

  // Requests: fixed pools, the same bytes to every server.
  const rand = mulberry32(1234);
  const unitVector = () => {
    const v = Array.from({ length: D }, () => gaussian(rand));
    const n = Math.hypot(...v);
    return v.map((x) => Math.fround(x / n));
  };
  const tmd = () => [Math.floor(rand() * 16), Math.floor(rand() * 32), Math.floor(rand() * 64)];
  const sequence = () => Array.from({ length: seqLen }, unitVector);
  const inferPool = Array.from({ length: 64 }, () => Buffer.from(JSON.stringify({ vector_sequence: sequence(), tmd_codes: tmd() })));
  const batchPool = Array.from({ length: 4 }, () => Buffer.from(JSON.stringify({
    sequences: Array.from({ length: batchSize }, sequence), tmd_codes_batch: Array.from({ length: batchSize }, tmd),
  })));
  const allScenarios = [
    { id: 'infer-1', label: 'POST /infer, 1 conn (req/s)', path: '/infer', connections: 1, pool: inferPool, unit: 'req/s' },
    { id: 'infer-16', label: `POST /infer, ${connections} conn (req/s)`, path: '/infer', connections, pool: inferPool, unit: 'req/s' },
    { id: 'batch-1', label: `POST /infer/batch ${batchSize}×${seqLen}, 1 conn (batches/s)`, path: '/infer/batch', connections: 1, pool: batchPool, unit: 'batches/s' },
  ];
  const wanted = options.scenarios ? String(options.scenarios).split(',') : null;
  const scenarios = allScenarios.filter((s) => !wanted || wanted.includes(s.id));
  log(`  requests: /infer bodies ${(inferPool[0].length / 1024).toFixed(0)} KiB (${inferPool.length} rotated), ` +
    `/infer/batch bodies ${(batchPool[0].length / 2 ** 20).toFixed(1)} MiB (${batchPool.length} rotated)`);

  const servers = [];
  const failed = [];
  try {
    for (const side of plan) {
      try {
        const s = await startServer(side);
        servers.push(s);
        log(`  ${side.label.padEnd(34)} ready on :${s.port} in ${s.startSeconds.toFixed(1)} s (pid ${s.pid})` +
          (s.hello ? `: torch ${s.hello.torch}, ${s.hello.threads} thread(s), ${s.hello.blas?.kind}, fastapi ${s.hello.fastapi}, uvicorn ${s.hello.uvicorn}` : '') +
          (side.kind === 'lvmtorch' ? (s.readyLine ? `: "${s.readyLine.trim()}"` : ' (no "listening on" line seen; ready by GET /health)') : ''));
      } catch (e) {
        failed.push({ id: side.id, error: e.message });
        notRun.push(`${side.label}: ${e.message.split('\n')[0]}`);
        log(`\n  !!! ${side.label.toUpperCase()} FAILED TO START: ${e.message}\n`);
        if (side.kind === 'lvmtorch') process.exitCode = 1;
      }
    }
    if (!servers.length) {
      process.exitCode = 1;
      return { table: `nothing measured:\n${notRun.map((n) => `  ${n}`).join('\n')}`, results: { notRun, failed } };
    }

    // ---- correctness, once, before any timing ----
    const check = await checkAnswers(servers, inferPool.slice(0, 4), batchPool[0], batchSize);
    for (const line of check.lines) log(`  ${line}`);

    // ---- timing ----
    const samples = [];
    const errorsSeen = [];
    for (let round = 1; round <= rounds; round++) {
      for (const sc of scenarios) {
        const order = round % 2 ? servers : [...servers].reverse();
        for (const s of order) {
          process.stderr.write(`  round ${round}/${rounds}: ${sc.label} → ${s.side.id} ...`);
          if (warmup > 0) {
            const w = await load(autocannon, s, sc, warmup);
            const bad = w.errors + w.timeouts + w.non2xx;
            if (bad) errorsSeen.push(`${s.side.id} ${sc.id} warm-up round ${round}: ${describeErrors(w)}`);
          }
          const before = loadSnapshot();
          const cpu0 = process.cpuUsage();
          const r = await load(autocannon, s, sc, duration);
          const cpu1 = process.cpuUsage(cpu0);
          const after = loadSnapshot();
          const sample = {
            round, scenario: sc.id, server: s.side.id, connections: sc.connections, ...r,
            serverCores: treeTicks(after, s.pid, before) / 100 / r.duration,
            loadGeneratorCores: (cpu1.user + cpu1.system) / 1e6 / r.duration,
          };
          samples.push(sample);
          const bad = r.errors + r.timeouts + r.non2xx;
          if (bad) errorsSeen.push(`${s.side.id} ${sc.id} round ${round}: ${describeErrors(r)}`);
          process.stderr.write(` ${r.perSecond.toFixed(1)} ${sc.unit}, p50 ${r.p50} ms, p99 ${r.p99} ms${bad ? `, ${bad} ERRORS` : ''}\n`);
        }
      }
    }

    // ---- summary ----
    const pick = (sc, id) => samples.filter((x) => x.scenario === sc && x.server === id);
    const stat = (sc, id, key) => { const xs = pick(sc, id).map((x) => x[key]); return xs.length ? median(xs) : NaN; };
    const has = (id) => servers.some((s) => s.side.id === id);
    const both = has('python') && has('lvmtorch');
    const rows = [];
    const summary = [];
    for (const sc of scenarios) {
      let first = true;
      for (const s of servers) {
        const id = s.side.id;
        const xs = pick(sc.id, id);
        const rps = stat(sc.id, id, 'perSecond');
        const p99 = stat(sc.id, id, 'p99');
        const bad = xs.reduce((t, x) => t + x.errors + x.timeouts + x.non2xx, 0);
        const reqRatio = both && id === 'lvmtorch' ? rps / stat(sc.id, 'python', 'perSecond') : NaN;
        const p99Ratio = both && id === 'lvmtorch' ? p99 / stat(sc.id, 'python', 'p99') : NaN;
        let target = '';
        let pass = null;
        if (!Number.isNaN(reqRatio)) {
          if (sc.id === 'infer-16') {
            pass = reqRatio >= TARGETS.highConnReqRatio && p99Ratio < 1;
            target = `≥${TARGETS.highConnReqRatio}×, lower p99: ${pass ? 'PASS' : 'MISS'}`;
          } else if (sc.id === 'infer-1') {
            pass = reqRatio >= TARGETS.lowConnReqRatio;
            target = `≥${TARGETS.lowConnReqRatio.toFixed(1)}×: ${pass ? 'PASS' : 'MISS'}`;
          }
          if (standIn && target) target += ' (stand-in)';
          if (bad && target) target += ' (ERRORS)';
        }
        rows.push([
          first ? sc.label : '', s.side.label,
          fmt(rps, 1), spread(xs.map((x) => x.perSecond), 1),
          fmt(stat(sc.id, id, 'p50'), 1), fmt(p99, 1), spread(xs.map((x) => x.p99), 1),
          bad ? `${bad} !!!` : '0',
          fmt(stat(sc.id, id, 'serverCores'), 2), fmt(stat(sc.id, id, 'loadGeneratorCores'), 2),
          Number.isNaN(reqRatio) ? '' : `${reqRatio.toFixed(2)}×`, Number.isNaN(p99Ratio) ? '' : `${p99Ratio.toFixed(2)}×`,
          target,
        ]);
        first = false;
        summary.push({
          scenario: sc.id, server: id, label: s.side.label, unit: sc.unit, connections: sc.connections,
          medianPerSecond: rps, perSecond: xs.map((x) => x.perSecond), medianP50Ms: stat(sc.id, id, 'p50'), medianP99Ms: p99,
          p99Ms: xs.map((x) => x.p99), errors: bad, ratioPerSecond: reqRatio, ratioP99: p99Ratio, pass, standIn,
        });
      }
    }
    const py = (sc) => stat(sc, 'python', 'perSecond');
    const seedLine = has('python')
      ? `python server vs the seed's own server measured earlier on this machine kind (1 torch thread): ` +
        scenarios.map((sc) => `${sc.id} ${fmt(py(sc.id), 1)} ${sc.unit}${sc.id === 'infer-16' ? `, p99 ${fmt(stat(sc.id, 'python', 'p99'), 0)} ms` : ''} ` +
          `(seed: ${SEED_MEASURED[sc.id]})`).join('; ')
      : null;
    const targetsLine = both
      ? `targets, lvmtorch ÷ python: ${summary.filter((x) => x.pass !== null).map((x) => `${x.scenario} ${x.ratioPerSecond.toFixed(2)}× req/s` +
        `${x.scenario === 'infer-16' ? `, p99 ${x.ratioP99.toFixed(2)}×` : ''} ${x.pass ? 'PASS' : 'MISS'}`).join('; ')}` +
        (standIn ? ' — lvmtorch\'s place held by a second Python server (--only=python): a harness check, no verdict' : '')
      : 'targets: not judged (one side did not run)';
    const table = [
      `${scenarios.length} scenarios × ${servers.length} servers, ${rounds} interleaved round(s) of ${duration} s each after a ${warmup} s ` +
        `warm-up; medians (min–max); autocannon in the bench process over loopback; L=${seqLen}, LatentMamba ${PARAMETERS.toLocaleString('en')} params`,
      '',
      formatTable(['<scenario', '<server', 'rate', 'min–max', 'p50 ms', 'p99 ms', 'p99 min–max', 'errors',
        'server cores', 'loadgen cores', '÷py rate', '÷py p99', '<target'], rows),
      '',
      `check (before timing): ${check.summary}`,
      targetsLine,
      ...(seedLine ? [seedLine] : []),
      ...(errorsSeen.length ? ['!!! ERRORS / NON-2XX ANSWERS (the rates above count only 2xx):', ...errorsSeen.map((e) => `  ${e}`)] : []),
      ...(notRun.length ? ['!!! NOT RUN:', ...notRun.map((n) => `  ${n}`)] : []),
    ].join('\n');
    if (errorsSeen.length || !check.pass) process.exitCode = 1;
    return {
      table,
      results: {
        config: { duration, rounds, warmup, connections, pythonThreads, only, seqLen, batchSize, inferPool: inferPool.length,
          batchPool: batchPool.length, scenarios: scenarios.map((s) => s.id), weights: file, parameters: made.parameters },
        targets: TARGETS, tolerance: TOLERANCE, seedMeasured: SEED_MEASURED,
        servers: servers.map((s) => ({ id: s.side.id, label: s.side.label, kind: s.side.kind, standIn: !!s.side.standIn,
          command: s.side.command, args: s.side.args, port: s.port, hello: s.hello, readyLine: s.readyLine,
          health: s.health, startSeconds: s.startSeconds })),
        notRun, failed, check, errors: errorsSeen, summary, samples,
      },
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

// ---- servers ------------------------------------------------------------------------------------------------

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a side's server on a free port and waits until GET /health answers 200 (or the process exits: an error). */
async function startServer(side, timeoutSeconds = 120) {
  if (side.kind === 'lvmtorch' && !existsSync(side.args[0])) {
    throw new Error(`${side.args[0]} is not there: run \`npm run build\` first`);
  }
  const port = await freePort();
  const args = [...side.args, '--port', String(port)];
  const t0 = performance.now();
  const child = spawn(side.command, args, { cwd: rootDir, env: side.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = [];
  let hello = null;
  let readyLine = null;
  const keep = (text) => {
    for (const line of text.split('\n')) {
      if (!line) continue;
      if (side.kind === 'python' && !hello && line.startsWith('{')) { try { hello = JSON.parse(line); continue; } catch { /* not the greeting */ } }
      if (!readyLine && line.includes(`listening on http://127.0.0.1:${port}`)) readyLine = line;
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stdout.setEncoding('utf8').on('data', keep); // drained always: uvicorn's access log writes a line a request
  child.stderr.setEncoding('utf8').on('data', keep);
  let exit = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  const stop = async () => {
    if (exit) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => { if (!exit) child.kill('SIGKILL'); }, 5000);
    await exited;
    clearTimeout(t);
  };
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (exit) {
      const out = tail.slice(-12).join('\n    ');
      const missing = side.kind === 'lvmtorch' && /unknown command/i.test(out)
        ? '`lvmtorch serve` does not exist yet (dist/cli/main.js has no "serve" command; lib/lvm/serve/ is not built): ' +
          'use --only=python to check the harness against the Python server alone. '
        : '';
      const last = tail.length ? tail[tail.length - 1].trim() : '(no output)';
      throw new Error(`${missing}\`${[side.command, ...args].join(' ')}\` exited (code ${exit.code}, signal ${exit.signal}) before ` +
        `GET /health answered; its last output line: ${last}\n  its last output:\n    ${out || '(none)'}`);
    }
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) {
        const health = await r.json().catch(() => null);
        return { side, port, url, pid: child.pid, hello, health, stop, startSeconds: (performance.now() - t0) / 1e3,
          get readyLine() { return readyLine; }, output: () => tail.slice() };
      }
    } catch { /* not listening yet */ }
    if ((performance.now() - t0) / 1e3 > timeoutSeconds) {
      await stop();
      throw new Error(`\`${[side.command, ...args].join(' ')}\`: GET ${url}/health did not answer 200 within ${timeoutSeconds} s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** CPU ticks a process and its descendants used between two harness snapshots. */
function treeTicks(after, pid, before) {
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, st] of after.procs) if (!tree.has(p) && tree.has(st.ppid)) { tree.add(p); grew = true; }
  }
  let ticks = 0;
  for (const p of tree) {
    const a = after.procs.get(p);
    if (!a) continue;
    const b = before.procs.get(p);
    ticks += (a.own + a.reaped) - (b && b.start === a.start ? b.own + b.reaped : 0);
  }
  return ticks;
}

// ---- load ---------------------------------------------------------------------------------------------------

/**
 * One autocannon run of `seconds` against a server: the bodies of the scenario's pool rotated across all connections.
 * Latencies are taken from each 2xx response (autocannon's own histogram keeps whole milliseconds only).
 */
async function load(autocannon, server, sc, seconds) {
  let next = 0;
  const latencies = [];
  const r = await new Promise((resolve, reject) => {
    const instance = autocannon({
      url: server.url, connections: sc.connections, duration: seconds, pipelining: 1, timeout: 30,
      requests: [{
        method: 'POST', path: sc.path, headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: sc.pool[next++ % sc.pool.length] }),
      }],
    }, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', (client, statusCode, bytes, ms) => { if (statusCode >= 200 && statusCode < 300) latencies.push(ms); });
  });
  latencies.sort((a, b) => a - b);
  const q = (p) => (latencies.length ? +latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)].toFixed(2) : NaN);
  const ok = r['2xx'];
  return {
    duration: r.duration, ok, perSecond: ok / r.duration, completed: r.requests.total, sent: r.requests.sent,
    p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), maxMs: q(1),
    meanMs: latencies.length ? +(latencies.reduce((t, x) => t + x, 0) / latencies.length).toFixed(2) : NaN,
    autocannonLatencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx, resets: r.resets,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    bytesRead: r.throughput.total,
  };
}

function describeErrors(r) {
  const codes = Object.entries(r.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, n]) => `${c} ×${n}`).join(', ');
  return `${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx${codes ? ` (${codes})` : ''}`;
}

// ---- correctness ----------------------------------------------------------------------------------------------

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(60_000) });
  const text = await r.text();
  if (!r.ok) throw new Error(`POST ${url}: HTTP ${r.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

function problemsOfVector(v, where) {
  if (!Array.isArray(v) || v.length !== D || !v.every(Number.isFinite)) return [`${where}: not ${D} finite numbers`];
  const n = Math.hypot(...v);
  return Math.abs(n - 1) > 1e-3 ? [`${where}: norm ${n.toFixed(5)}, not 1`] : [];
}

/**
 * The same bodies to every server: each answer well-formed (the seed's fields and types, 768 unit-norm floats,
 * is_mock false), and every server's vectors within TOLERANCE of the python server's (of the first server's without it).
 */
async function checkAnswers(servers, inferBodies, batchBody, batchSize) {
  const answers = [];
  const problems = [];
  for (const s of servers) {
    const single = [];
    for (const [i, body] of inferBodies.entries()) {
      try {
        const a = await post(`${s.url}/infer`, body);
        single.push(a.predicted_vector);
        problems.push(...problemsOfVector(a.predicted_vector, `${s.side.id} /infer #${i}`));
        if (typeof a.confidence !== 'number' || !Number.isInteger(a.latency_ms) || typeof a.model_version !== 'string' || a.is_mock !== false) {
          problems.push(`${s.side.id} /infer #${i}: fields ${JSON.stringify({ confidence: a.confidence, latency_ms: a.latency_ms, model_version: a.model_version, is_mock: a.is_mock })}`);
        }
      } catch (e) {
        problems.push(`${s.side.id} /infer #${i}: ${e.message}`);
        single.push(null);
      }
    }
    let batch = null;
    try {
      const a = await post(`${s.url}/infer/batch`, batchBody);
      batch = a.predictions;
      if (a.count !== batchSize || !Array.isArray(a.predictions) || a.predictions.length !== batchSize ||
          !Number.isInteger(a.total_latency_ms) || typeof a.avg_latency_ms !== 'number' || a.is_mock !== false) {
        problems.push(`${s.side.id} /infer/batch: fields ${JSON.stringify({ count: a.count, n: a.predictions?.length, total_latency_ms: a.total_latency_ms, avg_latency_ms: a.avg_latency_ms, is_mock: a.is_mock })}`);
      }
      for (const [i, v] of (a.predictions ?? []).entries()) problems.push(...problemsOfVector(v, `${s.side.id} /infer/batch [${i}]`));
    } catch (e) {
      problems.push(`${s.side.id} /infer/batch: ${e.message}`);
    }
    answers.push({ id: s.side.id, single, batch });
  }
  const ref = answers.find((a) => a.id === 'python') ?? answers[0];
  const maxDiff = (a, b) => (a && b && a.length === b.length ? Math.max(...a.map((x, i) => Math.abs(x - b[i]))) : Infinity);
  const diffs = [];
  for (const a of answers) {
    if (a === ref) continue;
    const single = Math.max(...a.single.map((v, i) => maxDiff(v, ref.single[i])));
    const batch = a.batch && ref.batch ? Math.max(...a.batch.map((v, i) => maxDiff(v, ref.batch[i]))) : Infinity;
    diffs.push({ server: a.id, against: ref.id, inferMaxAbs: single, batchMaxAbs: batch, pass: single <= TOLERANCE && batch <= TOLERANCE });
  }
  // Within one server: the batch endpoint's first answers against single requests of the same sequences are not
  // compared (different bodies); the cross-server comparison is the check.
  const pass = !problems.length && diffs.every((d) => d.pass);
  const what = `/infer ×${inferBodies.length} and /infer/batch ×1 (${batchSize} sequences)`;
  const summary = diffs.length
    ? `${what}: ${diffs.map((d) => `max |${d.server} − ${d.against}| = ${d.inferMaxAbs.toExponential(2)} (/infer), ` +
      `${d.batchMaxAbs.toExponential(2)} (/infer/batch), tolerance ${TOLERANCE}: ${d.pass ? 'PASS' : 'FAIL'}`).join('; ')}` +
      `${problems.length ? `; ${problems.length} malformed answer(s): FAIL` : ''}`
    : `${what} to ${ref.id} alone: ${problems.length ? `${problems.length} malformed answer(s): FAIL` : 'well-formed (nothing to compare with)'}`;
  const lines = [`check: ${summary}`, ...problems.slice(0, 10).map((p) => `  !!! ${p}`)];
  if (!pass) lines.push('  !!! CHECK FAILED: the servers do not agree; the timings below compare different computations');
  return { pass, summary, diffs, problems, lines };
}

// ---- small helpers --------------------------------------------------------------------------------------------

/** The pip command that installs fastapi and uvicorn into the venv from this machine's local wheel store (as scripts/setup.sh picks it). */
function pipCommand(python) {
  let indexes = [];
  try {
    const out = execFileSync(python, ['-m', 'pip', 'config', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    indexes = [...new Set(out.match(/file:\/\/[^\s']+/g) ?? [])].sort();
  } catch { /* no pip config: PyPI */ }
  const pip = join(python.replace(/\/python[\d.]*$/, ''), 'pip');
  const idx = indexes.length ? [`--index-url ${indexes[0]}`, ...indexes.slice(1).map((i) => `--extra-index-url ${i}`)] : [];
  return [pip, 'install', '--disable-pip-version-check', ...idx, 'fastapi', 'uvicorn'].join(' ');
}

function fmt(x, digits) {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand) {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
