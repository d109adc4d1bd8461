// `npm install lvmtorch` on a machine that has only Node.js: libtorch comes with it, in the optional dependency
// @lvmtorch/libtorch-linux-x64 (packages/libtorch-linux-x64, filled from PyTorch's 2.13 CPU wheel by
// scripts/build-libtorch-package.mjs). Both packages packed and installed into a fresh project with npm's defaults;
// there, with a PATH of node, npm and npx only (no Python) and Debian's libtorch still on the machine, a train step
// and a checkpoint round trip run on the bundled libtorch, and nothing else of libtorch is mapped. With a Python
// torch 2.13 on PATH the user's torch is taken, as before; without the optional package the error is today's.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { binDir, CHECK, freshProject, pack, run, userEnv } from './helpers/install.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundledDir = join(root, 'packages', 'libtorch-linux-x64');
const venvPython = join(root, '.venv', 'bin', 'python');
const builtHere = existsSync(join(root, 'build', 'torch-2.13-cpu', 'Release', 'lvmtorch.node'));

let tmp: string;
let project: string;
let installOutput: string;
let bundledFiles: string[];
let bundledTarball: string;
let mainTarball: string;

// The platform and the 2.13 binary are what this test is about: without them it cannot say anything.
describe.runIf(process.platform === 'linux' && process.arch === 'x64')('libtorch carried in npm', () => {
  beforeAll(async () => {
    if (!builtHere) throw new Error('build/torch-2.13-cpu is not built: npm run build (with the .venv of npm run setup)');
    tmp = mkdtempSync(join(tmpdir(), 'lvmtorch-bundled-'));
    // The libraries come from the wheel each time they are not there yet (a clone has none: they are git-ignored).
    const meta = join(bundledDir, 'libtorch.json');
    if (!existsSync(meta) || !existsSync(join(bundledDir, 'lib', 'libtorch_cpu.so'))) {
      const r = await run([process.execPath, join(root, 'scripts', 'build-libtorch-package.mjs')], root,
        { ...process.env, LIBTORCH_PYTHON: existsSync(venvPython) ? venvPython : 'python3' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
    ({ tarball: bundledTarball, files: bundledFiles } = await pack(bundledDir, tmp));
    ({ tarball: mainTarball } = await pack(root, tmp));
    project = freshProject(join(tmp, 'project'));
    const r = await run(['npm', 'install', '--no-audit', '--no-fund', mainTarball, bundledTarball], project, userEnv(binDir(join(tmp, 'bin-install'), null)));
    installOutput = r.stdout + r.stderr;
    expect(r.status, installOutput).toBe(0);
  }, 900_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('carries the four libraries, their licences and what they are, and is as big as the README says', () => {
    const lib = ['lib/libc10.so', 'lib/libgomp.so.1', 'lib/libtorch.so', 'lib/libtorch_cpu.so'];
    for (const f of [...lib, 'libtorch.json', 'LICENSES/LICENSE', 'LICENSES/NOTICE.md', 'package.json', 'README.md']) expect(bundledFiles).toContain(f);
    expect(bundledFiles.filter((f) => /\.(h|hpp|py|cmake)$/.test(f) || f.includes('libtorch_python'))).toEqual([]);
    expect(bundledFiles.some((f) => f.startsWith('LICENSES/third_party/ideep/'))).toBe(true);  // oneDNN's, as the wheel ships it
    const meta = JSON.parse(readFileSync(join(bundledDir, 'libtorch.json'), 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({ version: '2.13.0+cpu', variant: 'torch-2.13-cpu' });
    const mb = readFileSync(bundledTarball).length / 1e6;
    console.log(`${bundledTarball}: ${mb.toFixed(1)} MB compressed`);
    expect(mb).toBeGreaterThan(80);
    expect(mb).toBeLessThan(160);
    // One version for both, as optionalDependencies pins it.
    const main = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; optionalDependencies?: Record<string, string> };
    const bundled = JSON.parse(readFileSync(join(bundledDir, 'package.json'), 'utf8')) as { name: string; version: string; os: string[]; cpu: string[]; libc: string[] };
    expect(main.optionalDependencies?.[bundled.name]).toBe(main.version);
    expect(bundled.version).toBe(main.version);
    expect([bundled.os, bundled.cpu, bundled.libc]).toEqual([['linux'], ['x64'], ['glibc']]);
  });

  it('with only node and npm on PATH: trains and round-trips a checkpoint on the bundled libtorch 2.13 and MKL, maps no other libtorch, compiled nothing', async () => {
    expect(installOutput).not.toMatch(/install-scripts|node-gyp|gyp info|cmake/i);
    const script = join(project, 'check.mjs');
    writeFileSync(script, CHECK);
    const r = await run([process.execPath, script], project, userEnv(binDir(join(tmp, 'bin-bare'), null)));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { libtorch: { source: string; version: string; libDir: string }; mapped: string[]; searched: string } & Record<string, unknown>;
    console.log(`bundled: ${JSON.stringify({ ...out, searched: undefined })}\n${out.searched}`);
    const libDir = join(project, 'node_modules', '@lvmtorch', 'libtorch-linux-x64', 'lib');
    expect(out.libtorch).toMatchObject({ source: 'bundled', version: '2.13.0+cpu', libDir });
    expect(out).toMatchObject({ variant: 'torch-2.13-cpu', blas: 'mkl', lossFinite: true, weightsChanged: true, roundTrip: true });
    expect(out.searched).toMatch(/found npm package @lvmtorch\/libtorch-linux-x64/);
    expect(out.mapped.length).toBeGreaterThanOrEqual(3);
    for (const file of out.mapped) expect(file.startsWith(libDir), `${file} is not the bundled libtorch's`).toBe(true);
  });

  it('with a Python whose torch 2.13 lvmtorch has a binary for: takes the user\'s torch, as before', async (ctx) => {
    if (!existsSync(venvPython)) ctx.skip();  // npm run setup makes the .venv; CI always has it
    const r = await run([process.execPath, join(project, 'check.mjs')], project, userEnv(binDir(join(tmp, 'bin-python'), venvPython)));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { libtorch: { source: string; version: string }; mapped: string[] };
    expect(out.libtorch).toMatchObject({ source: 'python', version: '2.13.0+cpu' });
    expect(out.mapped.every((f) => !f.includes('@lvmtorch'))).toBe(true);
  });

  it('with --omit=optional and no other libtorch: the error of today, naming what was searched', async () => {
    const bare = freshProject(join(tmp, 'project-omit'));
    const bin = binDir(join(tmp, 'bin-omit'), null);
    const i = await run(['npm', 'install', '--no-audit', '--no-fund', '--omit=optional', mainTarball], bare, userEnv(bin));
    expect(i.status, i.stdout + i.stderr).toBe(0);
    expect(existsSync(join(bare, 'node_modules', '@lvmtorch'))).toBe(false);
    writeFileSync(join(bare, 'check.mjs'), CHECK);
    // Debian's libtorch is on this machine: LIBTORCH_USE_SYSTEM=0 stands for a machine without one.
    const r = await run([process.execPath, join(bare, 'check.mjs')], bare, userEnv(bin, { LIBTORCH_USE_SYSTEM: '0' }));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/lvmtorch: libtorch not found\. Searched, in order:/);
    expect(r.stderr).toMatch(/- npm package @lvmtorch\/libtorch-linux-x64: not installed/);
    expect(r.stderr).toMatch(/pip install torch==2\.13\.0/);
  });
});
