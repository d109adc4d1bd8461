#!/usr/bin/env node
// npm runs this on `npm install`. Without an explicit install script npm would run `node-gyp rebuild` itself,
// which fails in a source checkout (binding.gyp needs dist/, built later by `npm run setup`).
//  - a published package with a prebuilt binary for this platform: nothing to do;
//  - a published package without one: build from source with node-gyp (it ships with npm);
//  - a source checkout (no dist/ yet): nothing to do, `npm run setup` builds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const prebuilds = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

if (existsSync(prebuilds) || existsSync(join(root, 'build', 'Release', 'lvmtorch.node'))) process.exit(0);
if (!existsSync(join(root, 'dist', 'libtorch', 'find.js'))) {
  console.log('lvmtorch: source checkout, not building on install; run `npm run setup` to install libtorch and build.');
  process.exit(0);
}
console.log(`lvmtorch: no prebuilt binary for ${process.platform}-${process.arch}; building from source with node-gyp`);
const npmGyp = process.env.npm_config_node_gyp;
const [cmd, args] = npmGyp ? [process.execPath, [npmGyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('lvmtorch: the build failed. It needs libtorch (Debian: apt-get install libtorch-dev, or set LIBTORCH) ' +
    'and a C++17 compiler; `npx lvmtorch doctor` shows what was found.');
  process.exit(r.status ?? 1);
}
