#!/usr/bin/env node
// Prints where libtorch is, for the native builds (CMakeLists.txt and binding.gyp call this), using the very
// search that the loader runs at load time (dist/torch/libtorch/find.js; `npm run build:ts` makes it).
//   --json | --cmake-prefix | --lib-dir | --include | --libs | --cxx11-abi | --version | --variant
import { describeSearch, findLibtorch, linkFlags } from '../dist/torch/libtorch/find.js';

const result = findLibtorch();
if (!result.libtorch) {
  console.error(`lvmtorch: libtorch not found. Searched:\n${describeSearch(result)}\n` +
    'Install it (pip install torch, or Debian: apt-get install libtorch-dev), or set LIBTORCH to a libtorch folder, ' +
    'a Python torch package folder or a TorchConfig.cmake folder, or LIBTORCH_PYTHON to a python whose torch to use.');
  process.exit(1);
}
const lt = result.libtorch;
const what = process.argv[2] ?? '--json';
const out = {
  '--json': JSON.stringify(lt, null, 2),
  '--cmake-prefix': lt.cmakePrefix,
  '--lib-dir': lt.libDir,
  '--include': lt.includeDirs.join(' '),
  '--libs': linkFlags(lt).join(' '),
  '--cxx11-abi': String(lt.cxx11Abi),
  '--version': lt.version,
  '--variant': lt.variant,
}[what];
if (out === undefined) {
  console.error(`lvmtorch: unknown option ${what}`);
  process.exit(2);
}
process.stdout.write(out + '\n');
