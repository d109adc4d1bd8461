// The loader and `lvmtorch doctor`: what they find, what they refuse and what they say about it. The loader
// runs once per process, so every case that sets LIBTORCH or LVMTORCH_BINARY_DIR runs in a child process.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { DoctorReport } from '../dist/index.js';
import { findLibtorch, majorMinor } from '../dist/libtorch/find.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const LOADER_VARS = ['LIBTORCH', 'LIBTORCH_USE_PYTORCH', 'LIBTORCH_PYTHON', 'LVMTORCH_BINARY_DIR'];

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

let tmp: string;
let plain: DoctorReport; // doctor --json with no loader variables: what this machine loads by default

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lvmtorch-loader-'));
  const r = doctor({}, true);
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
  for (const f of readdirSync(from).filter((f) => f.endsWith('.node'))) copyFileSync(join(from, f), join(dir, f));
  const info = JSON.parse(readFileSync(join(from, 'lvmtorch.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'lvmtorch.json'), JSON.stringify({ ...info, libtorchVersion: version }));
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
  it('--json reports the libtorch version, BLAS, threads and a working forward pass', () => {
    const r = plain;
    console.log(`doctor: libtorch ${r.libtorch!.version} (${r.libtorch!.source}), BLAS ${r.blas!.openblas ?? r.blas!.libraries.join(', ')}, ` +
      `${r.threads!.intraOp} intra-op thread(s) on ${r.threads!.cores} core(s)`);
    expect(r.ok).toBe(true);
    expect(r.libtorch!.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(majorMinor(r.binary!.builtFor)).toBe(majorMinor(r.libtorch!.version));
    expect(r.searched).toMatch(/found /);
    expect(r.threads!.intraOp).toBeGreaterThanOrEqual(1);
    expect(r.threads!.cores).toBeGreaterThanOrEqual(1);
    expect(r.forward).toEqual({ ok: true, detail: 'softmax(x @ W) row sums = 1.000000, 1.000000' });
    expect(r.cuda!.devices).toBeGreaterThanOrEqual(0);
    // These machines have Debian's OpenBLAS (libopenblas0-pthread); elsewhere doctor must at least say which.
    if (existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread')) {
      expect(r.blas!.openblas).toMatch(/^OpenBLAS \d+\.\d+/);
      expect(r.blas!.reference).toBe(false);
      expect(r.blas!.threads).toBeGreaterThanOrEqual(1);
      expect(r.warnings.filter((w) => /reference/.test(w))).toEqual([]);
    } else {
      expect(r.blas!.reference).toBe(r.warnings.some((w) => /reference implementation/.test(w)));
    }
  });

  it('prints the same facts as text', () => {
    const r = doctor({});
    expect(r.status).toBe(0);
    expect(r.out).toContain(`libtorch:  ${plain.libtorch!.version}`);
    expect(r.out).toMatch(/^BLAS: +\S/m);
    expect(r.out).toMatch(/^threads: +\d+ intra-op \(OpenMP\), \d+ core\(s\)$/m);
    expect(r.out).toMatch(/^forward: +ok: softmax/m);
  });

  it('exits 1 and prints every search step when LIBTORCH names a missing folder', () => {
    const missing = join(tmp, 'no-such-libtorch');
    const r = doctor({ LIBTORCH: missing });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.out).toContain('libtorch search:');
    expect(r.out).toContain(`- LIBTORCH: ${missing} does not exist`);
    expect(r.out).toMatch(/libtorch not found\. Searched, in order:/);
    expect(r.out).toMatch(/Fix: install it \(Debian: apt-get install libtorch-dev\), or set LIBTORCH/);

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
    const r = doctor({ LVMTORCH_BINARY_DIR: dir }, true);
    expect(r.status, r.out).toBe(0);
    const report = JSON.parse(r.out) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.binary!.path.startsWith(dir)).toBe(false); // the refused copy was not loaded
    expect(report.binary!.path).toBe(plain.binary!.path);
    expect(report.warnings).toContain(
      `binary refused, ${plain.binary!.path} used instead: ` +
        `LVMTORCH_BINARY_DIR: built for libtorch 9.9.0, but the libtorch found is ${plain.libtorch!.version}`,
    );
  });

  it('refuses every binary when none fits, and the error lists each with both versions', () => {
    const dir = binaryBuiltFor('9.9.0');
    const fake = fakeLibtorch('8.8.0');
    const r = doctor({ LVMTORCH_BINARY_DIR: dir, LIBTORCH: fake });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.out).toContain(`found LIBTORCH: ${fake}`);
    expect(r.out).toMatch(/no lvmtorch binary fits libtorch 8\.8\.0 \(LIBTORCH, /);
    expect(r.out).toContain('LVMTORCH_BINARY_DIR: built for libtorch 9.9.0, but the libtorch found is 8.8.0');
    const label = plain.binary!.path.startsWith(join(root, 'build')) ? 'local build' : 'prebuild';
    expect(r.out).toMatch(new RegExp(`  ${label}[^:\n]*: built for libtorch ${plain.binary!.builtFor.replace(/[.+]/g, '\\$&')}, ` +
      'but the libtorch found is 8\\.8\\.0'));
    expect(r.out).toMatch(/Fix: build one for this libtorch with `npm run build`/);
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
    expect(out.message).toContain('built for libtorch 9.9.0, but the libtorch found is 8.8.0');
  });
});

