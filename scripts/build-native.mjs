#!/usr/bin/env node
// Builds the addon for the libtorch that the loader finds (LIBTORCH, a Python's torch, Debian's) into
// build/<variant>/Release, where the loader looks first (lib/torch/libtorch/binaries.ts). One CMake build folder per
// variant, so switching libtorch never rebuilds another variant. `npm run build:native` runs this.
//   node scripts/build-native.mjs [extra cmake-js arguments]
// LVMTORCH_BUILD_SYSTEM=node-gyp builds with binding.gyp instead, as `lvmtorch build` does for users: CI builds one
// variant so, which proves that binding.gyp builds the same sources (no precompiled header hides a missing include)
// and runs that variant's tests on its binary.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describeSearch, findLibtorch } from '../dist/torch/libtorch/find.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const search = findLibtorch();
const lt = search.libtorch;
if (!lt) {
  console.error(`lvmtorch build: libtorch not found. Searched:\n${describeSearch(search)}`);
  process.exit(1);
}
const system = process.env.LVMTORCH_BUILD_SYSTEM ?? 'cmake';
if (system !== 'cmake' && system !== 'node-gyp') {
  console.error(`lvmtorch build: LVMTORCH_BUILD_SYSTEM must be cmake or node-gyp, got ${system}`);
  process.exit(2);
}
console.log(`lvmtorch build: ${lt.variant} against libtorch ${lt.version} (${lt.source}, ${lt.libDir}) with ${system}`);
// CMake and binding.gyp ask scripts/libtorch-paths.mjs again: LIBTORCH pins its answer to this one.
const env = { ...process.env, LIBTORCH: lt.source === 'system' ? join(lt.cmakePrefix, 'Torch') : lt.root };

if (system === 'cmake') {
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--parallel', '2', '--out', join('build', lt.variant), ...process.argv.slice(2)], {
    cwd: root, env, stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
} else {
  // In a scratch copy of what the package ships: node-gyp owns (and cleans) the build/ folder it builds in.
  const scratch = mkdtempSync(join(tmpdir(), 'lvmtorch-gyp-'));
  let status = 0;
  try {
    for (const part of ['native', 'scripts', 'dist', 'binding.gyp', 'package.json']) cpSync(join(root, part), join(scratch, part), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
    const r = spawnSync(process.execPath, [join(scratch, 'dist', 'cli', 'main.js'), 'build', '-j', '2'], { cwd: scratch, env, stdio: 'inherit' });
    status = r.status ?? 1;
    if (status === 0) {
      rmSync(join(root, 'build', lt.variant), { recursive: true, force: true });  // no CMake cache beside it
      const out = join(root, 'build', lt.variant, 'Release');
      mkdirSync(out, { recursive: true });
      for (const file of ['lvmtorch.node', 'lvmtorch_preload.node', 'lvmtorch.json']) copyFileSync(join(scratch, 'build', 'Release', file), join(out, file));
      console.log(`lvmtorch build: ${out} (node-gyp)`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  process.exit(status);
}
