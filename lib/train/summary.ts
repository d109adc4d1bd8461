// The end of every run: the model against the baselines on val and test, and the train/val gap, as rows that
// the CLI prints and report.html tabulates.
import type { CentredMetrics } from './metrics.js';
import type { FitResult } from './trainer.js';

export interface SummaryRow {
  name: string;
  val: CentredMetrics;
  test?: CentredMetrics;
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
const points = (a: number, b: number) => `${((a - b) * 100).toFixed(2)} points`;

/**
 * A fixed-width table of the raw and centred cosine on val and test, and val's retrieval (top-1, top-5, MRR, median
 * rank); under it what the columns mean, the train/val gap (raw and centred), the model's val MSE (the seed's
 * val_loss) and the share of the oracle reached.
 */
export function formatSummary(result: Pick<FitResult, 'scores' | 'baselines'>, modelName = 'model'): string {
  const headers = ['', 'val cosine', 'val centred', 'test cosine', 'test centred', 'val top-1', 'val top-5', 'val MRR', 'val rank'];
  const rows = summaryRows(result, modelName).map((r) => [
    r.name, pct(r.val.cosine), pct(r.val.centredCosine), pct(r.test?.cosine), pct(r.test?.centredCosine),
    pct(r.val.top1), pct(r.val.top5), r.val.mrr.toFixed(4), String(r.val.medianRank),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const { train, val } = result.scores;
  const oracle = result.baselines.scores.oracle?.val?.cosine;
  const notes = [
    'centred: cosine of normalize(pred) and the target, each minus the train targets\' mean (the mean baseline: about 0)',
    `val rank: the median rank of the true next vector among val's ${val.count} targets (1 = nearest); MRR: mean of 1/rank`,
    `train/val gap: train cosine ${pct(train.cosine)}, val ${pct(val.cosine)} (${points(train.cosine, val.cosine)}); ` +
      `centred: train ${pct(train.centredCosine)}, val ${pct(val.centredCosine)} (${points(train.centredCosine, val.centredCosine)})`,
    `${modelName} val mse (the seed's val_loss): ${val.mse.toFixed(5)}`,
    ...(oracle ? [`the model reaches ${pct(val.cosine / oracle)} of the oracle's val cosine`] : []),
  ];
  return [line(headers), ...rows.map(line), '', ...notes].join('\n');
}
