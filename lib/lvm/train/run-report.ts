// report.html of a training run: loss, cosine, centred cosine and retrieval per epoch with the baselines as lines, and the
// summary table (raw and centred cosine, retrieval) of the model and every baseline.
import { writeFileAtomic } from '../../formats/atomic.js';
import { modelConfig } from '../models/trainable.js';
import type { Module } from '../../torch/nn/module.js';
import { renderReport } from './report.js';
import { summaryColumns, summaryRows } from './summary.js';
import type { FitResult } from './fit-result.js';
import { writeFileSync } from 'node:fs';

export async function writeReport(path: string, result: FitResult, model: Module,
  options: { epochs: number; batchSize: number; lr: number; seed: number }): Promise<string> {
  const h = result.history;
  const base = result.baselines.scores;
  const lines = (split: 'val', metric: 'cosine' | 'centredCosine' | 'inDocMrr' | 'mrr') =>
    Object.entries(base).flatMap(([name, s]) => (s?.[split]?.[metric] !== undefined ? [{ label: `${name} (val)`, value: s[split]![metric]! }] : []));
  const config = modelConfig(model);
  const summary = summaryRows(result, config.kind);
  const columns = summaryColumns(summary);
  const inDoc = h.some((e) => e.val_in_doc_mrr !== undefined);
  const html = renderReport({
    title: `lvmtorch: ${config.kind} training run`,
    facts: [
      `${config.kind}, ${model.numParameters().toLocaleString('en')} parameters, config ${JSON.stringify(config)}`,
      `${h.length} epochs, batch ${options.batchSize}, lr ${options.lr}, seed ${options.seed}; best epoch ${result.best.epoch}` +
        (result.stoppedEarly ? ' (stopped early)' : ''),
      ...result.warnings,
    ],
    epochs: h.map((e) => e.epoch),
    plots: [
      { id: 'loss', title: 'Loss per epoch', yLabel: 'loss', series: [
        { label: 'train loss', values: h.map((e) => e.train_loss) },
        { label: 'val loss (MSE of the normalised prediction)', values: h.map((e) => e.val_loss) },
      ] },
      { id: 'cosine', title: 'Cosine per epoch, against the baselines on val', yLabel: 'cosine', series: [
        { label: 'train cosine', values: h.map((e) => e.train_cosine) },
        { label: 'val cosine', values: h.map((e) => e.val_cosine) },
      ], lines: lines('val', 'cosine') },
      { id: 'centred', title: 'Centred cosine per epoch (both minus the train targets\' mean), against the baselines on val',
        yLabel: 'centred cosine', series: [
          // Absent from entries that a seed-style checkpoint brought in on resume.
          { label: 'val centred cosine', values: h.map((e) => e.val_centred_cosine ?? null) },
        ], lines: lines('val', 'centredCosine') },
      // The retrieval that judges a model on real text: in its document where the data knows them, else among all.
      inDoc
        ? { id: 'retrieval', title: 'In-document MRR per epoch (the true next sentence among its document\'s), against the baselines on val',
          yLabel: 'MRR', series: [{ label: 'val in-document MRR', values: h.map((e) => e.val_in_doc_mrr ?? null) }], lines: lines('val', 'inDocMrr') }
        : { id: 'retrieval', title: 'MRR per epoch (the true next vector among all val targets), against the baselines on val',
          yLabel: 'MRR', series: [{ label: 'val MRR', values: h.map((e) => e.val_mrr ?? null) }], lines: lines('val', 'mrr') },
    ],
    table: {
      headers: ['', ...columns.map((c) => c.header), 'val MSE'],
      rows: summary.map((r) => [r.name, ...columns.map((c) => c.value(r) ?? '-'), r.val.mse]),
    },
  });
  await writeFileAtomic(path, (fd) => { writeFileSync(fd, html); });
  return path;
}
