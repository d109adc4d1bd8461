// Retrieval metrics (issue 24): the true next sentence ranked among its own document's sentences (in-document MRR,
// top-1), the contrastive accuracy over other documents' targets, against a row-by-row reference in PyTorch
// (test/python/retrieval.py), on an ordered dataset (vectors shared between windows, a sentence repeated), a
// windowed file (a copy of each vector per row) and rows without documents; then where they show: the baselines,
// the Trainer's history and --monitor, the summary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  computeBaselines, datasets, formatSummary, models, scorePredictions, torch, Trainer, type Dataset, type Metrics, type Tensor, LOSS_PRESETS,
} from '../dist/index.js';
import { LOSS_PRESETS, torch } from '../dist/index.js';
import { createServer } from '../dist/lvm/serve/index.js';
import { needPython, runPython } from './helpers/python.js';

const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-retrieval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Reference { mrr: number; contrastive_accuracy: number | null; in_doc_mrr: number | null; in_doc_top1: number | null; in_doc_candidates: number | null }

// An ordered stream of 7 documents of 9-20 sentences (16-D), sentence 3 of document 0 said again as its sentence 6
// (inside the context of the windows that predict 7 and 8) and as document 2's first.
function orderedStream(): { vectors: Tensor; docIds: number[] } {
  torch.manualSeed(24);
  const lengths = [12, 9, 20, 15, 10, 18, 11];
  const docIds = lengths.flatMap((n, d) => Array<number>(n).fill(d));
  const vectors = torch.randn([docIds.length, 16]);
  vectors.slice(0, 6, 7).copy_(vectors.slice(0, 3, 4));
  vectors.slice(0, 21, 22).copy_(vectors.slice(0, 3, 4));
  return { vectors, docIds };
}

// Predictions around the targets, noisy enough that the ranks spread over the candidates.
function predictionsFor(ds: Dataset, noise: number): Tensor {
  torch.manualSeed(7);
  const target = ds.vectors.indexSelect(0, ds.targetIndex);
  const pred = target.add(torch.randn(target.shape).mul(noise));
  target.dispose();
  return pred;
}

async function compare(ds: Dataset, pred: Tensor, label: string): Promise<Metrics> {
  const target = ds.vectors.indexSelect(0, ds.targetIndex);
  const got = await scorePredictions(pred, target, { rows: ds });
  const path = join(dir, `${label}.npz`);
  const arrays: Record<string, Tensor> = { pred, vectors: ds.vectors, context_index: ds.contextIndex, target_index: ds.targetIndex };
  const docIds = ds.docIds && torch.tensor(ds.docIds);
  if (docIds) arrays.doc_ids = docIds;
  torch.saveNpz(arrays, path);
  docIds?.dispose();
  target.dispose();
  const want = runPython<Reference>('retrieval.py', { path });
  expect(got.mrr, `${label}: MRR`).toBeCloseTo(want.mrr, 9);
  expect(got.contrastiveAccuracy, `${label}: CA`).toBeCloseTo(want.contrastive_accuracy!, 9);
  if (want.in_doc_mrr === null) {
    expect(got.inDocMrr, `${label}: no documents, no in-document MRR`).toBeUndefined();
  } else {
    expect(got.inDocMrr, `${label}: in-document MRR`).toBeCloseTo(want.in_doc_mrr, 9);
    expect(got.inDocTop1, `${label}: in-document top-1`).toBeCloseTo(want.in_doc_top1!, 9);
    expect(got.inDocCandidates, `${label}: candidates`).toBeCloseTo(want.in_doc_candidates!, 9);
  }
  console.log(`${label}: ${ds.size} rows, MRR ${got.mrr.toFixed(4)}, CA ${got.contrastiveAccuracy?.toFixed(4)}, in-doc MRR ` +
    `${got.inDocMrr?.toFixed(4) ?? '-'} top-1 ${got.inDocTop1?.toFixed(4) ?? '-'} among ${got.inDocCandidates?.toFixed(2) ?? '-'}`);
  return got;
}

