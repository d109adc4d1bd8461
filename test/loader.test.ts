// The loader and `lvmtorch doctor`: what they find, what they refuse and what they say about it. The loader
// runs once per process, so every case that sets LIBTORCH or LVMTORCH_BINARY_DIR runs in a child process.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DoctorReport } from '../dist/index.js';
import { findLibtorch, majorMinor } from '../dist/torch/libtorch/find.js';
import { bestCore, chooseCore, type OpenblasLibrary } from '../dist/torch/libtorch/openblas.js';
import { skipUnless } from './helpers/skip.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const LOADER_VARS = ['LIBTORCH', 'LIBTORCH_USE_PYTORCH', 'LIBTORCH_PYTHON', 'LVMTORCH_BINARY_DIR', 'OPENBLAS_CORETYPE',
  'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'];
const DEBIAN_CMAKE = '/usr/lib/x86_64-linux-gnu/cmake/Torch';
const debianHere = existsSync(join(DEBIAN_CMAKE, 'TorchConfig.cmake'));

/** The environment of this process without the loader's variables, plus `vars`. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of LOADER_VARS) delete env[name];
  return { ...env, ...vars };
}

function doctor(vars: Record<string, string>, json = false): { status: number | null; signal: string | null; out: string } {
  const r = spawnSync(process.execPath, [cli, 'doctor', ...(json ? ['--json'] : [])], {
    env: envWith(vars), encoding: 'utf8', timeout: 60_000,
  });
  return { status: r.status, signal: r.signal, out: r.stdout + r.stderr };
}

// The variant under test: the CI runs this file once per variant, selecting it with LIBTORCH.
const UNDER_TEST: Record<string, string> = process.env.LIBTORCH ? { LIBTORCH: process.env.LIBTORCH } : {};

let tmp: string;
let plain: DoctorReport; // doctor --json as a process of the variant under test sees it

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lvmtorch-loader-'));
  const r = doctor(UNDER_TEST, true);
  expect(r.status, r.out).toBe(0);
  plain = JSON.parse(r.out) as DoctorReport;
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A copy of the binary this machine loads, its lvmtorch.json claiming another libtorch version. */
function binaryBuiltFor(version: string): string {
  const from = dirname(plain.binary!.path);
  const dir = join(tmp, `binary-${version}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(plain.binary!.path, join(dir, 'lvmtorch.node'));
  copyFileSync(join(from, 'lvmtorch_preload.node'), join(dir, 'lvmtorch_preload.node'));
  const info = JSON.parse(readFileSync(join(from, 'lvmtorch.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'lvmtorch.json'), JSON.stringify({ ...info, libtorchVersion: version, variant: `torch-${majorMinor(version)}-cpu` }));
  return dir;
}

/** A folder that passes for a libtorch of `version` by its layout, but holds no working library. */
function fakeLibtorch(version: string): string {
  const dir = join(tmp, `libtorch-${version}`);
  mkdirSync(join(dir, 'lib'), { recursive: true });
  mkdirSync(join(dir, 'share', 'cmake', 'Torch'), { recursive: true });
  writeFileSync(join(dir, 'lib', 'libtorch_cpu.so'), '');
  writeFileSync(join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), '# fake\n');
  writeFileSync(join(dir, 'build-version'), `${version}\n`);
  return dir;
}

describe('lvmtorch doctor', () => {
  it('--json reports the variant, libtorch, the BLAS that really runs, threads and a working forward pass', () => {
    const r = plain;
    console.log(`doctor: ${r.variant}, libtorch ${r.libtorch!.version} (${r.libtorch!.source}), BLAS ${r.blas!.kind} ` +
      `${r.blas!.name}${r.blas!.core ? `, core ${r.blas!.core.name} (${r.blas!.core.by})` : ''}, ` +
      `${r.threads!.intraOp} intra-op / ${r.threads!.blas} BLAS thread(s) on ${r.threads!.cores} core(s)`);
    expect(r.ok).toBe(true);
    expect(r.libtorch!.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.variant).toBe(`torch-${majorMinor(r.libtorch!.version)}-${r.libtorch!.cudaLibrary ? 'cuda' : 'cpu'}`);
    expect(majorMinor(r.binary!.builtFor)).toBe(majorMinor(r.libtorch!.version));
    expect(r.searched).toMatch(/found /);
    expect(r.threads!.intraOp).toBeGreaterThanOrEqual(1);
    expect(r.threads!.cores).toBeGreaterThanOrEqual(1);
    expect(r.forward).toEqual({ ok: true, detail: 'softmax(x @ W) row sums = 1.000000, 1.000000' });
    expect(r.cuda!.devices).toBeGreaterThanOrEqual(0);
    expect(r.blas!.selfCheckError).toBeLessThan(1e-5);
    expect(r.warnings.filter((w) => /reference/.test(w))).toEqual([]);
    // No thread variable in this environment: lvmtorch's defaults for the BLAS in use.
    expect(r.threads!.defaults.by).toBe('lvmtorch');
    expect(r.threads!.intraOp).toBe(r.blas!.kind === 'openblas' ? 1 : r.threads!.cores);
    if (r.blas!.kind === 'openblas') expect(r.threads!.blas).toBe(r.threads!.cores);
    if (r.libtorch!.source !== 'system' && r.libtorch!.root !== '/usr' && majorMinor(r.libtorch!.version) >= '2.') {
      // PyTorch 2.x from pip links MKL into libtorch_cpu: no BLAS library of its own to find by name.
      expect(r.blas!.kind).toBe('mkl');
      expect(r.blas!.name).toMatch(/Math Kernel Library Version \d{4}/);
      expect(r.blas!.threads).toBe(r.threads!.intraOp);
      expect(r.blas!.core).toBeNull();
    } else if (existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread')) {
      expect(r.blas!.kind).toBe('openblas');
      expect(r.blas!.name).toMatch(/^OpenBLAS \d+\.\d+/);
      expect(r.blas!.threads).toBeGreaterThanOrEqual(1);
      // lvmtorch chose the core before OpenBLAS loaded, and it is the best this build has for this CPU.
      expect(r.blas!.core!.by).toBe('lvmtorch');
      expect(r.blas!.core!.name).toBe(r.blas!.core!.best);
      expect(r.blas!.core!.openblasAlone).toMatch(/^\w+$/);
    }
  });

  it('prints the same facts as text', () => {
    const r = doctor(UNDER_TEST);
    expect(r.status).toBe(0);
    expect(r.out).toContain(`variant:   ${plain.variant}`);
    expect(r.out).toContain(`libtorch:  ${plain.libtorch!.version}`);
    expect(r.out).toMatch(/^BLAS: +\S.*float32 matmul error \d\.\de-\d+$/m);
    expect(r.out).toMatch(/^threads: +\d+ intra-op \(OpenMP\)(, \d+ OpenBLAS)?, \d+ core\(s\) \(at load: .+\)$/m);
    expect(r.out).toMatch(/^forward: +ok: softmax/m);
    if (plain.blas!.core) expect(r.out).toMatch(/^core: +\w+ \(chosen by lvmtorch: .+\); OpenBLAS alone picks \w+, best for this CPU: \w+$/m);
  });

  it('leaves the thread counts to OMP_NUM_THREADS when it is set, and says so', () => {
    const r = doctor({ ...UNDER_TEST, OMP_NUM_THREADS: '1' }, true);
    expect(r.status, r.out).toBe(0);
    const report = JSON.parse(r.out) as DoctorReport;
    expect(report.threads!.defaults).toMatchObject({ by: 'environment', reason: 'OMP_NUM_THREADS set' });
    expect(report.threads!.intraOp).toBe(1);
  });

  it('exits 1 and prints every search step when LIBTORCH names a missing folder', () => {
    const missing = join(tmp, 'no-such-libtorch');
    const r = doctor({ LIBTORCH: missing });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.out).toContain('libtorch search:');
    expect(r.out).toContain(`- LIBTORCH: ${missing} does not exist`);
    expect(r.out).toMatch(/libtorch not found\. Searched, in order:/);
    expect(r.out).toMatch(/Or point at one: LIBTORCH=/);

    const json = doctor({ LIBTORCH: missing }, true);
    expect(json.status).toBe(1);
    const report = JSON.parse(json.out) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(report.searched).toContain(`${missing} does not exist`);
    expect(report.error).toMatch(/libtorch not found/);
  });

  it('says why a LIBTORCH folder without libraries is refused', () => {
    const empty = join(tmp, 'empty-libtorch');
    mkdirSync(empty, { recursive: true });
    const r = doctor({ LIBTORCH: empty });
    expect(r.status).toBe(1);
    expect(r.out).toContain(`- LIBTORCH: ${empty} has no lib/libtorch_cpu.so`);
  });
});

describe('binaries built for another libtorch', () => {
  it('refuses LVMTORCH_BINARY_DIR built for libtorch 9.9.0, naming both versions, and loads the next candidate', () => {
    const dir = binaryBuiltFor('9.9.0');
    const r = doctor({ ...UNDER_TEST, LVMTORCH_BINARY_DIR: dir }, true);
    expect(r.status, r.out).toBe(0);
    const report = JSON.parse(r.out) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.binary!.path.startsWith(dir)).toBe(false); // the refused copy was not loaded
    expect(report.binary!.path).toBe(plain.binary!.path);
    expect(report.warnings).toContain(
      `binary refused, ${plain.binary!.path} used instead: ` +
        `LVMTORCH_BINARY_DIR: built for libtorch 9.9.0 (torch-9.9-cpu), but the libtorch found is ${plain.libtorch!.version} (${plain.variant})`,
    );
  });

  it('refuses every binary when none fits, and the error lists each, the variants shipped and the fixes', () => {
    const dir = binaryBuiltFor('9.9.0');
    const fake = fakeLibtorch('8.8.0');
    const r = doctor({ LVMTORCH_BINARY_DIR: dir, LIBTORCH: fake });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.out).toContain(`found LIBTORCH: ${fake}`);
    expect(r.out).toMatch(/no lvmtorch binary fits libtorch 8\.8\.0 \(LIBTORCH, /);
    expect(r.out).toContain('LVMTORCH_BINARY_DIR: built for libtorch 9.9.0 (torch-9.9-cpu), but the libtorch found is 8.8.0 (torch-8.8-cpu)');
    expect(r.out).toContain(`local build torch-8.8-cpu: no lvmtorch.node in ${join(root, 'build', 'torch-8.8-cpu', 'Release')}`);
    expect(r.out).toContain('shipped torch-8.8-cpu: this package ships no torch-8.8-cpu binary');
    expect(r.out).toMatch(/the libtorch found needs torch-8\.8-cpu\.\nFix, one of:/);
    expect(r.out).toContain('compile a binary for the libtorch found: npx lvmtorch build');
  });

  // scripts/setup.sh torch-2.14-cuda unpacks PyTorch's CUDA libtorch without the nvidia-* libraries it needs: a
  // user's CUDA torch installed without them.
  const cudaLibtorch = join(root, '.libtorch', 'torch-2.14-cuda', 'torch');
  it('names the CUDA library a CUDA libtorch misses, and the fix', (ctx) => {
    skipUnless(ctx, existsSync(join(cudaLibtorch, 'version.py')) ? null
      : `${cudaLibtorch} is not here (bash scripts/setup.sh torch-2.14-cuda unpacks it)`);
    const r = doctor({ LIBTORCH: cudaLibtorch });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/libtorch 2\.14\.1\+cu130 \(LIBTORCH, .*\) is built with CUDA and needs lib(cu|nv)\w*\.so\.\d+, which this machine does not have/);
    expect(r.out).toContain('pip install torch==2.14.1: its nvidia-* packages are found beside it');
    // The rest of the report that needs no addon comes first.
    expect(r.out).toMatch(/^variant: +torch-2\.14-cuda$/m);
    expect(r.out).toMatch(/^libtorch: +2\.14\.1\+cu130 \(LIBTORCH\) in .*, with CUDA$/m);
    expect(r.out).toMatch(/^bf16: +/m);
  });

  it('throws LibtorchLoadError from the library itself, on first use', () => {
    const dir = binaryBuiltFor('9.9.0');
    const fake = fakeLibtorch('8.8.0');
    const index = new URL('../dist/index.js', import.meta.url).href;
    const source = `
      import { torch, LibtorchLoadError } from ${JSON.stringify(index)};
      try { torch.zeros([1]); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ isLoadError: e instanceof LibtorchLoadError, code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
      env: envWith({ LVMTORCH_BINARY_DIR: dir, LIBTORCH: fake }), encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { isLoadError: boolean; code: string; message: string };
    expect(out.isLoadError).toBe(true);
    expect(out.code).toBe('ERR_LIBTORCH_LOAD');
    expect(out.message).toContain('built for libtorch 9.9.0 (torch-9.9-cpu), but the libtorch found is 8.8.0');
  });
});

