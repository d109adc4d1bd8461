// Fuzzing the file readers with fast-check: arbitraries for mutations of a valid file (bytes changed, cut short, a
// length or offset field made to lie, a slice repeated or removed; and for zip archives: one member's bytes
// mutated and the archive rebuilt with valid CRCs, an entry renamed, a name that differs between the local and the
// central header, a CRC made wrong), and a property that writes each mutant to a file and reads it through every
// reader given. Each read must load (a value whose tensors lie inside their storages; it is then disposed) or throw
// one of the readers' own errors naming the file, within a time bound: never an engine error, a crash or a hang.
// The seed is fixed and printed: fast-check's failure message gives the seed and path that replay the case.
// test/io-fuzz.test.ts and test/io-quantized.test.ts share these.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';

import fc from 'fast-check';

import { Tensor } from '../../dist/index.js';
import { tensorIndex, tree } from '../../dist/formats/tree.js';
import { itemSize as elementSize } from '../../dist/formats/arrays.js';
import { TorchStorage } from '../../dist/formats/torch-pickle.js';
import { ZipReader, ZipWriter } from '../../dist/formats/zip.js';
import { native } from '../../dist/torch/native.js';
import { rawOf } from '../../dist/torch/tensor.js';

// ---- byte mutations ----

/** A multi-byte field's new value: a length, an offset or a count that lies, or a float parameter. */
export interface Lie {
  encoding: 'u16le' | 'u32le' | 'u64le' | 'f64be';
  value: number | bigint;
}

export type ByteMutation =
  | { kind: 'set'; edits: { at: number; value: number }[] }
  | { kind: 'cut'; at: number }
  | { kind: 'field'; at: number; lie: Lie }
  | { kind: 'repeat'; from: number; length: number; to: number }
  | { kind: 'remove'; at: number; length: number };

export interface ByteMutationOptions {
  /** Byte values worth writing over others (opcodes, 0, 0xff, ...); random bytes are written too. */
  interesting?: number[];
  /** The lies a field can be made to tell (default: lengthLies of the source's length). */
  lies?: fc.Arbitrary<Lie>;
  /** The longest slice repeated or removed (default 64). */
  slice?: number;
}

export const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/** Lengths and offsets that lie: 0, 1, around the file's size, the limits of 16, 32 and 64 bits, any value. */
export function lengthLies(size: number): fc.Arbitrary<Lie> {
  const near = [0, 1, size - 1, size, size + 1, 2 * size].filter((n) => n >= 0);
  return fc.oneof(
    fc.record({ encoding: fc.constant('u16le' as const), value: fc.oneof(fc.constantFrom(...near.filter((n) => n < 2 ** 16), 0x7fff, 0xffff), fc.nat(0xffff)) }),
    fc.record({ encoding: fc.constant('u32le' as const), value: fc.oneof(fc.constantFrom(...near, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat({ max: 0xffffffff })) }),
    fc.record({
      encoding: fc.constant('u64le' as const),
      value: fc.oneof(fc.constantFrom(...near.map(BigInt), 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    }),
  );
}

/** One mutation of a source of `length` bytes. */
export function byteMutation(length: number, opts: ByteMutationOptions = {}): fc.Arbitrary<ByteMutation> {
  const at = fc.nat({ max: Math.max(0, length - 1) });
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...(opts.interesting ?? INTERESTING)));
  const slice = fc.integer({ min: 1, max: opts.slice ?? 64 });
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), edits: fc.array(fc.record({ at, value: byte }), { minLength: 1, maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('field' as const), at, lie: opts.lies ?? lengthLies(length) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), from: at, length: slice, to: fc.nat({ max: length }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), at, length: slice }) },
  );
}

export function applyBytes(src: Buffer, m: ByteMutation): Buffer {
  switch (m.kind) {
    case 'set': {
      const b = Buffer.from(src);
      for (const e of m.edits) if (e.at < b.length) b[e.at] = e.value;
      return b;
    }
    case 'cut':
      return Buffer.from(src.subarray(0, m.at));
    case 'field': {
      const b = Buffer.from(src);
      const field = encodeLie(m.lie);
      field.copy(b, Math.max(0, Math.min(m.at, b.length - field.length)));
      return b;
    }
    case 'repeat':
      return Buffer.concat([src.subarray(0, m.to), src.subarray(m.from, m.from + m.length), src.subarray(m.to)]);
    case 'remove':
      return Buffer.concat([src.subarray(0, m.at), src.subarray(m.at + m.length)]);
  }
}

function encodeLie(lie: Lie): Buffer {
  const b = Buffer.alloc(lie.encoding === 'u16le' ? 2 : lie.encoding === 'u32le' ? 4 : 8);
  if (lie.encoding === 'u16le') b.writeUInt16LE(Number(lie.value));
  else if (lie.encoding === 'u32le') b.writeUInt32LE(Number(lie.value));
  else if (lie.encoding === 'u64le') b.writeBigUInt64LE(BigInt(lie.value));
  else b.writeDoubleBE(Number(lie.value));
  return b;
}

