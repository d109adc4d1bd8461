// Runs real PyTorch on JSON in, JSON out. Tests compare our results with what it prints; they never compare our
// output with itself. The Python is the one whose torch is the libtorch under test (test/global-setup.ts checks
// that their versions agree): the venv's torch 2.13 for the torch-2.13-cpu variant, /usr/bin/python3 with
// Debian's python3-torch for torch-1.13-cpu. LVMTORCH_TEST_PYTHON overrides it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { TestContext } from 'vitest';

import { findLibtorch } from '../../dist/torch/libtorch/find.js';
import { skipUnless } from './skip.js';

/** The Python with the torch that matches the libtorch lvmtorch loads. */
export const PYTHON = process.env.LVMTORCH_TEST_PYTHON ?? findLibtorch().libtorch?.python ?? '/usr/bin/python3';

/** Why PyTorch cannot be run here, or null when it can. Tests that need it say this reason when they skip. */
export function pythonTorchMissing(): string | null {
  const fix = '`npm run setup` installs torch and numpy into .venv (Debian: apt-get install python3-torch python3-numpy)';
  if (!existsSync(PYTHON)) return `PyTorch: ${PYTHON} not found; ${fix}`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : `PyTorch: ${PYTHON} cannot import torch and numpy (${r.stderr.trim().split('\n').pop()}); ${fix}`;
}

/**
 * Skips the running test saying why PyTorch cannot be run here; under CI (CI=true) throws instead, as CI must have
 * it. A test that needs PyTorch calls this first.
 */
export function needPython(ctx: TestContext): void {
  missing ??= { why: pythonTorchMissing() };
  skipUnless(ctx, missing.why);
}
let missing: { why: string | null } | undefined;

/** Runs test/python/<script> with `input` as JSON on stdin and returns the JSON it prints. */
export function runPython<T = unknown>(script: string, input: unknown): T {
  const path = fileURLToPath(new URL(`../python/${script}`, import.meta.url));
  const r = spawnSync(PYTHON, [path], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
