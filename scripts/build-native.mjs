#!/usr/bin/env node
// Builds the addon for the libtorch that the loader finds (LIBTORCH, a Python's torch, Debian's) into
// build/<variant>/Release, where the loader looks first (lib/libtorch/binaries.ts). One CMake build folder per
// variant, so switching libtorch never rebuilds another variant. `npm run build:native` runs this.
//   node scripts/build-native.mjs [extra cmake-js arguments]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describeSearch, findLibtorch } from '../dist/libtorch/find.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const search = findLibtorch();
const lt = search.libtorch;
if (!lt) {
  console.error(`lvmtorch build: libtorch not found. Searched:\n${describeSearch(search)}`);
  process.exit(1);
}
console.log(`lvmtorch build: ${lt.variant} against libtorch ${lt.version} (${lt.source}, ${lt.libDir})`);
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
// CMake asks scripts/libtorch-paths.mjs again: LIBTORCH pins its answer to this one.
const env = { ...process.env, LIBTORCH: lt.source === 'system' ? join(lt.cmakePrefix, 'Torch') : lt.root };
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--parallel', '2', '--out', join('build', lt.variant), ...process.argv.slice(2)], {
  cwd: root, env, stdio: 'inherit',
});
process.exit(r.status ?? 1);
