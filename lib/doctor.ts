// What `lvmtorch doctor` reports: where libtorch was searched and found, the binary loaded, CUDA, BLAS and
// threads, and one tiny forward pass that proves the whole chain works.
import { cpus } from 'node:os';

import { loadedAddon } from './native.js';
import { describeSearch, findLibtorch } from './libtorch/find.js';
import * as torch from './torch.js';

export interface DoctorReport {
  ok: boolean;
  searched: string;
  libtorch?: { version: string; source: string; libDir: string; cudaLibrary: boolean };
  binary?: { path: string; builtFor: string; cuda: boolean };
  cuda?: { built: boolean; devices: number };
  blas?: { libraries: string[]; openblas: string | null; coretype: string | null; threads: number | null; reference: boolean };
  threads?: { intraOp: number; cores: number };
  forward?: { ok: boolean; detail: string };
  warnings: string[];
  error?: string;
}

export function doctor(): DoctorReport {
  const warnings: string[] = [];
  let loaded;
  try {
    loaded = loadedAddon();
  } catch (e) {
    return { ok: false, searched: describeSearch(findLibtorch()), warnings, error: (e as Error).message };
  }
  const { addon, libtorch, binary, searched, skipped } = loaded;
  for (const why of skipped) warnings.push(`binary refused, ${binary.path} used instead: ${why}`);
  const blas = addon.blasInfo();
  const reference = blas.openblas === null && !blas.libraries.some((l) => /mkl|openblas/.test(l));
  if (reference) {
    warnings.push('BLAS is the reference implementation (about 15x slower for matmul): apt-get install libopenblas0-pthread');
  }
  const report: DoctorReport = {
    ok: true,
    searched,
    libtorch: { version: libtorch.version, source: libtorch.source, libDir: libtorch.libDir, cudaLibrary: libtorch.cuda },
    binary: { path: binary.path, builtFor: binary.libtorchVersion, cuda: binary.cuda },
    cuda: { built: addon.buildInfo().cudaBuilt, devices: addon.cudaDeviceCount() },
    blas: { ...blas, reference },
    threads: { intraOp: addon.getNumThreads(), cores: cpus().length },
    warnings,
  };
  report.forward = tinyForward();
  report.ok = report.forward.ok;
  return report;
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
