// Quantized tensors (qint8, quint8, qint32; per-tensor and per-channel affine) in torch.save files, against real
// PyTorch: test/python/quantized_files.py writes the fixtures with torch.save and says what they hold (integers,
// scale, zero point(s), axis, dequantized values, strides, offsets, shared storages); load() must read the same.
// Files saveTorchFile writes (the fixtures read back, and quantized tensors made here) must load in PyTorch equal,
// with weights_only=True on PyTorch 2.x. Malformed quantizer parameters are refused with errors that name them.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

import { FileFormatError, torch, Tensor } from '../dist/index.js';
import { loadTorchBuffer, loadTorchFile, TorchFileError } from '../dist/torch/io/torch-file.js';
import {
  PersistentRef, PickleError, PickleGlobal, PickleObject, Tuple, dumps, orderedDict, tuple,
} from '../dist/formats/pickle/index.js';
import { saveNpy, saveSafetensors } from '../dist/torch/io/tensor-formats.js';
import { formatTree, readRecords, tensorIndex, tree } from '../dist/formats/index.js';
import { ZipError, ZipWriter } from '../dist/formats/zip.js';
import { native } from '../dist/torch/native.js';
import { rawOf } from '../dist/torch/tensor.js';
import { needPython, pythonTorchMissing, runPython } from './helpers/python.js';
import {
  applyBytes, applyZip, byteMutation, fuzzFiles, fuzzRuns, fuzzSeed, lengthLies, zipMutation, zipSource, type FileReader,
} from './helpers/fuzz.js';

const missing = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-quantized-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Fixture {
  path: string;
  value: unknown;
  shared: unknown[][];
}
interface Written {
  torch: string;
  files: Record<string, Fixture>;
  skipped: Record<string, string>;
}
interface Read {
  value?: unknown;
  shared?: unknown[][];
  error?: string;
}

let written: Written;
let pythonMajor = 0;
beforeAll(() => {
  if (missing) return;
  written = runPython<Written>('quantized_files.py', { mode: 'write', dir });
  pythonMajor = Number(written.torch.split('.')[0]);
  for (const [name, why] of Object.entries(written.skipped)) console.log(`io-quantized: PyTorch ${written.torch} cannot make fixture ${name}: ${why}`);
});

// PyTorch 1.13's weights_only unpickler allows neither _rebuild_qtensor nor the qschemes (nor floats): there,
// files are read back with weights_only=False, and the test says so.
let saidWeightsOnly = false;
function weightsOnly(): boolean {
  if (pythonMajor >= 2) return true;
  if (!saidWeightsOnly) console.log(`io-quantized: PyTorch ${written.torch} reads lvmtorch's files with weights_only=False (its weights_only refuses _rebuild_qtensor)`);
  saidWeightsOnly = true;
  return false;
}

// ---- the form quantized_files.py describes values in ----

function flat(t: Tensor): number[] {
  const a = t.toTypedArray();
  t.dispose();
  return Array.from(a as ArrayLike<number>, Number);
}

function describeValue(v: unknown): unknown {
  if (v instanceof Tensor) {
    const d: Record<string, unknown> = { dtype: v.dtype, shape: [...v.shape], stride: v.stride(), offset: v.storageOffset() };
    if (!v.isQuantized) return { ...d, t: 'tensor', requires_grad: v.requiresGrad, values: flat(v.detach().contiguous()) };
    d.t = 'qtensor';
    d.qscheme = v.qscheme();
    if (v.qscheme() === 'per_tensor_affine') {
      d.scale = v.qScale();
      d.zero_point = v.qZeroPoint();
    } else {
      d.scales = flat(v.qPerChannelScales());
      d.zero_points = flat(v.qPerChannelZeroPoints());
      d.axis = v.qPerChannelAxis();
    }
    d.int_repr = flat(v.intRepr());
    d.dequantized = flat(v.dequantize());
    return d;
  }
  if (v instanceof Tuple) return { t: 'tuple', v: [...v].map(describeValue) };
  if (Array.isArray(v)) return v.map(describeValue);
  if (v instanceof Map) return { t: 'dict', items: [...v].map(([k, x]) => [describeValue(k), describeValue(x)]) };
  if (v !== null && typeof v === 'object') return { t: 'dict', items: Object.entries(v).map(([k, x]) => [k, describeValue(x)]) };
  return v;
}