describe('findLibtorch() with LIBTORCH_USE_PYTORCH=1', () => {
  const debianTorch = '/usr/lib/python3/dist-packages/torch';

  it("tries Debian's python torch folder and says plainly why it is or is not usable", () => {
    const search = findLibtorch({ LIBTORCH_USE_PYTORCH: '1', LIBTORCH_PYTHON: '/usr/bin/python3' });
    const step = search.steps.find((s) => s.where === 'Python torch (/usr/bin/python3)');
    expect(step).toBeDefined();
    console.log(`Python torch step: ${step!.found ? 'found' : '-'} ${step!.detail}`);
    if (!existsSync(join(debianTorch, '__init__.py'))) {
      expect(step!.found).toBe(false);
      expect(step!.detail).toMatch(/^(this Python has no torch package|could not run it: .+)$/);
    } else if (existsSync(join(debianTorch, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
      expect(step).toEqual({ where: 'Python torch (/usr/bin/python3)', found: true, detail: debianTorch });
      expect(search.libtorch!.source).toBe('python');
      expect(search.libtorch!.root).toBe(debianTorch);
    } else {
      // Debian splits python3-torch from libtorch-dev: the package holds lib/ but no CMake files.
      expect(step).toEqual({
        where: 'Python torch (/usr/bin/python3)',
        found: false,
        detail: existsSync(join(debianTorch, 'lib', 'libtorch_cpu.so'))
          ? `${debianTorch} has no share/cmake/Torch/TorchConfig.cmake`
          : `${debianTorch} has no lib/libtorch_cpu.so`,
      });
      // ... and the search goes on to the system libtorch.
      expect(search.steps.indexOf(step!)).toBeLessThan(search.steps.length - 1);
    }
  });

  it('says so when the Python cannot be run', () => {
    const missing = join(tmp, 'no-such-python');
    const search = findLibtorch({ LIBTORCH_USE_PYTORCH: '1', LIBTORCH_PYTHON: missing });
    const step = search.steps.find((s) => s.where === `Python torch (${missing})`)!;
    expect(step.found).toBe(false);
    expect(step.detail).toMatch(new RegExp(`^could not run it: .*${missing}.*ENOENT`));
  });

  it('says so when the Python has no torch', () => {
    const python = join(tmp, 'python-without-torch');
    writeFileSync(python, '#!/bin/sh\necho\n'); // find_spec('torch') is None: prints an empty line
    chmodSync(python, 0o755);
    const search = findLibtorch({ LIBTORCH_USE_PYTORCH: '1', LIBTORCH_PYTHON: python });
    expect(search.steps.find((s) => s.where === `Python torch (${python})`)).toEqual({
      where: `Python torch (${python})`, found: false, detail: 'this Python has no torch package',
    });
  });

  it('skips the Python step, saying why, when LIBTORCH_USE_PYTORCH is not 1', () => {
    const search = findLibtorch({});
    expect(search.steps).toContainEqual({ where: 'Python torch', found: false, detail: 'skipped: LIBTORCH_USE_PYTORCH is not 1' });
    expect(search.steps[0]).toEqual({ where: 'LIBTORCH', found: false, detail: 'not set' });
  });
});
