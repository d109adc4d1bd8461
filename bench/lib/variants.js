// Which lvmtorch variants and which Python PyTorch installs this machine has, found the way the loader finds
// libtorch (dist/torch/libtorch/find.js), and the thread settings a benchmark runs each of them at.
//
// A variant is one libtorch minor (torch-2.13-cpu: pip's PyTorch 2.13 with MKL inside libtorch_cpu;
// torch-1.13-cpu: Debian's libtorch 1.13 with Debian's OpenBLAS). Each is looked for three ways: as this process
// finds it (LIBTORCH or not), as a Python torch (LIBTORCH unset), and as the system's libtorch
// (LIBTORCH_USE_PYTORCH=0). A variant runs when a binary of lvmtorch for it is built or shipped; a Python runs when
// the libtorch search named one for its libtorch (a pip install's interpreter, or /usr/bin/python3 for Debian's).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { candidates, VARIANTS } from '../../dist/torch/libtorch/binaries.js';
import { findLibtorch, majorMinor } from '../../dist/torch/libtorch/find.js';
import { openblasOf } from '../../dist/torch/libtorch/openblas.js';

import { startWorker } from './harness.js';

// Thread variables a worker's "defaults" must not inherit from the shell that started the benchmark.
export const THREAD_VARS = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'GOTO_NUM_THREADS'];
const LOADER_VARS = ['LIBTORCH', 'LIBTORCH_PYTHON', 'LIBTORCH_USE_PYTORCH'];

export function without(env, names) {
  const out = { ...env };
  for (const n of names) delete out[n];
  return out;
}

/**
 * {
 *   lvmtorch: [{ variant, version, minor, libtorch, openblas, binary, env, isDefault }],   // runnable variants
 *   pythons:  [{ python, version, minor, variant, openblas, isAnchor }],                    // newest first
 *   skipped:  ['why a variant or a Python does not run', ...],
 *   defaultVariant, defaultPython,
 * }
 * `env` is the environment that makes a worker load that variant (LIBTORCH set to it, no thread variables).
 */
export function discover(env = process.env) {
  const probes = [
    { how: 'as this process finds it', env },
    { how: 'as a Python torch', env: without(env, ['LIBTORCH']) },
    { how: 'as the system libtorch', env: { ...without(env, ['LIBTORCH', 'LIBTORCH_PYTHON']), LIBTORCH_USE_PYTORCH: '0' } },
  ];
  const found = new Map();
  const skipped = [];
  let defaultVariant = null;
  for (const [i, p] of probes.entries()) {
    let lt;
    try {
      lt = findLibtorch(p.env).libtorch;
    } catch (e) {
      skipped.push(`libtorch ${p.how}: ${e.message}`);
      continue;
    }
    if (!lt) {
      if (i === 0) skipped.push('this process\'s own libtorch search found nothing (`node dist/cli/main.js doctor` says why)');
      continue;
    }
    if (i === 0) defaultVariant = lt.variant;
    const known = found.get(lt.variant);
    if (!known) found.set(lt.variant, { lt, how: p.how });
    else if (!known.lt.python && lt.python) known.lt = { ...known.lt, python: lt.python };
  }
  for (const v of VARIANTS) {
    if (v.name.endsWith('-cpu') && !found.has(v.name)) {
      skipped.push(`${v.name} and its Python: ${v.libtorch} is not installed here (${v.install})`);
    }
  }

  const lvmtorch = [];
  const pythons = [];
  for (const { lt } of found.values()) {
    const openblas = safeOpenblas(lt);
    if (lt.python) {
      if (existsSync(lt.python)) {
        pythons.push({ python: lt.python, version: lt.version, minor: majorMinor(lt.version), variant: lt.variant, openblas });
      } else skipped.push(`python ${majorMinor(lt.version)}: ${lt.python} is not there`);
    } else {
      skipped.push(`python ${majorMinor(lt.version)}: no Python known for ${lt.root}`);
    }
    if (lt.cuda) {
      skipped.push(`lvmtorch ${lt.variant}: a CUDA libtorch; these benchmarks compare CPU variants`);
      continue;
    }
    const workerEnv = {
      ...without(env, [...LOADER_VARS, ...THREAD_VARS, ...(lt.variant === defaultVariant ? [] : ['LVMTORCH_BINARY_DIR'])]),
      LIBTORCH: libtorchValue(lt),
    };
    const tried = candidates(lt.variant, workerEnv);
    const hit = tried.find((c) => typeof c.node === 'string');
    if (!hit) {
      skipped.push(`lvmtorch ${lt.variant}: no binary built (${tried.map((c) => c.node.missing).join('; ')}); ` +
        'build it with `npm run build` under the env that selects this libtorch');
      continue;
    }
    lvmtorch.push({
      variant: lt.variant, version: lt.version, minor: majorMinor(lt.version), libtorch: lt, openblas, binary: hit.node,
      env: workerEnv, isDefault: lt.variant === defaultVariant,
    });
  }
  const byVersion = (a, b) => compareVersions(b.version, a.version);
  lvmtorch.sort(byVersion);
  pythons.sort(byVersion);
  pythons.forEach((p, i) => { p.isAnchor = i === 0; });
  const def = found.get(defaultVariant)?.lt;
  return { lvmtorch, pythons, skipped, defaultVariant, defaultPython: def?.python ?? null };
}