// ---- zip archives ----

/** A valid zip archive taken apart: its entries' uncompressed bytes, and where each one's headers are. */
export interface ZipSource {
  bytes: Buffer;
  entries: { name: string; data: Buffer; compress: boolean }[];
  /** Offsets of each entry's local header and central directory header, in central directory order. */
  headers: { local: number; central: number }[];
  /** Where rebuilt archives are written (ZipWriter writes to a file). */
  scratch: string;
}

export type ZipMutation =
  | { kind: 'bytes'; m: ByteMutation }
  | { kind: 'member'; entry: number; m: ByteMutation }
  | { kind: 'rename'; entry: number; name: string }
  | { kind: 'name-byte'; entry: number; header: 'local' | 'central'; at: number; value: number }
  | { kind: 'crc'; entry: number; header: 'local' | 'central' | 'both'; xor: number };

export function zipSource(bytes: Buffer, scratch: string): ZipSource {
  const zip = ZipReader.fromBuffer(bytes);
  try {
    const entries = zip.entries.map((e) => ({ name: e.name, data: zip.read(e), compress: e.method === 8 }));
    return { bytes, entries, headers: zipHeaders(bytes), scratch };
  } finally {
    zip.close();
  }
}

/** The header offsets of a valid archive with no comment (as ZipWriter, torch.save and numpy write them). */
export function zipHeaders(b: Buffer): { local: number; central: number }[] {
  const end = b.length - 22;
  if (b.readUInt32LE(end) !== 0x06054b50) throw new Error('zipHeaders: no end record where one without a comment ends');
  const count = b.readUInt16LE(end + 10);
  const out: { local: number; central: number }[] = [];
  let p = b.readUInt32LE(end + 16);
  for (let i = 0; i < count; i++) {
    if (b.readUInt32LE(p) !== 0x02014b50) throw new Error(`zipHeaders: no central header ${i} at ${p}`);
    out.push({ local: b.readUInt32LE(p + 42), central: p });
    p += 46 + b.readUInt16LE(p + 28) + b.readUInt16LE(p + 30) + b.readUInt16LE(p + 32);
  }
  return out;
}

/** The archive rebuilt from entries (stored data 64-byte aligned, as torch.save and saveNpz write it). */
export function rezip(src: ZipSource, entries: { name: string; data: Buffer; compress: boolean }[]): Buffer {
  const fd = openSync(src.scratch, 'w');
  try {
    const w = new ZipWriter(fd, { align: 64 });
    for (const e of entries) w.add(e.name, e.data, { compress: e.compress });
    w.finish();
  } finally {
    closeSync(fd);
  }
  return readFileSync(src.scratch);
}

export interface ZipMutationOptions extends ByteMutationOptions {
  /** Which entries 'member' mutations change (default: every entry with data). */
  members?: (name: string) => boolean;
  /** Relative weights of the kinds of mutation (default: bytes 4, member 4, rename 1, name-byte 1, crc 1). */
  weights?: Partial<Record<ZipMutation['kind'], number>>;
}

export function zipMutation(src: ZipSource, opts: ZipMutationOptions = {}): fc.Arbitrary<ZipMutation> {
  const w = { bytes: 4, member: 4, rename: 1, 'name-byte': 1, crc: 1, ...opts.weights };
  const n = src.entries.length;
  const entry = fc.nat({ max: n - 1 });
  const members = src.entries.flatMap((e, i) => (e.data.length > 0 && (opts.members?.(e.name) ?? true) ? [i] : []));
  const arbs: fc.WeightedArbitrary<ZipMutation>[] = [];
  const add = (kind: ZipMutation['kind'], arbitrary: fc.Arbitrary<ZipMutation>): void => {
    if (w[kind] > 0) arbs.push({ weight: w[kind], arbitrary });
  };
  add('bytes', byteMutation(src.bytes.length, opts).map((m) => ({ kind: 'bytes', m })));
  if (members.length > 0) {
    add('member', fc.constantFrom(...members).chain((i) =>
      byteMutation(src.entries[i].data.length, opts).map((m): ZipMutation => ({ kind: 'member', entry: i, m }))));
  }
  add('rename', entry.chain((i) => renamed(src, i).map((name): ZipMutation => ({ kind: 'rename', entry: i, name }))));
  add('name-byte', entry.chain((i) => fc.record({
    kind: fc.constant('name-byte' as const), entry: fc.constant(i), header: fc.constantFrom('local' as const, 'central' as const),
    at: fc.nat({ max: Math.max(0, Buffer.byteLength(src.entries[i].name) - 1) }), value: fc.integer({ min: 0, max: 255 }),
  })));
  add('crc', fc.record({
    kind: fc.constant('crc' as const), entry, header: fc.constantFrom('local' as const, 'central' as const, 'both' as const),
    xor: fc.integer({ min: 1, max: 0xffffffff }),
  }));
  return fc.oneof(...arbs);
}

