#!/usr/bin/env node
// Writes lvmtorch.json beside a freshly built lvmtorch.node: the libtorch it was built against, which the
// loader (lib/torch/native.ts) checks before loading the binary. Both builds (CMake and node-gyp) run it.
//   node scripts/write-binary-info.mjs <folder of lvmtorch.node> <builder>
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findLibtorch } from '../dist/torch/libtorch/find.js';

const [dir, builder = 'unknown'] = process.argv.slice(2);
const lt = findLibtorch().libtorch;
if (!dir || !lt) {
  console.error('usage: write-binary-info.mjs <dir> <builder> (and libtorch must be found)');
  process.exit(1);
}
const info = {
  variant: lt.variant,
  libtorchVersion: lt.version,
  cuda: lt.cuda,
  builtWith: builder,
  platform: `${process.platform}-${process.arch}`,
  napiVersion: 8,
};
writeFileSync(join(dir, 'lvmtorch.json'), JSON.stringify(info, null, 2) + '\n');
