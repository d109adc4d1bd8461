// Shared pieces of the benchmarks in bench/: worker processes spoken to one JSON line at a time, the C++
// reference binaries (built once into bench/out/), statistics, tables, and what machine this ran on.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const rootDir = dirname(benchDir);
export const outDir = join(benchDir, 'out');

/**
 * A child process that answers each request line (JSON) with one line (JSON). Its first line is a greeting
 * (what it is: versions, library paths), available as `worker.hello`. Anything it writes to stderr is passed on.
 */
export async function startWorker(name, command, args, opts = {}) {
  const child = spawn(command, args, { cwd: rootDir, stdio: ['pipe', 'pipe', 'inherit'], ...opts });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const next = async () => {
    const r = await Promise.race([lines.next(), exited.then((e) => ({ exited: e }))]);
    if (r.exited || r.done) {
      const e = r.exited ?? (await exited);
      throw new Error(`${name} worker exited (code ${e.code}, signal ${e.signal})`);
    }
    const msg = JSON.parse(r.value);
    if (msg.error) throw new Error(`${name} worker: ${msg.error}`);
    return msg;
  };
  const hello = await next();
  return {
    name,
    hello,
    pid: child.pid,
    async request(req) {
      child.stdin.write(JSON.stringify(req) + '\n');
      return next();
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}

/**
 * Compiles bench/cpp/<name>.cc against the libtorch that `env` selects (scripts/libtorch-paths.mjs, as the native
 * build does) into bench/out/<name>-<variant> (one binary per libtorch variant: no C++ ABI holds across minors),
 * unless that binary is newer than the source and was built with the same flags. libtorch 2.x headers want C++20.
 * The binary finds its libtorch through an rpath to that libtorch's lib folder.
 */
export function buildCpp(name, opts = {}) {
  const { log = console.error, env = process.env } = typeof opts === 'function' ? { log: opts } : opts;
  const src = join(benchDir, 'cpp', `${name}.cc`);
  const paths = (opt) => execFileSync(process.execPath, [join(rootDir, 'scripts/libtorch-paths.mjs'), opt],
    { encoding: 'utf8', env }).trim();
  const variant = paths('--variant');
  const major = Number(/^(\d+)/.exec(paths('--version'))?.[1] ?? 1);
  const bin = join(outDir, `${name}-${variant}`);
  const libDir = paths('--lib-dir');
  const args = [
    '-O2', major >= 2 ? '-std=c++20' : '-std=c++17', `-D_GLIBCXX_USE_CXX11_ABI=${paths('--cxx11-abi')}`,
    ...paths('--include').split(/\s+/).filter(Boolean).map((d) => `-I${d}`),
    src, '-o', bin,
    `-L${libDir}`, `-Wl,-rpath,${libDir}`, ...paths('--libs').split(/\s+/).filter(Boolean), '-lpthread',
  ];
  const stamp = `${bin}.flags`;
  const fresh = existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs &&
    existsSync(stamp) && readFileSync(stamp, 'utf8') === args.join(' ');
  if (!fresh) {
    mkdirSync(outDir, { recursive: true });
    log(`  compiling bench/cpp/${name}.cc for ${variant} (once; cached in bench/out/${name}-${variant}) ...`);
    const t0 = Date.now();
    execFileSync('g++', args, { stdio: 'inherit', env });
    writeFileSync(stamp, args.join(' '));
    log(`  compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return bin;
}

/** Runs `once` once to warm up, then again until `seconds` have passed: the answer line a worker sends back. */
export function timeRepeated(once, seconds) {
  once();  // warm: allocations, first-call costs
  let iters = 0;
  const t0 = performance.now();
  let elapsed;
  do {
    once();
    iters++;
    elapsed = (performance.now() - t0) / 1e3;
  } while (elapsed < seconds);
  return { iters, seconds: elapsed, ms: (elapsed / iters) * 1e3 };
}

/** "min–max" of some samples, with `digits` decimals. */
export function spread(xs, digits) {
  return xs.length ? `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}` : '';
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Plain-text table; columns whose header starts with '<' are left-aligned, the others right-aligned. */
export function formatTable(headers, rows) {
  const cells = [headers.map((h) => h.replace(/^</, '')), ...rows.map((r) => r.map((c) => String(c ?? '')))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (headers[i].startsWith('<') ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** CPU, cores, load, node, libtorch, git revision: printed above each result and stored with it. */
export function machineInfo() {
  const git = (...a) => {
    try { return execFileSync('git', a, { cwd: rootDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); }
    catch { return null; }
  };
  let libtorch = null;
  try {
    libtorch = JSON.parse(execFileSync(process.execPath, [join(rootDir, 'scripts/libtorch-paths.mjs'), '--json'],
      { encoding: 'utf8' }));
  } catch { /* reported as null */ }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadavg: loadavg().map((x) => +x.toFixed(2)),
    node: process.version,
    libtorch: libtorch && { version: libtorch.version, libDir: libtorch.libDir, source: libtorch.source },
    git: git('rev-parse', '--short', 'HEAD'),
    gitDirty: git('status', '--porcelain', '--untracked-files=no') ? true : false,
    date: new Date().toISOString(),
  };
}

export function formatMachine(m) {
  return [
    `machine: ${m.cpu}, ${m.cores} cores (load ${m.loadavg.join(' ')}), node ${m.node}`,
    `libtorch ${m.libtorch?.version ?? '?'} (${m.libtorch?.libDir ?? '?'}), git ${m.git}${m.gitDirty ? ' (dirty)' : ''}`,
  ].join('\n');
}

// ---- what else ran: load average and CPU time of other processes ------------------------------------------
// On a shared machine a benchmark's numbers mean little without the load beside them. A snapshot holds the load
// average, the machine's busy CPU ticks (/proc/stat), this process's own ticks with those of its reaped children
// (the workers, once closed, and the compilers), and every process's ticks, so that two snapshots tell how much
// CPU the rest of the machine used in between, and who used it.

const TICK = 100; // USER_HZ: /proc's unit of CPU time, 100 per second on Linux

function readProcStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const f = text.slice(close + 2).split(' '); // f[0] is field 3 (state)
    return {
      comm: text.slice(text.indexOf('(') + 1, close), ppid: Number(f[1]), start: f[19],
      own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return null;
  }
}

function commandLine(pid, comm) {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
      .map((a, i) => (i === 0 ? a.split('/').pop() : a)).join(' ');
    return (cmd || comm).slice(0, 60);
  } catch {
    return comm;
  }
}

export function loadSnapshot() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  const procs = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readProcStat(name);
    if (st) procs.set(Number(name), st);
  }
  return {
    time: Date.now(), loadavg: loadavg().map((x) => +x.toFixed(2)), busy: user + nice + system + irq + softirq + steal,
    self: procs.get(process.pid) ?? readProcStat(process.pid), procs,
  };
}

/** What ran beside us between two snapshots: load averages, other processes' CPU (cores on average), the busiest. */
export function describeLoad(before, after, top = 4) {
  const seconds = (after.time - before.time) / 1e3;
  const ours = new Set([process.pid]);
  for (let grew = true; grew;) { // our descendants still alive (workers not yet closed)
    grew = false;
    for (const [pid, p] of after.procs) if (!ours.has(pid) && ours.has(p.ppid)) { ours.add(pid); grew = true; }
  }
  // A process's own ticks since the first snapshot (all of them if it started since). Reaped children's ticks are
  // counted for us only (our workers and compilers all start after the first snapshot): another process's reaped
  // ticks may include a child's whole life, long before this window.
  const delta = (pid, p, field) => {
    const b = before.procs.get(pid);
    return p[field] - (b && b.start === p.start ? b[field] : 0);
  };
  let oursTicks = (after.self.own + after.self.reaped) - (before.self.own + before.self.reaped);
  const others = [];
  for (const [pid, p] of after.procs) {
    if (pid === process.pid) continue;
    if (ours.has(pid)) oursTicks += delta(pid, p, 'own') + delta(pid, p, 'reaped');
    else {
      const d = delta(pid, p, 'own');
      if (d > 0) others.push({ pid, what: commandLine(pid, p.comm), cpuSeconds: +(d / TICK).toFixed(1) });
    }
  }
  others.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  const otherSeconds = Math.max(0, (after.busy - before.busy - oursTicks) / TICK);
  return {
    seconds: +seconds.toFixed(1),
    loadavgBefore: before.loadavg, loadavgAfter: after.loadavg,
    cores: cpus().length,
    ourCores: +(oursTicks / TICK / seconds).toFixed(2),
    otherCores: +(otherSeconds / seconds).toFixed(2),
    busiestOthers: others.slice(0, top),
    // CPU time of other processes that ended within the window (short-lived ones: compilers, test workers)
    endedOthersSeconds: +Math.max(0, otherSeconds - others.reduce((t, o) => t + o.cpuSeconds, 0)).toFixed(1),
  };
}

export function formatLoad(l) {
  const busiest = l.busiestOthers.filter((o) => o.cpuSeconds >= 0.5)
    .map((o) => `${o.what} (pid ${o.pid}) ${o.cpuSeconds} s`).join('; ');
  return [
    `load: 1/5/15-min load average ${l.loadavgBefore.join(' ')} before, ${l.loadavgAfter.join(' ')} after; over these ` +
      `${l.seconds} s this benchmark used ${l.ourCores} of ${l.cores} cores on average and other processes ${l.otherCores}`,
    ...(busiest ? [`  busiest other processes still running (their CPU time in this window): ${busiest}`] : []),
    ...(l.endedOthersSeconds >= 0.5 ? [`  and ${l.endedOthersSeconds} s of CPU in other processes that ended within it`] : []),
    ...(l.otherCores > 0.1 ? ['  the machine was shared: read the min–max columns before trusting a ratio'] : []),
  ].join('\n');
}
