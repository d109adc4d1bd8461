// The data layer: windows cut inside documents, splits by document (seeded, disjoint), batches gathered natively
// (checked against plain JS indexing), the seed's .npz layout as numpy writes it (texts, ids, metadata, and the
// document of each row found through the seed's ordered source file), validate()'s errors, and the synthetic
// corpus: deterministic per seed, unit norm, and on held-out documents the baselines its parameters were tuned for.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { Dataset, DatasetError, datasets, torch, type Tensor } from '../dist/index.js';
import { loadNpz, saveNpz } from '../dist/torch/io/tensor-formats.js';
import { pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
if (missing) console.warn(`Python comparisons skipped: ${missing}`);
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A stream of M vectors whose values say where they come from: vector k is [k, k + 0.5, ...]. */
function stream(m: number, d = 4): { vectors: Tensor; rows: number[][] } {
  const rows = all(m).map((k) => all(d).map((j) => k + j / 8));
  return { vectors: torch.tensor(rows, { dtype: 'float32' }), rows };
}

/** Checks that every window of ds (cut from stream()'s vectors) is the `context` vectors before its target, all of
 * one document of `docs`. */
function expectStreamWindows(ds: Dataset, docs: number[], context: number): void {
  const { x, y } = ds.batch(all(ds.size));
  const xs = x.toArray() as number[][][];
  const ys = y.toArray() as number[][];
  for (let i = 0; i < ds.size; i++) {
    const t = ys[i][0];
    const before = all(context).map((j) => t - context + j);
    expect(xs[i].map((v) => v[0])).toEqual(before);
    expect(new Set([...before, t].map((k) => docs[k])).size).toBe(1);
    expect(ds.docIds![i]).toBe(docs[t]);
  }
  for (const t of [x, y]) t.dispose();
}

/** Errors thrown by fn, as a DatasetError's message. */
function datasetError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DatasetError);
    return (e as Error).message;
  }
  throw new Error('no error thrown');
}

describe('windows', () => {
  it('never cross a document boundary, and cover every target that has a full context in its document', () => {
    const docs = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 0];
    const w = datasets.cutWindows(docs, 3);
    const ctx = Array.from(w.contextIndex, Number);
    const targets = Array.from(w.targetIndex, Number);
    expect(targets).toEqual([3, 7, 8, 9, 15, 16]);
    for (let i = 0; i < w.count; i++) {
      const rows = [...ctx.slice(i * 3, i * 3 + 3), targets[i]];
      expect(rows).toEqual([targets[i] - 3, targets[i] - 2, targets[i] - 1, targets[i]]);
      expect(new Set(rows.map((r) => docs[r])).size).toBe(1);
      expect(w.docIds[i]).toBe(docs[targets[i]]);
    }
  });

  it('fromVectors keeps each window inside its document and reads the stream\'s values', () => {
    const { vectors, rows } = stream(17);
    const docs = [5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 1, 1, 1, 1];
    const ds = datasets.fromVectors(vectors, docs, { context: 3 });
    vectors.dispose(); // the dataset holds its own reference
    expect(ds.size).toBe(3 + 4 + 1);
    expect([ds.context, ds.dim, ds.numDocuments]).toEqual([3, 4, 3]);
    expectStreamWindows(ds, docs, 3);
    expect(rows.length).toBe(17);
    ds.dispose();
  });

  it('fromVectors refuses docIds of the wrong length and non-float vectors', () => {
    const { vectors } = stream(6);
    expect(datasetError(() => datasets.fromVectors(vectors, [0, 0, 0], { context: 2 }))).toMatch(/docIds has 3 entries for 6 vectors/);
    const ints = torch.zeros([6, 4], { dtype: 'int64' });
    expect(datasetError(() => datasets.fromVectors(ints, all(6)))).toMatch(/floating point, got int64/);
    for (const t of [vectors, ints]) t.dispose();
  });
});

