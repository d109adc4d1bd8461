// Names from files never touch an object's prototype (issue 23, defect 5). Files Python writes with members,
// tensors, metadata keys and dict keys named `__proto__`, `constructor`, `toString`, `hasOwnProperty` (all valid
// to Python) load as ordinary names holding the values Python wrote, exact bytes; `lvmtorch inspect` and
// `inspect --json` list them; records with such keys saved by us load in Python with the same names and bytes. And
// the lookups the readers make with names from a file (pickle module names, torch storage types, numpy dtype
// codes) find only their own tables' entries, never Object.prototype's.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { torch, Tensor } from '../dist/index.js';
import { parseDType } from '../dist/formats/dtype.js';
import { formatHeader } from '../dist/formats/npy-header.js';
import { NpyError } from '../dist/formats/npy.js';
import { loadNpy, loadNpz, loadSafetensors } from '../dist/torch/io/tensor-formats.js';
import { loads, PickleGlobal, PickleObject } from '../dist/formats/pickle/index.js';
import { withTensorBytes } from '../dist/torch/io/tensor-arrays.js';
import { loadTorchBuffer } from '../dist/torch/io/torch-file.js';
import { ZipWriter } from '../dist/formats/zip.js';
import { needPython, pythonTorchMissing, runPython } from './helpers/python.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const missing = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-proto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);

interface Arr { dtype: string; shape: number[]; hex: string }
type Described = { tensor: Arr } | { dict: [string, Described][] } | { list: Described[] } | { scalar: unknown };
interface Written {
  npz: { order: string[]; arrays: Record<string, Arr> };
  safetensors: { order: string[]; arrays: Record<string, Arr>; metadata: Record<string, string>; metadata_order: string[] };
  torch: Described;
}

const NUMPY_DTYPE: Record<string, string> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool' };
const describeTensor = (t: Tensor): Arr =>
  ({ dtype: NUMPY_DTYPE[t.dtype], shape: [...t.shape], hex: withTensorBytes(t, (b) => Buffer.from(b).toString('hex')) });

function describe_(v: unknown): Described {
  if (v instanceof Tensor) return { tensor: describeTensor(v) };
  if (Array.isArray(v)) return { list: v.map(describe_) };
  if (v !== null && typeof v === 'object') return { dict: Object.entries(v).map(([k, x]) => [k, describe_(x)]) };
  return { scalar: v };
}

function expectOwnRecord(rec: object, keys: string[], proto: object | null): void {
  expect(Object.getPrototypeOf(rec), 'the prototype of the record').toBe(proto);
  expect(Object.keys(rec)).toEqual(keys);
  for (const k of keys) expect(Object.getOwnPropertyDescriptor(rec, k)?.enumerable, k).toBe(true);
}

// Nothing loaded here may have reached Object.prototype.
function expectPristinePrototypes(): void {
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  expect(({}).constructor).toBe(Object);
  expect(typeof ({}).toString).toBe('function');
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('dtype');
}