describe('retrieval metrics, as a row-by-row PyTorch reference computes them', () => {
  it('an ordered dataset: windows share their vectors, a sentence repeats inside a context and across documents', async (ctx) => {
    needPython(ctx);
    const { vectors, docIds } = orderedStream();
    const ds = datasets.fromVectors(vectors, docIds, { context: 5 });
    const pred = predictionsFor(ds, 2.5);
    const m = await compare(ds, pred, 'ordered');
    // A row is ranked among its document's sentences but its 5 context ones: 1-15 of them here.
    expect(m.inDocCandidates!).toBeGreaterThan(1);
    expect(m.inDocCandidates!).toBeLessThan(15);
    for (const t of [vectors, pred]) t.dispose();
    ds.dispose();
  });

  it('a windowed file (a copy of each vector per row, as the seed\'s .npz) gives the same as the ordered one', async (ctx) => {
    needPython(ctx);
    const { vectors, docIds } = orderedStream();
    const ordered = datasets.fromVectors(vectors, docIds, { context: 5 });
    const path = join(dir, 'windowed-data.npz');
    const context = ordered.vectors.indexSelect(0, ordered.contextIndex.reshape([-1])).reshape([ordered.size, 5, 16]);
    const target = ordered.vectors.indexSelect(0, ordered.targetIndex);
    const rowDocs = torch.tensor(Int32Array.from(ordered.docIds!));
    torch.saveNpz({ context_sequences: context, target_vectors: target, doc_ids: rowDocs }, path);
    const windowed = datasets.fromNpz(path);
    const pred = predictionsFor(ordered, 2.5);
    const a = await scorePredictions(pred, target, { rows: ordered });
    const b = await compare(windowed, pred, 'windowed');
    // The same sentences, once each, whether the file shares the vectors or copies them per row.
    expect(b.inDocMrr).toBeCloseTo(a.inDocMrr!, 12);
    expect(b.inDocCandidates).toBeCloseTo(a.inDocCandidates!, 12);
    for (const t of [vectors, context, target, rowDocs, pred]) t.dispose();
    ordered.dispose();
    windowed.dispose();
  });

  it('rows without documents: the contrastive accuracy over every other row, no in-document score', async (ctx) => {
    needPython(ctx);
    const { vectors, docIds } = orderedStream();
    const withDocs = datasets.fromVectors(vectors, docIds, { context: 5 });
    const rows = withDocs.subset(Array.from({ length: withDocs.size }, (_, i) => i));
    const bare = new (withDocs.constructor as new (init: object) => Dataset)({
      vectors: rows.vectors.clone(), contextIndex: rows.contextIndex.clone(), targetIndex: rows.targetIndex.clone(),
    });
    const pred = predictionsFor(bare, 1.2);
    await compare(bare, pred, 'no-documents');
    for (const t of [vectors, pred]) t.dispose();
    for (const d of [withDocs, rows, bare]) d.dispose();
  });

  it('a NaN prediction ranks last, never first', async () => {
    const { vectors, docIds } = orderedStream();
    const ds = datasets.fromVectors(vectors, docIds, { context: 5 });
    const target = ds.vectors.indexSelect(0, ds.targetIndex);
    const pred = target.clone();
    pred.slice(0, 0, 1).fill_(NaN);
    const m = await scorePredictions(pred, target, { rows: ds });
    expect(m.top1).toBeCloseTo((ds.size - 1) / ds.size, 12);
    expect(m.inDocTop1).toBeCloseTo((ds.size - 1) / ds.size, 12);
    for (const t of [vectors, target, pred]) t.dispose();
    ds.dispose();
  });
});

