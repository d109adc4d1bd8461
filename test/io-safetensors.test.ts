// .safetensors both ways, against a by-hand Python reader and writer that follow the format's spec (the
// safetensors package is not installed here): files Python writes (every dtype, BF16, metadata, 0-d and empty
// tensors, names that look like integers) load with exact bytes; files we write have the reference layout (header
// padded with spaces to 8 bytes, data tiled in the reference's dtype-then-name order) and read back exactly.
// Lying headers (overlaps, gaps, sizes, huge lengths) end in a SafetensorsError before any tensor is allocated.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { torch, type DType, type Tensor } from '../dist/index.js';
import { SafetensorsError } from '../dist/formats/safetensors.js';
import { loadSafetensors, saveSafetensors } from '../dist/torch/io/tensor-formats.js';
import { withTensorBytes } from '../dist/torch/io/tensor-arrays.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);
const py = <T>(input: unknown): T => runPython<T>('io_formats.py', input);

interface Spec {
  dtype: string;
  shape: number[];
  hex: string;
}

const CODE: Record<string, string> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16',
  int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

const hexOf = (t: Tensor): string => withTensorBytes(t, (b) => Buffer.from(b).toString('hex'));

let seed = 99;
function randomBytes(n: number, bool: boolean): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) % 2 ** 31) % (bool ? 2 : 256);
  return b;
}

/** Every dtype, with raw random bytes (NaN payloads and all: they must travel bit for bit). */
function specs(): Record<string, Spec> {
  const out: Record<string, Spec> = {};
  const shapes = [[3, 4], [5], [2, 1, 3]];
  Object.values(CODE).forEach((code, i) => {
    const shape = shapes[i % shapes.length];
    const n = shape.reduce((a, b) => a * b, 1) * SIZE[code];
    out[`layer.${i}.${code.toLowerCase()}`] = { dtype: code, shape, hex: randomBytes(n, code === 'BOOL').toString('hex') };
  });
  out['0'] = { dtype: 'F32', shape: [], hex: Buffer.from(new Float32Array([1.5]).buffer).toString('hex') };
  out['10'] = { dtype: 'I64', shape: [0, 7], hex: '' };
  out['ünï'] = { dtype: 'U8', shape: [2], hex: '0102' };
  return out;
}

function tensorOf(s: Spec): Tensor {
  const dtype = Object.keys(CODE).find((k) => CODE[k] === s.dtype) as DType;
  return torch.tensor(Buffer.from(s.hex, 'hex'), { dtype, shape: s.shape });
}