function inspect(file: string, json: boolean): string {
  const r = spawnSync(process.execPath, [cli, 'inspect', ...(json ? ['--json'] : []), file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function expectInspectLists(file: string, paths: string[], tensors: Record<string, Tensor>): void {
  const index = JSON.parse(inspect(file, true)) as Record<string, { dtype: string; shape: number[]; sum: number }>;
  expect(Object.keys(index)).toEqual(paths);
  for (const p of paths) {
    const t = tensors[p];
    expect(index[p].dtype, p).toBe(t.dtype);
    expect(index[p].shape, p).toEqual(t.shape);
    expect(index[p].sum, p).toBeCloseTo(Number(t.to('float64').sum().item()), 9);
  }
  const text = inspect(file, false);
  for (const p of paths) expect(text).toMatch(new RegExp(`^\\s*${p.replace(/\./g, '\\.')}: ${tensors[p].dtype} \\[${tensors[p].shape.join(', ')}\\] cpu sum=`, 'm'));
}

describe('files whose names are Object.prototype property names, written by Python', () => {
  let written: Written;
  beforeAll(() => {
    if (missing === null) written = runPython<Written>('io_proto.py', { mode: 'write', dir });
  });

  for (const file of ['proto.npz', 'proto_compressed.npz']) {
    it(`${file} (np.savez${file.includes('compressed') ? '_compressed' : ''}): members load as ordinary names, exact bytes`, async (ctx) => {
      needPython(ctx);
      const { order, arrays } = written.npz;
      for (const rec of [loadNpz(at(file)), await torch.load<Record<string, Tensor>>(at(file))]) {
        expectOwnRecord(rec, order, null);
        for (const k of order) {
          expect(rec[k], k).toBeInstanceOf(Tensor);
          expect(describeTensor(rec[k]), k).toEqual(arrays[k]);
        }
        expect(loadNpz(at(file), { keys: ['__proto__'] })['__proto__']).toBeInstanceOf(Tensor);
      }
      expectPristinePrototypes();
      if (file === 'proto.npz') expectInspectLists(at(file), order, loadNpz(at(file)));
    });
  }

  it('.safetensors: a `__proto__` tensor and `__proto__` in __metadata__ are ordinary names, exact bytes', async (ctx) => {
    needPython(ctx);
    const { order, arrays, metadata, metadata_order: metadataOrder } = written.safetensors;
    const st = loadSafetensors(at('proto.safetensors'));
    expectOwnRecord(st.tensors, order, null);
    expectOwnRecord(st.metadata, metadataOrder, null);
    expect({ ...st.metadata }).toEqual(metadata);
    expect(st.metadata['__proto__']).toBe('not a prototype');
    const viaLoad = await torch.load<Record<string, Tensor>>(at('proto.safetensors'));
    expectOwnRecord(viaLoad, order, null);
    for (const rec of [st.tensors, viaLoad]) for (const k of order) expect(describeTensor(rec[k]), k).toEqual(arrays[k]);
    expectPristinePrototypes();
    expectInspectLists(at('proto.safetensors'), order, st.tensors);
  });

  for (const file of ['proto.pt', 'proto_legacy.pt']) {
    it(`${file} (torch.save${file.includes('legacy') ? ', legacy format' : ''}): dict keys load as ordinary names, nested too`, async (ctx) => {
      needPython(ctx);
      const v = await torch.load<Record<string, unknown>>(at(file));
      // A Python dict is a plain object (pickle/values.ts): its prototype stays Object.prototype, and `__proto__`
      // is an own data property.
      expectOwnRecord(v, ['__proto__', 'constructor', 'toString', 'nested'], Object.prototype);
      expectOwnRecord(v.nested as object, ['__proto__', 'hasOwnProperty', 'valueOf'], Object.prototype);
      expect(v['__proto__']).toBeInstanceOf(Tensor);
      expect(describe_(v)).toEqual(written.torch);
      expectPristinePrototypes();
      const nested = v.nested as Record<string, Tensor>;
      if (file === 'proto.pt') expectInspectLists(at(file), ['__proto__', 'constructor', 'nested.__proto__'],
        { '__proto__': v['__proto__'] as Tensor, constructor: v.constructor as unknown as Tensor, 'nested.__proto__': nested['__proto__'] });
    });
  }
});

describe('records with such keys, saved by us, read by Python', () => {
  it('save() to .npz, .safetensors (with __metadata__) and .pt: Python sees the same names and bytes; they load back', async (ctx) => {
    needPython(ctx);
    // Own properties, made as a parser would make them: a literal's `__proto__: x` would set the prototype instead.
    const rec: Record<string, Tensor> = Object.create(null);
    rec['__proto__'] = torch.tensor([[1.5, -2], [3.25, 4]]);
    rec.constructor = torch.arange(3, undefined, 1, { dtype: 'int64' }) as never;
    rec.toString = torch.tensor([true, false]) as never;
    rec.plain = torch.tensor([0.5], { dtype: 'float64' });
    const names = ['__proto__', 'constructor', 'toString', 'plain'];
    const metadata: Record<string, string> = Object.create(null);
    metadata['__proto__'] = 'meta';
    metadata.hasOwnProperty = 'h';
    await torch.save(rec, at('ours.npz'));
    await torch.save(rec, at('ours.safetensors'), { metadata });
    await torch.save({ ...rec }, at('ours.pt')); // a spread copies `__proto__` as an own key
    const read = runPython<{
      npz: { order: string[]; arrays: Record<string, Arr> };
      safetensors: { metadata: Record<string, string>; metadata_order: string[]; tensors: Record<string, Arr>; order: string[] };
      torch: Described;
    }>('io_proto.py', { mode: 'read', npz: at('ours.npz'), safetensors: at('ours.safetensors'), pt: at('ours.pt') });
    const expected = Object.fromEntries(names.map((k) => [k, describeTensor(rec[k])]));
    expect(read.npz.order).toEqual(names);
    expect(read.npz.arrays).toEqual(expected);
    expect(new Set(read.safetensors.order)).toEqual(new Set(names)); // written in the reference's dtype order
    expect(read.safetensors.tensors).toEqual(expected);
    expect(read.safetensors.metadata).toEqual({ ...metadata });
    expect(read.torch).toEqual({ dict: names.map((k) => [k, { tensor: expected[k] }]) });
    for (const f of ['ours.npz', 'ours.safetensors', 'ours.pt']) {
      const back = await torch.load<Record<string, Tensor>>(at(f));
      expect(new Set(Object.keys(back)), f).toEqual(new Set(names));
      for (const k of names) expect(describeTensor(back[k]), `${f}: ${k}`).toEqual(expected[k]);
    }
    expectPristinePrototypes();
  });
});

describe('lookups with names from a file find only their own tables', () => {
  it('a pickle GLOBAL whose module is `constructor`, `__proto__` or `toString` stays that name (Python 2 module map)', () => {
    for (const module of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const g = loads(Buffer.from(`c${module}\nx\n.`, 'latin1'));
      expect(g).toBeInstanceOf(PickleGlobal);
      expect((g as PickleGlobal).module, module).toBe(module);
      const o = loads(Buffer.from(`c${module}\nx\n)R.`, 'latin1'));
      expect(o).toBeInstanceOf(PickleObject);
      expect((o as PickleObject).qualifiedName).toBe(`${module}.x`);
    }
  });

  it('torch.constructor / torch.__proto__ are no storage types: a pickle naming one as a storage is refused', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf']) {
      // ('storage', torch.<name>, '0', 'cpu', 1) as a persistent id.
      const pickle = Buffer.from(`(Vstorage\nctorch\n${name}\nV0\nVcpu\nI1\ntQ.`, 'latin1');
      expect(() => loadTorchBuffer(zipOf(pickle), { name: 'x.pt' }), name).toThrow(/^x\.pt: pickle: persistent_load: a persistent id without a torch\.\*Storage type/);
    }
  });

  it('an .npy whose dtype descr is `constructor` or `toString` is an unknown type code', () => {
    for (const descr of ['<constructor', 'toString', '|__proto__', '<valueOf']) {
      const bytes = Buffer.concat([formatHeader({ descr, fortranOrder: false, shape: [2] }), Buffer.alloc(16)]);
      expect(() => loadNpy(bytes, 'x.npy'), descr).toThrow(NpyError);
      expect(() => loadNpy(bytes, 'x.npy'), descr).toThrow(`x.npy: numpy dtype '${descr}' cannot be loaded: unknown type code`);
    }
  });

  it('parseDType refuses Object.prototype names', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => parseDType(name), name).toThrow(`unknown dtype "${name}"`);
    }
  });
});

// A torch.save zip holding `pickle` as its data.pkl and no storage records.
function zipOf(pickle: Buffer): Buffer {
  const path = at('zip-of.pt');
  const fd = openSync(path, 'w');
  try {
    const w = new ZipWriter(fd, { align: 64 });
    w.add('x/data.pkl', pickle).add('x/version', Buffer.from('3\n'));
    w.finish();
  } finally {
    closeSync(fd);
  }
  return readFileSync(path);
}
