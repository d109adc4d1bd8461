// What Trainer.fit() resolves with: the history, the best epoch, the scores of the model and the baselines on every
// split. Its own file, so that the summary and the report read it without importing the Trainer.
import type { BaselineResult } from './baselines.js';
import type { BestEpoch } from './checkpoint.js';
import type { HistoryEntry } from './history.js';
import type { CentredMetrics } from './metrics.js';

/** The centred cosine of each is about the train split's target mean (targetMean), as the baselines' are. */
export interface SplitScores {
  val: CentredMetrics;
  test?: CentredMetrics;
  train: CentredMetrics;
}

export interface FitResult {
  history: HistoryEntry[];
  /**
   * The epoch whose weights the model holds at the end (the best one) and its scores; 0 for a model that starts
   * from ridge (ridgeContext) when no epoch beat its start on val.
   */
  best: BestEpoch;
  /** The best weights on every split, and the baselines on the same splits. */
  scores: SplitScores;
  baselines: BaselineResult;
  stoppedEarly: boolean;
  warnings: string[];
  files: { best?: string; final?: string; history?: string; report?: string };
}