// Groups of paths whose tensors share a storage, as storage_groups() in quantized_files.py.
function storageGroups(root: unknown): unknown[][] {
  const byKey = new Map<string, unknown[][]>();
  const walk = (v: unknown, path: unknown[]): void => {
    if (v instanceof Tensor) {
      const key = native().layout(rawOf(v))[3];
      byKey.set(key, [...(byKey.get(key) ?? []), path]);
    } else if (v instanceof Map) {
      for (const [k, x] of v) walk(x, [...path, k]);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(root, []);
  return [...byKey.values()].filter((g) => g.length > 1);
}

const FIXTURES = ['qint8-per-tensor', 'qint8-per-channel', 'quint8-per-tensor', 'quint8-per-channel', 'qint32-per-tensor',
  'qint32-per-channel', 'views', 'per-channel-view', 'float-qparams', 'state-dict', 'nnq-linear', 'legacy'];

// The fixture PyTorch wrote, or the test skips: without PyTorch (a failure under CI), or where this PyTorch
// cannot make it (saying why).
function fixture(ctx: TestContext, name: string): Fixture {
  needPython(ctx);
  const f = written.files[name];
  if (!f) ctx.skip(`PyTorch ${written.torch} cannot make fixture ${name}: ${written.skipped[name] ?? 'not written'}`);
  return f;
}

describe('files torch.save wrote', () => {
  it.for(FIXTURES)('%s loads as PyTorch reads it', async (name, ctx) => {
    const f = fixture(ctx, name);
    const value = await torch.load(f.path);
    expect(describeValue(value)).toEqual(f.value);
    expect(storageGroups(value)).toEqual(f.shared);
  });

  it('views of one quantized storage share memory here too, with their strides and offsets', async (ctx) => {
    const f = fixture(ctx, 'views');
    const v = (await loadTorchFile(f.path)) as Record<string, Tensor>;
    expect(v.t.stride()).toEqual([1, 4]);
    expect(v.rows.storageOffset()).toBe(4);
    expect(v.col.storageOffset()).toBe(2);
    expect(v.q.sharesStorageWith(v.t) && v.q.sharesStorageWith(v.rows) && v.q.sharesStorageWith(v.col)).toBe(true);
  });

  it('strict loading (as weights_only=True) accepts quantized tensors', async (ctx) => {
    const f = fixture(ctx, 'state-dict');
    expect(describeValue(await loadTorchFile(f.path, { strict: true }))).toEqual(f.value);
  });

  it('lvmtorch inspect prints dtype, shape, the quantization and the sum of the dequantized values', async (ctx) => {
    const f = fixture(ctx, 'state-dict');
    const lines = tree(readRecords(f.path).value);
    const text = formatTree(lines);
    const act = (f.value as { items: [string, { items: [string, { scale: number; zero_point: number; dequantized: number[] }][] }][] })
      .items[1][1].items.find(([k]) => k === 'act')![1];
    const line = text.split('\n').find((l) => l.includes('model_state_dict.act:'))!;
    expect(line).toContain(`quint8 [3, 4] cpu per_tensor_affine scale=${act.scale} zero_point=${act.zero_point} sum=`);
    const index = tensorIndex(lines);
    expect(index['model_state_dict.act'].sum as number).toBeCloseTo(act.dequantized.reduce((a, b) => a + b, 0), 9);
    expect(index['model_state_dict.act'].quantization).toEqual({ qscheme: 'per_tensor_affine', scale: act.scale, zeroPoint: act.zero_point });
    expect(index['model_state_dict.fc.weight'].quantization).toMatchObject({ qscheme: 'per_channel_affine', axis: 0 });
    expect(text).toMatch(/model_state_dict\.fc\.weight: qint8 \[3, 4\] cpu per_channel_affine axis=0 scales=\[[^\]]+\] zero_points=\[[^\]]+\] sum=/);
  });
});

