// Once per `vitest run`: the Python that computes the references must have the torch of the libtorch under test
// (1.13 and 2.13 differ: float16 ops one refuses and the other computes, gradients of permuted views). A
// mismatch fails the run here instead of failing (or passing) numerics tests for the wrong reason.
import { spawnSync } from 'node:child_process';

import { findLibtorch, majorMinor } from '../dist/torch/libtorch/find.js';
import { PYTHON } from './helpers/python.js';

export default function setup(): void {
  const lt = findLibtorch().libtorch;
  if (!lt) return; // the loader tests say why; everything else fails with the loader's message
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.warn(`test references: ${PYTHON} cannot import torch; tests that need PyTorch will skip and say so`);
    return;
  }
  const version = r.stdout.trim();
  if (majorMinor(version) !== majorMinor(lt.version)) {
    throw new Error(`test references: ${PYTHON} has torch ${version}, but lvmtorch loads libtorch ${lt.version} (${lt.variant}); ` +
      'set LVMTORCH_TEST_PYTHON to a python with the same torch');
  }
  console.log(`test references: ${PYTHON} (torch ${version}) against ${lt.variant} (libtorch ${lt.version}, ${lt.source})`);
}