// New names for entry i: another entry's (a duplicate), its own changed (case, a folder, a parent, no prefix, no
// extension), the names readers look for, any string.
function renamed(src: ZipSource, i: number): fc.Arbitrary<string> {
  const own = src.entries[i].name;
  const base = own.slice(own.lastIndexOf('/') + 1);
  const special = [...src.entries.map((e) => e.name).filter((x) => x !== own), own.toUpperCase(), `${own}/`, `../${own}`,
    base, `x/${base}`, own.replace(/\.npy$/, ''), `${own}.npy`, 'data.pkl', 'archive/data.pkl', `${own}\u0000`, `é${own}`]
    .filter((x, k, all) => x !== '' && x !== own && all.indexOf(x) === k);
  return fc.oneof(fc.constantFrom(...special), fc.string({ minLength: 1, maxLength: 24 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }));
}

export function applyZip(src: ZipSource, m: ZipMutation): Buffer {
  switch (m.kind) {
    case 'bytes':
      return applyBytes(src.bytes, m.m);
    case 'member':
      return rezip(src, src.entries.map((e, i) => (i === m.entry ? { ...e, data: applyBytes(e.data, m.m) } : e)));
    case 'rename': {
      const name = Buffer.from(m.name, 'utf8');
      const clash = src.entries.some((e, j) => j !== m.entry && Buffer.from(e.name, 'utf8').equals(name));
      // ZipWriter refuses a duplicate name: write a placeholder of the same length, then put the name in its place.
      const placeholder = clash ? '\u0001'.repeat(name.length) : m.name;
      const out = rezip(src, src.entries.map((e, i) => (i === m.entry ? { ...e, name: placeholder } : e)));
      if (clash) {
        const h = zipHeaders(out)[m.entry];
        name.copy(out, h.local + 30);
        name.copy(out, h.central + 46);
      }
      return out;
    }
    case 'name-byte': {
      const out = Buffer.from(src.bytes);
      const h = src.headers[m.entry];
      out[m.header === 'local' ? h.local + 30 + m.at : h.central + 46 + m.at] = m.value;
      return out;
    }
    case 'crc': {
      const out = Buffer.from(src.bytes);
      const h = src.headers[m.entry];
      const flip = (at: number): number => out.writeUInt32LE((out.readUInt32LE(at) ^ m.xor) >>> 0, at);
      if (m.header !== 'central') flip(h.local + 14);
      if (m.header !== 'local') flip(h.central + 16);
      return out;
    }
  }
}

// ---- the property ----

export type ErrorClass = abstract new (...args: never[]) => Error;

export interface FileReader {
  name: string;
  read: (path: string, bytes: Buffer) => unknown;
}

export interface FuzzOptions<M> {
  /** What the report calls this source. */
  label: string;
  /** Where each mutant is written. */
  path: string;
  seed: number;
  numRuns: number;
  mutation: fc.Arbitrary<M>;
  make: (m: M) => Buffer;
  readers: FileReader[];
  /** The errors a reader may throw (each must name the file). */
  errors: ErrorClass[];
  /** The longest a read may take (default 2000 ms). */
  maxMs?: number;
  /** More checks of a value that loaded (before it is disposed). */
  check?: (value: unknown) => void;
}

export interface FuzzReport {
  label: string;
  seed: number;
  cases: number;
  reads: number;
  loaded: number;
  errors: Record<string, number>;
  slowestMs: number;
  seconds: number;
}

/** Messages of the engine's own failures, which no reader should let out, also not wrapped in one of its errors. */
const ENGINE = /Maximum call stack size exceeded|Invalid (?:typed )?array length|Invalid string length|Array buffer allocation failed|Cannot read properties of|Cannot convert|is not a function|is not iterable|is not a constructor|Reduce of empty array/;