/** The variants `--variants=a,b` names (all when unset), logging a line for each one left out. */
export function selectVariants(found, option, log) {
  const wanted = option ? String(option).split(',') : null;
  const variants = found.lvmtorch.filter((v) => !wanted || wanted.includes(v.variant));
  for (const v of found.lvmtorch) if (!variants.includes(v)) log(`  skipped: lvmtorch ${v.variant} (not in --variants)`);
  return variants;
}

/** The Python the targets are measured against (the newest found), or throws. */
export function anchorPython(found) {
  const anchor = found.pythons.find((p) => p.isAnchor);
  if (!anchor) throw new Error('no Python PyTorch found to compare with (see the skipped lines above)');
  return anchor;
}

/** The Python of the libtorch this process loads by default (the one to compare with like for like), or throws. */
export function defaultPython(env = process.env) {
  const { defaultPython: python, defaultVariant } = discover(env);
  if (!python) {
    throw new Error(`no Python is known for the default libtorch (${defaultVariant ?? 'none found'}): ` +
      'set LIBTORCH_PYTHON, or install torch into .venv (scripts/setup.sh)');
  }
  return python;
}

// What LIBTORCH must say for a worker to load exactly this libtorch: Debian's CMake package folder for the system's
// (e.g. /usr/lib/x86_64-linux-gnu/cmake/Torch), the libtorch or Python torch folder otherwise.
function libtorchValue(lt) {
  const cmakeDir = join(lt.cmakePrefix, 'Torch');
  const debianStyle = !existsSync(join(lt.root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'));
  return debianStyle && existsSync(join(cmakeDir, 'TorchConfig.cmake')) ? cmakeDir : lt.root;
}

function safeOpenblas(lt) {
  try {
    return openblasOf(lt) !== null;
  } catch {
    return false;
  }
}

function compareVersions(a, b) {
  const pa = a.split(/[.+a-z]/i).map((x) => Number(x) || 0);
  const pb = b.split(/[.+a-z]/i).map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

// ---- thread settings --------------------------------------------------------------------------------------
// A setting is { omp, blas }: omp = intra-op (OpenMP) threads, blas = OpenBLAS's own pool; null = left alone.
// Written 'default' (neither set: what the process gets by itself), '2' (OpenMP 2, BLAS untouched: MKL follows
// OpenMP) or '1x2' (OpenMP 1, OpenBLAS 2).

export const DEFAULTS = Object.freeze({ omp: null, blas: null, spec: 'default' });

export function parseSetting(spec) {
  const s = String(spec).trim();
  if (s === 'default' || s === 'defaults') return DEFAULTS;
  const m = /^(\d+)(?:x(\d+))?$/.exec(s);
  if (!m) throw new Error(`thread setting "${s}": write default, N (intra-op threads) or NxM (intra-op x OpenBLAS)`);
  return { omp: Number(m[1]), blas: m[2] === undefined ? null : Number(m[2]), spec: s };
}

/**
 * The settings worth measuring on this machine: intra-op 1..cores (capped at 2: these machines have 2 cores),
 * crossed with OpenBLAS 1..2 where the libtorch has an OpenBLAS pool of its own.
 */
export function explicitSettings(openblas, cores) {
  const n = Math.max(1, Math.min(2, cores));
  const counts = Array.from({ length: n }, (_, i) => i + 1);
  return counts.flatMap((omp) => (openblas ? counts.map((blas) => parseSetting(`${omp}x${blas}`)) : [parseSetting(String(omp))]));
}

/** 'auto' gives `auto`; otherwise a comma list of settings. */
export function settingsFrom(option, auto) {
  if (option === undefined || option === 'auto') return auto;
  return String(option).split(',').filter(Boolean).map(parseSetting);
}

export function settingLabel(s) {
  if (s.omp === null && s.blas === null) return 'defaults';
  return [s.omp !== null && `omp ${s.omp}`, s.blas !== null && `blas ${s.blas}`].filter(Boolean).join(' + ');
}

/**
 * The environment for a worker: the shell's thread variables removed, so that "defaults" are the process's own and
 * an explicit setting is only what the worker sets through the API at startup (an OMP_NUM_THREADS left in the
 * environment would also size OpenBLAS's pool, which reads it when OPENBLAS_NUM_THREADS is unset).
 */
export function threadEnv(base) {
  return without(base, THREAD_VARS);
}

/** Command-line flags for a worker at this setting: it sets them through the API (torch.setNumThreads, setBlasThreads). */
export function threadArgs(s) {
  return [...(s.omp !== null ? [`--threads=${s.omp}`] : []), ...(s.blas !== null ? [`--blas=${s.blas}`] : [])];
}

/** What a worker's greeting says it runs with, e.g. "omp 2, MKL" or "omp 1 + OpenBLAS 2" (+ " (Cooperlake)" with core). */
export function describeThreads(hello, { core = false } = {}) {
  const t = hello.threads ?? '?';
  const b = hello.blas ?? {};
  if (b.kind === 'openblas') return `omp ${t} + OpenBLAS ${b.threads ?? '?'}${core && b.core ? ` (${b.core})` : ''}`;
  if (b.kind === 'mkl') return `omp ${t}, MKL`;
  return `omp ${t}${b.kind ? `, ${b.kind}` : ''}`;
}

/**
 * Starts the plan's workers one at a time (2 cores, and a Python import of torch takes seconds), logging what each
 * runs; a worker that fails to start, or an lvmtorch one that loaded another variant than planned, is skipped with
 * a line saying why. `pad`: the width of the setting column in the log.
 */
export async function startPlan(plan, log, pad = 9) {
  const workers = [];
  for (const item of plan) {
    try {
      const w = await startWorker(item.id, item.command, item.args, { env: item.env });
      if (item.kind === 'lvmtorch' && w.hello.variant !== item.variant) {
        log(`  skipped: ${item.id} loaded ${w.hello.variant}, not ${item.variant}`);
        await w.close();
        continue;
      }
      workers.push({ ...item, worker: w, threads: describeThreads(w.hello) });
      log(`  ${item.group.padEnd(14)} ${settingLabel(item.setting).padEnd(pad)} runs ${describeThreads(w.hello, { core: true })}` +
        `, torch ${w.hello.torch ?? w.hello.libtorch}${w.hello.binary ? `, ${w.hello.binary}` : ` (${item.command})`}`);
    } catch (e) {
      log(`  skipped: ${item.id}: ${e.message}`);
    }
  }
  return workers;
}