describe('batches', () => {
  const { vectors, rows } = stream(40, 3);
  const docs = all(40).map((k) => Math.floor(k / 10));
  const ds = datasets.fromVectors(vectors, docs, { context: 4 });
  vectors.dispose();
  afterAll(() => ds.dispose());
  const targetOf = (row: number): number => Number(ds.targetIndex.toTypedArray()[row]);

  it('gather exactly the rows asked for, as plain JS indexing of the vectors does', () => {
    const picked = [5, 0, 23, 5, 11];
    const { x, y } = ds.batch(picked);
    expect([...x.shape]).toEqual([5, 4, 3]);
    const ctx = Array.from(ds.contextIndex.toTypedArray() as BigInt64Array, Number);
    const want = picked.map((r) => ctx.slice(r * 4, r * 4 + 4).map((k) => rows[k]));
    expect(x.toArray()).toEqual(want);
    expect(y.toArray()).toEqual(picked.map((r) => rows[targetOf(r)]));
    const viaTensor = ds.batch(torch.tensor(picked, { dtype: 'int64' }));
    expect(viaTensor.x.toArray()).toEqual(want);
    for (const t of [x, y, viaTensor.x, viaTensor.y]) t.dispose();
  });

  it('visit every row once, in a seeded order that torch\'s generator does not change', () => {
    const order = (seed: number, drop = false) => {
      const out: number[] = [];
      for (const { x, y } of ds.batches({ batchSize: 7, shuffle: true, seed, dropLast: drop })) {
        out.push(...(y.select(1, 0).toArray() as number[]));
        x.dispose();
        y.dispose();
      }
      return out;
    };
    torch.manualSeed(1);
    const a = order(42);
    torch.manualSeed(2);
    torch.randn([100]).dispose();
    expect(order(42)).toEqual(a);
    expect(order(43)).not.toEqual(a);
    expect([...a].sort((p, q) => p - q)).toEqual(all(ds.size).map(targetOf).sort((p, q) => p - q));
    expect(order(42, true)).toEqual(a.slice(0, Math.floor(ds.size / 7) * 7));
    const inOrder: number[] = [];
    for (const { x, y } of ds.batches({ batchSize: 8 })) {
      inOrder.push(...(y.select(1, 0).toArray() as number[]));
      x.dispose();
      y.dispose();
    }
    expect(inOrder).toEqual(all(ds.size).map(targetOf));
    expect(ds.numBatches(7)).toBe(Math.ceil(ds.size / 7));
    expect(() => ds.batches({ batchSize: 0 }).next()).toThrow(RangeError);
  });

  it('grouped by document: each document\'s rows together, every row once, documents and rows in a seeded order', () => {
    const docOf = (v: number) => Math.floor(rows.findIndex((r) => r[0] === v) / 10);
    const visit = (seed: number) => {
      const out: number[] = [];
      for (const { x, y } of ds.batches({ batchSize: 5, shuffle: true, seed, group: 'document' })) {
        out.push(...(y.select(1, 0).toArray() as number[]));
        x.dispose();
        y.dispose();
      }
      return out;
    };
    const a = visit(7);
    expect([...a].sort((p, q) => p - q)).toEqual(all(ds.size).map((r) => rows[targetOf(r)][0]).sort((p, q) => p - q));
    const docsInOrder = a.map(docOf);
    const runs = docsInOrder.filter((d, i) => i === 0 || d !== docsInOrder[i - 1]);
    expect(runs.length).toBe(4);  // 4 documents, each one run
    expect(new Set(runs).size).toBe(4);
    expect(visit(7)).toEqual(a);
    expect(visit(8)).not.toEqual(a);
    const bare = new Dataset({ vectors: ds.vectors.clone(), contextIndex: ds.contextIndex.clone(), targetIndex: ds.targetIndex.clone() });
    expect(() => bare.batches({ batchSize: 5, shuffle: true, group: 'document' }).next()).toThrow(/grouped by document need docIds/);
    bare.dispose();
  });

  it('with candidates: every vector of the batch\'s documents once, each row\'s target and context located among them', () => {
    const docOfVector = (v: number) => Math.floor(rows.findIndex((r) => r[0] === v) / 10);
    let batches = 0;
    for (const { x, y, candidates } of ds.batches({ batchSize: 8, shuffle: true, seed: 3, group: 'document', candidates: true })) {
      const c = candidates!;
      const firsts = (t: torch.Tensor) => (t.toArray() as number[][]).map((r) => r[0]);
      const docs = new Set(firsts(y).map(docOfVector));
      const want = rows.filter((_, k) => docs.has(Math.floor(k / 10))).map((r) => r[0]);
      expect(firsts(c.vectors).sort((p, q) => p - q)).toEqual(want.sort((p, q) => p - q));
      expect(c.vectors.indexSelect(0, c.positive).toArray()).toEqual(y.toArray());
      expect(c.context.shape).toEqual([y.shape[0], 4]);
      expect(c.vectors.indexSelect(0, c.context.view(-1)).view(y.shape[0], 4, 3).toArray()).toEqual(x.toArray());
      for (const t of [x, y, c.vectors, c.positive, c.context]) t.dispose();
      batches++;
    }
    expect(batches).toBe(3);
    const bare = new Dataset({ vectors: ds.vectors.clone(), contextIndex: ds.contextIndex.clone(), targetIndex: ds.targetIndex.clone() });
    expect(() => bare.batches({ batchSize: 5, candidates: true }).next()).toThrow(/document candidates need docIds/);
    bare.dispose();
  });

  it('refuse rows outside the dataset', () => {
    expect(() => ds.batch([0, ds.size])).toThrow(/row 24 \(at position 1\) is not a row of a dataset of 24 rows/);
    expect(() => ds.subset([-1])).toThrow(RangeError);
  });

  it('subsets share the vectors and outlive their parent', () => {
    const parent = ds.subset(all(ds.size));
    const child = parent.subset([3, 1]);
    expect(child.vectors.sharesStorageWith(ds.vectors)).toBe(true);
    parent.dispose();
    expect(() => parent.size).toThrow(/disposed/);
    const { y } = child.batch([0, 1]);
    expect(y.toArray()).toEqual([rows[targetOf(3)], rows[targetOf(1)]]);
    expect(Array.from(child.docIds!)).toEqual([ds.docIds![3], ds.docIds![1]]);
    y.dispose();
    expect(child.to('cpu')).toBe(child);
    child.dispose();
    expect(ds.size).toBe(24);
  });
});

