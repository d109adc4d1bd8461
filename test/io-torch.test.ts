// torch.save files both ways, against real PyTorch: files Python writes (zip and legacy, every dtype, views,
// shared storages, a seed-style checkpoint with an AdamW state, numpy values, argparse.Namespace) load with
// exact bytes; files we write load in Python, also with weights_only=True, and an AdamW state we write drives
// torch.optim.AdamW. Malicious and damaged files end in inert data or clear errors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { torch, Tensor } from '../dist/index.js';
import { loadTorchFile, loadTorchFileSync, loadTorchBuffer, saveTorchFile, TorchFileError } from '../dist/torch/io/torch-file.js';
import { itemSize as elementSize } from '../dist/formats/arrays.js';
import { storageBytes } from '../dist/torch/io/tensor-arrays.js';
import {
  PersistentRef, PickleError, PickleGlobal, PickleObject, Tuple, dumps, orderedDict, tuple, pythonAttrs, pythonClass,
} from '../dist/formats/pickle/index.js';
import { ZipReader, ZipWriter } from '../dist/formats/zip.js';
import { native } from '../dist/torch/native.js';
import { findLibtorch } from '../dist/torch/libtorch/find.js';
import { rawOf } from '../dist/torch/tensor.js';
import { PythonServer, pythonMissing } from './helpers/python-server.js';
import { skipUnless } from './helpers/skip.js';

// PyTorch 2.x: torch.load's weights_only=True reads what we write; torch.optim's state dicts have its newer keys.
const TORCH2 = Number(findLibtorch().libtorch!.version.split('.')[0]) >= 2;

const missing = pythonMissing();
// One Python process for the whole file (importing torch costs ~2 s): started at once, so that it loads torch
// while the first tests run.
const server = missing ? null : new PythonServer('torch_files.py');
const py = <T>(input: unknown): Promise<T> => server!.call<T>(input);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-torch-'));
afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

// ---- the tagged form test/python/torch_files.py describes values in ----

function tensorBytes(t: Tensor): string {
  const c = t.detach().contiguous();
  const size = elementSize(c.dtype);
  const bytes = storageBytes(c).subarray(c.storageOffset() * size, (c.storageOffset() + c.numel) * size);
  return Buffer.from(bytes).toString('hex');
}

function tensorSum(t: Tensor): number | string {
  if (t.dtype === 'bool') return Number(t.to('int64').sum().item());
  const s = Number(t.detach().to('float64').sum().item());
  return Number.isFinite(s) ? s : String(s).replace('Infinity', 'inf').replace('NaN', 'nan');
}

function describeValue(v: unknown): unknown {
  if (v instanceof Tensor) {
    return { t: 'tensor', dtype: v.dtype, shape: [...v.shape], stride: v.stride(), offset: v.storageOffset(),
      requires_grad: v.requiresGrad, hex: v.numel ? tensorBytes(v) : '', sum: tensorSum(v) };
  }
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { t: 'int', v: v.toString() };
  if (typeof v === 'number') return Number.isFinite(v) ? v : { t: 'float', v: String(v) === 'NaN' ? 'nan' : v > 0 ? 'inf' : '-inf' };
  if (v instanceof Tuple) return { t: 'tuple', v: [...v].map(describeValue) };
  if (Array.isArray(v)) return v.map(describeValue);
  if (v instanceof Map) return { t: 'dict', items: [...v].map(([k, x]) => [describeValue(k), describeValue(x)]) };
  if (v instanceof PickleObject) return { t: 'object', cls: v.qualifiedName, state: describeValue(v.state) };
  if (typeof v === 'object') {
    return { t: 'dict', items: Object.entries(v).map(([k, x]) => [/^(0|[1-9]\d*)$/.test(k) ? Number(k) : k, describeValue(x)]) };
  }
  throw new Error(`cannot describe ${typeof v}`);
}

// Groups of paths whose tensors share a storage, as storage_groups() in torch_files.py.
function storageGroups(root: unknown): unknown[][][] {
  const byKey = new Map<string, unknown[][]>();
  const walk = (v: unknown, path: unknown[]): void => {
    if (v instanceof Tensor) {
      const key = native().layout(rawOf(v))[3];
      byKey.set(key, [...(byKey.get(key) ?? []), path]);
    } else if (v instanceof Map) {
      for (const [k, x] of v) walk(x, [...path, describeValue(k)]);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i]));
    } else if (v instanceof PickleObject) {
      walk(v.state, path);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, /^(0|[1-9]\d*)$/.test(k) ? Number(k) : k]);
    }
  };
  walk(root, []);
  return [...byKey.values()].filter((g) => g.length > 1);
}

