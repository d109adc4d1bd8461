// load() and save(), the one entry point over every format, and `lvmtorch inspect`: files Python writes are told
// apart by their bytes (whatever their names), and inspect --json prints what Python computes from the same file.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { torch, Tensor } from '../dist/index.js';
import { detectFormat, load, save } from '../dist/torch/io/load.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
if (missing) console.warn(`Python comparisons skipped: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const inspect = (...args: string[]) => spawnSync(process.execPath, [cli, 'inspect', ...args], { encoding: 'utf8' });

type Index = Record<string, { dtype: string; shape: number[]; sum: number }>;

describe('files Python wrote', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const expected = missing ? {} : runPython<Record<string, Index>>('file_index.py', { dir });

  it('are told apart by their bytes, also under a misleading name', () => {
    expect(detectFormat(join(dir, 'seed.pt'))).toBe('torch');
    expect(detectFormat(join(dir, 'legacy.bin'))).toBe('torch');
    expect(detectFormat(join(dir, 'data.npz'))).toBe('npz');
    expect(detectFormat(join(dir, 'one.npy'))).toBe('npy');
    copyFileSync(join(dir, 'data.npz'), join(dir, 'really-npz.pt'));
    expect(detectFormat(join(dir, 'really-npz.pt'))).toBe('npz');
  });

  it('load() gives Tensors and plain values', async () => {
    const ckpt = await load<Record<string, unknown>>(join(dir, 'seed.pt'));
    expect(ckpt.epoch).toBe(7);
    expect(ckpt.val_cosine).toBe(0.5);
    const npz = await load<Record<string, Tensor>>(join(dir, 'really-npz.pt'));
    expect(npz.context_sequences.shape).toEqual([4, 5, 3]);
    const one = await load<Tensor>(join(dir, 'one.npy'));
    expect(one.toArray()).toEqual(npz.context_sequences.toArray());
  });

  for (const file of ['seed.pt', 'legacy.bin', 'data.npz', 'one.npy']) {
    it(`inspect --json ${file} lists every tensor with Python's dtype, shape and sum`, () => {
      const r = inspect(join(dir, file), '--json');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const got = JSON.parse(r.stdout) as Index;
      const want = expected[file];
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [path, w] of Object.entries(want)) {
        expect({ path, dtype: got[path].dtype, shape: got[path].shape }).toEqual({ path, dtype: w.dtype, shape: w.shape });
        expect(got[path].sum).toBeCloseTo(w.sum, 9);
      }
    });
  }

  it('inspect prints the tree: every value, inert records by name, each tensor by dotted path', () => {
    const r = inspect(join(dir, 'seed.pt'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}epoch: 7$/m);
    expect(r.stdout).toMatch(/^ {2}args: argparse\.Namespace \(inert record, nothing was run\), 2 items$/m);
    expect(r.stdout).toMatch(/^ {4}args\.model: "gru"$/m);
    expect(r.stdout).toMatch(/^ {4}model_state_dict\.0\.weight: float32 \[4, 6\] cpu sum=-?\d/m);
    expect(r.stdout).toMatch(/^ {4}views\.2: float64 \[3, 3\] cpu sum=/m);
  });
});