describe('where the retrieval metrics show', () => {
  const data = datasets.synthetic({ seed: 3, docs: 40, sentencesPerDoc: 12 });
  afterAll(() => data.dispose());

  it('every baseline has them on val and test; the oracle ranks best in its documents', async () => {
    const s = datasets.splitByDocument(data, { train: 0.6, val: 0.2, test: 0.2, seed: 0 });
    const r = await computeBaselines(s.train, { val: s.val, test: s.test });
    for (const [name, bySplit] of Object.entries(r.scores)) {
      for (const split of ['val', 'test'] as const) {
        const m = bySplit![split]!;
        expect(m.inDocMrr, `${name} ${split}`).toBeGreaterThan(0);
        expect(m.inDocMrr!, `${name} ${split}`).toBeLessThanOrEqual(1);
        expect(m.contrastiveAccuracy, `${name} ${split}`).toBeGreaterThan(0);
      }
    }
    // The mean direction is one vector for every row: its ranking knows nothing of the row (CA about chance).
    expect(Math.abs(r.scores.mean!.val.contrastiveAccuracy! - 0.5)).toBeLessThan(0.15);
    expect(r.scores.oracle!.val.inDocMrr!).toBeGreaterThan(r.scores.mean!.val.inDocMrr!);
    for (const d of [s.train, s.val, s.test]) d.dispose();
  });

  it('--monitor val_in_doc_mrr picks the epoch with the best in-document MRR; the history and the summary have it', async () => {
    const model = models.gru({ inputDim: data.dim, dModel: 32, numLayers: 1 });
    const trainer = new Trainer(model, { epochs: 4, batchSize: 32, lr: 3e-3, seed: 0, monitor: 'val_in_doc_mrr' });
    const r = await trainer.fit(data);
    const values = r.history.map((e) => e.val_in_doc_mrr!);
    expect(values.every((v) => v > 0 && v <= 1)).toBe(true);
    expect(r.history.every((e) => e.val_contrastive_accuracy! > 0.5)).toBe(true);
    expect(r.best.monitor).toBe('val_in_doc_mrr');
    expect(r.best.epoch).toBe(values.indexOf(Math.max(...values)) + 1);
    expect(r.scores.val.inDocMrr).toBeCloseTo(r.best.value, 12);  // the model ends with the best epoch's weights
    expect(formatSummary(r, 'gru').split('\n')[0]).toMatch(/val in-doc MRR +test in-doc MRR +test in-doc top-1 +test CA/);
    model.dispose();
  });

  it('the in-document recipe trains (its document term falls), and needs documents', async () => {
    const model = models.gru({ inputDim: data.dim, dModel: 32, numLayers: 1 });
    const trainer = new Trainer(model, { epochs: 3, batchSize: 32, lr: 3e-3, loss: LOSS_PRESETS.document, monitor: 'val_in_doc_mrr' });
    const r = await trainer.fit(data);
    expect(r.history.at(-1)!.train_loss_document!).toBeLessThan(r.history[0].train_loss_document!);
    expect(r.history.every((e) => e.train_loss === e.train_loss_document)).toBe(true);
    const bare = new (data.constructor as new (init: object) => Dataset)({
      vectors: data.vectors.clone(), contextIndex: data.contextIndex.clone(), targetIndex: data.targetIndex.clone(),
    });
    await expect(new Trainer(model, { epochs: 1, loss: LOSS_PRESETS.document }).fit(bare)).rejects.toThrow(/document term .* no document ids/);
    model.dispose();
    bare.dispose();
  });

  it('serve --bank: a model trained by the in-document loss answers with the bank\'s sentences nearest its prediction\'s direction', async (ctx) => {
    needPython(ctx);
    const out = join(dir, 'document-model');
    const model = models.gru({ inputDim: data.dim, dModel: 32, numLayers: 1 });
    await new Trainer(model, { epochs: 2, batchSize: 32, lr: 3e-3, loss: LOSS_PRESETS.document, monitor: 'val_in_doc_mrr', outDir: out }).fit(data);
    torch.saveNpz({ vectors: data.vectors }, join(dir, 'bank-vectors.npz'));
    runPython('serve_reference.py', { mode: 'bank', dir, vectors: join(dir, 'bank-vectors.npz') });
    const server = await createServer({ checkpoint: join(out, 'best_model.pt'), bank: join(dir, 'bank.npz') });
    try {
      await server.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}/infer`;
      const { x } = data.batch([0, 1, 2]);
      const contexts = x.toArray() as number[][][];
      x.dispose();
      model.eval();  // fit() leaves it with the best epoch's weights, those of best_model.pt
      const answers: { predicted_vector: number[]; nearest: { index: number; text: string }[] }[] = [];
      for (const context of contexts) {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector_sequence: context, k: 5 }) });
        expect(r.status).toBe(200);
        answers.push(await r.json() as (typeof answers)[number]);
      }
      const numpy = runPython<{ index: number; text: string }[][]>('serve_reference.py', { mode: 'nearest', dir, queries: answers.map((a) => a.predicted_vector), k: 5 });
      answers.forEach((a, i) => {
        const want = torch.tidy(() => torch.noGrad(() => model.predict(torch.tensor([contexts[i]])).toArray() as number[][]))[0];
        expect(Math.max(...a.predicted_vector.map((v, j) => Math.abs(v - want[j])))).toBeLessThan(1e-5);
        expect(a.nearest.map((n) => n.index)).toEqual(numpy[i].map((n) => n.index));
        expect(a.nearest[0].text).toBe(`sentence ${numpy[i][0].index}`);
      });
    } finally {
      await server.close();
      model.dispose();
    }
  });

  it('residualOf copy-last: the model starts from the last context vector, scored as the copy-last baseline', async () => {
    const model = models.gru({ inputDim: data.dim, dModel: 16, numLayers: 1, ridgeContext: data.context });
    const trainer = new Trainer(model, { epochs: 1, batchSize: 32, lr: 1e-9, loss: LOSS_PRESETS.contrastive, residualOf: 'copy-last', monitor: 'val_in_doc_mrr' });
    const r = await trainer.fit(data);
    const copyLast = r.baselines.scores['copy-last']!;
    // lr 1e-9: the one epoch moves nothing that shows; both ends are the copy-last predictions.
    expect(r.scores.val.inDocMrr).toBeCloseTo(copyLast.val.inDocMrr!, 5);
    expect(r.scores.test!.mrr).toBeCloseTo(copyLast.test!.mrr, 5);
    expect(() => new Trainer(model, { residualOf: 'mean' as never })).toThrow(/residualOf must be 'ridge' or 'copy-last'/);
    model.dispose();
  });

  it('a monitor that needs documents is refused for data without them, naming what is missing', async () => {
    const model = models.gru({ inputDim: data.dim, dModel: 8, numLayers: 1 });
    const bare = new (data.constructor as new (init: object) => Dataset)({
      vectors: data.vectors.clone(), contextIndex: data.contextIndex.clone(), targetIndex: data.targetIndex.clone(),
    });
    const trainer = new Trainer(model, { epochs: 1, monitor: 'val_in_doc_top1' });
    await expect(trainer.fit(bare)).rejects.toThrow(/monitor val_in_doc_top1 .* no document ids/);
    expect(() => new Trainer(model, { monitor: 'val_accuracy' as never })).toThrow(/monitor must be one of val_loss, .*val_in_doc_mrr/);
    model.dispose();
    bare.dispose();
  });
});
