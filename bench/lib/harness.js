// Shared pieces of the benchmarks in bench/: worker processes spoken to one JSON line at a time, the C++
// reference binaries (built once into bench/out/), statistics, tables, and what machine this ran on.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
 * Compiles bench/cpp/<name>.cc against the libtorch the addon uses (scripts/libtorch-paths.mjs, as binding.gyp
 * does) into bench/out/<name>, unless that binary is newer than the source and was built with the same flags.
 */
export function buildCpp(name, log = console.error) {
  const src = join(benchDir, 'cpp', `${name}.cc`);
  const bin = join(outDir, name);
  const paths = (opt) => execFileSync(process.execPath, [join(rootDir, 'scripts/libtorch-paths.mjs'), opt],
    { encoding: 'utf8' }).trim();
  const libDir = paths('--lib-dir');
  const args = [
    '-O2', '-std=c++17', `-D_GLIBCXX_USE_CXX11_ABI=${paths('--cxx11-abi')}`,
    ...paths('--include').split(/\s+/).filter(Boolean).map((d) => `-I${d}`),
    src, '-o', bin,
    `-L${libDir}`, `-Wl,-rpath,${libDir}`, ...paths('--libs').split(/\s+/).filter(Boolean), '-lpthread',
  ];
  const stamp = `${bin}.flags`;
  const fresh = existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs &&
    existsSync(stamp) && readFileSync(stamp, 'utf8') === args.join(' ');
  if (!fresh) {
    mkdirSync(outDir, { recursive: true });
    log(`  compiling bench/cpp/${name}.cc (once; cached in bench/out/${name}) ...`);
    const t0 = Date.now();
    execFileSync('g++', args, { stdio: 'inherit' });
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