describe('splitByDocument', () => {
  const { vectors } = stream(300, 2);
  const docs = all(300).map((k) => Math.floor(k / 10) * 3 + 1); // 30 documents of 10 vectors
  const ds = datasets.fromVectors(vectors, docs, { context: 5 });
  vectors.dispose();
  afterAll(() => ds.dispose());
  const docsOf = (d: Dataset) => new Set(d.docIds);
  const targets = (d: Dataset) => Array.from(d.targetIndex.toTypedArray() as BigInt64Array, Number);

  it('puts whole documents in one split each, 80/10/10 by default, the same for the same seed', () => {
    const s = datasets.splitByDocument(ds, { seed: 7 });
    expect(s.warnings).toEqual([]);
    const [tr, va, te] = [docsOf(s.train), docsOf(s.val), docsOf(s.test)];
    expect([tr.size, va.size, te.size]).toEqual([24, 3, 3]);
    for (const d of va) expect(tr.has(d) || te.has(d)).toBe(false);
    for (const d of te) expect(tr.has(d)).toBe(false);
    expect(s.train.size + s.val.size + s.test.size).toBe(ds.size);
    const again = datasets.splitByDocument(ds, { seed: 7 });
    expect(targets(again.val)).toEqual(targets(s.val));
    expect(targets(again.test)).toEqual(targets(s.test));
    const other = datasets.splitByDocument(ds, { seed: 8 });
    expect(targets(other.val)).not.toEqual(targets(s.val));
    for (const x of [s, again, other]) for (const d of [x.train, x.val, x.test]) d.dispose();
  });

  it('takes other fractions, and gives every split with a share at least one document', () => {
    const s = datasets.splitByDocument(ds, { train: 0.5, val: 0.5, test: 0, seed: 1 });
    expect([docsOf(s.train).size, docsOf(s.val).size, s.test.size]).toEqual([15, 15, 0]);
    const two = ds.subset(all(10)); // 2 documents
    const few = datasets.splitByDocument(two, { train: 0.98, val: 0.01, test: 0.01 });
    two.dispose();
    expect([few.train.numDocuments, few.val.numDocuments, few.test.size]).toEqual([1, 1, 0]);
    expect(few.warnings.join()).toMatch(/only 2 document\(s\) for 3 splits/);
    expect(() => datasets.splitByDocument(ds, { train: -1 })).toThrow(RangeError);
    for (const x of [s, few]) for (const d of [x.train, x.val, x.test]) d.dispose();
  });

  it('without document ids, splits rows at random and warns that windows may leak', () => {
    const noDocs = new Dataset({
      vectors: ds.vectors.clone(), contextIndex: ds.contextIndex.clone(), targetIndex: ds.targetIndex.clone(),
    });
    const s = datasets.splitByDocument(noDocs, { seed: 3 });
    expect(s.warnings.join()).toMatch(/no document ids.*rows were split at random.*may sit in train and in val\/test/);
    expect([s.train.size, s.val.size, s.test.size]).toEqual([120, 15, 15]);
    const seen = [...targets(s.train), ...targets(s.val), ...targets(s.test)].sort((a, b) => a - b);
    expect(seen).toEqual(targets(noDocs).sort((a, b) => a - b));
    const again = datasets.splitByDocument(noDocs, { seed: 3 });
    expect(targets(again.val)).toEqual(targets(s.val));
    for (const x of [s, again]) for (const d of [x.train, x.val, x.test]) d.dispose();
    noDocs.dispose();
  });
});

