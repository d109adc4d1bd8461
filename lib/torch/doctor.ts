// What `lvmtorch doctor` reports: where libtorch was searched and found, the variant and binary loaded, CUDA, the
// BLAS that really runs (MKL inside libtorch, or OpenBLAS with the core it runs and who chose it) and threads, and
// one tiny forward pass that proves the whole chain works.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

import { loadedAddon, type LoadedAddon } from './native.js';
import { hasBinary } from './libtorch/binaries.js';
import { describeSearch, findLibtorch } from './libtorch/find.js';
import { bestCore, cpuFlags } from './libtorch/openblas.js';
import * as torch from './functions.js';

export interface BlasReport {
  /** What computes matmuls: MKL linked into libtorch, OpenBLAS, the reference BLAS, or nothing we could name. */
  kind: 'mkl' | 'openblas' | 'reference' | 'unknown';
  /** MKL's version string or openblas_get_config(). */
  name: string | null;
  /** Shared libraries loaded whose name says BLAS or MKL. */
  libraries: string[];
  /** The OpenBLAS core in use, who chose it and why, and what OpenBLAS alone picks on this CPU. */
  core: { name: string | null; by: 'user' | 'lvmtorch' | 'openblas'; reason: string; openblasAlone: string | null; best: string | null } | null;
  /** The BLAS's own thread count (OpenBLAS's pool; MKL follows OpenMP's). */
  threads: number | null;
  /** Relative error of a float32 matmul against float64 (runtime.cc blasSelfCheck). */
  selfCheckError: number;
}

export interface DoctorReport {
  ok: boolean;
  searched: string;
  variant?: string;
  libtorch?: { version: string; source: string; libDir: string; cudaLibrary: boolean; python: string | null };
  binary?: { path: string; builtFor: string; cuda: boolean };
  cuda?: { built: boolean; devices: number };
  blas?: BlasReport;
  threads?: { intraOp: number; blas: number | null; cores: number; defaults: LoadedAddon['threads'] };
  /** What bfloat16 matmuls run on here (train --precision bf16): AMX, AVX-512 BF16, or nothing native. */
  bf16?: { native: 'amx' | 'avx512_bf16' | null; detail: string };
  forward?: { ok: boolean; detail: string };
  warnings: string[];
  error?: string;
}

export function doctor(): DoctorReport {
  const warnings: string[] = [];
  let loaded: LoadedAddon;
  try {
    loaded = loadedAddon();
  } catch (e) {
    // What needs no addon still helps: the libtorch found, the cores, what bf16 runs on.
    const search = findLibtorch(process.env, { hasBinary: (v) => hasBinary(v) });
    const lt = search.libtorch;
    return {
      ok: false, searched: describeSearch(search), warnings, error: (e as Error).message,
      ...(lt && {
        variant: lt.variant,
        libtorch: { version: lt.version, source: lt.source, libDir: lt.libDir, cudaLibrary: lt.cuda, python: lt.python },
      }),
      bf16: bf16Support(cpuFlags()),
    };
  }
  const { addon, libtorch, binary, searched, skipped } = loaded;
  for (const why of skipped) warnings.push(`binary refused, ${binary.path} used instead: ${why}`);
  const blas = blasReport(loaded);
  if (blas.kind === 'reference') {
    warnings.push('BLAS is the reference implementation (about 15x slower for matmul): apt-get install libopenblas0-pthread');
  }
  if (blas.core && blas.core.best && blas.core.name && blas.core.name.toLowerCase() !== blas.core.best.toLowerCase()) {
    warnings.push(`OpenBLAS runs its ${blas.core.name} kernels (${blas.core.reason}), but this CPU can run ${blas.core.best}'s`);
  }
  const report: DoctorReport = {
    ok: true,
    searched,
    variant: libtorch.variant,
    libtorch: { version: libtorch.version, source: libtorch.source, libDir: libtorch.libDir, cudaLibrary: libtorch.cuda, python: libtorch.python },
    binary: { path: binary.path, builtFor: binary.libtorchVersion, cuda: binary.cuda },
    cuda: { built: addon.buildInfo().cudaBuilt, devices: addon.cudaDeviceCount() },
    blas,
    threads: { intraOp: addon.getNumThreads(), blas: blas.threads, cores: cpus().length, defaults: loaded.threads },
    warnings,
  };
  report.bf16 = bf16Support(cpuFlags());
  report.forward = tinyForward();
  report.ok = report.forward.ok;
  return report;
}

function blasReport({ addon, openblas, binary }: LoadedAddon): BlasReport {
  const info = addon.blasInfo();
  const kind = info.mkl ? 'mkl' : info.openblas ? 'openblas'
    : info.libraries.some((l) => /\/blas\/libblas|libblas\.so/.test(l)) ? 'reference' : 'unknown';
  let core: BlasReport['core'] = null;
  if (openblas) {
    const best = bestCore(openblas.library, cpuFlags())?.name ?? null;
    core = { name: info.coretype, by: openblas.choice.by, reason: openblas.choice.reason, openblasAlone: openblasAlone(binary.preload, openblas.library.path), best };
  }
  return { kind, name: info.mkl ?? info.openblas, libraries: info.libraries, core, threads: info.threads, selfCheckError: addon.blasSelfCheck() };
}

// What OpenBLAS picks by itself on this CPU: it decides once per process, so a child process without
// OPENBLAS_CORETYPE loads it alone and says.
function openblasAlone(preload: string, library: string): string | null {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const code = `process.stdout.write(require(${JSON.stringify(preload)}).openblasCore(${JSON.stringify(library)}))`;
  const r = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout : null;
}

function bf16Support(flags: Set<string>): NonNullable<DoctorReport['bf16']> {
  if (flags.has('amx_bf16')) return { native: 'amx', detail: 'AMX tiles (amx_bf16): --precision bf16 pays' };
  if (flags.has('avx512_bf16')) return { native: 'avx512_bf16', detail: 'AVX-512 BF16 (avx512_bf16): --precision bf16 pays' };
  return { native: null, detail: 'no bf16 instructions: --precision bf16 would be emulated, and slower' };
}

// y = softmax(x W) on known numbers: each row of the result must sum to 1.
function tinyForward(): { ok: boolean; detail: string } {
  try {
    return torch.tidy(() => {
      const x = torch.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
      const w = torch.eye(3).mul(0.5);
      const sums = x.matmul(w).softmax(1).sum(1).toArray() as number[];
      const ok = sums.every((s) => Math.abs(s - 1) < 1e-6);
      return { ok, detail: `softmax(x @ W) row sums = ${sums.map((s) => s.toFixed(6)).join(', ')}` };
    });
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}
