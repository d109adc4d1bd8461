// Storages to and from files natively (lib/torch/io/storage-io.ts, native/torch/storage_io.cc, native/torch/crc32.cc) and
// loadTorchFile's `mmap: true` (native/torch/mapped_file.cc), against real PyTorch's files: the native CRC-32 equals
// zlib's; a flipped byte in a storage record is a ZipError naming the entry (sync, async, from a buffer) unless
// checkCrc is false, as torch.load, which checks none; mapped loads give the exact values, strides and sharing of
// the files Python writes, their views share one mapping, a write to a loaded tensor leaves the file alone, the
// file can be deleted or replaced while mapped, the mapping goes when the last tensor does, and truncating a
// mapped file is the SIGBUS the docs warn of. Also ZipWriter.reserve(), which saveTorchFile writes through.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { torch, Tensor } from '../dist/index.js';
import { load } from '../dist/torch/io/load.js';
import { saveNpy } from '../dist/torch/io/tensor-formats.js';
import { mappedFiles, readStoragesSync, storageCrc32 } from '../dist/torch/io/storage-io.js';
import { loadTorchBuffer, loadTorchFile, loadTorchFileSync, saveTorchFile, TorchFileError } from '../dist/torch/io/torch-file.js';
import { ZipError, ZipReader, ZipWriter } from '../dist/formats/zip.js';
import { writeFileAtomicSync } from '../dist/formats/atomic.js';
import { disposeAll } from './helpers/fuzz.js';
import { mulberry32 } from './helpers/random.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-mmap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);

function randomBytes(n: number, seed: number): Buffer {
  const r = mulberry32(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The bytes of a stored record's data in a zip file. */
function recordOffset(path: string, name: string): { offset: number; size: number } {
  const z = ZipReader.open(path);
  try {
    const e = z.entries.find((x) => x.name.endsWith(name))!;
    return { offset: z.storedData(e)!.offset, size: e.size };
  } finally {
    z.close();
  }
}

/** The same archive written again by ZipWriter: `align` 1 puts records anywhere, `compress` deflates them. */
function rewritten(src: string, dst: string, opts: { align?: number; compress?: boolean; pad?: number }): void {
  const z = ZipReader.open(src);
  const entries = z.entries.map((e): [string, Buffer] => [e.name, z.read(e)]);
  z.close();
  writeFileAtomicSync(dst, (fd) => {
    const w = new ZipWriter(fd, { align: opts.align ?? 64 });
    if (opts.pad) w.add('pad', Buffer.alloc(opts.pad)); // so that what follows starts at other offsets
    for (const [n, d] of entries) w.add(n, d, { compress: opts.compress && n.includes('/data/') });
    w.finish();
  });
}

/** Whether some storage record of a zip file starts at an offset that is no multiple of 4. */
function misaligned(path: string): boolean {
  const z = ZipReader.open(path);
  try {
    return z.entries.some((e) => e.name.includes('/data/') && z.storedData(e)!.offset % 4 !== 0);
  } finally {
    z.close();
  }
}

async function checkpointFile(path: string): Promise<Record<string, Tensor>> {
  const w = torch.randn([64, 48]);
  const sd = { 'w': w, 'w.t': w.t(), 'row': w.select(0, 3), 'b': torch.arange(48, undefined, 1, { dtype: 'int64' }), 'm': torch.tensor([true, false, true]) };
  await saveTorchFile(sd, path);
  return sd;
}

function valuesOf(v: Record<string, Tensor>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, stride: t.stride(), offset: t.storageOffset(), values: t.toArray() }]));
}

