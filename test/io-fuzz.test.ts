// Fuzzing the file readers with fast-check: thousands of mutants of real files (zip .pt files we and PyTorch
// write, the pickle inside a valid zip, a legacy .pt PyTorch writes, .npz stored and compressed, .npy,
// .safetensors), each WRITTEN TO A FILE and read through the public load(path) and the format's own readers (from
// the path and from the bytes). Each read must load (every tensor inside its storage, and for .npy, .npz and
// .safetensors exactly the bytes its shape and dtype need; `inspect` can show it) or throw one of the readers' own
// errors naming the file, within 2 s: never an engine error, a crash or a hang. The seed is fixed and printed;
// LVMTORCH_FUZZ_SEED replays another, LVMTORCH_FUZZ_SCALE runs more cases. A failure prints fast-check's seed and
// path, and the smallest mutant it shrank to.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { torch, Tensor } from '../dist/index.js';
import { FileFormatError, load, save } from '../dist/torch/io/load.js';
import { NpyError } from '../dist/formats/npy.js';
import { loadNpy, loadNpz, loadSafetensors } from '../dist/torch/io/tensor-formats.js';
import { dumps, PersistentRef, PickleError, PickleGlobal, tuple } from '../dist/formats/pickle/index.js';
import { SafetensorsError } from '../dist/formats/safetensors.js';
import { itemSize } from '../dist/formats/arrays.js';
import { formatTree, tree } from '../dist/formats/tree.js';
import { readRecords } from '../dist/formats/read-records.js';
import { loadTorchBuffer, loadTorchFileSync, TorchFileError } from '../dist/torch/io/torch-file.js';
import { TorchStorage } from '../dist/formats/torch-pickle.js';
import { ZipError, ZipWriter } from '../dist/formats/zip.js';
import { native } from '../dist/torch/native.js';
import { rawOf } from '../dist/torch/tensor.js';
import {
  applyBytes, applyZip, byteMutation, fuzzFiles, fuzzRuns, fuzzSeed, lengthLies, zipMutation, zipSource,
  type FileReader, type FuzzReport,
} from './helpers/fuzz.js';
import { needPython, pythonTorchMissing, runPython } from './helpers/python.js';