/** The code of the error fn throws (null when it returns); an error without a code fails the test. */
function errorCode(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') throw e;
    return code;
  }
}

type Fixture = { path: string; value: unknown; groups: unknown[][][]; shared?: string[][] };
type ReadBack = { value: any; groups: unknown; error?: string; ordered?: (string | null)[]; metadata?: unknown };

describe('files PyTorch writes', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  let fixtures: Record<string, Fixture> = {};
  beforeAll(async () => {
    if (missing) return; // its tests skip, saying why
    fixtures = await py<Record<string, Fixture>>({ mode: 'write', dir });
  });

  const names = ['checkpoint', 'dtypes', 'views', 'nested', 'state_dict'];
  for (const name of [...names, ...names.map((n) => `${n}_legacy`), 'views_protocol4', 'views_protocol5']) {
    it(`${name}: exact values, strides, offsets and shared storages`, async () => {
      const f = fixtures[name];
      const v = await loadTorchFile(f.path);
      expect(describeValue(v)).toEqual(f.value);
      expect(storageGroups(v)).toEqual(f.groups);
    });
  }

  it('the seed checkpoint: plain values, OrderedDict metadata kept aside, numpy and argparse', async () => {
    const ckpt = (await loadTorchFile(fixtures.checkpoint.path)) as Record<string, any>;
    expect(Object.keys(ckpt)).toEqual(['epoch', 'model_state_dict', 'optimizer_state_dict', 'val_loss', 'val_cosine', 'args']);
    const sd = ckpt.model_state_dict;
    expect(pythonClass(sd)).toBe('collections.OrderedDict');
    expect(Object.keys(sd)).not.toContain('_metadata');
    // _metadata's keys include '0', '2': a Map, as JS objects would reorder them.
    expect((pythonAttrs(sd) as any)._metadata.get('0')).toEqual({ version: 1 });
    expect(sd['0.weight'].sharesStorageWith(sd['extra.transposed'])).toBe(true);
    expect(sd['0.weight'].sharesStorageWith(sd['0.bias'])).toBe(false);
    expect(ckpt.optimizer_state_dict.state).toBeInstanceOf(Map); // int keys
    expect(ckpt.optimizer_state_dict.state.get(0).step.item()).toBe(2);
    expect(ckpt.val_cosine).toBe(0.4567891234);
    expect(ckpt.args).toBeInstanceOf(PickleObject);
    expect(ckpt.args.state.model_type).toBe('gru');
  });

  it('a checkpoint loaded and saved again reads in Python as the original, _metadata and shared storages kept', async () => {
    const ckpt = await loadTorchFile<Record<string, any>>(fixtures.checkpoint.path);
    const path = join(dir, 'resaved_checkpoint.pt');
    await saveTorchFile(ckpt, path);
    const back = await py<ReadBack>({ mode: 'read', path, weights_only: false });
    expect(back.error).toBeUndefined();
    expect(back.value).toEqual(fixtures.checkpoint.value); // argparse.Namespace included, np.float64 now a float
    expect(back.groups).toEqual(fixtures.checkpoint.groups);
    expect(back.ordered).toEqual(['model_state_dict']);
    // The state dict alone passes weights_only=True and keeps the _metadata that load_state_dict reads.
    const sdPath = join(dir, 'resaved_state_dict.pt');
    await saveTorchFile(ckpt.model_state_dict, sdPath);
    const sd = await py<ReadBack>({ mode: 'read', path: sdPath, weights_only: true });
    expect(sd.error).toBeUndefined();
    expect(sd.metadata).toEqual((describeValue(pythonAttrs(ckpt.model_state_dict)) as any).items[0][1]);
    expect((sd.metadata as any).items.map((x: unknown[]) => x[0])).toEqual(['', '0', '1', '2', '3']);
  });

  it('the legacy format loads with the same sharing as the zip format, and strict applies to it too', async () => {
    const zip = await loadTorchFile<Record<string, any>>(fixtures.views.path);
    const legacy = await loadTorchFile<Record<string, any>>(fixtures.views_legacy.path);
    expect(describeValue(legacy)).toEqual(describeValue(zip));
    expect(legacy.base.sharesStorageWith(legacy.offset_only)).toBe(true);
    await expect(loadTorchFile(fixtures.checkpoint_legacy.path, { strict: true })).rejects.toThrow(/argparse\.Namespace is not allowed/);
    expect(Object.keys(loadTorchFileSync(fixtures.state_dict_legacy.path, { strict: true }) as object)).toHaveLength(4);
  });

  it('the same tensor twice is one Tensor object', async () => {
    const v = (await loadTorchFile(fixtures.nested.path)) as Record<string, any>;
    expect(v.same_twice[0]).toBe(v.same_twice[1]);
    expect(v.param.requiresGrad).toBe(true);
    expect(v.size).toBeInstanceOf(Tuple);
    expect(v.dtype).toBe('float16');
    expect(v.device).toBe('cpu');
  });

  it('strict (weights_only) refuses what is not data, naming it', async () => {
    await expect(loadTorchFile(fixtures.checkpoint.path, { strict: true })).rejects.toThrow(/argparse\.Namespace is not allowed/);
    const sd = await loadTorchFile(fixtures.state_dict.path, { strict: true });
    expect(Object.keys(sd as object)).toEqual(['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']);
  });

  it('a whole pickled nn.Module loads as an inert record holding its tensors', async () => {
    const path = join(dir, 'module.pt');
    await py({ mode: 'module', path });
    const m = (await loadTorchFile(path)) as PickleObject;
    expect(m.qualifiedName).toBe('torch.nn.modules.linear.Linear');
    const params = (m.state as any)._parameters;
    expect(params.weight.shape).toEqual([3, 2].reverse());
    expect(params.weight.requiresGrad).toBe(true);
    await expect(loadTorchFile(path, { strict: true })).rejects.toThrow(/torch\.nn\.modules\.linear\.Linear is not allowed/);
  });

  it('device option moves tensors to CUDA, keeping shared storages shared', async (ctx) => {
    if (!torch.cuda.isAvailable()) ctx.skip('no CUDA device'); // no missing tool: it skips under CI too
    const ckpt = (await loadTorchFile(fixtures.checkpoint.path, { device: 'cuda' })) as Record<string, any>;
    const sd = ckpt.model_state_dict;
    expect(sd['0.weight'].device).toMatch(/^cuda/);
    expect(sd['0.weight'].sharesStorageWith(sd['extra.transposed'])).toBe(true);
    expect(sd['extra.strided'].sharesStorageWith(sd['extra.row'])).toBe(true);
    // Strides and offsets hold on the device; values compare on a CPU copy (which .cpu() makes contiguous).
    const expected = (fixtures.checkpoint.value as any).items[1][1].items.find((x: any) => x[0] === 'extra.strided')[1];
    const strided = sd['extra.strided'] as Tensor;
    expect([strided.stride(), strided.storageOffset()]).toEqual([expected.stride, expected.offset]);
    const { hex, sum, shape, dtype } = describeValue(strided.cpu()) as any;
    expect({ hex, sum, shape, dtype }).toEqual({ hex: expected.hex, sum: expected.sum, shape: expected.shape, dtype: expected.dtype });
    expect(ckpt.optimizer_state_dict.state.get(0).exp_avg.device).toMatch(/^cuda/);
  });

  it('asking for CUDA where there is none is refused before reading', async (ctx) => {
    if (torch.cuda.isAvailable()) ctx.skip('this libtorch sees a CUDA device');
    await expect(loadTorchFile(fixtures.checkpoint.path, { device: 'cuda' })).rejects.toThrow(/device cuda: no CUDA device is available/);
    expect(() => loadTorchBuffer(Buffer.alloc(0), { device: 'cuda:1' })).toThrow(/device cuda:1/);
    expect(() => loadTorchBuffer(Buffer.alloc(0), { device: 'gpu' as never })).toThrow(/unknown device "gpu"/);
  });

  it('loads an 88 MB state dict with peak memory under 2x its size', async () => {
    const path = join(dir, 'large.pt');
    const info = await py<{ bytes: number; sum: number }>({ mode: 'large', path, numel: 22 * 1024 * 1024 });
    const script = fileURLToPath(new URL('./helpers/load-peak.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { growth: number; sum: number; tensors: number };
    expect(out.tensors).toBe(22);
    expect(out.sum).toBeCloseTo(info.sum, 6);
    expect(out.growth).toBeLessThan(2 * info.bytes);
    console.log(`88 MB load: peak RSS grew ${(out.growth / 2 ** 20).toFixed(1)} MiB for a ${(info.bytes / 2 ** 20).toFixed(1)} MiB file`);
  });
});

describe('files we write, PyTorch reads', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  function stateDict(): Record<string, Tensor> {
    torch.manualSeed(5);
    const w = torch.randn([8, 6]);
    const grid = torch.arange(0, 40, 1, { dtype: 'float32' }).view(5, 8);
    return {
      '0.weight': w,
      '0.bias': torch.randn([8]),
      'extra.transposed': w.t(),
      'extra.strided': grid.slice(0, 1, 5).slice(1, 1, 8, 3),
      'extra.row': grid.select(0, 2),
      'int64': torch.tensor([2n ** 62n, -(2n ** 63n), 7n]),
      'int32': torch.tensor(Int32Array.from([2 ** 31 - 1, -(2 ** 31)])),
      'int16': torch.tensor(Int16Array.from([32767, -32768])),
      'int8': torch.tensor(Int8Array.from([127, -128])),
      'uint8': torch.tensor(Uint8Array.from([0, 255])),
      'bool': torch.tensor([true, false, true]),
      'float64': torch.tensor(Float64Array.from([Math.PI, -1e300, 5e-324])),
      'float16': torch.tensor([1, 65504, -0.5], { dtype: 'float16' }),
      'bfloat16': torch.tensor([1, 3e38, -7.5], { dtype: 'bfloat16' }),
      'scalar': torch.tensor(3.5, { dtype: 'float32' }),
      'empty': torch.zeros([0, 3]),
    };
  }

  it('a state dict loads in torch.load, also with weights_only=True, exactly', async () => {
    const sd = stateDict();
    const path = join(dir, 'ours_state_dict.pt');
    await saveTorchFile(sd, path);
    for (const weightsOnly of [false, true]) {
      const back = await py<ReadBack>({ mode: 'read', path, weights_only: weightsOnly });
      expect(back.error).toBeUndefined();
      expect(back.value).toEqual(describeValue(sd));
      expect(back.groups).toEqual(storageGroups(sd));
      expect(back.groups).toEqual([[['0.weight'], ['extra.transposed']], [['extra.strided'], ['extra.row']]]);
      expect(back.ordered).toEqual([null]); // an OrderedDict, as module.state_dict() is
    }
  });

  it('nested containers, repeated tensors, requires_grad, non-string keys', async () => {
    const t = torch.tensor([1, 2, 3]);
    const leaf = torch.tensor([1, 2], { dtype: 'float32' }).requiresGrad_();
    const obj = {
      list: [t, tuple<unknown>(t, { x: torch.ones([2]) }), [[], {}]],
      int_keys: new Map<unknown, unknown>([[0, torch.zeros([1])], [1, 'one'], [2, null]]),
      same_twice: [t, t],
      leaf,
      numbers: { int: 5, big: 2n ** 70n, bool: true, none: null, str: 'héllo' },
    };
    const path = join(dir, 'ours_nested.pt');
    await saveTorchFile(obj, path);
    for (const weightsOnly of [false, true]) {
      const back = await py<ReadBack>({ mode: 'read', path, weights_only: weightsOnly });
      expect(back.error).toBeUndefined();
      expect(back.value).toEqual(describeValue(obj));
      expect(back.groups).toEqual(storageGroups(obj));
      expect(back.ordered).toEqual([]); // no dict of tensors only: plain dicts
    }
    // And we read our own file back the same way.
    expect(describeValue(await loadTorchFile(path))).toEqual(describeValue(obj));
  });

  it('the zip is what torch.save writes: stored records aligned to 64 bytes, version 3, byteorder little', async () => {
    const path = join(dir, 'best_model.pt');
    await saveTorchFile(stateDict(), path);
    const entries = await py<{ name: string; compress_type: number; size: number; data_offset: number; text: string | null }[]>({ mode: 'zipinfo', path });
    expect(entries.map((e) => e.name)).toEqual(['best_model/data.pkl', 'best_model/byteorder',
      ...Array.from({ length: 14 }, (_, i) => `best_model/data/${i}`).sort(), 'best_model/version']);
    for (const e of entries) {
      expect(e.compress_type, e.name).toBe(0);
      if (e.name.includes('/data/')) expect(e.data_offset % 64, e.name).toBe(0);
    }
    expect(entries.find((e) => e.name.endsWith('version'))!.text).toBe('3\n');
    expect(entries.find((e) => e.name.endsWith('byteorder'))!.text).toBe('little');
  });

  it('an AdamW state dict we build loads into torch.optim.AdamW and steps', async () => {
    torch.manualSeed(9);
    const shapes: [string, number[]][] = [['0.weight', [8, 6]], ['0.bias', [8]], ['2.weight', [8]], ['2.bias', [8]], ['3.weight', [4, 8]], ['3.bias', [4]]];
    const model = Object.fromEntries(shapes.map(([k, s]) => [k, torch.randn(s)]));
    const state = Object.fromEntries(shapes.map(([, s], i) => [i, {
      step: torch.tensor(2, { dtype: 'float32' }),
      exp_avg: torch.randn(s).mul(0.01),
      exp_avg_sq: torch.randn(s).square().mul(1e-4),
    }]));
    const optimizer = {
      state,
      param_groups: [{
        lr: 5e-4, betas: tuple(0.9, 0.999), eps: 1e-8, weight_decay: 0.01, amsgrad: false, foreach: null,
        maximize: false, capturable: false,
        // torch.optim 2.x fills in its newer keys on load: a group written as 2.x writes it reads back the same.
        ...(TORCH2 ? { differentiable: false, fused: null, decoupled_weight_decay: true } : {}),
        params: shapes.map((_, i) => i),
      }],
    };
    const path = join(dir, 'ours_checkpoint.pt');
    await saveTorchFile({ epoch: 3, model_state_dict: model, optimizer_state_dict: optimizer, val_loss: 0.25 }, path);
    const r = await py<{ loaded: unknown; steps: number[]; lr: number; betas: number[]; finite: boolean }>({ mode: 'adamw', path });
    expect(r.loaded).toEqual(describeValue(optimizer));
    expect(r.steps).toEqual([3, 3, 3, 3, 3, 3]);
    expect(r.lr).toBe(5e-4);
    expect(r.betas).toEqual([0.9, 0.999]);
    expect(r.finite).toBe(true);
    // PyTorch 2.x reads it with weights_only=True (its default); 1.13's allow-list has no floats.
    const back = await py<ReadBack>({ mode: 'read', path, weights_only: TORCH2 });
    expect(back.error).toBeUndefined();
    expect(back.ordered).toEqual(['model_state_dict']); // the rule: a dict of tensors only, at the top or one down
  });
});

