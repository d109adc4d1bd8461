// Where lvmtorch's binaries are, one variant per libtorch (lib/torch/libtorch/find.ts names the variant a libtorch needs):
//   LVMTORCH_BINARY_DIR                         a folder the user points at
//   build/<variant>/Release/                    a CMake build of this checkout (`npm run build`)
//   build/Release/                              a node-gyp build (`npx lvmtorch build`)
//   variants/<variant>/prebuilds/<platform>-<arch>/lvmtorch.<libc>.node
//                                               the binaries shipped in the npm package, laid out and named as
//                                               prebuildify names them, so that node-gyp-build picks the one for
//                                               this platform, architecture and libc
// Each binary has lvmtorch_preload.node (no libtorch dependency) and lvmtorch.json (what it was built against)
// beside it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

import { majorMinor, packageRoot } from './find.js';

export { packageRoot };

export const variantsDir = join(packageRoot, 'variants');
const require = createRequire(import.meta.url);

/** What a binary was built against (its lvmtorch.json). */
export interface BinaryInfo {
  path: string;
  preload: string;
  libtorchVersion: string;
  cuda: boolean;
  variant: string;
}

export interface Candidate {
  label: string;
  /** The lvmtorch.node to load, or why there is none. */
  node: string | { missing: string };
}

/** The supported variants, and how a user gets the libtorch each is built for. */
export const VARIANTS: { name: string; libtorch: string; install: string }[] = [
  { name: 'torch-2.13-cpu', libtorch: 'PyTorch 2.13 CPU (pip; MKL)', install: 'pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu' },
  { name: 'torch-1.13-cpu', libtorch: "Debian 12's libtorch 1.13 (OpenBLAS)", install: 'apt-get install libtorch-dev libopenblas0-pthread' },
  { name: 'torch-2.14-cuda', libtorch: 'PyTorch 2.14 with CUDA 13 (pip)', install: 'pip install torch==2.14.1' },
];

/** The places to look for a binary of `variant`, in order: the user's folder, local builds, shipped binaries. */
export function candidates(variant: string, env: NodeJS.ProcessEnv = process.env): Candidate[] {
  const out: Candidate[] = [];
  const inFolder = (label: string, dir: string): Candidate => {
    const node = join(dir, 'lvmtorch.node');
    return { label, node: existsSync(node) ? node : { missing: `no lvmtorch.node in ${dir}` } };
  };
  if (env.LVMTORCH_BINARY_DIR) out.push(inFolder('LVMTORCH_BINARY_DIR', env.LVMTORCH_BINARY_DIR));
  out.push(inFolder(`local build ${variant}`, join(packageRoot, 'build', variant, 'Release')));
  if (existsSync(join(packageRoot, 'build', 'Release'))) out.push(inFolder('node-gyp build', join(packageRoot, 'build', 'Release')));
  out.push({ label: `shipped ${variant}`, node: shipped(variant) });
  return out;
}

/** Whether there is a binary of `variant` to load (found in any of the places candidates() lists). */
export function hasBinary(variant: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return candidates(variant, env).some((c) => typeof c.node === 'string');
}

// node-gyp-build resolves the binary for this platform, architecture and libc within the variant's folder.
function shipped(variant: string): string | { missing: string } {
  const root = join(variantsDir, variant);
  if (!existsSync(root)) return { missing: `this package ships no ${variant} binary` };
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  try {
    const file = nodeGypBuild.resolve(root);
    // The preload sits beside the binary with no tags; node-gyp-build falls back to it when no tagged file fits.
    if (basename(file) === 'lvmtorch_preload.node') throw new Error('no binary for this libc');
    return file;
  } catch (e) {
    return { missing: `no ${variant} binary for ${process.platform}-${process.arch} (${(e as Error).message.split('\n')[0]})` };
  }
}

/** lvmtorch.json beside a binary, or why it cannot be used. */
export function readBinaryInfo(node: string): BinaryInfo | string {
  const meta = join(dirname(node), 'lvmtorch.json');
  const preload = join(dirname(node), 'lvmtorch_preload.node');
  if (!existsSync(meta)) return `no lvmtorch.json beside ${node}`;
  if (!existsSync(preload)) return `no lvmtorch_preload.node beside ${node}`;
  try {
    const json = JSON.parse(readFileSync(meta, 'utf8')) as { libtorchVersion: string; cuda: boolean; variant?: string };
    const variant = json.variant ?? `torch-${majorMinor(json.libtorchVersion)}-${json.cuda ? 'cuda' : 'cpu'}`;
    return { path: node, preload, libtorchVersion: json.libtorchVersion, cuda: json.cuda, variant };
  } catch (e) {
    return `${meta} is unreadable: ${(e as Error).message}`;
  }
}

/** The variants this package holds a binary of for this platform and architecture. */
export function shippedVariants(): string[] {
  if (!existsSync(variantsDir)) return [];
  const platform = `${process.platform}-${process.arch}`;
  return readdirSync(variantsDir).filter((v) => existsSync(join(variantsDir, v, 'prebuilds', platform))).sort();
}

/** What to do when no binary fits: the shipped variants and how to get their libtorch, or how to compile one. */
export function fixHint(variant: string | null): string {
  const ships = shippedVariants();
  const needs = variant ? `the libtorch found needs ${variant}` : 'no libtorch was found';
  const lines = [
    ships.length
      ? `This package ships binaries for ${ships.join(', ')} (${process.platform}-${process.arch}); ${needs}.`
      : `This package ships no binary for ${process.platform}-${process.arch}; ${needs}.`,
    'Fix, one of:',
  ];
  for (const v of VARIANTS.filter((v) => ships.includes(v.name))) {
    lines.push(`  - ${v.name}, for ${v.libtorch}: ${v.install}`);
  }
  if (ships.length) {
    lines.push('    (then, if another libtorch is still found first: LIBTORCH=<its folder> or LIBTORCH_PYTHON=<its python>)');
  }
  if (variant) lines.push('  - compile a binary for the libtorch found: npx lvmtorch build   (needs g++, make and python3; a few minutes)');
  return lines.join('\n');
}
