// What picks best_model.pt (and counts `patience`): one of val's scores, by the name its history entry has
// (training_history.json's key), lower-is-better for the loss and higher for the others.
import type { HistoryEntry } from './history.js';
import type { Metrics } from './metrics.js';

export type Monitor = 'val_loss' | 'val_cosine' | 'val_centred_cosine' | 'val_mrr' | 'val_in_doc_mrr' | 'val_in_doc_top1' |
  'val_contrastive_accuracy';

const METRIC: Record<Monitor, keyof Metrics> = {
  val_loss: 'mse', val_cosine: 'cosine', val_centred_cosine: 'centredCosine', val_mrr: 'mrr', val_in_doc_mrr: 'inDocMrr',
  val_in_doc_top1: 'inDocTop1', val_contrastive_accuracy: 'contrastiveAccuracy',
};

export const MONITORS = Object.keys(METRIC) as Monitor[];

/** The monitors that need the val split's documents (a dataset with docIds). */
export const NEEDS_DOCUMENTS: readonly Monitor[] = ['val_in_doc_mrr', 'val_in_doc_top1'];

/** 'min' for val_loss, 'max' for the others. */
export function modeOf(monitor: Monitor): 'min' | 'max' {
  return monitor === 'val_loss' ? 'min' : 'max';
}

/** The value no epoch can be worse than. */
export function worst(monitor: Monitor): number {
  return modeOf(monitor) === 'min' ? Infinity : -Infinity;
}

/** Whether `value` beats `best` (strictly). */
export function isBetter(monitor: Monitor, value: number, best: number): boolean {
  return modeOf(monitor) === 'min' ? value < best : value > best;
}

/** The monitored score of val's metrics; NaN where the metrics lack it. */
export function monitored(monitor: Monitor, val: Metrics): number {
  return Number(val[METRIC[monitor]] ?? NaN);
}

/** The monitored score of a history entry; NaN where the entry lacks it (one a seed-style checkpoint brought in). */
export function monitoredEntry(monitor: Monitor, entry: HistoryEntry): number {
  return Number((entry as unknown as Record<string, unknown>)[monitor] ?? NaN);
}

/** Throws a RangeError naming the choices unless `monitor` is one. */
export function checkMonitor(monitor: string): asserts monitor is Monitor {
  if (!(MONITORS as string[]).includes(monitor)) throw new RangeError(`monitor must be one of ${MONITORS.join(', ')}, got ${monitor}`);
}
