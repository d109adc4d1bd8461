// .npy and .npz both ways, against real numpy: files numpy writes (every dtype, Fortran order, 0-d, empty,
// big-endian, format versions 2.0 and 3.0, np.savez and np.savez_compressed) load with exact bytes, shapes and
// strides; files we write load in numpy with exact bytes. Object arrays, unsupported dtypes and damaged files end
// in clear errors, never in a crash or an allocation the file cannot back.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { torch, type Tensor } from '../dist/index.js';
import { NpyError } from '../dist/formats/npy.js';
import { loadNpy, loadNpz, saveNpy, saveNpz } from '../dist/torch/io/tensor-formats.js';
import { withTensorBytes } from '../dist/torch/io/tensor-arrays.js';
import { ZipError } from '../dist/formats/zip.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);
const py = <T>(input: unknown): T => runPython<T>('io_formats.py', input);

interface Described {
  dtype: string;
  shape: number[];
  fortran: boolean;
  hex: string;
}

const hexOf = (t: Tensor): string => withTensorBytes(t, (b) => Buffer.from(b).toString('hex'));

function expectSame(t: Tensor, d: Described, what: string): void {
  expect(t.dtype, what).toBe(d.dtype);
  expect([...t.shape], what).toEqual(d.shape);
  expect(hexOf(t), what).toBe(d.hex);
}