describe('bad files', () => {
  it('inspect exits 1 with one line naming the file and what is wrong', () => {
    const junk = join(dir, 'junk.pt');
    writeFileSync(junk, 'definitely not a checkpoint');
    const r = inspect(junk);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${junk}: not a torch.save, .npy, .npz or .safetensors file`);
    const missingFile = inspect(join(dir, 'nope.pt'));
    expect(missingFile.status).toBe(1);
    expect(missingFile.stderr).toMatch(/ENOENT.*nope\.pt/);
  });

  it('a truncated checkpoint is a clear error, not a crash', async () => {
    const path = join(dir, 'truncated.pt');
    await save({ w: torch.ones([64]) }, path);
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.length - 30));
    await expect(load(path)).rejects.toThrow(/truncated\.pt/);
    const r = inspect(path);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('save() by extension', () => {
  it('writes each format so that load() reads it back', async () => {
    const t = torch.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3);
    await save({ a: t, n: 3 }, join(dir, 'x.pt'));
    await save(t, join(dir, 'x.npy'));
    await save({ a: t }, join(dir, 'x.npz'), { compress: true });
    await save({ a: t }, join(dir, 'x.safetensors'), { metadata: { note: 'hi' } });
    expect(((await load<{ a: Tensor; n: number }>(join(dir, 'x.pt'))).a).toArray()).toEqual(t.toArray());
    expect((await load<Tensor>(join(dir, 'x.npy'))).toArray()).toEqual(t.toArray());
    expect((await load<Record<string, Tensor>>(join(dir, 'x.npz'))).a.toArray()).toEqual(t.toArray());
    expect((await load<Record<string, Tensor>>(join(dir, 'x.safetensors'))).a.toArray()).toEqual(t.toArray());
  });

  it('refuses an unknown extension and values the format cannot hold', async () => {
    const t = torch.ones([2]);
    await expect(save(t, join(dir, 'x.txt'))).rejects.toThrow(RangeError);
    await expect(save({ a: t }, join(dir, 'y.npy'))).rejects.toThrow(/one Tensor/);
    await expect(save({ a: 1 }, join(dir, 'y.safetensors'))).rejects.toThrow(/"a" is number, not a Tensor/);
  });

  it('load({ device }) moves npy/npz/safetensors tensors too (cpu here)', async () => {
    const moved = await load<Record<string, Tensor>>(join(dir, 'x.npz'), { device: 'cpu' });
    expect(moved.a.device).toBe('cpu');
  });
});

// Reading a file needs no libtorch: inspect runs in a process where loading any native addon throws (no libtorch,
// no lvmtorch binary could load), and reports what libtorch computes from the same files.
describe('lvmtorch inspect with no libtorch', () => {
  const noNative = `data:text/javascript,process.dlopen = () => { throw new Error('a native addon was loaded'); };`;
  const inspectAlone = (file: string) => spawnSync(process.execPath, ['--import', noNative, cli, 'inspect', '--json', file],
    { encoding: 'utf8', env: { ...process.env, LIBTORCH: join(dir, 'no-libtorch-here') } });

  it('the guard works: a command that needs libtorch fails in such a process', () => {
    const r = spawnSync(process.execPath, ['--import', noNative, cli, 'doctor'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });

  it.for(['x.pt', 'x.npy', 'x.npz', 'x.safetensors'])('%s', async (name) => {
    const t = torch.tensor([[1.5, -2.25, 3], [0.125, 4, -8]], { dtype: 'float32' });
    const q = torch.quantizePerTensor(torch.tensor([0.5, -1, 2.5]), 0.25, 3, 'quint8');
    const file = join(dir, `alone-${name}`);
    if (name === 'x.pt') await save({ w: t, view: t.select(1, 2), q, n: 3 }, file);
    else if (name === 'x.npy') await save(t, file);
    else await save({ w: t, b: torch.tensor([true, false]) }, file);
    const r = inspectAlone(file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; sum: number }>;
    const loaded = await load<Tensor | Record<string, Tensor | number>>(file);
    const want = loaded instanceof Tensor ? { '': loaded } : loaded;
    const tensors = Object.entries(want).filter((e): e is [string, Tensor] => e[1] instanceof Tensor);
    expect(Object.keys(got).sort()).toEqual(tensors.map(([k]) => k).sort());
    for (const [k, v] of tensors) {
      const real = v.isQuantized ? v.dequantize() : v;
      expect({ k, dtype: got[k].dtype, shape: got[k].shape }).toEqual({ k, dtype: v.dtype, shape: [...v.shape] });
      expect(got[k].sum).toBeCloseTo(Number(real.to('float64').sum().item()), 12);
    }
  });
});

describe('the command line in-process (run)', () => {
  it('runs a verb and rejects a usage error instead of ending the process', async () => {
    const { run } = await import('../dist/cli/program.js');
    const file = join(dir, 'run.npy');
    await save(torch.tensor([1, 2, 3.5]), file);
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((s: string) => void printed.push(s));
    try {
      await run(['inspect', '--json', file]);
    } finally {
      log.mockRestore();
    }
    expect(JSON.parse(printed.join('\n'))).toEqual({ '': { dtype: 'float32', shape: [3], sum: 6.5 } });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(run(['inspect', '--bogus', file])).rejects.toMatchObject({ code: 'commander.unknownOption' });
    } finally {
      err.mockRestore();
    }
  });
});