describe('validate', () => {
  const good = () => {
    const { vectors } = stream(30, 4);
    const ds = datasets.fromVectors(vectors, all(30).map((k) => Math.floor(k / 10)), { context: 3 });
    vectors.dispose();
    return ds;
  };
  const make = (parts: { vectors?: Tensor; contextIndex?: Tensor; targetIndex?: Tensor; oracle?: Tensor; docIds?: number[] }) => {
    const base = good();
    const ds = new Dataset({
      vectors: parts.vectors ?? base.vectors.clone(),
      contextIndex: parts.contextIndex ?? base.contextIndex.clone(),
      targetIndex: parts.targetIndex ?? base.targetIndex.clone(),
      oracle: parts.oracle, docIds: parts.docIds,
    });
    base.dispose();
    return ds;
  };
  const problem = (ds: Dataset, opts: datasets.ValidateOptions = {}) => {
    try {
      return datasetError(() => datasets.validate(ds, { name: 'train', ...opts }));
    } finally {
      ds.dispose();
    }
  };

  it('passes good data, and returns it', () => {
    const ds = good();
    expect(datasets.validate(ds, { batchSize: 21 })).toBe(ds);
    ds.dispose();
  });

  it('names wrong ranks and shapes', () => {
    expect(problem(make({ vectors: torch.zeros([30, 4, 1]) }))).toMatch(/^train: vectors must be \[M, D\].*got shape \[30, 4, 1\]/);
    expect(problem(make({ contextIndex: torch.arange(21) }))).toMatch(/contextIndex must be \[N, T\], got shape \[21\]/);
    expect(problem(make({ targetIndex: torch.arange(21).view(21, 1) }))).toMatch(/targetIndex must be \[N\], got shape \[21, 1\]/);
    expect(problem(make({ targetIndex: torch.arange(20) }))).toMatch(/contextIndex has 21 rows but targetIndex 20/);
    expect(problem(make({ targetIndex: torch.arange(21).float() }))).toMatch(/targetIndex must be int64, got float32/);
    expect(problem(make({ contextIndex: torch.zeros([21, 0], { dtype: 'int64' }) }))).toMatch(/the context is empty/);
    expect(problem(make({ targetIndex: torch.arange(10, 31) }))).toMatch(/indices out of range: the vectors have 30 rows.*targetIndex 10\.\.30/);
    expect(problem(make({ docIds: [1, 2] }))).toMatch(/docIds has 2 entries for 21 rows/);
  });

  it('names a non-float dtype and a mismatched D', () => {
    expect(problem(make({ vectors: torch.zeros([30, 4], { dtype: 'int32' }) }))).toMatch(/vectors must be floating point \(float32\), got int32/);
    expect(problem(make({ oracle: torch.zeros([21, 5]) }))).toMatch(/oracle must be \[N, D\] = \[21, 4\], got shape \[21, 5\]/);
    expect(problem(good(), { dim: 768 })).toMatch(/the vectors are 4-D, but 768-D are expected/);
  });

  it('counts rows holding NaN or Inf and names the first', () => {
    const { vectors } = stream(30, 4);
    const values = vectors.toTypedArray() as Float32Array;
    vectors.dispose();
    values[12 * 4 + 1] = NaN; // vector 12 (document 1 is vectors 10..19): in the contexts of rows 7, 8 and 9
    values[29 * 4] = Infinity; // vector 29: the target of row 20
    const bad = torch.tensor(values, { shape: [30, 4] });
    const ds = datasets.fromVectors(bad, all(30).map((k) => Math.floor(k / 10)), { context: 3 });
    bad.dispose();
    expect(problem(ds)).toMatch(/4 of 21 rows hold NaN or Inf values in their context or target \(first: row 7\)/);
    const nanOracle = torch.zeros([21, 4]);
    const withOracle = make({ oracle: nanOracle.maskedFill(torch.arange(21).eq(5).unsqueeze(1).expand(21, 4), NaN) });
    nanOracle.dispose();
    expect(problem(withOracle)).toMatch(/1 oracle rows hold NaN or Inf values \(first: row 5\)/);
  });

  it('names too few rows for a batch, and an empty split', () => {
    expect(problem(good(), { batchSize: 64 })).toMatch(/^train: it has 21 rows, fewer than one batch of 64/);
    const ds = good();
    const empty = ds.subset([]);
    ds.dispose();
    expect(problem(empty, { name: 'val' })).toMatch(/empty \(0 rows\)/);
  });

  it('lists every problem at once', () => {
    const msg = problem(make({ vectors: torch.zeros([30, 4], { dtype: 'int64' }), docIds: [1] }), { batchSize: 100 });
    expect(msg.split('; ').length).toBe(3);
  });
});

