// report.html of a training run: loss, cosine and centred cosine per epoch with the baselines as lines, and the
// summary table (raw and centred cosine, retrieval) of the model and every baseline.
import { writeFileAtomic } from '../io/atomic.js';
import type { Module } from '../models/module.js';
import { renderReport } from './report.js';
import { summaryRows } from './summary.js';
import type { FitResult } from './trainer.js';
import { writeFileSync } from 'node:fs';

export async function writeReport(path: string, result: FitResult, model: Module,
  options: { epochs: number; batchSize: number; lr: number; seed: number }): Promise<string> {
  const h = result.history;
  const base = result.baselines.scores;
  const lines = (split: 'val', metric: 'cosine' | 'centredCosine') =>
    Object.entries(base).flatMap(([name, s]) => (s?.[split] ? [{ label: `${name} (val)`, value: s[split]![metric] }] : []));
  const html = renderReport({
    title: `lvmtorch: ${model.config.kind} training run`,
    facts: [
      `${model.config.kind}, ${model.numParameters().toLocaleString('en')} parameters, config ${JSON.stringify(model.config)}`,
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
    ],
    table: {
      headers: ['', 'val cosine', 'val centred', 'test cosine', 'test centred', 'val MSE', 'val top-1', 'val top-5', 'val MRR',
        'val median rank'],
      rows: summaryRows(result, model.config.kind).map((r) => [r.name, r.val.cosine, r.val.centredCosine, r.test?.cosine ?? '-',
        r.test?.centredCosine ?? '-', r.val.mse, r.val.top1, r.val.top5, r.val.mrr, r.val.medianRank]),
    },
  });
  await writeFileAtomic(path, (fd) => { writeFileSync(fd, html); });
  return path;
}