describe('the native CRC-32 and storage reads', () => {
  it('equals zlib\'s CRC-32 for every length to 3000 bytes and for large data (PCLMUL and AVX-512 paths, tails)', () => {
    const data = randomBytes(3000, 1);
    for (let n = 0; n <= 3000; n += n < 600 ? 1 : 37) {
      const t = torch.tensor(data.subarray(0, n), { dtype: 'uint8' });
      expect(storageCrc32(t, n), `length ${n}`).toBe(crc32(data.subarray(0, n)) >>> 0);
      t.dispose();
    }
    const big = randomBytes((5 << 20) + 13, 2);
    const t = torch.tensor(big, { dtype: 'uint8' });
    expect(storageCrc32(t, big.length)).toBe(crc32(big) >>> 0);
    expect(storageCrc32(t, 1000003)).toBe(crc32(big.subarray(0, 1000003)) >>> 0);
    t.dispose();
  });

  it('fills tensors from a buffer in one call, and reports the first bad CRC or a short source', () => {
    const src = randomBytes(4096, 3);
    const a = torch.empty([256], { dtype: 'float32' });
    const b = torch.empty([1024], { dtype: 'uint8' });
    const reads = [
      { tensor: a, position: 0, nbytes: 1024, crc32: crc32(src.subarray(0, 1024)) >>> 0 },
      { tensor: b, position: 2048, nbytes: 1024, crc32: null },
    ];
    expect(readStoragesSync(src, reads)).toBeNull();
    expect(Buffer.from(a.toTypedArray().buffer)).toEqual(src.subarray(0, 1024));
    expect(Buffer.from(b.toTypedArray() as Uint8Array)).toEqual(src.subarray(2048, 3072));
    const wrong = readStoragesSync(src, [reads[1], { ...reads[0], crc32: 12345 }]);
    expect(wrong).toEqual({ index: 1, kind: 'crc', value: crc32(src.subarray(0, 1024)) >>> 0 });
    expect(readStoragesSync(src, [{ tensor: b, position: 3500, nbytes: 1024, crc32: null }])).toEqual({ index: 0, kind: 'eof', value: 4096 });
    expect(() => readStoragesSync(src, [{ tensor: b, position: 0, nbytes: 2048, crc32: null }])).toThrow(/cannot hold 2048/);
    a.dispose();
    b.dispose();
  });
});

describe('CRC-32s of storage records', () => {
  let path = '';
  let bad = Buffer.alloc(0);
  beforeAll(async () => {
    path = at('crc.pt');
    disposeAll(await checkpointFile(path));
    const { offset } = recordOffset(path, '/data/0');
    bad = readFileSync(path);
    bad[offset + 5] ^= 0x40;
    writeFileSync(at('crc-bad.pt'), bad);
  });

  it('a flipped byte in a record is a ZipError naming the entry, loaded any way (as ZipReader.read says it)', async () => {
    const message = /crc-bad\.pt: entry 'crc\/data\/0' fails its CRC-32 check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/;
    await expect(loadTorchFile(at('crc-bad.pt'))).rejects.toThrow(message);
    await expect(loadTorchFile(at('crc-bad.pt'))).rejects.toBeInstanceOf(ZipError);
    expect(() => loadTorchFileSync(at('crc-bad.pt'))).toThrow(message);
    expect(() => loadTorchBuffer(bad, { name: 'crc-bad.pt' })).toThrow(message);
    await expect(loadTorchFile(at('crc-bad.pt'), { mmap: true, checkCrc: true })).rejects.toThrow(message);
  });

  it('checkCrc: false loads it as torch.load does (which checks no record), and so does mmap by default', async () => {
    const good = await loadTorchFile<Record<string, Tensor>>(path);
    for (const opts of [{ checkCrc: false }, { mmap: true }]) {
      const v = await loadTorchFile<Record<string, Tensor>>(at('crc-bad.pt'), opts);
      expect(v.b.toArray()).toEqual(good.b.toArray());
      expect(v.w.toArray()).not.toEqual(good.w.toArray());
      disposeAll(v);
    }
    disposeAll(good);
  });

  it('options are checked', async () => {
    await expect(loadTorchFile(path, { mmap: 1 as unknown as boolean })).rejects.toThrow(/the mmap option must be true or false/);
    expect(() => loadTorchFileSync(path, { checkCrc: 'no' as unknown as boolean })).toThrow(/the checkCrc option must be true or false/);
    expect(() => loadTorchBuffer(readFileSync(path), { mmap: true })).toThrow(TypeError);
  });
});

describe('mmap: files PyTorch writes', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  type Fixture = { path: string; value: unknown };
  let fixtures: Record<string, Fixture> = {};
  beforeAll(() => {
    if (missing) return; // its tests skip, saying why
    fixtures = runPython<Record<string, Fixture>>('torch_files.py', { mode: 'write', dir });
  });

  it('every zip fixture loads mapped with the values, strides, offsets and sharing of the copying load', async () => {
    for (const name of ['checkpoint', 'dtypes', 'views', 'nested', 'state_dict', 'views_protocol4', 'views_protocol5']) {
      const copied = await loadTorchFile(fixtures[name].path);
      const mapped = await loadTorchFile(fixtures[name].path, { mmap: true });
      expect(describeTree(mapped), name).toEqual(describeTree(copied));
      disposeAll(copied);
      disposeAll(mapped);
    }
  });

  it('the legacy format cannot be mapped (as torch.load(mmap=True) refuses it)', async () => {
    await expect(loadTorchFile(fixtures.views_legacy.path, { mmap: true })).rejects.toThrow(TorchFileError);
    await expect(loadTorchFile(fixtures.views_legacy.path, { mmap: true })).rejects.toThrow(/mmap needs a zip file .* legacy format/);
  });
});