const OWN_ERRORS = [TorchFileError, ZipError, PickleError, NpyError, SafetensorsError, FileFormatError];
const MIN_MUTANTS = 2000;
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-fuzz-'));
const at = (name: string): string => join(dir, name);
const reports: FuzzReport[] = [];
const started = performance.now();

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  const mutants = reports.reduce((n, r) => n + r.cases, 0);
  const reads = reports.reduce((n, r) => n + r.reads, 0);
  const slowest = Math.max(0, ...reports.map((r) => r.slowestMs));
  console.log(`io-fuzz: ${mutants} file mutants, ${reads} reads, 0 crashes, 0 hangs, 0 foreign errors; slowest read ` +
    `${slowest.toFixed(1)} ms; ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

const missing = pythonTorchMissing();

// Pickle opcodes worth writing over others: STOP, MARK, GLOBAL, REDUCE, BUILD, BINPUT/BINGET, EMPTY_DICT/LIST,
// TUPLE, SETITEMS, APPENDS, BINPERSID, BININT1, BININT, BINUNICODE, PROTO, NEWOBJ, TUPLE1-3, LONG1, MEMOIZE, FRAME,
// SHORT_BINUNICODE, STACK_GLOBAL, NONE, DUP, POP.
const PICKLE_OPS = [0x2e, 0x28, 0x63, 0x52, 0x62, 0x71, 0x68, 0x7d, 0x5d, 0x74, 0x75, 0x65, 0x51, 0x4b, 0x4a, 0x58,
  0x80, 0x81, 0x85, 0x86, 0x87, 0x8a, 0x94, 0x95, 0x8c, 0x93, 0x4e, 0x32, 0x30];
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, ...PICKLE_OPS];

const torchReaders: FileReader[] = [
  { name: 'load', read: (p) => load(p) },
  { name: 'loadTorchFileSync', read: (p) => loadTorchFileSync(p) },
  { name: 'loadTorchBuffer', read: (p, b) => loadTorchBuffer(b, { name: p }) },
];
// `lvmtorch inspect`'s reader: no libtorch, the same checks.
const inspectReader: FileReader = { name: 'readRecords', read: (p) => readRecords(p).value };
const npzReaders: FileReader[] = [
  { name: 'load', read: (p) => load(p) },
  { name: 'loadNpz', read: (p) => nullProto(loadNpz(p)) },
  { name: 'loadNpz(bytes)', read: (p, b) => nullProto(loadNpz(b, { name: p })) },
];
const npyReaders: FileReader[] = [
  { name: 'load', read: (p) => load(p) },
  { name: 'loadNpy', read: (p) => loadNpy(p) },
  { name: 'loadNpy(bytes)', read: (p, b) => loadNpy(b, p) },
];
const safetensorsReaders: FileReader[] = [
  { name: 'load', read: (p) => load(p) },
  { name: 'loadSafetensors', read: (p) => safetensorsRecords(loadSafetensors(p)) },
  { name: 'loadSafetensors(bytes)', read: (p, b) => safetensorsRecords(loadSafetensors(b, p)) },
];

// Records built from the file's names have no prototype (issue 23, defect 5).
function nullProto<T extends object>(rec: T): T {
  if (Object.getPrototypeOf(rec) !== null) throw new Error('a record of names from the file has a prototype');
  return rec;
}
function safetensorsRecords<T extends { tensors: object; metadata: object }>(st: T): T {
  nullProto(st.tensors);
  nullProto(st.metadata);
  return st;
}

/** .npy, .npz and .safetensors tensors own exactly the bytes their shape and dtype need, no more, no less. */
function exactBytes(value: unknown): void {
  const tensors = value instanceof Tensor ? [value] : Object.values((value as { tensors?: object }).tensors ?? (value as object));
  for (const t of tensors as Tensor[]) {
    const nbytes = native().layout(rawOf(t))[2];
    if (nbytes !== t.numel * itemSize(t.dtype)) {
      throw new Error(`a ${t.dtype} tensor [${t.shape}] holds ${nbytes} bytes, not ${t.numel * itemSize(t.dtype)}`);
    }
  }
}

// A checkpoint like the seed's: a state dict, an AdamW-like state, numbers, strings, nested containers, views.
async function checkpoint(path: string): Promise<void> {
  const w = torch.randn([8, 6]);
  await save({
    epoch: 3, val_loss: 0.25, model_state_dict: { 'input_proj.weight': w, 'input_proj.bias': torch.zeros([8]), 'head.0.weight': w.t() },
    optimizer_state_dict: { state: { 0: { step: torch.tensor([2]), exp_avg: torch.ones([8, 6]) } }, param_groups: [{ lr: 1e-3, params: [0] }] },
    args: { model: 'gru', layers: [1, 2, 3], nested: { deep: [[1], [2, [3]]] } },
    ids: torch.arange(5, undefined, 1, { dtype: 'int64' }), flags: torch.tensor([true, false]),
  }, path);
}

describe('mutated files end in a value or a clear error naming the file, never a crash or a hang', () => {
  let python: string | null = null;
  beforeAll(async () => {
    await checkpoint(at('ours.pt'));
    if (missing === null) python = runPython<{ torch: string }>('fuzz_sources.py', { dir }).torch;
  });

  async function fuzzZipTorch(label: string, file: string, seed: number, runs: number, pickleOnly: boolean): Promise<FuzzReport> {
    const src = zipSource(readFileSync(file), at(`${label}.scratch`));
    const isPickle = (n: string): boolean => n.endsWith('data.pkl');
    const mutation = pickleOnly
      ? zipMutation(src, { interesting: INTERESTING, members: isPickle, weights: { bytes: 0, member: 1, rename: 0, 'name-byte': 0, crc: 0 } })
      : zipMutation(src, { interesting: INTERESTING, members: (n) => !isPickle(n) });
    const report = await fuzzFiles({
      label, path: at(`${label}.pt`), seed: fuzzSeed(seed), numRuns: fuzzRuns(runs), mutation, make: (m) => applyZip(src, m),
      readers: [...torchReaders, inspectReader], errors: OWN_ERRORS,
    });
    reports.push(report);
    return report;
  }

  it('zip .pt written by lvmtorch: raw bytes, its records, entry names, CRCs', async () => {
    const r = await fuzzZipTorch('zip .pt (lvmtorch)', at('ours.pt'), 1, 600, false);
    expect(r.errors.ZipError).toBeGreaterThan(0);
    expect(r.errors.TorchFileError).toBeGreaterThan(0);
  });

  it('zip .pt written by PyTorch', async (ctx) => {
    needPython(ctx);
    const r = await fuzzZipTorch(`zip .pt (PyTorch ${python})`, at('torch.pt'), 2, 400, false);
    expect(r.errors.ZipError).toBeGreaterThan(0);
  });

  it('the pickle inside a valid zip .pt written by lvmtorch (the unpickler and the torch layer)', async () => {
    const r = await fuzzZipTorch('pickle in .pt (lvmtorch)', at('ours.pt'), 3, 800, true);
    expect(r.errors.PickleError).toBeGreaterThan(0); // the mutations reach the unpickler
    expect(r.loaded).toBeGreaterThan(0);
  });

  it('the pickle inside a valid zip .pt written by PyTorch', async (ctx) => {
    needPython(ctx);
    const r = await fuzzZipTorch(`pickle in .pt (PyTorch ${python})`, at('torch.pt'), 4, 400, true);
    expect(r.errors.PickleError).toBeGreaterThan(0);
    expect(r.loaded).toBeGreaterThan(0);
  });

  it('a legacy (pre-1.6) .pt written by PyTorch (no CRC in the way)', async (ctx) => {
    needPython(ctx);
    const legacy = readFileSync(at('legacy.pt'));
    const r = await fuzzFiles({
      label: `legacy .pt (PyTorch ${python})`, path: at('legacy-mutant.pt'), seed: fuzzSeed(5), numRuns: fuzzRuns(600),
      mutation: byteMutation(legacy.length, { interesting: INTERESTING }), make: (m) => applyBytes(legacy, m),
      readers: [...torchReaders, inspectReader], errors: OWN_ERRORS,
    });
    reports.push(r);
    expect(r.errors.PickleError).toBeGreaterThan(0);
    expect(r.errors.TorchFileError).toBeGreaterThan(0);
  });

  async function fuzzNpz(label: string, file: string, seed: number, runs: number): Promise<FuzzReport> {
    const src = zipSource(readFileSync(file), at(`${label}.scratch`));
    const r = await fuzzFiles({
      label, path: at(`${label}.npz`), seed: fuzzSeed(seed), numRuns: fuzzRuns(runs),
      mutation: zipMutation(src), make: (m) => applyZip(src, m), readers: npzReaders, errors: OWN_ERRORS, check: exactBytes,
    });
    reports.push(r);
    expect(r.errors.ZipError).toBeGreaterThan(0);
    expect(r.errors.NpyError).toBeGreaterThan(0); // members reach the .npy reader
    return r;
  }

  it('.npz stored (saveNpz, as np.savez)', async () => {
    const t = torch.randn([3, 4]);
    await save({ a: t, b: torch.arange(3, undefined, 1, { dtype: 'int32' }), c: torch.tensor([true, false]) }, at('stored.npz'));
    await fuzzNpz('npz stored (lvmtorch)', at('stored.npz'), 6, 400);
  });

  it('.npz compressed (np.savez_compressed)', async (ctx) => {
    needPython(ctx);
    await fuzzNpz('npz compressed (numpy)', at('numpy.npz'), 7, 400);
  });

  it('.npy', async () => {
    await save(torch.randn([3, 4]), at('x.npy'));
    const npy = readFileSync(at('x.npy'));
    const r = await fuzzFiles({
      label: '.npy', path: at('mutant.npy'), seed: fuzzSeed(8), numRuns: fuzzRuns(400),
      mutation: byteMutation(npy.length), make: (m) => applyBytes(npy, m), readers: npyReaders, errors: OWN_ERRORS, check: exactBytes,
    });
    reports.push(r);
    expect(r.errors.NpyError).toBeGreaterThan(0);
    expect(r.loaded).toBeGreaterThan(0);
  });

  it('.safetensors', async () => {
    await save({ a: torch.randn([3, 4]), b: torch.tensor([true]), c: torch.arange(4, undefined, 1, { dtype: 'int64' }) },
      at('x.safetensors'), { metadata: { k: 'v' } });
    const st = readFileSync(at('x.safetensors'));
    // The header's JSON is text: its digits, quotes and brackets are the bytes worth changing.
    const interesting = [...'0123456789[]{}",:-. e'].map((c) => c.charCodeAt(0)).concat([0x00, 0xff]);
    const r = await fuzzFiles({
      label: '.safetensors', path: at('mutant.safetensors'), seed: fuzzSeed(9), numRuns: fuzzRuns(500),
      mutation: byteMutation(st.length, { interesting, lies: fc.oneof(lengthLies(st.length), lengthLies(st.readUInt32LE(0))) }),
      make: (m) => applyBytes(st, m), readers: safetensorsReaders, errors: OWN_ERRORS, check: exactBytes,
    });
    reports.push(r);
    expect(r.errors.SafetensorsError).toBeGreaterThan(0);
    expect(r.loaded).toBeGreaterThan(0);
  });

  it(`reads at least ${MIN_MUTANTS} mutants in all`, () => {
    expect(reports.reduce((n, r) => n + r.cases, 0)).toBeGreaterThanOrEqual(MIN_MUTANTS);
  });
});

// The smallest cases of what the fuzzing above found (and what reading its findings turned up), kept so that the
// defects stay fixed.
describe('defects found by fuzzing', () => {
  it('a storage inside a dict key (a tuple key holding a persistent id) is alive after loading', async () => {
    // {(storage, 1): 'v'}: a mutated legacy file loaded as such, and its storage came back disposed (the walk
    // that frees the storages no value holds did not look at dict keys).
    const pid = new PersistentRef(tuple<unknown>('storage', new PickleGlobal('torch', 'FloatStorage'), '0', 'cpu', 2));
    const path = torchZip('storage-in-key.pt', dumps(new Map([[tuple<unknown>(pid, 1), 'v']])), { 'x/data/0': Buffer.from(new Float32Array([1.5, -2]).buffer) });
    for (const reader of torchReaders) {
      const v = await reader.read(path, readFileSync(path)) as Map<unknown[], unknown>;
      expect(v, reader.name).toBeInstanceOf(Map);
      const [[key, value]] = [...v];
      expect(value).toBe('v');
      const storage = key[0] as TorchStorage;
      expect(storage, reader.name).toBeInstanceOf(TorchStorage);
      expect(storage.tensor.isDisposed, reader.name).toBe(false);
      expect(storage.tensor.toArray(), reader.name).toEqual([1.5, -2]);
      storage.tensor.dispose();
    }
  });
});

describe('defects found while reading what the fuzzing loads', () => {
  // x0 = [], x(i+1) = [x(i), x(i)]: 40 levels are ~330 bytes of pickle and 2^41 paths. inspect expanded every path
  // (it never finished); now a container met again is named, not shown again.
  it('inspect of a small pickle that refers to the same lists many times ends at once', () => {
    const levels = 40;
    const ops = [Buffer.from([0x80, 0x02, 0x5d, 0x71, 0])]; // PROTO 2, EMPTY_LIST, BINPUT 0
    for (let i = 1; i <= levels; i++) ops.push(Buffer.from([0x28, 0x68, i - 1, 0x68, i - 1, 0x6c, 0x71, i])); // MARK BINGET BINGET LIST BINPUT
    ops.push(Buffer.from('.'));
    const path = torchZip('shared-lists.pt', Buffer.concat(ops));
    const r = spawnSync(process.execPath, [cli, 'inspect', path], { encoding: 'utf8', timeout: 20_000 });
    expect(r.error, 'inspect did not finish in 20 s').toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(2 * levels + 2); // the header line, the root, then per level one shown and one named
    expect(lines[3]).toMatch(/^ {4}0\.0: list, 2 items$/);
    expect(r.stdout).toMatch(/^ +(0\.){39}1: list, 0 items$/m); // x0, the deepest
    expect(lines.at(-1)).toBe('  1: list, 2 items: the same object as 0, shown there');
  });

  it('inspect of a list that holds itself shows the cycle instead of failing on its depth', async () => {
    const path = torchZip('cycle.pt', Buffer.from([0x80, 0x02, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e])); // l = []; l.append(l)
    const v = await load<unknown[]>(path);
    expect(v[0]).toBe(v);
    expect(formatTree(tree(v))).toBe('.: list, 1 item\n  0: list, 1 item: the same object as ., shown there');
  });
});

/** A torch.save zip archive with `pickle` as its data.pkl and the given records. */
function torchZip(name: string, pickle: Buffer, records: Record<string, Buffer> = {}): string {
  const path = at(name);
  const fd = openSync(path, 'w');
  try {
    const zip = new ZipWriter(fd, { align: 64 });
    zip.add('x/data.pkl', pickle);
    for (const [n, data] of Object.entries(records)) zip.add(n, data);
    zip.add('x/version', Buffer.from('3\n'));
    zip.finish();
  } finally {
    closeSync(fd);
  }
  return path;
}