describe('files saveTorchFile writes, read by PyTorch', () => {
  it.for(FIXTURES)('%s, loaded and saved again, reads in PyTorch as the original', async (name, ctx) => {
    const f = fixture(ctx, name);
    const path = join(dir, `ours-${name}.pt`);
    await torch.saveTorchFile(await torch.load(f.path), path);
    const back = runPython<Read>('quantized_files.py', { mode: 'read', path, weights_only: weightsOnly() });
    expect(back.error).toBeUndefined();
    expect(back.value).toEqual(f.value);
    expect(back.shared).toEqual(f.shared);
  });

  it('quantized tensors made here read in PyTorch with the same integers, parameters and values', async (ctx) => {
    needPython(ctx);
    const x = torch.tensor([[-1.5, 0.25, 2, 7.75], [3, -2.5, 0, 0.0625], [-0.5, 1, 100, -100]]);
    const ints = torch.tensor([[1, -2, 3], [-4, 5, -6]], { dtype: 'int8' });
    const value = {
      qint8: torch.quantizePerTensor(x, 0.1, 3, 'qint8'),
      quint8: torch.quantizePerTensor(x, 0.5, 128, 'quint8'),
      qint32: torch.quantizePerTensor(x, 0.001, -7, 'qint32'),
      scaleOne: torch.quantizePerTensor(x, 1, 0, 'qint8'),
      perChannel: torch.quantizePerChannel(x, [0.1, 0.2, 0.4], [0, -5, 9], 0, 'qint8'),
      perChannelAxis1: torch.quantizePerChannel(x, torch.tensor([0.05, 0.1, 0.2, 0.3], { dtype: 'float64' }),
        torch.tensor([1, 2, 3, 4], { dtype: 'int64' }), 1, 'quint8'),
      floatQParams: torch.quantizePerChannel(x, [0.1, 0.2, 0.4], [0.5, -1.25, 2], 0, 'quint8'),
      fromInts: torch.makePerTensorQuantizedTensor(ints, 0.25, -1),
      fromIntsPerChannel: torch.makePerChannelQuantizedTensor(ints, [0.5, 2], [0, 1], 0),
      plain: torch.tensor([1.5, 2.5]),
    };
    const base = torch.quantizePerTensor(x, 0.125, 10, 'qint8');
    const views = { base, t: base.t(), tail: base.slice(1, 2) };
    expect(value.floatQParams.qscheme()).toBe('per_channel_affine_float_qparams');
    expect(value.fromInts.intRepr().toArray()).toEqual([[1, -2, 3], [-4, 5, -6]]);
    for (const [name, obj] of [['made', value], ['made-views', views]] as const) {
      const path = join(dir, `${name}.pt`);
      await torch.saveTorchFile(obj, path);
      const back = runPython<Read>('quantized_files.py', { mode: 'read', path, weights_only: weightsOnly() });
      expect(back.error).toBeUndefined();
      expect(back.value).toEqual(describeValue(obj));
      expect(back.shared).toEqual(storageGroups(obj));
    }
  });
});