// Tensors as [path, dtype, shape, stride, offset, values]; sharing as groups of paths.
function describeTree(root: unknown): unknown {
  const out: unknown[] = [];
  const byStorage = new Map<string, string[]>();
  const walk = (v: unknown, path: string): void => {
    if (v instanceof Tensor) {
      const data = v.isQuantized ? v.intRepr().toTypedArray() : v.toTypedArray();
      out.push([path, v.dtype, v.shape, v.stride(), v.storageOffset(), Array.from(data as ArrayLike<unknown>, String)]);
      for (const [k, t] of byStorage) if (tensorsByPath.get(k)?.sharesStorageWith(v)) { t.push(path); return; }
      byStorage.set(path, [path]);
      tensorsByPath.set(path, v);
    } else if (v instanceof Map) {
      for (const [k, x] of v) walk(x, `${path}.${String(k)}`);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
    } else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    } else {
      out.push([path, v]);
    }
  };
  const tensorsByPath = new Map<string, Tensor>();
  walk(root, '');
  return { values: out, shared: [...byStorage.values()].filter((g) => g.length > 1) };
}

describe('mmap', () => {
  it('views share one mapping of the file; a write is the process\'s own (copy-on-write): the file stays as it was', async () => {
    const path = at('shared.pt');
    const sd = await checkpointFile(path);
    const before = sha(path);
    const base = mappedFiles().mappings;
    const v = await loadTorchFile<Record<string, Tensor>>(path, { mmap: true });
    expect(mappedFiles().mappings).toBe(base + 1);
    expect(mappedFiles().bytes).toBeGreaterThanOrEqual(readFileSync(path).length);
    expect(valuesOf(v)).toEqual(valuesOf(sd));
    expect(v.w.sharesStorageWith(v['w.t'])).toBe(true);
    expect(v.w.sharesStorageWith(v.row)).toBe(true);
    expect(v.w.sharesStorageWith(v.b)).toBe(false);
    v.w.fill_(7); // through one view, seen through the others
    expect(v['w.t'].toArray()).toEqual(torch.full([48, 64], 7).toArray());
    expect(v.row.toArray()).toEqual(Array(48).fill(7));
    expect(sha(path)).toBe(before);
    const again = await loadTorchFile<Record<string, Tensor>>(path, { mmap: true });
    expect(valuesOf(again)).toEqual(valuesOf(sd));
    disposeAll([v, again, sd]);
    expect(mappedFiles().mappings).toBe(base);
  });

  it('the file can be deleted or replaced (by rename, as saveTorchFile does) while its tensors live', async () => {
    const path = at('replaced.pt');
    const sd = await checkpointFile(path);
    const expected = valuesOf(sd);
    const v = await loadTorchFile<Record<string, Tensor>>(path, { mmap: true });
    await saveTorchFile({ w: torch.zeros([2]) }, path); // a new file renamed over the old one
    expect(valuesOf(v)).toEqual(expected);
    const replaced = await loadTorchFile<Record<string, Tensor>>(path, { mmap: true });
    expect(replaced.w.toArray()).toEqual([0, 0]);
    unlinkSync(path);
    expect(valuesOf(v)).toEqual(expected);
    expect(replaced.w.toArray()).toEqual([0, 0]);
    disposeAll([v, replaced, sd]);
  });

  it('the mapping goes when the last tensor on it is disposed, and mapped bytes are not counted as tensor memory', async () => {
    const path = at('freed.pt');
    disposeAll(await checkpointFile(path));
    const base = mappedFiles();
    const live = torch.memory().bytes;
    const v = await loadTorchFile<Record<string, Tensor>>(path, { mmap: true });
    expect(mappedFiles().mappings).toBe(base.mappings + 1);
    expect(torch.memory().bytes - live).toBeLessThan(1024); // the file's pages, not allocations a GC would free
    const maps = (): boolean => readFileSync('/proc/self/maps', 'utf8').includes(path);
    if (existsSync('/proc/self/maps')) expect(maps()).toBe(true);
    const { row } = v;
    for (const [k, t] of Object.entries(v)) if (k !== 'row') t.dispose();
    expect(mappedFiles().mappings).toBe(base.mappings + 1); // one view left keeps it
    expect(row.toArray()).toHaveLength(48);
    row.dispose();
    expect(mappedFiles()).toEqual(base);
    if (existsSync('/proc/self/maps')) expect(maps()).toBe(false);
  });

  it('records that are compressed or not aligned to their element size are read into memory instead', async () => {
    const path = at('aligned.pt');
    const sd = await checkpointFile(path);
    let pad = 1;
    do rewritten(path, at('odd.pt'), { align: 1, pad }); while (!misaligned(at('odd.pt')) && ++pad < 8);
    expect(misaligned(at('odd.pt'))).toBe(true);
    rewritten(path, at('deflated.pt'), { compress: true });
    for (const file of ['odd.pt', 'deflated.pt']) {
      for (const opts of [{ mmap: true }, {}]) {
        const v = await loadTorchFile<Record<string, Tensor>>(at(file), opts);
        expect(valuesOf(v), `${file} ${JSON.stringify(opts)}`).toEqual(valuesOf(sd));
        disposeAll(v);
      }
    }
    disposeAll(sd);
  });

  it('load() passes it on for torch files and refuses it for other formats; tensors saved from a mapping save', async () => {
    const path = at('via-load.pt');
    const sd = await checkpointFile(path);
    const v = await load<Record<string, Tensor>>(path, { mmap: true });
    expect(valuesOf(v)).toEqual(valuesOf(sd));
    await saveTorchFile(v, at('from-mapped.pt'));
    const back = await loadTorchFile<Record<string, Tensor>>(at('from-mapped.pt'));
    expect(valuesOf(back)).toEqual(valuesOf(sd));
    saveNpy(sd.w, at('w.npy'));
    await expect(load(at('w.npy'), { mmap: true })).rejects.toThrow(/mmap is supported for torch\.save files/);
    disposeAll([v, back, sd]);
  });

  it('truncating a mapped file in place is the SIGBUS the documentation warns of (in a child process)', () => {
    const path = at('truncated.pt');
    const script = `
      const { loadTorchFile, saveTorchFile } = await import(${JSON.stringify(new URL('../dist/torch/io/torch-file.js', import.meta.url).href)});
      const { torch } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const { truncateSync } = await import('node:fs');
      await saveTorchFile({ w: torch.ones([1 << 20]) }, ${JSON.stringify(path)});
      const v = await loadTorchFile(${JSON.stringify(path)}, { mmap: true });
      console.log('sum before', v.w.sum().item());
      truncateSync(${JSON.stringify(path)}, 0);
      console.log('sum after', v.w.sum().item());`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    expect(r.stdout).toContain(`sum before ${1 << 20}`);
    expect(r.stdout).not.toContain('sum after');
    expect(r.signal).toBe('SIGBUS');
  });
});

