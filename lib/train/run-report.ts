// report.html of a training run: loss and cosine per epoch with the baselines as lines, and the summary table.
import { writeFileAtomic } from '../io/atomic.js';
import type { Module } from '../models/module.js';
import { renderReport } from './report.js';
import { summaryRows } from './summary.js';
import type { FitResult } from './trainer.js';
import { writeSync } from 'node:fs';

export async function writeReport(path: string, result: FitResult, model: Module,
  options: { epochs: number; batchSize: number; lr: number; seed: number }): Promise<string> {
  const h = result.history;
  const base = result.baselines.scores;
  const lines = (split: 'val') => Object.entries(base).flatMap(([name, s]) => (s?.[split] ? [{ label: `${name} (val)`, value: s[split]!.cosine }] : []));
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
      ], lines: lines('val') },
    ],
    table: {
      headers: ['', 'val cosine', 'test cosine', 'val MSE', 'val top-1', 'val top-5'],
      rows: summaryRows(result, model.config.kind).map((r) => [r.name, r.val.cosine, r.test?.cosine ?? '-', r.val.mse, r.val.top1, r.val.top5]),
    },
  });
  await writeFileAtomic(path, (fd) => { writeSync(fd, html); });
  return path;
}