describe('quantized tensors in lvmtorch', () => {
  const x = torch.tensor([[-1, 0.5, 2], [3, -2.5, 0]]);

  it('read back as PyTorch names it; toArray/toTypedArray refuse, item() dequantizes', () => {
    const q = torch.quantizePerTensor(x, 0.1, 3, 'qint8');
    expect([q.dtype, q.isQuantized, q.qscheme(), q.qScale(), q.qZeroPoint()]).toEqual(['qint8', true, 'per_tensor_affine', 0.1, 3]);
    expect(q.intRepr().dtype).toBe('int8');
    expect(q.intRepr().toArray()).toEqual([[-7, 8, 23], [33, -22, 3]]);
    expect(q.dequantize().dtype).toBe('float32');
    expect(q.select(0, 1).select(0, 1).item()).toBe(-2.5);
    expect(x.isQuantized).toBe(false);
    expect(() => q.toArray()).toThrow(TypeError);
    expect(() => q.toTypedArray()).toThrow(/toTypedArray\(\) of a qint8 tensor: its elements are quantized; call intRepr\(\).*or dequantize\(\)/);
    expect(() => q.to('float32')).toThrow(/call dequantize\(\)/);
    expect(inspect(q)).toContain('dtype=qint8, device=cpu, quantization_scheme=per_tensor_affine, scale=0.1, zero_point=3');
    const c = torch.quantizePerChannel(x, [0.5, 0.25], [1, 2], 1 - 1, 'quint8');
    expect([c.qscheme(), c.qPerChannelAxis()]).toEqual(['per_channel_affine', 0]);
    expect(c.qPerChannelScales().dtype).toBe('float64');
    expect(c.qPerChannelZeroPoints().toArray()).toEqual([1, 2]);
    expect(() => c.qScale()).toThrow(/needs a per-tensor quantized tensor/);
    expect(() => q.qPerChannelAxis()).toThrow(/needs a per-channel quantized tensor/);
    expect(() => x.qScale()).toThrow(/must be a quantized tensor/);
    expect(() => x.intRepr()).toThrow(TypeError);
  });

  it('bad parameters are JS errors, never a crash', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => torch.quantizePerTensor(x, NaN, 0, 'qint8'), /scale must be a positive finite number, got nan/],
      [() => torch.quantizePerTensor(x, 0, 0, 'qint8'), /scale must be a positive finite number/],
      [() => torch.quantizePerTensor(x, -1, 0, 'qint8'), /scale must be a positive finite number/],
      [() => torch.quantizePerTensor(x, Infinity, 0, 'quint8'), /scale must be a positive finite number/],
      [() => torch.quantizePerTensor(x, 0.1, 128, 'qint8'), /zeroPoint 128 is outside qint8's range \[-128, 127\]/],
      [() => torch.quantizePerTensor(x, 0.1, -1, 'quint8'), /outside quint8's range \[0, 255\]/],
      [() => torch.quantizePerTensor(x, 0.1, 0.5, 'qint8'), /zeroPoint must be an integer/],
      [() => torch.quantizePerTensor(x, 0.1, 0, 'int8' as never), /dtype must be 'qint8', 'quint8' or 'qint32'/],
      [() => torch.quantizePerTensor(x.to('int64'), 0.1, 0, 'qint8'), /needs a float32 tensor, got int64/],
      [() => torch.quantizePerChannel(x, [0.1, 0.1], [0, 0], 2, 'qint8'), /axis 2 is out of range for a tensor of shape \[2, 3\]/],
      [() => torch.quantizePerChannel(x, [0.1, 0.1], [0, 0], -3, 'qint8'), /axis -3 is out of range/],
      [() => torch.quantizePerChannel(x, [0.1], [0, 0], 0, 'qint8'), /must hold size\[axis\] = 2 values each .* got 1 and 2/],
      [() => torch.quantizePerChannel(x, [0.1, NaN], [0, 0], 0, 'qint8'), /every scale must be a positive finite number/],
      [() => torch.quantizePerChannel(x, [0.1, 0.1], [0, 300], 0, 'qint8'), /zero point 300 is outside qint8's range/],
      [() => torch.quantizePerChannel(x, torch.tensor([[0.1, 0.1]]), [0, 0], 0, 'qint8'), /must be 1-d/],
      [() => torch.quantizePerChannel(torch.tensor(1.5), [0.1], [0], 0, 'qint8'), /a 0-d tensor has no channels/],
      [() => torch.makePerTensorQuantizedTensor(x, 0.1, 0), /input must be int8, uint8 or int32/],
      [() => torch.makePerChannelQuantizedTensor(torch.tensor([1, 2], { dtype: 'int32' }), [0.1], [0], 0), /size\[axis\] = 2/],
      [() => torch.zeros([2], { dtype: 'qint8' }), /qint8 is quantized: make such tensors with torch\.quantizePerTensor\(\)/],
    ];
    for (const [fn, message] of bad) expect(fn).toThrow(message);
  });

  it('.npy and .safetensors, which have no quantized dtypes, refuse them clearly', () => {
    const q = torch.quantizePerTensor(x, 0.1, 3, 'qint8');
    expect(() => saveNpy(q, join(dir, 'q.npy'))).toThrow(/numpy has no qint8 dtype; convert the tensor first \(t\.dequantize\(\) or t\.intRepr\(\)\)/);
    expect(() => saveSafetensors({ q }, join(dir, 'q.safetensors'))).toThrow(/'q' is a qint8 tensor: safetensors has no quantized dtypes/);
  });
});

// ---- malformed files: crafted pickles around one quantized storage ----

const QINT8 = new PickleGlobal('torch', 'QInt8Storage');
const scheme = (name: string): PickleGlobal => new PickleGlobal('torch', name);
const storagePid = (type = QINT8, numel = 6): PersistentRef => new PersistentRef(tuple<unknown>('storage', type, '0', 'cpu', numel));
const tensorOf = (key: string, type: string, values: ArrayBufferView, n: number): PickleObject =>
  new PickleObject('torch._utils', '_rebuild_tensor_v2', [
    new PersistentRef(tuple<unknown>('storage', new PickleGlobal('torch', type), key, 'cpu', n)), 0, tuple(n), tuple(1), false, orderedDict(new Map()),
  ]);
