// `lvmtorch build`: compiles a binary for the libtorch this machine has, when the package ships none for it. It
// runs node-gyp (which comes with npm) over the package's own binding.gyp, into <package>/build/Release, where
// the loader looks before the shipped binaries (lib/torch/libtorch/binaries.ts). An explicit command, never an install
// script: npm blocks those by default.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';

import { Command } from 'commander';

import { packageRoot } from '../torch/libtorch/binaries.js';
import { describeSearch, findLibtorch } from '../torch/libtorch/find.js';

// node-gyp as npm runs it (npm_config_node_gyp), else the copy bundled with this Node's npm, else PATH's.
function nodeGyp(): string[] {
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(bundled) ? [process.execPath, bundled] : ['node-gyp'];
}

// Node's own headers when this Node has them (Debian's nodejs, the official tarballs: <prefix>/include/node), so
// that node-gyp does not download them; npm passes its `nodedir` setting the same way.
function nodedir(): string[] {
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function missingTools(): string[] {
  return ['python3', 'make', 'g++'].filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0);
}

// Gloo's headers, which c10d's ProcessGroupGloo.hpp includes (native/torch/distributed/) and PyTorch's wheels lack.
function hasGlooHeaders(): boolean {
  return existsSync('/usr/include/gloo/rendezvous/store.h') || existsSync('/usr/local/include/gloo/rendezvous/store.h');
}

export function buildCommand(): Command {
  return new Command('build')
    .description('compile a binary for the libtorch found (node-gyp, into the package\'s build/Release): for a ' +
      'libtorch that no shipped binary fits; needs python3, make, g++ and Gloo\'s headers (libgloo-dev)')
    .option('-j, --jobs <n>', 'parallel compile jobs', String(cpus().length))
    .action((opts: { jobs: string }) => {
      const search = findLibtorch();
      const lt = search.libtorch;
      if (!lt) throw new Error(`libtorch not found, nothing to build against. Searched:\n${describeSearch(search)}`);
      const missing = missingTools();
      if (missing.length) throw new Error(`building needs ${missing.join(', ')}, not found on PATH (Debian: apt-get install python3 make g++)`);
      if (!hasGlooHeaders()) throw new Error('building needs Gloo\'s headers (torch.distributed\'s ProcessGroupGloo.hpp includes them; Debian: apt-get install libgloo-dev)');
      console.log(`lvmtorch build: ${lt.variant} for libtorch ${lt.version} (${lt.source}, ${lt.libDir}) in ${packageRoot}`);
      const [cmd, ...args] = nodeGyp();
      // binding.gyp asks scripts/libtorch-paths.mjs again: LIBTORCH pins its answer to the libtorch found here.
      const env = { ...process.env, LIBTORCH: lt.source === 'system' ? join(lt.cmakePrefix, 'Torch') : lt.root };
      const r = spawnSync(cmd, [...args, 'rebuild', '-j', opts.jobs, ...nodedir()], { cwd: packageRoot, env, stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`node-gyp failed (exit ${r.status ?? r.signal}); its output is above`);
      console.log(`lvmtorch build: done, ${join(packageRoot, 'build', 'Release', 'lvmtorch.node')}; \`npx lvmtorch doctor\` checks it`);
    });
}