describe('fromNpz of files numpy wrote in the seed\'s layout', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  type Written = {
    seed: { context: number[][][]; target: number[][]; texts: string[]; ids: string[] };
    docs: { doc_ids: number[]; oracle: number[][] };
    meta_rows: { articles: string[] };
    pipeline: { rows: number; crossing: number[]; target_docs: string[] };
  };
  const py = missing ? undefined : runPython<Written>('data_npz.py', { mode: 'write', dir });

  it('reads contexts, targets, texts, ids and metadata exactly (np.savez_compressed, object arrays)', () => {
    const ds = datasets.fromNpz(at('seed.npz'));
    expect([ds.size, ds.context, ds.dim]).toEqual([7, 5, 6]);
    const { x, y } = ds.batch(all(7));
    expect(x.toArray()).toEqual(py!.seed.context);
    expect(y.toArray()).toEqual(py!.seed.target);
    expect(ds.texts).toEqual(py!.seed.texts);
    expect(ds.ids).toEqual(py!.seed.ids);
    expect(ds.metadata).toMatchObject({ num_sequences: 7, context_size: 5, vector_dim: 6 });
    expect(ds.docIds).toBeUndefined(); // its source_npz is not there: no document ids
    expect(ds.oracle).toBeUndefined();
    for (const t of [x, y]) t.dispose();
    ds.dispose();
  });

  it('takes doc_ids and oracle_vectors when present (np.savez, a unicode texts array)', () => {
    const ds = datasets.fromNpz(at('docs.npz'));
    expect(Array.from(ds.docIds!)).toEqual(py!.docs.doc_ids);
    expect(ds.oracle!.toArray()).toEqual(py!.docs.oracle);
    expect(ds.texts).toEqual(py!.seed.texts);
    ds.dispose();
  });

  it('finds documents in per-row metadata dicts', () => {
    const ds = datasets.fromNpz(at('meta_rows.npz'));
    const names = py!.meta_rows.articles;
    const ids = Array.from(ds.docIds!);
    for (let i = 0; i < names.length; i++) for (let j = 0; j < names.length; j++) {
      expect(ids[i] === ids[j]).toBe(names[i] === names[j]);
    }
    ds.dispose();
  });

  it('finds documents through the seed\'s ordered source file, and drops windows that cross articles', () => {
    const p = py!.pipeline;
    const kept = all(p.rows).filter((i) => !p.crossing.includes(i));
    const ds = datasets.fromNpz(at('pipeline.npz'));
    expect(ds.size).toBe(kept.length);
    expect(ds.warnings.join()).toMatch(new RegExp(`${p.crossing.length} of ${p.rows} windows read across a document boundary \\(first: row ${p.crossing[0]}\\); they were dropped`));
    const names = kept.map((i) => p.target_docs[i]);
    for (let i = 0; i < kept.length; i++) for (let j = 0; j < kept.length; j++) {
      expect(ds.docIds![i] === ds.docIds![j]).toBe(names[i] === names[j]);
    }
    const all_ = datasets.fromNpz(at('pipeline.npz'), { crossing: 'keep' });
    expect(all_.size).toBe(p.rows);
    expect(all_.warnings.join()).toMatch(/kept, as asked/);
    const none = datasets.fromNpz(at('pipeline.npz'), { source: false });
    expect(none.docIds).toBeUndefined();
    expect(() => datasets.fromNpz(at('seed.npz'), { source: at('nowhere.npz') })).toThrow(/does not exist/);
    for (const d of [ds, all_, none]) d.dispose();
  });

  it('names what is wrong with a file: missing arrays, ranks, D, dtype', () => {
    const write = (name: string, arrays: Record<string, Tensor>) => {
      saveNpz(arrays, at(name));
      for (const t of Object.values(arrays)) t.dispose();
      return at(name);
    };
    const f1 = write('no-target.npz', { context_sequences: torch.zeros([2, 5, 3]) });
    expect(datasetError(() => datasets.fromNpz(f1))).toMatch(/no 'target_vectors' array \(it holds context_sequences\)/);
    const f2 = write('rank.npz', { context_sequences: torch.zeros([2, 15]), target_vectors: torch.zeros([2, 3]) });
    expect(datasetError(() => datasets.fromNpz(f2))).toMatch(/'context_sequences' must be \[N, T, D\], got shape \[2, 15\]/);
    const f3 = write('dim.npz', { context_sequences: torch.zeros([2, 5, 3]), target_vectors: torch.zeros([2, 4]) });
    expect(datasetError(() => datasets.fromNpz(f3))).toMatch(/the context vectors are 3-D but the targets 4-D/);
    const f4 = write('rows.npz', { context_sequences: torch.zeros([2, 5, 3]), target_vectors: torch.zeros([3, 3]) });
    expect(datasetError(() => datasets.fromNpz(f4))).toMatch(/has 2 rows but 'target_vectors' 3/);
    const f5 = write('ints.npz', { context_sequences: torch.zeros([2, 5, 3], { dtype: 'int32' }), target_vectors: torch.zeros([2, 3]) });
    expect(datasetError(() => datasets.fromNpz(f5))).toMatch(/'context_sequences' must be floating point \(float32\), got int32/);
    const f6 = write('keys.npz', { ctx: torch.ones([2, 5, 3]), tgt: torch.ones([2, 3]), doc: torch.tensor([4, 4]) });
    const renamed = datasets.fromNpz(f6, { keys: { context: 'ctx', target: 'tgt', docIds: 'doc' } });
    expect([renamed.size, renamed.numDocuments]).toEqual([2, 1]);
    renamed.dispose();
  });
});