function stError(run: () => unknown): SafetensorsError {
  try {
    run();
  } catch (e) {
    if (e instanceof SafetensorsError) return e;
    throw new Error(`expected a SafetensorsError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('expected a SafetensorsError, and it loaded');
}

/** A file with this header (JSON text, or an object) and data. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), length?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

describe('safetensors files, both ways', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const want = specs();
  const metadata = { format: 'pt', note: 'written by hand, "quoted" ü' };
  let back: Record<string, { metadata: Record<string, string> | null; tensors: Record<string, Spec>; order: string[]; header_length: number; header_text: string }>;

  beforeAll(() => {
    if (missing) return; // its tests skip, saying why
    // Python writes in reverse name order, to show that the reader does not rely on the writer's order.
    const reversed = Object.fromEntries(Object.entries(want).reverse());
    py({ mode: 'write_safetensors', files: [
      { path: at('py.safetensors'), tensors: reversed, metadata },
      { path: at('py-nometa.safetensors'), tensors: { only: want['0'] } },
    ] });
    const tensors = Object.fromEntries(Object.entries(want).map(([k, s]) => [k, tensorOf(s)]));
    saveSafetensors(tensors, at('ours.safetensors'), { metadata });
    saveSafetensors({ t: torch.arange(12, 0, -1, { dtype: 'int32' }).view(3, 4).transpose(0, 1) }, at('ours-view.safetensors'));
    back = py({ mode: 'read_safetensors', paths: [at('ours.safetensors'), at('ours-view.safetensors')] });
  });

  it('a file Python writes loads with exact bytes, shapes, dtypes and metadata', () => {
    const { tensors, metadata: meta } = loadSafetensors(at('py.safetensors'));
    expect(meta).toEqual(metadata);
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(want).sort());
    for (const [k, s] of Object.entries(want)) {
      expect(CODE[tensors[k].dtype], k).toBe(s.dtype);
      expect([...tensors[k].shape], k).toEqual(s.shape);
      expect(hexOf(tensors[k]), k).toBe(s.hex);
    }
    expect(tensors['0'].item()).toBe(1.5);
    expect(loadSafetensors(at('py-nometa.safetensors')).metadata).toEqual({});
  });

  it('the Python reader reads what we write with exact bytes and metadata', () => {
    const r = back[at('ours.safetensors')];
    expect(r.metadata).toEqual(metadata);
    expect(r.tensors).toEqual(want);
  });

  it('our layout is the reference one: header padded with spaces to 8 bytes, tensors by dtype size then name', () => {
    const r = back[at('ours.safetensors')];
    expect(r.header_length % 8).toBe(0);
    expect(r.header_text).toMatch(/^\{"__metadata__":\{.*\} *$/);
    const rank = ['I64', 'F64', 'F32', 'I32', 'BF16', 'F16', 'I16', 'I8', 'U8', 'BOOL'];
    const sorted = Object.keys(want).sort((a, b) => rank.indexOf(want[a].dtype) - rank.indexOf(want[b].dtype) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(r.order).toEqual(sorted); // the header lists them in data order, integer-like names included
  });

  it('a non-contiguous view is written as its elements in C order', () => {
    const t = back[at('ours-view.safetensors')].tensors.t;
    expect(t.shape).toEqual([4, 3]);
    const values = Array.from({ length: 12 }, (_, i) => Buffer.from(t.hex, 'hex').readInt32LE(4 * i));
    expect(values).toEqual([12, 8, 4, 11, 7, 3, 10, 6, 2, 9, 5, 1]);
  });

  it('loads from a buffer too', () => {
    const { tensors } = loadSafetensors(readFileSync(at('py-nometa.safetensors')), 'mem.safetensors');
    expect(tensors.only.item()).toBe(1.5);
  });
});

describe('bad safetensors input ends in a SafetensorsError', () => {
  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]): object => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const cases: [string, Buffer, RegExp][] = [
    ['too short', Buffer.from([1, 2, 3]), /only 3 bytes/],
    ['huge header length', file('{}', new Uint8Array(0), 1n << 40n), /says 1099511627776 bytes, more than the 100000000 allowed/],
    ['header length past the end', file('{}', new Uint8Array(0), 1000n), /truncated: the header length field says 1000 bytes, the file has 2/],
    ['not JSON', file('{"a": '), /not valid UTF-8 JSON/],
    ['not UTF-8', Buffer.concat([file('', undefined, 5n), Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])]), /not valid UTF-8 JSON/],
    ['a JSON array', file('[1, 2]'), /the header is not a JSON object/],
    ['an entry that is not an object', file({ a: 3 }), /tensor 'a': its entry is not an object/],
    ['an unsupported dtype', file({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /dtype "F8_E4M3" is not supported/],
    ['U16', file({ a: { dtype: 'U16', shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)), /dtype "U16" is not supported/],
    ['a negative dim', file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape \[-1\] is not a list of non-negative integers/],
    ['offsets reversed', file({ a: f32(8, 4, [1]) }, new Uint8Array(8)), /data_offsets \[8,4\] is not \[begin, end\]/],
    ['offsets not numbers', file({ a: { dtype: 'F32', shape: [1], data_offsets: ['0', '4'] } }, new Uint8Array(4)), /data_offsets \["0","4"\]/],
    ['shape and offsets disagree', file({ a: f32(0, 8, [3]) }, new Uint8Array(8)), /tensor 'a': shape \[3\] of F32 needs 12 bytes, data_offsets give 8/],
    ['an absurd shape', file({ a: f32(0, 8, [2 ** 40, 2 ** 40]) }, new Uint8Array(8)), /needs too many bytes/],
    ['overlapping tensors', file({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)), /tensor 'b' starts at data offset 4 and overlaps the tensor before it \(which ends at 8\)/],
    ['the same bytes twice', file({ a: f32(0, 8), b: f32(0, 8) }, new Uint8Array(8)), /overlaps the tensor before it/],
    ['a gap', file({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12)), /tensor 'b' starts at data offset 8 and leaves a gap before it/],
    ['offsets past the data', file({ a: f32(0, 4000) }, new Uint8Array(8)), /the tensors cover 4000 bytes of data, the file holds 8/],
    ['trailing data', file({ a: f32(0, 4) }, new Uint8Array(8)), /the tensors cover 4 bytes of data, the file holds 8/],
    ['metadata not an object', file({ __metadata__: 'x' }), /__metadata__ is not an object/],
    ['metadata value not a string', file({ __metadata__: { epoch: 3 } }), /__metadata__ 'epoch' is not a string/],
    ['bool bytes other than 0 and 1', file({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, new Uint8Array([0, 5])), /tensor 'm': bool element 1 holds the byte 5/],
  ];

  it.each(cases)('%s', (_what, buf, message) => {
    const error = stError(() => loadSafetensors(buf, 'bad.safetensors'));
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/^bad\.safetensors: /);
  });

  it('a huge lying header length allocates nothing', () => {
    const before = process.memoryUsage().rss;
    stError(() => loadSafetensors(file('{}', new Uint8Array(0), 99_999_999n), 'lie.safetensors'));
    expect(process.memoryUsage().rss - before).toBeLessThan(50 << 20);
  });

  it('saving refuses what the format cannot hold', () => {
    using t = torch.ones([1]);
    expect(stError(() => saveSafetensors({ __metadata__: t }, at('x.safetensors'))).message).toMatch(/'__metadata__' cannot name a tensor/);
    expect(stError(() => saveSafetensors({ a: t }, at('x.safetensors'), { metadata: { n: 3 as unknown as string } })).message).toMatch(/metadata 'n' is not a string/);
    expect(stError(() => saveSafetensors({ a: 3 as unknown as Tensor }, at('x.safetensors'))).message).toMatch(/'a' is not a Tensor/);
  });

  it('random byte flips and truncations end in success or a SafetensorsError, never anything else', () => {
    const good = file({ __metadata__: { a: 'b' }, w: f32(0, 16, [2, 2]), m: { dtype: 'BOOL', shape: [3], data_offsets: [16, 19] } }, Buffer.from('00000000000000000000000000000000010001', 'hex'));
    let s = 3;
    const rand = (n: number): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) % n);
    let errors = 0;
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(good);
      for (let k = 1 + rand(3); k > 0; k--) b[rand(b.length)] = rand(256);
      try {
        const { tensors } = loadSafetensors(rand(5) === 0 ? b.subarray(0, rand(b.length)) : b, 'fuzz.safetensors');
        for (const t of Object.values(tensors)) t.dispose();
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw new Error(`iteration ${i}: ${(e as Error).stack}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
});