describe('ZipWriter.reserve (what saveTorchFile writes tensor bytes through)', () => {
  it('an entry whose data the caller writes, then commits, reads back CRC-checked; an uncommitted one is refused', () => {
    const data = randomBytes(1000, 9);
    const path = at('reserved.zip');
    writeFileAtomicSync(path, (fd) => {
      const w = new ZipWriter(fd, { align: 64 });
      w.add('first', Buffer.from('a'));
      const slot = w.reserve('dir/data', data.length);
      expect(slot.dataOffset % 64).toBe(0);
      w.add('after', Buffer.from('bc'));
      writeSyncAll(fd, data, slot.dataOffset);
      slot.commit(crc32(data));
      expect(() => slot.commit(crc32(data))).toThrow(/already committed/);
      w.finish();
    });
    const r = ZipReader.open(path);
    expect(r.read('dir/data')).toEqual(data);
    expect(r.read('after').toString()).toBe('bc');
    r.close();
    expect(() => writeFileAtomicSync(at('unfinished.zip'), (fd) => {
      const w = new ZipWriter(fd);
      w.reserve('never', 10);
      w.finish();
    })).toThrow(/entries 'never' were reserved and never committed/);
    expect(existsSync(at('unfinished.zip'))).toBe(false);
  });
});

function writeSyncAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}
