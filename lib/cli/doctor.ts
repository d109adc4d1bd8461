import { Command } from 'commander';

import { doctor, type DoctorReport } from '../doctor.js';

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
  if (r.error) return [...lines, '', r.error].join('\n');
  const lt = r.libtorch!;
  lines.push(
    `libtorch:  ${lt.version} (${lt.source}) in ${lt.libDir}${lt.cudaLibrary ? ', with CUDA' : ', CPU only'}`,
    `binary:    ${r.binary!.path} (built for libtorch ${r.binary!.builtFor}${r.binary!.cuda ? ', CUDA' : ''})`,
    `CUDA:      ${r.cuda!.built ? `built, ${r.cuda!.devices} device(s)` : 'not built'}`,
    `BLAS:      ${r.blas!.openblas ?? (r.blas!.libraries.join(', ') || 'none found')}` +
      (r.blas!.threads !== null ? `, ${r.blas!.threads} thread(s)` : ''),
    `threads:   ${r.threads!.intraOp} intra-op (OpenMP), ${r.threads!.cores} core(s)`,
    `forward:   ${r.forward!.ok ? 'ok' : 'FAILED'}: ${r.forward!.detail}`,
  );
  for (const w of r.warnings) lines.push(`warning:   ${w}`);
  return lines.join('\n');
}
