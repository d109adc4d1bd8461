// The end of every run: the model against the baselines on val and test, and the train/val gap, as rows that
// the CLI prints and report.html tabulates.
import type { Metrics } from './metrics.js';
import type { FitResult } from './trainer.js';

export interface SummaryRow {
  name: string;
  val: Metrics;
  test?: Metrics;
}

/** The model's row first, then each baseline, on the same splits. */
export function summaryRows(result: Pick<FitResult, 'scores' | 'baselines'>, modelName = 'model'): SummaryRow[] {
  const rows: SummaryRow[] = [{ name: modelName, val: result.scores.val, test: result.scores.test }];
  for (const [name, bySplit] of Object.entries(result.baselines.scores)) {
    if (bySplit?.val) rows.push({ name, val: bySplit.val, test: bySplit.test });
  }
  return rows;
}

const pct = (v: number | undefined) => (v === undefined ? '-' : `${(100 * v).toFixed(2)}%`);

/** A fixed-width table of cosine, MSE and top-1/top-5 on val and test, and the train/val gap under it. */
export function formatSummary(result: Pick<FitResult, 'scores' | 'baselines'>, modelName = 'model'): string {
  const headers = ['', 'val cosine', 'test cosine', 'val mse', 'val top-1', 'val top-5'];
  const rows = summaryRows(result, modelName).map((r) => [
    r.name, pct(r.val.cosine), pct(r.test?.cosine), r.val.mse.toFixed(5), pct(r.val.top1), pct(r.val.top5),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const { train, val } = result.scores;
  const oracle = result.baselines.scores.oracle?.val?.cosine;
  const notes = [
    `train/val gap: train cosine ${pct(train.cosine)}, val ${pct(val.cosine)} (${((train.cosine - val.cosine) * 100).toFixed(2)} points)`,
    ...(oracle ? [`the model reaches ${pct(val.cosine / oracle)} of the oracle's val cosine`] : []),
  ];
  return [line(headers), ...rows.map(line), '', ...notes].join('\n');
}
