// Runs real PyTorch (/usr/bin/python3 with Debian's python3-torch) on JSON in, JSON out. Tests compare our
// results with what it prints; they never compare our output with itself.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env.LVMTORCH_TEST_PYTHON ?? '/usr/bin/python3';

/** Why PyTorch cannot be run here, or null when it can. Tests that need it say this reason when they skip. */
export function pythonTorchMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (install python3-torch)`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import torch: ${r.stderr.trim().split('\n').pop()}`;
}

/** Runs test/python/<script> with `input` as JSON on stdin and returns the JSON it prints. */
export function runPython<T = unknown>(script: string, input: unknown): T {
  const path = fileURLToPath(new URL(`../python/${script}`, import.meta.url));
  const r = spawnSync(PYTHON, [path], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
