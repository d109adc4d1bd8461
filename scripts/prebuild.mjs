#!/usr/bin/env node
// Copies each variant built in this checkout (build/<variant>/Release) into the folder the npm package ships,
// variants/<variant>/prebuilds/<platform>-<arch>/, named as prebuildify names prebuilds (lvmtorch.<libc>.node) so
// that node-gyp-build resolves them at load time. `npm pack` runs it (prepack). It refuses a binary that names
// a folder of this machine (RUNPATH/RPATH) or that links libraries of two libtorch versions.
//   node scripts/prebuild.mjs
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { VARIANTS } from '../dist/torch/libtorch/binaries.js';
import { checkShippable } from '../dist/torch/libtorch/shippable.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const platform = `${process.platform}-${process.arch}`;
// glibc unless the runtime reports none (musl): node-gyp-build reads the same tag.
const libc = process.platform === 'linux' && !process.report.getReport().header.glibcVersionRuntime ? 'musl' : 'glibc';

rmSync(join(root, 'variants'), { recursive: true, force: true });
const built = existsSync(join(root, 'build')) ? readdirSync(join(root, 'build')).filter((v) => /^torch-\d+\.\d+-(cpu|cuda)$/.test(v)) : [];
const packed = [];
for (const variant of built.sort()) {
  const from = join(root, 'build', variant, 'Release');
  if (!existsSync(join(from, 'lvmtorch.node'))) continue;
  const info = JSON.parse(readFileSync(join(from, 'lvmtorch.json'), 'utf8'));
  if (info.variant !== variant) throw new Error(`${from}/lvmtorch.json says ${info.variant}, not ${variant}`);
  for (const file of ['lvmtorch.node', 'lvmtorch_preload.node']) {
    const problems = checkShippable(join(from, file), variant);
    if (problems.length) {
      console.error(`prebuild: ${join(from, file)} cannot ship:\n  ${problems.join('\n  ')}`);
      process.exit(1);
    }
  }
  const to = join(root, 'variants', variant, 'prebuilds', platform);
  mkdirSync(to, { recursive: true });
  copyFileSync(join(from, 'lvmtorch.node'), join(to, `lvmtorch.${libc}.node`));
  copyFileSync(join(from, 'lvmtorch_preload.node'), join(to, 'lvmtorch_preload.node'));
  copyFileSync(join(from, 'lvmtorch.json'), join(to, 'lvmtorch.json'));
  packed.push(variant);
}
if (!packed.length) {
  console.error('prebuild: no variant is built (build/<variant>/Release): run `npm run build` first');
  process.exit(1);
}
const missing = VARIANTS.map((v) => v.name).filter((v) => !packed.includes(v));
console.log(`prebuild: ${platform} ${packed.join(', ')}` + (missing.length ? ` (not built here, not shipped: ${missing.join(', ')})` : ''));
