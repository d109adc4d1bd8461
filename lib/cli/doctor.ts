import { cpus } from 'node:os';

import { Command } from 'commander';

import { doctor, type DoctorReport } from '../torch/doctor.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('say which libtorch, binary, devices, BLAS and threads lvmtorch uses, and run a tiny forward pass')
    .option('--json', 'print the report as JSON')
    .action((opts: { json?: boolean }) => {
      const report = doctor();
      console.log(opts.json ? JSON.stringify(report, null, 2) : format(report));
      if (!report.ok) process.exitCode = 1;
    });
}

export function format(r: DoctorReport): string {
  const lines = ['libtorch search:', r.searched];
  const lt = r.libtorch;
  if (lt) {
    lines.push(
      `variant:   ${r.variant}`,
      `libtorch:  ${lt.version} (${lt.source}) in ${lt.libDir}${lt.cudaLibrary ? ', with CUDA' : ', CPU only'}` +
        (lt.python ? `; its Python: ${lt.python}` : ''),
    );
  }
  if (r.error) {
    // The addon did not load: what needs none, then why.
    if (r.bf16) lines.push(`cores:     ${cpus().length}`, `bf16:      ${r.bf16.detail}`);
    return [...lines, '', r.error].join('\n');
  }
  lines.push(
    `binary:    ${r.binary!.path} (built for libtorch ${r.binary!.builtFor}${r.binary!.cuda ? ', CUDA' : ''})`,
    `CUDA:      ${r.cuda!.built ? `built, ${r.cuda!.devices} device(s)` : 'not built'}`,
    `BLAS:      ${blasLine(r)}`,
  );
  const core = r.blas!.core;
  if (core) {
    const who = { user: 'set by OPENBLAS_CORETYPE', lvmtorch: 'chosen by lvmtorch', openblas: "OpenBLAS's own choice" }[core.by];
    lines.push(`core:      ${core.name} (${who}: ${core.reason}); OpenBLAS alone picks ${core.openblasAlone ?? '(unknown)'}` +
      `, best for this CPU: ${core.best ?? '(none of ours)'}`);
  }
  lines.push(
    `threads:   ${r.threads!.intraOp} intra-op (OpenMP)` +
      (r.blas!.kind === 'openblas' ? `, ${r.threads!.blas} OpenBLAS` : '') + `, ${r.threads!.cores} core(s)` +
      ` (at load: ${r.threads!.defaults.by === 'lvmtorch' ? r.threads!.defaults.reason : `the environment's, ${r.threads!.defaults.reason}`})`,
    `bf16:      ${r.bf16!.detail}`,
    `forward:   ${r.forward!.ok ? 'ok' : 'FAILED'}: ${r.forward!.detail}`,
  );
  for (const w of r.warnings) lines.push(`warning:   ${w}`);
  return lines.join('\n');
}

function blasLine(r: DoctorReport): string {
  const b = r.blas!;
  const check = `float32 matmul error ${b.selfCheckError.toExponential(1)}`;
  if (b.kind === 'mkl') return `${b.name} (inside libtorch_cpu; its threads are OpenMP's), ${check}`;
  if (b.kind === 'openblas') return `${b.name}, ${b.libraries.join(', ')}, ${check}`;
  if (b.kind === 'reference') return `reference BLAS ${b.libraries.join(', ')}, ${check}`;
  return `none found by name (${b.libraries.join(', ') || 'no BLAS library loaded'}), ${check}`;
}
