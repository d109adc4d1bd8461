// The npm package as a user gets it: `npm pack`, then `npm install <tarball>` into a fresh project with npm's
// defaults and a PATH that holds no compiler, cmake or make; there, for each CPU variant whose libtorch is on this
// machine, one training step and a checkpoint round trip, on the shipped binary, with nothing compiled.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { VARIANTS } from '../dist/torch/libtorch/binaries.js';
import { findLibtorch, type Libtorch } from '../dist/torch/libtorch/find.js';
import { checkShippable } from '../dist/torch/libtorch/shippable.js';
import { binDir, CHECK, freshProject, pack, run, userEnv } from './helpers/install.js';
import { skipUnless } from './helpers/skip.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const DEBIAN_CMAKE = '/usr/lib/x86_64-linux-gnu/cmake/Torch';

// The CPU variants whose libtorch this machine has, and the environment that makes a user's process find each:
// pip's torch through the python3 on PATH (as a user who ran `pip install torch` has it), Debian's with no
// Python torch on PATH at all.
function cpuVariantsHere(): { lt: Libtorch; python: string | null }[] {
  const out: { lt: Libtorch; python: string | null }[] = [];
  const venv = join(root, '.venv', 'bin', 'python');
  const pip = existsSync(venv) ? findLibtorch({ LIBTORCH_PYTHON: venv }).libtorch : null;
  if (pip && !pip.cuda) out.push({ lt: pip, python: venv });
  const debian = existsSync(join(DEBIAN_CMAKE, 'TorchConfig.cmake')) ? findLibtorch({ LIBTORCH: DEBIAN_CMAKE }).libtorch : null;
  if (debian) out.push({ lt: debian, python: null });
  return out;
}

let tmp: string;
let tarball: string;
let project: string;
let listing: string[];
let installOutput: string;
const here = cpuVariantsHere();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lvmtorch-pack-'));
  // prepack (scripts/prebuild.mjs) copies every variant built here into variants/.
  ({ tarball, files: listing } = await pack(root, tmp));
  project = freshProject(join(tmp, 'project'));
  const bin = binDir(join(tmp, 'bin-install'), null);
  const r = await run(['npm', 'install', '--no-audit', '--no-fund', tarball], project, userEnv(bin), 300_000);
  installOutput = r.stdout + r.stderr;
  expect(r.status, installOutput).toBe(0);
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds a binary of every CPU variant whose libtorch is on this machine, and no build folder', () => {
    console.log(`packed ${tarball}: ${listing.filter((p) => p.endsWith('.node')).join(', ')}`);
    expect(here.length).toBeGreaterThan(0);
    for (const { lt } of here) {
      expect(listing, `${lt.variant}: build it with \`LIBTORCH=${lt.root} npm run build:native\``)
        .toContain(`variants/${lt.variant}/prebuilds/${process.platform}-${process.arch}/lvmtorch.glibc.node`);
      expect(listing).toContain(`variants/${lt.variant}/prebuilds/${process.platform}-${process.arch}/lvmtorch_preload.node`);
      expect(listing).toContain(`variants/${lt.variant}/prebuilds/${process.platform}-${process.arch}/lvmtorch.json`);
    }
    expect(listing.filter((p) => p.startsWith('build/'))).toEqual([]);
    expect(listing).not.toContain('scripts/install.mjs');
    for (const v of VARIANTS.filter((v) => !here.some((h) => h.lt.variant === v.name))) {
      console.log(`${v.name}: its libtorch is not on this machine, so the package is not required to hold it`);
    }
  });

  // No GPU here: the CUDA variant is only built (scripts/setup.sh torch-2.14-cuda) and packed, never loaded.
  it('holds the CUDA variant where it was built (CI builds it), linked to libtorch_cuda', (ctx) => {
    const cuda = 'torch-2.14-cuda';
    const built = existsSync(join(root, 'build', cuda, 'Release', 'lvmtorch.node'));
    skipUnless(ctx, built ? null : `${cuda} is not built here (bash scripts/setup.sh ${cuda})`);
    const file = `variants/${cuda}/prebuilds/${process.platform}-${process.arch}/lvmtorch.glibc.node`;
    expect(listing, `${cuda}: build it with \`bash scripts/setup.sh ${cuda}\``).toContain(file);
    expect(checkShippable(join(project, 'node_modules', 'lvmtorch', file), cuda)).toEqual([]);
  });

  it('refuses to ship a CUDA variant whose addon does not need libtorch_cuda (its kernels would not register)', () => {
    const cpu = here[0];
    const file = join(root, 'build', cpu.lt.variant, 'Release', 'lvmtorch.node');
    const asCuda = cpu.lt.variant.replace(/-cpu$/, '-cuda');
    expect(checkShippable(file, asCuda).join('\n')).toMatch(/does not need libtorch_cuda\.so: a torch-\d+\.\d+-cuda binary without it has no CUDA backend/);
    expect(checkShippable(file, cpu.lt.variant)).toEqual([]);
  });

  it('refuses to ship an addon that calls Gloo itself (its Gloo headers are not the libtorch\'s)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-gloo-'));
    try {
      writeFileSync(join(dir, 'calls-gloo.cc'), 'namespace gloo { void connect(); }\nextern "C" void f() { gloo::connect(); }\n');
      execFileSync('g++', ['-shared', '-fPIC', join(dir, 'calls-gloo.cc'), '-o', join(dir, 'calls-gloo.so')]);
      expect(checkShippable(join(dir, 'calls-gloo.so'), 'torch-2.13-cpu').join('\n'))
        .toMatch(/links Gloo symbols itself \(_ZN4gloo7connectEv\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('installs with npm\'s defaults without running any script or compiler', () => {
    const pkg = join(project, 'node_modules', 'lvmtorch');
    expect(existsSync(pkg)).toBe(true);
    expect(existsSync(join(pkg, 'build'))).toBe(false);
    expect(installOutput).not.toMatch(/install-scripts|node-gyp|gyp info|cmake/i);
  });

  it('ships binaries that name no folder of the build machine and link one libtorch', () => {
    const variants = join(project, 'node_modules', 'lvmtorch', 'variants');
    const files = readdirSync(variants).flatMap((v) => {
      const dir = join(variants, v, 'prebuilds', `${process.platform}-${process.arch}`);
      return readdirSync(dir).filter((f) => f.endsWith('.node')).map((f) => ({ variant: v, file: join(dir, f) }));
    });
    expect(files.length).toBeGreaterThanOrEqual(2 * here.length);
    for (const { variant, file } of files) expect(checkShippable(file, variant), file).toEqual([]);
  });

  describe.each(here.map((h) => [h.lt.variant, h] as const))('%s, installed', (variant, { python }) => {
    it('trains one step and round-trips a checkpoint on the shipped binary', () => {
      const script = join(project, `check-${variant}.mjs`);
      writeFileSync(script, CHECK);
      const r = spawnSync(process.execPath, [script], {
        cwd: project, env: userEnv(binDir(join(tmp, `bin-${variant}`), python)), encoding: 'utf8', timeout: 120_000,
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
      console.log(`${variant}: ${JSON.stringify(out)}`);
      expect(out.variant).toBe(variant);
      expect(out.binary).toBe(join(project, 'node_modules', 'lvmtorch', 'variants', variant, 'prebuilds',
        `${process.platform}-${process.arch}`, 'lvmtorch.glibc.node'));
      expect(out.lossFinite).toBe(true);
      expect(out.weightsChanged).toBe(true);
      expect(out.roundTrip).toBe(true);
      expect(existsSync(join(project, 'node_modules', 'lvmtorch', 'build'))).toBe(false);
    });
  });
});