export async function fuzzFiles<M>(o: FuzzOptions<M>): Promise<FuzzReport> {
  const maxMs = o.maxMs ?? 2000;
  const report: FuzzReport = { label: o.label, seed: o.seed, cases: 0, reads: 0, loaded: 0, errors: {}, slowestMs: 0, seconds: 0 };
  const started = performance.now();
  const property = fc.asyncProperty(o.mutation, async (m) => {
    const bytes = o.make(m);
    writeFileSync(o.path, bytes);
    report.cases++;
    for (const reader of o.readers) {
      const t0 = performance.now();
      let value: unknown;
      let error: unknown;
      let threw = false;
      try {
        value = await reader.read(o.path, bytes);
      } catch (e) {
        threw = true;
        error = e;
      }
      const ms = performance.now() - t0;
      report.reads++;
      report.slowestMs = Math.max(report.slowestMs, ms);
      try {
        if (ms > maxMs) throw new Error(`${reader.name}: took ${ms.toFixed(0)} ms, more than ${maxMs}`);
        if (threw) {
          checkError(error, o.path, reader.name, o.errors);
          const name = (error as Error).constructor.name;
          report.errors[name] = (report.errors[name] ?? 0) + 1;
        } else {
          checkLoaded(value, reader.name);
          o.check?.(value);
          report.loaded++;
        }
      } finally {
        disposeAll(value);
      }
    }
  });
  await fc.assert(property, { seed: o.seed, numRuns: o.numRuns, plugins: [fc.timeout(maxMs * o.readers.length)] });
  report.seconds = (performance.now() - started) / 1000;
  console.log(`${o.label}: ${report.cases} mutants (seed ${o.seed}), ${report.reads} reads: ${report.loaded} loaded, ` +
    `errors ${JSON.stringify(report.errors)}, slowest ${report.slowestMs.toFixed(1)} ms, ${report.seconds.toFixed(1)} s`);
  return report;
}

function checkError(e: unknown, path: string, reader: string, allowed: ErrorClass[]): void {
  if (!(e instanceof Error)) throw new Error(`${reader}: threw ${String(e)}, not an Error`);
  const what = `${reader}: ${e.constructor.name}: ${e.message}`;
  if (!allowed.some((C) => e instanceof C)) throw new Error(`not one of the readers' own errors: ${what}`);
  if (!e.message.includes(path)) throw new Error(`the message does not name the file: ${what}`);
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (ENGINE.test(c.message)) throw new Error(`an engine error${c === e ? '' : ' wrapped'}: ${what}`);
  }
}

/** Every tensor a loaded value holds lies inside its storage, and `lvmtorch inspect` can show the value. */
function checkLoaded(value: unknown, reader: string): void {
  forEachTensor(value, (t, where) => {
    if (t.isDisposed) throw new Error(`${reader}: ${where} is a disposed tensor`);
    if (t.numel !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`${reader}: ${where}: numel ${t.numel} for shape [${t.shape}]`);
    const [strides, offset, nbytes] = native().layout(rawOf(t));
    if (t.numel === 0) return;
    if (strides.some((s) => s < 0) || offset < 0) throw new Error(`${reader}: ${where}: strides [${strides}], offset ${offset}`);
    const last = offset + t.shape.reduce((a, d, i) => a + (d - 1) * strides[i], 0);
    if ((last + 1) * elementSize(t.dtype) > nbytes) {
      throw new Error(`${reader}: ${where}: [${t.shape}] with strides [${strides}] at offset ${offset} reaches past its storage of ${nbytes} bytes`);
    }
  });
  JSON.stringify(tensorIndex(tree(value)));
}

function forEachTensor(v: unknown, fn: (t: Tensor, where: string) => void, where = '.', seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Tensor) return fn(v, where);
  if (v instanceof TorchStorage) return v.tensor instanceof Tensor ? fn(v.tensor, `${where} (a storage)`) : undefined;
  if (v instanceof Map) {
    for (const [k, x] of v) {
      forEachTensor(k, fn, `${where} key`, seen);
      forEachTensor(x, fn, `${where}.${String(k)}`, seen);
    }
    return;
  }
  const items: [string, unknown][] = Array.isArray(v) || v instanceof Set ? [...v].map((x, i) => [String(i), x]) : Object.entries(v);
  for (const [k, x] of items) forEachTensor(x, fn, `${where}.${k}`, seen);
}

/** Disposes every tensor in a loaded value (containers, Maps and their keys, Sets, records; cycles are fine). */
export function disposeAll(v: unknown, seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Tensor) return v.dispose();
  if (v instanceof Map) {
    for (const [k, x] of v) {
      disposeAll(k, seen);
      disposeAll(x, seen);
    }
    return;
  }
  for (const x of Array.isArray(v) || v instanceof Set ? v : Object.values(v)) disposeAll(x, seen);
}

/** The seed of a run: LVMTORCH_FUZZ_SEED replays another run's; `offset` gives each source a seed of its own. */
export function fuzzSeed(offset: number): number {
  const base = Number(process.env.LVMTORCH_FUZZ_SEED ?? 230523);
  return (base + offset) | 0;
}

/** numRuns scaled by LVMTORCH_FUZZ_SCALE (default 1): a longer campaign without editing the tests. */
export function fuzzRuns(n: number): number {
  return Math.max(1, Math.round(n * Number(process.env.LVMTORCH_FUZZ_SCALE ?? 1)));
}