describe('the synthetic corpus', () => {
  it('is the same for a seed and differs across seeds', () => {
    const a = datasets.synthesize({ docs: 6, sentencesPerDoc: 8, dim: 64, seed: 5 });
    const b = datasets.synthesize({ docs: 6, sentencesPerDoc: 8, dim: 64, seed: 5 });
    const c = datasets.synthesize({ docs: 6, sentencesPerDoc: 8, dim: 64, seed: 6 });
    expect(a.vectors.toArray()).toEqual(b.vectors.toArray());
    expect(a.oracle.toArray()).toEqual(b.oracle.toArray());
    expect(a.vectors.toArray()).not.toEqual(c.vectors.toArray());
    expect([...a.vectors.shape, ...a.oracle.shape]).toEqual([48, 64, 18, 64]);
    expect(Array.from(a.docIds)).toEqual(all(48).map((k) => Math.floor(k / 8)));
    for (const x of [a, b, c]) { x.vectors.dispose(); x.oracle.dispose(); }
    expect(() => datasets.synthesize({ hiddenDim: 7 })).toThrow(/even/);
    expect(() => datasets.synthesize({ sentencesPerDoc: 5 })).toThrow(/must exceed the context/);
  });

  // The default corpus, as `lvmtorch train` uses it. Tuned (test/python/data_baselines.py on this split):
  // val mean 0.481, copy-last 0.502, ridge 0.681, oracle 0.938, seed-style GRU (d_model 256) 0.914.
  const corpus = datasets.synthesize();
  const ds = datasets.corpusDataset(corpus);
  afterAll(() => {
    ds.dispose();
    corpus.vectors.dispose();
    corpus.oracle.dispose();
  });

  it('has unit-norm vectors and oracle predictions, 500 documents, 9,500 windows', () => {
    const norms = corpus.vectors.norm(2, 1);
    expect(Number(norms.sub(1).abs().amax().item())).toBeLessThan(1e-5);
    const oracleNorms = corpus.oracle.norm(2, 1);
    expect(Number(oracleNorms.sub(1).abs().amax().item())).toBeLessThan(1e-5);
    for (const t of [norms, oracleNorms]) t.dispose();
    expect([ds.size, ds.numDocuments, ds.dim, ds.context]).toEqual([9500, 500, 768, 5]);
    datasets.validate(ds, { batchSize: 64, dim: 768 });
  });

  it('scores as tuned on held-out documents: global mean ~0.48, oracle ~0.94', () => {
    const stats = datasets.datasetStats(ds);
    console.log(`synthetic corpus, val documents: mean ${stats.meanCosine.toFixed(4)}, copy-last ` +
      `${stats.copyLastCosine.toFixed(4)}, oracle ${stats.oracleCosine.toFixed(4)}`);
    expect(stats.valWindows).toBe(950);
    expect(stats.meanCosine).toBeGreaterThanOrEqual(0.45);
    expect(stats.meanCosine).toBeLessThanOrEqual(0.52);
    expect(stats.oracleCosine).toBeCloseTo(0.938, 2);
    expect(stats.copyLastCosine).toBeGreaterThan(0.4);
    expect(stats.copyLastCosine).toBeLessThan(0.65);
    // Another seed of the corpus and of the split: the same statistics.
    const other = datasets.synthetic({ seed: 11, docs: 200 });
    const s2 = datasets.datasetStats(other, { seed: 4 });
    other.dispose();
    expect(s2.meanCosine).toBeGreaterThanOrEqual(0.45);
    expect(s2.meanCosine).toBeLessThanOrEqual(0.52);
    expect(s2.oracleCosine).toBeGreaterThan(0.92);
    expect(s2.oracleCosine).toBeLessThan(0.955);
  });

  it('the oracle is what the dynamics predict: far better than the last context vector on every split', () => {
    const s = datasets.splitByDocument(ds, { seed: 0 });
    for (const part of [s.train, s.val, s.test]) {
      const { x, y } = part.batch(all(part.size));
      const oracle = Number(part.oracle!.cosineSimilarity(y, 1).mean().item());
      const last = Number(x.select(1, -1).cosineSimilarity(y, 1).mean().item());
      expect(oracle).toBeGreaterThan(0.92);
      expect(oracle - last).toBeGreaterThan(0.25);
      for (const t of [x, y]) t.dispose();
      part.dispose();
    }
  });

  it('writes the seed\'s layout plus doc_ids and oracle_vectors, which fromNpz reads back exactly', (ctx) => {
    const small = datasets.synthesize({ docs: 12, sentencesPerDoc: 9, seed: 2 });
    const path = at('synth.npz');
    const stats = datasets.saveSynthetic(small, path);
    expect([stats.windows, stats.docs, stats.vectors]).toEqual([48, 12, 108]);
    const direct = datasets.corpusDataset(small);
    const read = datasets.fromNpz(path);
    expect(Array.from(read.docIds!)).toEqual(Array.from(direct.docIds!));
    const [a, b] = [direct.batch(all(48)), read.batch(all(48))];
    expect(b.x.toArray()).toEqual(a.x.toArray());
    expect(b.y.toArray()).toEqual(a.y.toArray());
    expect(read.oracle!.toArray()).toEqual(direct.oracle!.toArray());
    for (const t of [a.x, a.y, b.x, b.y, small.vectors, small.oracle]) t.dispose();
    direct.dispose();
    read.dispose();
    // numpy reads the file as the seed's loader does: without PyTorch here, the test skips, saying why.
    skipUnless(ctx, missing);
    const r = runPython<{ arrays: Record<string, { dtype: string; shape: number[] }>; shifted: boolean; max_norm_error: number; docs: number }>(
      'data_npz.py', { mode: 'read_synthetic', path });
    expect(r.arrays).toEqual({
      context_sequences: { dtype: 'float32', shape: [48, 5, 768] }, target_vectors: { dtype: 'float32', shape: [48, 768] },
      sequence_positions: { dtype: 'int32', shape: [48] }, doc_ids: { dtype: 'int64', shape: [48] },
      oracle_vectors: { dtype: 'float32', shape: [48, 768] },
    });
    expect(r.shifted).toBe(true);
    expect(r.max_norm_error).toBeLessThan(1e-5);
    expect(r.docs).toBe(12);
  });
});