function npyError(run: () => unknown): Error {
  try {
    run();
  } catch (e) {
    if (e instanceof NpyError || e instanceof ZipError) return e;
    throw new Error(`expected an NpyError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('expected an NpyError, and it loaded');
}

/** A .npy file with the given header text and data, with a correct prefix. */
function npy(header: string, data: Uint8Array = new Uint8Array(0), major = 1): Buffer {
  const text = Buffer.from(header, 'latin1');
  const prefix = Buffer.alloc(major === 1 ? 10 : 12);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(prefix);
  if (major === 1) prefix.writeUInt16LE(text.length, 8);
  else prefix.writeUInt32LE(text.length, 8);
  return Buffer.concat([prefix, text, data]);
}

describe('numpy files, both ways', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  let ref: Record<string, Described | Record<string, Described>>;
  let back: { npy: Record<string, Described>; npz: Record<string, Record<string, Described>> };
  const npyNames = (): string[] => Object.keys(ref).filter((f) => f.endsWith('.npy'));

  beforeAll(() => {
    if (missing) return; // its tests skip, saying why
    ref = py({ mode: 'write_npy', dir });
    // Everything we load we write back; numpy then reads our files.
    for (const name of npyNames()) {
      using t = loadNpy(at(name));
      saveNpy(t, at(`ours-${name}`));
    }
    const all = loadNpz(at('compressed.npz'));
    saveNpz(all, at('ours-stored.npz'));
    saveNpz(all, at('ours-compressed.npz'), { compress: true });
    const int32 = all.int32;
    saveNpy(int32.slice(0, 1, 3), at('ours-slice.npy')); // a view with a storage offset
    saveNpy(int32.transpose(0, 1), at('ours-transposed.npy'));
    for (const t of Object.values(all)) t.dispose();
    back = py({
      mode: 'read_numpy',
      npy: [...npyNames().map((n) => at(`ours-${n}`)), at('ours-slice.npy'), at('ours-transposed.npy')],
      npz: [at('ours-stored.npz'), at('ours-compressed.npz')],
    });
  });

  it('every .npy numpy writes loads with exact bytes, shape and dtype', () => {
    expect(npyNames().length).toBe(20);
    for (const name of npyNames()) {
      using t = loadNpy(at(name));
      expectSame(t, ref[name] as Described, name);
    }
  });

  it('Fortran-order arrays load as column-major views of the file bytes', () => {
    using f = loadNpy(at('fortran_i64_3d.npy'));
    expect(f.stride()).toEqual([1, 2, 6]);
    expect(f.toArray()).toEqual([0, 1].map((i) => [0, 1, 2].map((j) => [0, 1, 2, 3].map((k) => 12 * i + 4 * j + k))));
    using s = loadNpy(at('scalar_f64.npy'));
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(3.25);
    using be = loadNpy(at('big_endian_i8.npy'));
    expect(be.toArray()).toEqual([1, -2, 2 ** 40]);
  });

  it('loads from a buffer too', () => {
    using t = loadNpy(readFileSync(at('int16.npy')), 'int16.npy');
    expect(t.toArray()).toEqual([[-32768, 7], [32767, 0]]);
  });

  it('np.savez and np.savez_compressed archives load with exact bytes', () => {
    for (const file of ['plain.npz', 'compressed.npz']) {
      const got = loadNpz(at(file));
      const want = ref[file] as Record<string, Described>;
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [k, d] of Object.entries(want)) expectSame(got[k], d, `${file}:${k}`);
      for (const t of Object.values(got)) t.dispose();
    }
  });

  it('numpy reads every .npy we write with exact bytes (C order, little-endian)', () => {
    for (const name of npyNames()) {
      const want = ref[name] as Described;
      const got = back.npy[at(`ours-${name}`)];
      expect({ ...got, fortran: false }, name).toEqual({ ...want, fortran: false });
      expect(got.fortran).toBe(false);
    }
  });

  it('numpy reads views (a slice with a storage offset, a transpose) as their elements', () => {
    const int32 = ref['int32.npy'] as Described; // arange(-6, 6).reshape(3, 4)
    expect(back.npy[at('ours-slice.npy')]).toEqual({ dtype: 'int32', shape: [2, 4], fortran: false, hex: int32.hex.slice(32, 96) });
    const transposed = back.npy[at('ours-transposed.npy')];
    expect(transposed.shape).toEqual([4, 3]);
    const values = Array.from({ length: 12 }, (_, i) => Buffer.from(transposed.hex, 'hex').readInt32LE(4 * i));
    expect(values).toEqual([-6, -2, 2, -5, -1, 3, -4, 0, 4, -3, 1, 5]);
  });

  it('numpy reads the .npz files we write, stored and compressed', () => {
    const want = ref['compressed.npz'] as Record<string, Described>;
    for (const file of ['ours-stored.npz', 'ours-compressed.npz']) {
      const got = back.npz[at(file)];
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      for (const [k, d] of Object.entries(want)) expect({ ...got[k], fortran: false }, `${file}:${k}`).toEqual({ ...d, fortran: false });
    }
  });

  it('stored .npz members have their array data 64-byte aligned in the file', () => {
    const file = readFileSync(at('ours-stored.npz'));
    const marker = file.indexOf(Buffer.from("{'descr': '<f4'"));
    expect(marker).toBeGreaterThan(0);
    expect((marker - 10 + 128) % 64).toBe(0); // the prefix (10 bytes) starts aligned; the header is 64 * k - 10
  });

  it('object arrays and dtypes libtorch lacks are refused, naming why', () => {
    expect(npyError(() => loadNpy(at('object.npy'))).message).toBe(
      `${at('object.npy')}: numpy dtype '|O' cannot be loaded: an object array holds pickled Python objects, and ` +
      'loading those needs pickle (allow_pickle is not supported) (supported: f2 f4 f8 i1 i2 i4 i8 u1 b1)');
    expect(npyError(() => loadNpy(at('uint16.npy'))).message).toMatch(/'<u2' cannot be loaded: libtorch 1\.13 has no unsigned/);
    expect(npyError(() => loadNpy(at('complex.npy'))).message).toMatch(/'<c8' cannot be loaded: complex/);
    expect(npyError(() => loadNpy(at('structured.npy'))).message).toMatch(/structured \(record\) dtypes are not supported/);
    expect(npyError(() => loadNpz(at('with_object.npz'))).message).toMatch(/with_object\.npz:texts\.npy: numpy dtype '\|O'/);
  });

  it('an .npz with object arrays still loads the arrays asked for', () => {
    const { ok } = loadNpz(at('with_object.npz'), { keys: ['ok'] });
    expect(ok.toArray()).toEqual([-128, -1, 0, 1, 127]);
    expect(npyError(() => loadNpz(at('with_object.npz'), { keys: ['nope'] })).message).toMatch(/no array 'nope' \(it holds ok, texts\)/);
  });

  it('bfloat16 is refused on save: numpy has no such dtype', () => {
    using b = torch.ones([2], { dtype: 'bfloat16' });
    expect(npyError(() => saveNpy(b, at('bf16.npy'))).message).toMatch(/numpy has no bfloat16 dtype; convert the tensor first/);
    expect(npyError(() => saveNpz({ b }, at('bf16.npz'))).message).toMatch(/'b': numpy has no bfloat16/);
  });
});

describe('damaged .npy files end in an NpyError', () => {
  const f4x2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  const data8 = new Uint8Array(8);
  const cases: [string, Buffer, RegExp][] = [
    ['too short', Buffer.from('\x93NUMPY', 'latin1'), /only 6 bytes/],
    ['no magic', Buffer.concat([Buffer.from('PK\x03\x04xxxxxxxxx')]), /does not start with \\x93NUMPY/],
    ['version 4.0', (() => { const b = npy(f4x2, data8); b[6] = 4; return b; })(), /format version 4\.0 is not supported/],
    ['header length past the end', (() => { const b = npy(f4x2, data8); b.writeUInt16LE(60000, 8); return b; })(), /truncated: the header claims 60000 bytes/],
    ['huge header length (v2)', (() => { const b = npy(f4x2, data8, 2); b.writeUInt32LE(0xfffffff0, 8); return b; })(), /claims 4294967280 bytes, more than the 1048576 allowed/],
    ['not a dict', npy("['descr']\n"), /the header is not a dict/],
    ['unparseable', npy("{'descr': '<f4', 'fortran_order': Flase}\n"), /cannot parse the header at character 34: expected a value/],
    ['unterminated', npy("{'descr': '<f4\n"), /unterminated string/],
    ['missing shape', npy("{'descr': '<f4', 'fortran_order': False}\n"), /'shape' is not a tuple of non-negative integers/],
    ['negative dim', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", data8), /'shape' is not a tuple/],
    ['fractional dim', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }\n", data8), /expected ',' or '\)'/],
    ['fortran_order not a bool', npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }\n", data8), /'fortran_order' is not True or False/],
    ['truncated data', npy(f4x2, new Uint8Array(5)), /truncated: shape \(2\) of <f4 needs 8 bytes of data, the file has 5/],
    ['trailing data', npy(f4x2, new Uint8Array(9)), /trailing bytes: .* needs 8 bytes of data, the file has 9/],
    ['a lying shape', npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824, 1048576), }\n", data8), /needs 9007199254740992 bytes of data, the file has 8|too large/],
    ['an absurd shape', npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", data8), /shape \(4294967296, 4294967296\) is too large/],
    ['bool bytes other than 0 and 1', npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", new Uint8Array([1, 7, 0])), /bool element 1 holds the byte 7/],
    ['bad UTF-8 in a 3.0 header', npy("{'descr': '\xff'}\n", data8, 3), /not valid UTF-8/],
    ['deep nesting', npy('['.repeat(100)), /nested too deeply/],
  ];

  it.each(cases)('%s', (_what, buf, message) => {
    const error = npyError(() => loadNpy(buf, 'bad.npy'));
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/^bad\.npy: /);
  });

  it('random byte flips and truncations end in success or an NpyError, never anything else', () => {
    const good = npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }" + ' '.repeat(8) + '\n', new Uint8Array(24));
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    let errors = 0;
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(good);
      for (let k = 1 + rand(3); k > 0; k--) b[rand(74)] = rand(2) ? rand(256) : b[rand(74)];
      try {
        loadNpy(rand(5) === 0 ? b.subarray(0, rand(b.length)) : b, 'fuzz.npy').dispose();
      } catch (e) {
        if (!(e instanceof NpyError)) throw new Error(`iteration ${i}: ${(e as Error).stack}`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
});