const qtensor = (params: unknown, opts: { args?: unknown[]; pid?: PersistentRef; size?: number[]; stride?: number[]; offset?: number } = {}): PickleObject =>
  new PickleObject('torch._utils', '_rebuild_qtensor', opts.args ?? [
    opts.pid ?? storagePid(), opts.offset ?? 0, tuple(...(opts.size ?? [2, 3])), tuple(...(opts.stride ?? [3, 1])), params, false, orderedDict(new Map()),
  ]);

let crafted = 0;
function craftedFile(value: unknown, extra: [string, ArrayBufferView][] = []): Buffer {
  const path = join(dir, `crafted-${crafted++}.pt`);
  const fd = openSync(path, 'w');
  try {
    const zip = new ZipWriter(fd, { align: 64 });
    zip.add('crafted/data.pkl', dumps(value));
    zip.add('crafted/data/0', Buffer.from(Int8Array.from([-7, 8, 23, 33, -22, 3]).buffer));
    for (const [name, data] of extra) zip.add(`crafted/data/${name}`, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    zip.add('crafted/version', Buffer.from('3\n'));
    zip.finish();
  } finally {
    closeSync(fd);
  }
  return readFileSync(path);
}

describe('malformed quantized tensors in a file', () => {
  const scales = tensorOf('1', 'DoubleStorage', Float64Array.from([0.5, 0.25]), 2);
  const zeroPoints = tensorOf('2', 'LongStorage', BigInt64Array.from([1n, -2n]), 2);
  const channelRecords: [string, ArrayBufferView][] = [['1', Float64Array.from([0.5, 0.25])], ['2', BigInt64Array.from([1n, -2n])]];

  it('well-formed ones load: per tensor, per channel, and per channel from lists (older files)', () => {
    const v = loadTorchBuffer(craftedFile({
      a: qtensor(tuple(scheme('per_tensor_affine'), 0.1, 3)),
      b: qtensor(tuple(scheme('per_channel_affine'), scales, zeroPoints, 0)),
      c: qtensor(tuple(scheme('per_channel_affine'), [0.5, 0.25], [1, -2], 0)),
    }, channelRecords)) as Record<string, Tensor>;
    expect(v.a.dequantize().toArray()).toEqual([[-1, 0.5, 2], [3, -2.5, 0]].map((r) => r.map((y) => Math.fround(y))));
    expect(describeValue(v.c)).toEqual(describeValue(v.b));
    expect(v.b.dequantize().toArray()).toEqual([[-4, 3.5, 11], [8.75, -5, 1.25]]);
  });

  const cases: [string, () => unknown, RegExp][] = [
    ['wrong arity', () => qtensor(null, { args: [storagePid(), 0, tuple(2, 3), tuple(3, 1), tuple(scheme('per_tensor_affine'), 0.1, 3), false] }),
      /_rebuild_qtensor: takes 7 arguments .* got 6/],
    ['params not a tuple', () => qtensor(0.1), /quantizer_params must be a tuple \(qscheme, \.\.\.\), got number 0\.1/],
    ['qscheme a string', () => qtensor(tuple('per_tensor_affine', 0.1, 3)), /quantizer_params\[0\] must be a torch\.qscheme/],
    ['per-tensor arity', () => qtensor(tuple(scheme('per_tensor_affine'), 0.1)), /must be \(qscheme, scale, zero_point\), got 2 items/],
    ['NaN scale', () => qtensor(tuple(scheme('per_tensor_affine'), NaN, 3)), /scale must be a positive finite number, got NaN/],
    ['zero scale', () => qtensor(tuple(scheme('per_tensor_affine'), 0, 3)), /scale must be a positive finite number, got 0/],
    ['scale a string', () => qtensor(tuple(scheme('per_tensor_affine'), '0.1', 3)), /scale must be a float, got the str "0\.1"/],
    ['zero point a float', () => qtensor(tuple(scheme('per_tensor_affine'), 0.1, 2.5)), /zero_point must be an int, got number 2\.5/],
    ['zero point out of range', () => qtensor(tuple(scheme('per_tensor_affine'), 0.1, 200)), /zero point 200 is outside qint8's range \[-128, 127\]/],
    ['symmetric scheme', () => qtensor(tuple(scheme('per_tensor_symmetric'), 0.1, 0)), /cannot rebuild a quantized tensor with qscheme torch\.per_tensor_symmetric/],
    ['axis out of range', () => qtensor(tuple(scheme('per_channel_affine'), scales, zeroPoints, 2)), /per_channel axis number 2 is out of range for size \(2,3\)/],
    ['negative axis', () => qtensor(tuple(scheme('per_channel_affine'), scales, zeroPoints, -1)), /per_channel axis number -1 is out of range/],
    ['scales too short', () => qtensor(tuple(scheme('per_channel_affine'), [0.5], [1], 0)), /length size\[axis\]=2, got scales \[1\], zero_points \[1\]/],
    ['list and tensor mixed', () => qtensor(tuple(scheme('per_channel_affine'), [0.5, 0.25], zeroPoints, 0)), /both be tensors or both be lists/],
    ['a negative scale', () => qtensor(tuple(scheme('per_channel_affine'), [0.5, -0.25], [1, 2], 0)), /every scale must be a positive finite number/],
    ['per-channel arity', () => qtensor(tuple(scheme('per_channel_affine'), scales, zeroPoints)), /must be \(qscheme, scales, zero_points, axis\), got 3 items/],
    ['a uint8 storage', () => qtensor(tuple(scheme('per_tensor_affine'), 0.1, 3), { pid: storagePid(new PickleGlobal('torch', 'ByteStorage'), 6) }),
      /storage 0 is a uint8 storage; a quantized tensor needs a QInt8Storage/],
    ['past its storage', () => qtensor(tuple(scheme('per_tensor_affine'), 0.1, 3), { size: [3, 3] }), /a view \[3,3\] \(stride \[3,1\], offset 0\) reaches past storage 0 of 6 elements/],
    ['requires grad', () => qtensor(tuple(scheme('per_tensor_affine'), 0.1, 3), { args: [storagePid(), 0, tuple(2, 3), tuple(3, 1), tuple(scheme('per_tensor_affine'), 0.1, 3), true, orderedDict(new Map())] }),
      /a quantized tensor cannot require grad/],
    ['a plain tensor on a quantized storage', () => new PickleObject('torch._utils', '_rebuild_tensor_v2', [storagePid(), 0, tuple(6), tuple(1), false, orderedDict(new Map())]),
      /storage 0 is a torch\.QInt8Storage: quantized tensors are rebuilt by _rebuild_qtensor/],
  ];

  // The legacy format fills its storages after the pickle: per-channel parameters are checked once they are there.
  it('a legacy file whose per-channel scales are bad: a TorchFileError naming them', () => {
    const legacy = (scaleValues: number[]): Buffer => {
      const pid = (key: string, type: string, n: number): PersistentRef => new PersistentRef(tuple<unknown>('storage', new PickleGlobal('torch', type), key, 'cpu', n, null));
      const plain = (key: string, type: string): PickleObject =>
        new PickleObject('torch._utils', '_rebuild_tensor_v2', [pid(key, type, 2), 0, tuple(2), tuple(1), false, orderedDict(new Map())]);
      const q = new PickleObject('torch._utils', '_rebuild_qtensor', [pid('0', 'QInt8Storage', 6), 0, tuple(2, 3), tuple(3, 1),
        tuple(scheme('per_channel_affine'), plain('1', 'DoubleStorage'), plain('2', 'LongStorage'), 0), false, orderedDict(new Map())]);
      const record = (count: number, data: ArrayBufferView): Buffer => {
        const n = Buffer.alloc(8);
        n.writeBigInt64LE(BigInt(count));
        return Buffer.concat([n, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
      };
      return Buffer.concat([dumps(0x1950a86a20f9469cfc6cn), dumps(1001), dumps({ protocol_version: 1001, little_endian: true }),
        dumps({ q }), dumps(['0', '1', '2']), record(6, Int8Array.from([-7, 8, 23, 33, -22, 3])),
        record(2, Float64Array.from(scaleValues)), record(2, BigInt64Array.from([1n, -2n]))]);
    };
    const good = loadTorchBuffer(legacy([0.5, 0.25])) as { q: Tensor };
    expect(good.q.dequantize().toArray()).toEqual([[-4, 3.5, 11], [8.75, -5, 1.25]]);
    expect(() => loadTorchBuffer(legacy([0.5, -0.25]))).toThrow(TorchFileError);
    expect(() => loadTorchBuffer(legacy([0.5, NaN]))).toThrow(/a qint8 tensor \[2,3\] \(per_channel_affine\): every scale must be a positive finite number/);
  });

  it.each(cases)('%s: a PickleError naming it', (_name, make, message) => {
    let error: unknown;
    try {
      loadTorchBuffer(craftedFile({ q: make() }, channelRecords));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PickleError);
    expect((error as Error).message).toMatch(message);
  });
});

// ---- fuzzing: mutated quantized files end in a value or one of the readers' own errors, never a crash ----
// fast-check mutants (test/helpers/fuzz.ts), each written to a file and read by load(path) and loadTorchBuffer;
// the fields made to lie include BINFLOAT scales (8 bytes, big-endian): NaN, negative, zero, infinite, huge.

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x2e /* STOP */, 0x28 /* MARK */, 0x4b /* BININT1 */, 0x47 /* BINFLOAT */, 0x52 /* REDUCE */];
const scaleLies = fc.record({ encoding: fc.constant('f64be' as const), value: fc.constantFrom(NaN, -1, 0, Infinity, 1e308, -0.5, 5e-324) });
const quantizedReaders: FileReader[] = [
  { name: 'load', read: (p) => torch.load(p) },
  { name: 'loadTorchBuffer', read: (p, b) => loadTorchBuffer(b, { name: p }) },
];

describe('mutated quantized files', () => {
  it('the pickle inside a valid zip', async () => {
    const x = torch.tensor([[-1.5, 0.25, 2, 7.75], [3, -2.5, 0, 0.0625], [-0.5, 1, 100, -100]]);
    const q = torch.quantizePerTensor(x, 0.1, 3, 'qint8');
    const path = join(dir, 'fuzz-src.pt');
    await torch.saveTorchFile({
      q, t: q.t(), tail: q.slice(1, 2), u: torch.quantizePerTensor(x, 0.5, 128, 'quint8'), i: torch.quantizePerTensor(x, 0.01, 5, 'qint32'),
      c: torch.quantizePerChannel(x, [0.1, 0.2, 0.4], [0, -5, 9], 0, 'qint8'),
      f: torch.quantizePerChannel(x, [0.1, 0.2, 0.4], [0.5, -1.25, 2], 0, 'quint8'),
    }, path);
    const src = zipSource(readFileSync(path), join(dir, 'fuzz-rezip.pt'));
    const pickle = src.entries.find((e) => e.name.endsWith('data.pkl'))!.data;
    const r = await fuzzFiles({
      label: 'io-quantized fuzz pickle in .pt', path: join(dir, 'fuzz-mutant.pt'), seed: fuzzSeed(11), numRuns: fuzzRuns(1000),
      mutation: zipMutation(src, {
        interesting: INTERESTING, lies: fc.oneof(scaleLies, lengthLies(pickle.length)), members: (n) => n.endsWith('data.pkl'),
        weights: { bytes: 0, member: 1, rename: 0, 'name-byte': 0, crc: 0 },
      }),
      make: (m) => applyZip(src, m), readers: quantizedReaders, errors: [TorchFileError, ZipError, PickleError],
    });
    expect(r.errors.PickleError).toBeGreaterThan(0);
  });

  it('a legacy file torch.save wrote', async (ctx) => {
    const legacy = readFileSync(fixture(ctx, 'legacy').path);
    const r = await fuzzFiles({
      label: 'io-quantized fuzz legacy .pt', path: join(dir, 'fuzz-legacy.pt'), seed: fuzzSeed(12), numRuns: fuzzRuns(1000),
      mutation: byteMutation(legacy.length, { interesting: INTERESTING, lies: fc.oneof(scaleLies, lengthLies(legacy.length)) }),
      make: (m) => applyBytes(legacy, m), readers: quantizedReaders, errors: [TorchFileError, ZipError, PickleError, FileFormatError],
    });
    expect(r.errors.PickleError).toBeGreaterThan(0);
  });
});