describe('an ordered vectors file (vectors + doc_ids, windows cut on reading)', () => {
  const docs = [5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 1, 1, 1, 1];
  const write = (name: string, arrays: Record<string, Tensor>) => {
    saveNpz(arrays, at(name));
    for (const t of Object.values(arrays)) t.dispose();
    return at(name);
  };

  it('fromNpz cuts the windows inside each document, as fromVectors does, under either document key', () => {
    for (const key of ['doc_ids', 'batch_ids']) {
      const file = write(`ordered-${key}.npz`, { vectors: stream(17).vectors, [key]: torch.tensor(docs, { dtype: 'int32' }) });
      const ds = datasets.fromNpz(file, { context: 3 });
      expect([ds.size, ds.context, ds.dim, ds.numDocuments]).toEqual([3 + 4 + 1, 3, 4, 3]);
      expectStreamWindows(ds, docs, 3);
      ds.dispose();
    }
    const five = datasets.fromOrderedNpz(at('ordered-doc_ids.npz'));
    expect(five.size).toBe(1 + 2); // context 5 by default: 6 - 5 + 7 - 5, and the 4-vector document has none
    five.dispose();
  });

  it('names what is wrong: no document ids, the wrong count, no window that fits, integer vectors', () => {
    const f1 = write('ordered-nodocs.npz', { vectors: stream(6).vectors });
    expect(datasetError(() => datasets.fromNpz(f1))).toMatch(/no 'context_sequences' array \(it holds vectors\).*or is an ordered vectors file/);
    expect(datasetError(() => datasets.fromOrderedNpz(f1))).toMatch(/needs 'vectors' \[N, D\] and one of batch_ids \/ doc_ids/);
    const f2 = write('ordered-count.npz', { vectors: stream(6).vectors, doc_ids: torch.tensor([0, 0, 1], { dtype: 'int32' }) });
    expect(datasetError(() => datasets.fromNpz(f2))).toMatch(/docIds has 3 entries for 6 vectors/);
    const f3 = write('ordered-short.npz', { vectors: stream(6).vectors, doc_ids: torch.tensor(all(6), { dtype: 'int32' }) });
    expect(datasetError(() => datasets.fromNpz(f3))).toMatch(/no document has more than 5 vectors/);
    const f4 = write('ordered-ints.npz', { vectors: torch.zeros([6, 4], { dtype: 'int64' }), doc_ids: torch.zeros([6], { dtype: 'int32' }) });
    expect(datasetError(() => datasets.fromNpz(f4, { context: 2 }))).toMatch(/vectors must be floating point, got int64/);
    expect(datasetError(() => datasets.fromOrderedNpz(f3, { context: 0 }))).toMatch(/context must be a positive integer, got 0/);
  });

  it('lvmtorch train --data reads one and trains on its windows', () => {
    const rows = all(240).map((k) => all(8).map((j) => Math.sin(k * 0.3 + j)));
    const file = write('ordered-train.npz', {
      vectors: torch.tensor(rows, { dtype: 'float32' }), doc_ids: torch.tensor(all(240).map((k) => Math.floor(k / 12)), { dtype: 'int32' }),
    });
    const out = at('ordered-run');
    const r = spawnSync(process.execPath, [cli, 'train', '--data', file, '--context', '3', '--epochs', '1', '--d-model', '16',
      '--layers', '1', '--batch-size', '8', '--out', out, '--no-progress'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ridge/);
    expect(JSON.parse(readFileSync(join(out, 'training_history.json'), 'utf8')).history).toHaveLength(1);
  });
});

describe('the committed real-text sample (test/fixtures/debian-docs-sample.npz, scripts/corpus/)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/debian-docs-sample.npz', import.meta.url));
  const info = JSON.parse(readFileSync(fixture.replace(/\.npz$/, '.json'), 'utf8')) as { sentences: number; documents: number };

  it('reads as an ordered vectors file: what its .json says, unit-norm 512-D sentence vectors, windows inside documents', () => {
    const ds = datasets.fromNpz(fixture);
    const { vectors, doc_ids: docIds } = loadNpz(fixture, { keys: ['vectors', 'doc_ids'] });
    expect([vectors.shape[0], ds.dim, ds.numDocuments]).toEqual([info.sentences, 512, info.documents]);
    // USE Lite's vectors are unit-norm, as the centred cosine and val_loss assume.
    expect(vectors.norm(2, 1).sub(1).abs().max().item()).toBeLessThan(1e-3);
    // Every document of n sentences gives n - 5 windows.
    const docs = Array.from(docIds.toTypedArray() as Int32Array);
    const lengths = new Map<number, number>();
    for (const d of docs) lengths.set(d, (lengths.get(d) ?? 0) + 1);
    expect(ds.size).toBe([...lengths.values()].reduce((n, len) => n + Math.max(0, len - 5), 0));
    for (const t of [vectors, docIds]) t.dispose();
    ds.dispose();
  });
});

