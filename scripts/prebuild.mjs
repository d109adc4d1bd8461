#!/usr/bin/env node
// Copies the local build into prebuilds/<platform>-<arch>/torch-<major.minor>-<cpu|cuda>/, where the loader
// looks when the package has no local build: this is how the npm package ships binaries (`npm pack` runs it).
//   node scripts/prebuild.mjs [package root to write into, default this one]
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = resolve(process.argv[2] ?? root);
const build = join(root, 'build', 'Release');
const info = JSON.parse(readFileSync(join(build, 'lvmtorch.json'), 'utf8'));
const [major, minor] = info.libtorchVersion.split('.');
const dir = join(target, 'prebuilds', `${process.platform}-${process.arch}`, `torch-${major}.${minor}-${info.cuda ? 'cuda' : 'cpu'}`);
mkdirSync(dir, { recursive: true });
for (const f of ['lvmtorch.node', 'lvmtorch_preload.node', 'lvmtorch.json']) copyFileSync(join(build, f), join(dir, f));
console.log(`prebuild: ${dir}`);
