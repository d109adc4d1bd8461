// The end of every run: the model against the baselines on val and test, and the train/val gap, as rows that
// the CLI prints and report.html tabulates.
import type { CentredMetrics } from './metrics.js';
import type { FitResult } from './fit-result.js';

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
const fixed = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
const points = (a: number, b: number) => `${((a - b) * 100).toFixed(2)} points`;

/** One column of the summary: its header, its value in a row, and how the CLI prints it. */
export interface SummaryColumn {
  header: string;
  value: (r: SummaryRow) => number | undefined;
  format: (v: number | undefined) => string;
}

/**
 * The summary's columns, for the CLI and report.html alike: raw and centred cosine on val and test; retrieval
 * among all the split's targets (val top-1, top-5, MRR and median rank, test MRR); retrieval in each row's own
 * document (val and test MRR, test top-1) and the contrastive accuracy on test, where the data knows its documents
 * (the columns that no row has are left out).
 */
export function summaryColumns(rows: SummaryRow[]): SummaryColumn[] {
  const all: SummaryColumn[] = [
    { header: 'val cosine', value: (r) => r.val.cosine, format: pct },
    { header: 'val centred', value: (r) => r.val.centredCosine, format: pct },
    { header: 'test cosine', value: (r) => r.test?.cosine, format: pct },
    { header: 'test centred', value: (r) => r.test?.centredCosine, format: pct },
    { header: 'val top-1', value: (r) => r.val.top1, format: pct },
    { header: 'val top-5', value: (r) => r.val.top5, format: pct },
    { header: 'val MRR', value: (r) => r.val.mrr, format: fixed },
    { header: 'val rank', value: (r) => r.val.medianRank, format: (v) => (v === undefined ? '-' : String(v)) },
    { header: 'test MRR', value: (r) => r.test?.mrr, format: fixed },
    { header: 'val in-doc MRR', value: (r) => r.val.inDocMrr, format: fixed },
    { header: 'test in-doc MRR', value: (r) => r.test?.inDocMrr, format: fixed },
    { header: 'test in-doc top-1', value: (r) => r.test?.inDocTop1, format: pct },
    { header: 'test CA', value: (r) => r.test?.contrastiveAccuracy, format: pct },
  ];
  return all.filter((c) => rows.some((r) => c.value(r) !== undefined));
}

/**
 * A fixed-width table of summaryColumns; under it what the columns mean, the train/val gap (raw and centred), the
 * model's val MSE (the seed's val_loss) and the share of the oracle reached.
 */
export function formatSummary(result: Pick<FitResult, 'scores' | 'baselines'>, modelName = 'model'): string {
  const summary = summaryRows(result, modelName);
  const columns = summaryColumns(summary);
  const headers = ['', ...columns.map((c) => c.header)];
  const rows = summary.map((r) => [r.name, ...columns.map((c) => c.format(c.value(r)))]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const { train, val, test } = result.scores;
  const oracle = result.baselines.scores.oracle?.val?.cosine;
  const inDoc = test?.inDocCandidates ?? val.inDocCandidates;
  const notes = [
    'centred: cosine of normalize(pred) and the target, each minus the train targets\' mean (the mean baseline: about 0)',
    `val rank: the median rank of the true next vector among val's ${val.count} targets (1 = nearest); MRR: mean of 1/rank`,
    ...(inDoc === undefined ? [] : [`in-doc: the true next sentence ranked among its own document's sentences (${inDoc.toFixed(0)} ` +
      'on average, its context left out); CA: the share of other documents\' targets farther from the prediction than the truth']),
    `train/val gap: train cosine ${pct(train.cosine)}, val ${pct(val.cosine)} (${points(train.cosine, val.cosine)}); ` +
      `centred: train ${pct(train.centredCosine)}, val ${pct(val.centredCosine)} (${points(train.centredCosine, val.centredCosine)})`,
    `${modelName} val mse (the seed's val_loss): ${val.mse.toFixed(5)}`,
    ...(oracle ? [`the model reaches ${pct(val.cosine / oracle)} of the oracle's val cosine`] : []),
  ];
  return [line(headers), ...rows.map(line), '', ...notes].join('\n');
}
