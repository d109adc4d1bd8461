// Which OpenBLAS a libtorch will load, and which of its kernels ("cores") to ask for. Debian's libtorch links
// "libblas.so.3", which Debian's alternatives point at OpenBLAS (or at the reference BLAS). OpenBLAS 0.3.21 does not
// know some current CPUs and then runs its oldest x86-64 kernels: on a Xeon with AVX-512 and AMX it picked
// "Prescott", 19 GFLOP/s for a 1024x1024 sgemm on one thread against ~100 with Cooperlake's. OpenBLAS reads
// OPENBLAS_CORETYPE once, when it loads, so the choice is made here, before libtorch is opened (lib/torch/native.ts),
// and checked numerically once it is (runtime.cc blasSelfCheck).
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';

import { readDynamic, readSection } from './elf.js';
import type { Libtorch } from './find.js';

export interface OpenblasLibrary {
  /** The libopenblas file itself (resolved through libblas.so.3 and Debian's alternatives). */
  path: string;
  /** From the file name, e.g. "0.3.21" for libopenblasp-r0.3.21.so; null when it does not say. */
  version: string | null;
  /** The kernel sets this build can run (DYNAMIC_ARCH builds carry several), as OPENBLAS_CORETYPE names them. */
  cores: string[];
}

export interface CoreChoice {
  /** The value OPENBLAS_CORETYPE has for this process, or null for OpenBLAS's own detection. */
  core: string | null;
  /** Who chose it: the user (OPENBLAS_CORETYPE was set), lvmtorch, or nobody (OpenBLAS detects). */
  by: 'user' | 'lvmtorch' | 'openblas';
  reason: string;
}

// The x86-64 cores worth choosing, newest first, with the CPU flags (/proc/cpuinfo) each one's kernels use.
const X86_CORES: { name: string; needs: string[] }[] = [
  { name: 'SapphireRapids', needs: ['amx_tile', 'amx_bf16', 'avx512_bf16', 'avx512f', 'avx512vl', 'avx512bw', 'avx512dq'] },
  { name: 'Cooperlake', needs: ['avx512_bf16', 'avx512f', 'avx512vl', 'avx512bw', 'avx512dq'] },
  { name: 'SkylakeX', needs: ['avx512f', 'avx512vl', 'avx512bw', 'avx512dq', 'avx512cd'] },
  { name: 'Haswell', needs: ['avx2', 'fma'] },
  { name: 'Sandybridge', needs: ['avx'] },
];

const TRIPLETS: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** The OpenBLAS that this libtorch's libtorch_cpu will load, or null when it links no OpenBLAS (MKL, say). */
export function openblasOf(lt: Libtorch, env: NodeJS.ProcessEnv = process.env): OpenblasLibrary | null {
  const cpu = join(lt.libDir, readdirSync(lt.libDir).find((f) => f === 'libtorch_cpu.so' || f.startsWith('libtorch_cpu.so.')) ?? 'libtorch_cpu.so');
  let needed: string[];
  try {
    needed = readDynamic(cpu).needed;
  } catch {
    return null;
  }
  const blas = needed.find((n) => /^lib(open)?blas\.so/.test(n));
  const resolved = blas ? resolveSoname(blas, env) : null;
  if (!resolved) return null;
  const dir = dirname(resolved);
  const file = readdirSync(dir).find((f) => /^libopenblas.*\.so/.test(f) && !f.startsWith('libopenblas.so'))
    ?? readdirSync(dir).find((f) => f.startsWith('libopenblas.so'));
  if (!file) return null; // the reference BLAS, or another one
  const path = realpathSync(join(dir, file));
  const version = /-r(\d+\.\d+\.\d+)/.exec(path)?.[1] ?? null;
  return { path, version, cores: coresOf(path) };
}

// Where the dynamic linker would find a soname: LD_LIBRARY_PATH, then the system's folders; symlinks followed
// (Debian's alternatives: libblas.so.3 -> /etc/alternatives/... -> openblas-pthread/libblas.so.3).
function resolveSoname(soname: string, env: NodeJS.ProcessEnv): string | null {
  const triplet = TRIPLETS[arch()];
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    ...(triplet ? [`/usr/lib/${triplet}`, `/lib/${triplet}`] : []),
    '/usr/lib64', '/usr/lib', '/lib64', '/lib',
  ];
  for (const d of dirs) {
    const p = join(d, soname);
    if (existsSync(p)) return realpathSync(p);
  }
  return null;
}

// A DYNAMIC_ARCH build names the cores it has in its read-only data, each a NUL-terminated string.
function coresOf(path: string): string[] {
  const rodata = readSection(path, '.rodata');
  if (!rodata) return [];
  return X86_CORES.map((c) => c.name).filter((name) => rodata.includes(Buffer.from(`\0${name}\0`, 'latin1')));
}

/** The CPU's feature flags, from /proc/cpuinfo (Linux); empty elsewhere. */
export function cpuFlags(): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set(line ? line[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** The newest core this OpenBLAS build has whose instructions this CPU runs, or null when none of ours fits. */
export function bestCore(lib: OpenblasLibrary, flags: Set<string>): { name: string; needs: string[] } | null {
  return X86_CORES.find((c) => lib.cores.includes(c.name) && c.needs.every((f) => flags.has(f))) ?? null;
}

/** Decides OPENBLAS_CORETYPE for this process: the user's when set, otherwise the best core for this CPU. */
export function chooseCore(lib: OpenblasLibrary, env: NodeJS.ProcessEnv, flags: Set<string>): CoreChoice {
  if (env.OPENBLAS_CORETYPE) {
    return { core: env.OPENBLAS_CORETYPE, by: 'user', reason: 'OPENBLAS_CORETYPE was set' };
  }
  const best = bestCore(lib, flags);
  if (!best) {
    return { core: null, by: 'openblas', reason: `none of ${lib.cores.join(', ') || 'its cores'} fits this CPU better than its own detection` };
  }
  return { core: best.name, by: 'lvmtorch', reason: `the newest core of this OpenBLAS whose instructions this CPU has (${best.needs.join(', ')})` };
}