describe('the data command', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'data', ...args], { encoding: 'utf8' });

  it('synth writes a corpus and prints its stats; info describes it', () => {
    const path = at('cli.npz');
    const w = run('synth', '--out', path, '--docs', '20', '--sentences', '10', '--seed', '4');
    expect(w.status, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/wrote .*cli\.npz .*: 100 windows of 5 x 768-D from 20 documents of 10 sentences/);
    expect(w.stdout).toMatch(/oracle\s+\d+\.\d+%/);
    expect(w.stdout).toMatch(/global mean\s+\d+\.\d+%/);
    const i = run('info', path, '--json');
    expect(i.status, i.stderr).toBe(0);
    const info = JSON.parse(i.stdout);
    expect(info).toMatchObject({ rows: 100, dim: 768, context: 5, documents: 20, oracle: true, problems: [] });
    const text = run('info', path);
    expect(text.stdout).toMatch(/100 rows, context 5 x 768-D, 20 documents, with an oracle/);
    expect(text.stdout).toMatch(/no NaN or Inf/);
  });

  it('info exits 1 naming NaN rows; a bad file exits 1 with one line', () => {
    const values = new Float32Array(3 * 6 * 4).fill(0.5);
    values[2 * 24 + 5] = NaN;
    saveNpz({ context_sequences: torch.tensor(values, { shape: [3, 6, 4] }).slice(1, 0, 5).contiguous(),
      target_vectors: torch.ones([3, 4]) }, at('nan.npz'));
    const r = run('info', at('nan.npz'));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/1 of 3 rows hold NaN or Inf values in their context or target \(first: row 2\)/);
    expect(r.stdout).toMatch(/no document ids/);
    const bad = run('info', at('nowhere.npz'));
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