describe('malicious and damaged files', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const marker = join(dir, 'pwned');

  it('a checkpoint whose pickle calls os.system loads as inert data; strict refuses it; nothing runs', async () => {
    const path = join(dir, 'evil.pt');
    await py({ mode: 'evil', path, marker });
    const v = (await loadTorchFile(path)) as Record<string, unknown>;
    expect(v.payload).toBeInstanceOf(PickleObject);
    expect((v.payload as PickleObject).qualifiedName).toBe('posix.system');
    expect(describeValue(v.weights)).toMatchObject({ dtype: 'float32', shape: [2] });
    await expect(loadTorchFile(path, { strict: true })).rejects.toThrow(/global posix\.system is not allowed/);
    expect(existsSync(marker)).toBe(false);
  });

  it('truncated files give a clear error, never a crash', async () => {
    const fixture = join(dir, 'trunc-src.pt');
    await saveTorchFile({ w: torch.randn([16, 16]), b: torch.randn([16]) }, fixture);
    const data = readFileSync(fixture);
    for (const n of [0, 3, 10, 40, 100, 500, data.length - 30, data.length - 1]) {
      expect(errorCode(() => loadTorchBuffer(data.subarray(0, n))), `cut at ${n}`).toMatch(/^ERR_(ZIP|TORCH_FILE|PICKLE)$/);
    }
    const path = join(dir, 'truncated.pt');
    writeFileSync(path, data.subarray(0, data.length - 100));
    await expect(loadTorchFile(path)).rejects.toThrow(new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('random corruption of zip and legacy files: a value or one of our errors, never a crash', async () => {
    const zipPath = join(dir, 'fuzz.pt');
    await saveTorchFile({ w: torch.randn([4, 4]), v: tuple(1, 'a'), n: new Map([[1, 2]]) }, zipPath);
    const legacyPath = join(dir, 'fuzz-legacy.pt');
    await py({ mode: 'legacy_small', path: legacyPath });
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const data of [readFileSync(zipPath), readFileSync(legacyPath)]) {
      for (let i = 0; i < 300; i++) {
        const bad = Buffer.from(data);
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
        const code = errorCode(() => loadTorchBuffer(bad));
        if (code !== null) expect(code, `mutation ${i}`).toMatch(/^ERR_(ZIP|TORCH_FILE|PICKLE|TORCH)$/);
      }
    }
  });

  it('legacy files cut short say so', async () => {
    const path = join(dir, 'legacy-src.pt');
    await py({ mode: 'legacy_small', path });
    const data = readFileSync(path);
    expect(() => loadTorchBuffer(data.subarray(0, data.length - 10))).toThrow(/ends at byte|truncated/);
    expect(() => loadTorchBuffer(data.subarray(0, 30))).toThrow(PickleError);
  });

  it('files that are no torch.save file say what they are not', () => {
    expect(() => loadTorchBuffer(Buffer.from('hello world, not a checkpoint'))).toThrow(/not a torch\.save file/);
    expect(() => loadTorchBuffer(dumps({ a: 1 }))).toThrow(/not a torch\.save file/);
  });

  function rewriteZip(src: string, dst: string, edit: (name: string, data: Buffer) => Buffer | null, extra: [string, Buffer][] = []): void {
    const zip = ZipReader.open(src);
    const fd = openSync(dst, 'w');
    try {
      const out = new ZipWriter(fd, { align: 64 });
      for (const e of zip.entries) {
        const data = edit(e.name, zip.read(e.name));
        if (data) out.add(e.name, data);
      }
      for (const [name, data] of extra) out.add(name, data);
      out.finish();
    } finally {
      closeSync(fd);
      zip.close();
    }
  }

  it('tensors saved from CUDA load on the CPU', async () => {
    const pid = tuple<unknown>('storage', new PickleGlobal('torch', 'FloatStorage'), '0', 'cuda:0', 2);
    const t = new PickleObject('torch._utils', '_rebuild_tensor_v2', [new PersistentRef(pid), 0, tuple(2), tuple(1), false, orderedDict(new Map())]);
    const path = join(dir, 'cuda.pt');
    const fd = openSync(path, 'w');
    const zip = new ZipWriter(fd, { align: 64 });
    zip.add('cuda/data.pkl', dumps({ t })).add('cuda/data/0', Buffer.from(Float32Array.from([1.5, -2]).buffer)).add('cuda/version', Buffer.from('3\n'));
    zip.finish();
    closeSync(fd);
    const v = (await loadTorchFile(path)) as { t: Tensor };
    expect(v.t.device).toBe('cpu');
    expect(v.t.toArray()).toEqual([1.5, -2]);
  });

  // A data.pkl naming storages as the test likes, in a zip with the records given.
  function craftedZip(pid: unknown[], records: [string, Uint8Array][]): Buffer {
    const t = new PickleObject('torch._utils', '_rebuild_tensor_v2', [new PersistentRef(tuple(...pid)), 0, tuple(2), tuple(1), false, orderedDict(new Map())]);
    const path = join(dir, 'crafted.pt');
    const fd = openSync(path, 'w');
    const zip = new ZipWriter(fd, { align: 64 });
    zip.add('crafted/data.pkl', dumps({ t }));
    for (const [name, data] of records) zip.add(`crafted/${name}`, data);
    zip.finish();
    closeSync(fd);
    return readFileSync(path);
  }

  it('lying storage sizes and keys are refused before anything is allocated', () => {
    const float = new PickleGlobal('torch', 'FloatStorage');
    const huge = craftedZip(['storage', float, '0', 'cpu', 2 ** 50], [['data/0', new Uint8Array(8)]]);
    expect(() => loadTorchBuffer(huge)).toThrow(TorchFileError);
    expect(() => loadTorchBuffer(huge)).toThrow(/record crafted\/data\/0 holds 8 bytes; its storage needs 4503599627370496/);
    const unsafe = craftedZip(['storage', float, '0', 'cpu', 2 ** 60], [['data/0', new Uint8Array(8)]]);
    expect(() => loadTorchBuffer(unsafe)).toThrow(/storage 0 has numel/);
    const escape = craftedZip(['storage', float, '../version', 'cpu', 2], [['data/0', new Uint8Array(8)], ['version', Buffer.from('3\n')]]);
    expect(() => loadTorchBuffer(escape)).toThrow(/storage key "..\/version" is not a record name/);
    const missing = craftedZip(['storage', float, '7', 'cpu', 2], [['data/0', new Uint8Array(8)]]);
    expect(() => loadTorchBuffer(missing)).toThrow(/names storage "7", but there is no record crafted\/data\/7/);
    const past = craftedZip(['storage', float, '0', 'cpu', 1], [['data/0', new Uint8Array(4)]]);
    expect(() => loadTorchBuffer(past)).toThrow(/reaches past storage 0 of 1 elements.*REDUCE/);
    const complex = craftedZip(['storage', new PickleGlobal('torch', 'ComplexFloatStorage'), '0', 'cpu', 2], [['data/0', new Uint8Array(16)]]);
    expect(() => loadTorchBuffer(complex)).toThrow(/torch\.ComplexFloatStorage \(complex64\) is not a dtype lvmtorch supports/);
    const notStorage = craftedZip(['module', float, 'x', 'y', 1], []);
    expect(() => loadTorchBuffer(notStorage)).toThrow(/unknown persistent id/);
    const good = craftedZip(['storage', float, '0', 'cpu', 2], [['data/0', Buffer.from(Float32Array.from([0.5, 2]).buffer)], ['version', Buffer.from('3\n')]]);
    expect((loadTorchBuffer(good) as { t: Tensor }).t.toArray()).toEqual([0.5, 2]);
    const future = craftedZip(['storage', float, '0', 'cpu', 2], [['data/0', new Uint8Array(8)], ['version', Buffer.from('99\n')]]);
    expect(() => loadTorchBuffer(future)).toThrow(/file format version "99"/);
    // Legacy: a storage larger than the whole file.
    const obj = { t: new PickleObject('torch._utils', '_rebuild_tensor_v2', [new PersistentRef(tuple<unknown>('storage', float, '0', 'cpu', 2 ** 40, null)), 0, tuple(2), tuple(1), false, orderedDict(new Map())]) };
    const legacy = Buffer.concat([dumps(0x1950a86a20f9469cfc6cn), dumps(1001), dumps({ protocol_version: 1001, little_endian: true }), dumps(obj), dumps(['0'])]);
    expect(() => loadTorchBuffer(legacy)).toThrow(/storage 0 of 1099511627776 float32 elements does not fit in a file of \d+ bytes/);
    const bigEndian = Buffer.concat([dumps(0x1950a86a20f9469cfc6cn), dumps(1001), dumps({ little_endian: false }), dumps({}), dumps([])]);
    expect(() => loadTorchBuffer(bigEndian)).toThrow(/big-endian/);
  });

  it('a storage record shorter than its storage, a corrupted pickle, a big-endian file: clear errors', async () => {
    const src = join(dir, 'edit-src.pt');
    await saveTorchFile({ w: torch.randn([4, 4]) }, src);
    const short = join(dir, 'short.pt');
    rewriteZip(src, short, (name, data) => (name.endsWith('/data/0') ? data.subarray(0, 32) : data));
    await expect(loadTorchFile(short)).rejects.toThrow(/record edit-src\/data\/0 holds 32 bytes; its storage needs 64/);
    const corrupt = join(dir, 'corrupt.pt');
    rewriteZip(src, corrupt, (name, data) => (name.endsWith('data.pkl') ? Buffer.concat([data.subarray(0, 20), Buffer.from([0xff]), data.subarray(21)]) : data));
    await expect(loadTorchFile(corrupt)).rejects.toThrow(PickleError);
    const big = join(dir, 'big.pt');
    rewriteZip(src, big, (name, data) => (name.endsWith('byteorder') ? Buffer.from('big') : data));
    await expect(loadTorchFile(big)).rejects.toThrow(/big-endian/);
  });
});