describe('one libtorch per process', () => {
  // A binary built against pip's unversioned libtorch.so, loaded by soname alone, once resolved it to Debian's
  // libtorch.so -> libtorch.so.1.13 (undefined symbols, or a Bus error): the preload opens the libraries by path.
  it('maps the libtorch and c10 libraries of the variant under test only', () => {
    const index = new URL('../dist/index.js', import.meta.url).href;
    const source = `
      import { readFileSync } from 'node:fs';
      import { torch } from ${JSON.stringify(index)};
      torch.zeros([2]).add(1);
      const libs = new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5])
        .filter((p) => p && /\\/lib(c10|torch)[^/]*\\.so/.test(p)));
      console.log(JSON.stringify([...libs]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { env: envWith(UNDER_TEST), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const libs = JSON.parse(r.stdout) as string[];
    console.log(`mapped: ${libs.join(', ')}`);
    expect(libs.length).toBeGreaterThanOrEqual(3);
    const real = (p: string) => dirname(p.replace(/\.so\.[\d.]+$/, '.so'));
    expect(new Set(libs.map(real))).toEqual(new Set([plain.libtorch!.libDir]));
  });
});

describe('findLibtorch()', () => {
  const debianTorch = '/usr/lib/python3/dist-packages/torch';

  it('looks at LIBTORCH, then a Python\'s torch (this checkout\'s .venv before python3), then the system', () => {
    const search = findLibtorch({ PATH: process.env.PATH });
    expect(search.steps[0]).toEqual({ where: 'LIBTORCH', found: false, detail: 'not set' });
    const venv = join(root, '.venv', 'bin', 'python');
    if (existsSync(venv)) expect(search.steps[1].where).toBe(`Python torch (${venv})`);
    if (search.libtorch?.source === 'python') expect(search.libtorch.python).toMatch(/^\//);
    const python = search.steps.findIndex((s) => s.where.startsWith('Python torch'));
    const system = search.steps.findIndex((s) => s.where.startsWith('system'));
    if (system >= 0) expect(python).toBeLessThan(system);
  });

  it('takes a CMake package folder or a prefix as LIBTORCH (Debian\'s), with its Python', (ctx) => {
    skipUnless(ctx, debianHere ? null : `${DEBIAN_CMAKE} is not here (Debian's libtorch-dev)`);
    for (const path of [DEBIAN_CMAKE, '/usr']) {
      const lt = findLibtorch({ LIBTORCH: path }).libtorch!;
      expect(lt.variant).toBe('torch-1.13-cpu');
      expect(lt.libDir).toBe('/usr/lib/x86_64-linux-gnu');
      expect(lt.python).toBe(existsSync(debianTorch) ? '/usr/bin/python3' : null);
    }
  });

  it("says that Debian's python3-torch is the system libtorch and goes on to it", (ctx) => {
    skipUnless(ctx, existsSync(join(debianTorch, '__init__.py')) ? null : `${debianTorch} is not here (Debian's python3-torch)`);
    const search = findLibtorch({ LIBTORCH_PYTHON: '/usr/bin/python3' });
    const step = search.steps.find((s) => s.where === 'Python torch (/usr/bin/python3)');
    expect(step).toEqual({
      where: 'Python torch (/usr/bin/python3)', found: false,
      detail: `${debianTorch} is Debian's python3-torch, whose libraries are the system libtorch's (searched below)`,
    });
    expect(search.libtorch?.source).toBe(debianHere ? 'system' : undefined);
  });

  it('says so when the Python cannot be run', () => {
    const missing = join(tmp, 'no-such-python');
    const search = findLibtorch({ LIBTORCH_PYTHON: missing });
    const step = search.steps.find((s) => s.where === `Python torch (${missing})`)!;
    expect(step.found).toBe(false);
    expect(step.detail).toMatch(new RegExp(`^could not run it: .*${missing}.*ENOENT`));
  });

  it('says so when the Python has no torch', () => {
    const python = join(tmp, 'python-without-torch');
    writeFileSync(python, '#!/bin/sh\necho\n'); // find_spec('torch') is None: prints an empty line
    chmodSync(python, 0o755);
    const search = findLibtorch({ LIBTORCH_PYTHON: python });
    expect(search.steps.find((s) => s.where === `Python torch (${python})`)).toEqual({
      where: `Python torch (${python})`, found: false, detail: 'this Python has no torch package',
    });
  });

  // A user's Python with torch 2.5, for which lvmtorch has no binary: a fake torch folder a fake python points at.
  function pythonWithTorch(version: string): string {
    const folder = join(tmp, `torch-${version}`);
    mkdirSync(join(folder, 'lib'), { recursive: true });
    mkdirSync(join(folder, 'share', 'cmake', 'Torch'), { recursive: true });
    writeFileSync(join(folder, 'lib', 'libtorch_cpu.so'), '');
    writeFileSync(join(folder, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), '');
    writeFileSync(join(folder, 'version.py'), `__version__ = '${version}'\n`);
    const python = join(tmp, `python-torch-${version}`);
    writeFileSync(python, `#!/bin/sh\necho ${python}\necho ${folder}\n`);
    chmodSync(python, 0o755);
    return python;
  }

  it('at load time passes over a Python torch lvmtorch has no binary for, and takes it only when nothing follows', () => {
    const python = pythonWithTorch('2.5.1');
    // At build time (no hasBinary) it is taken: a binary for it is what `npx lvmtorch build` makes.
    expect(findLibtorch({ LIBTORCH_PYTHON: python }).libtorch).toMatchObject({ source: 'python', version: '2.5.1', variant: 'torch-2.5-cpu' });
    const asked: string[] = [];
    const search = findLibtorch({ LIBTORCH_PYTHON: python, LIBTORCH_USE_SYSTEM: '0' }, { hasBinary: (v) => (asked.push(v), false) });
    expect(search.steps.find((s) => s.where === `Python torch (${python})`)).toEqual({
      where: `Python torch (${python})`, found: false,
      detail: `${join(tmp, 'torch-2.5.1')}: torch 2.5.1, for which lvmtorch has no binary (torch-2.5-cpu); passed over`,
    });
    expect(search.steps.find((s) => s.where === 'npm package @lvmtorch/libtorch-linux-x64')?.found).toBe(false);
    expect(search.steps).toContainEqual({ where: 'system', found: false, detail: 'skipped: LIBTORCH_USE_SYSTEM=0' });
    // Nothing followed: the Python torch after all, so that the error names the binary it needs.
    expect(search.libtorch).toMatchObject({ source: 'python', version: '2.5.1' });
    expect(asked[0]).toBe('torch-2.5-cpu');
  });

  it('skips the Python step, saying why, when LIBTORCH_USE_PYTORCH=0', () => {
    const search = findLibtorch({ LIBTORCH_USE_PYTORCH: '0' });
    expect(search.steps).toContainEqual({ where: 'Python torch', found: false, detail: 'skipped: LIBTORCH_USE_PYTORCH=0' });
    expect(search.libtorch?.source ?? 'none').not.toBe('python');
  });
});

describe('the OpenBLAS core', () => {
  // OpenBLAS 0.3.21 (Debian 12) has these kernels; it picked Prescott on a Xeon with AVX-512 and AMX.
  const bookworm: OpenblasLibrary = { path: '/x/libopenblasp-r0.3.21.so', version: '0.3.21', cores: ['Cooperlake', 'SkylakeX', 'Haswell', 'Sandybridge'] };
  const flags = (s: string) => new Set(s.split(' '));
  const sapphireRapids = flags('sse4_2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_fp16');
  const zen4 = flags('sse4_2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni');
  const haswell = flags('sse4_2 avx avx2 fma');

  it('is the newest this build has whose instructions the CPU runs', () => {
    expect(bestCore(bookworm, sapphireRapids)?.name).toBe('Cooperlake'); // this build has no SapphireRapids
    expect(bestCore({ ...bookworm, cores: ['SapphireRapids', ...bookworm.cores] }, sapphireRapids)?.name).toBe('SapphireRapids');
    expect(bestCore(bookworm, zen4)?.name).toBe('Cooperlake');
    expect(bestCore(bookworm, haswell)?.name).toBe('Haswell');
    expect(bestCore(bookworm, flags('sse4_2'))).toBeNull();
    expect(chooseCore(bookworm, {}, haswell)).toMatchObject({ core: 'Haswell', by: 'lvmtorch' });
    expect(chooseCore(bookworm, {}, flags('sse2'))).toMatchObject({ core: null, by: 'openblas' });
  });

  it('is the user\'s when OPENBLAS_CORETYPE is set', () => {
    expect(chooseCore(bookworm, { OPENBLAS_CORETYPE: 'Prescott' }, zen4)).toEqual({ core: 'Prescott', by: 'user', reason: 'OPENBLAS_CORETYPE was set' });
  });

  it('doctor, run with OPENBLAS_CORETYPE older than the CPU can run, reports the user\'s core and warns', (ctx) => {
    const binary = join(root, 'build', 'torch-1.13-cpu', 'Release', 'lvmtorch.node');
    skipUnless(ctx, !debianHere || !existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread') ? "Debian's libtorch with OpenBLAS is not here"
      : existsSync(binary) ? null : `${binary} is not built (bash scripts/setup.sh torch-1.13-cpu)`);
    const r = doctor({ LIBTORCH: DEBIAN_CMAKE, OPENBLAS_CORETYPE: 'Prescott' }, true);
    expect(r.status, r.out).toBe(0);
    const report = JSON.parse(r.out) as DoctorReport;
    expect(report.blas!.core).toMatchObject({ name: 'Prescott', by: 'user' });
    expect(report.blas!.selfCheckError).toBeLessThan(1e-5);
    const best = report.blas!.core!.best;
    if (best) expect(report.warnings).toContain(`OpenBLAS runs its Prescott kernels (OPENBLAS_CORETYPE was set), but this CPU can run ${best}'s`);
  });
});
