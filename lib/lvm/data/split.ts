// Train/val/test splits that keep each document whole, so that no sentence of a held-out document, nor a window
// overlapping one, is seen in training. Seeded: the same seed and fractions give the same split.
import type { Dataset } from './dataset.js';
import { Random } from './random.js';

export interface SplitOptions {
  /** Fractions of the documents (or, without document ids, of the rows); default 0.8 / 0.1 / 0.1. */
  train?: number;
  val?: number;
  test?: number;
  /** Seed of the draw (default 0), independent of torch's generator. */
  seed?: number;
}

export interface Splits {
  train: Dataset;
  val: Dataset;
  test: Dataset;
  /** What the caller should know: a random row split, too few documents for a split. */
  warnings: string[];
}

/**
 * Whole documents go to one split each, drawn with the seed. Without document ids, rows are split at random and
 * a warning says that windows of one document may then sit on both sides. Each split shares the dataset's
 * vectors and is disposed on its own.
 */
export function splitByDocument(ds: Dataset, opts: SplitOptions = {}): Splits {
  const fractions = checkFractions(opts);
  const seed = opts.seed ?? 0;
  const random = new Random(seed);
  const warnings: string[] = [];
  const n = ds.size;
  const rows: number[][] = [[], [], []];
  if (ds.docIds) {
    const docs = [...new Set(ds.docIds)].sort((a, b) => a - b);
    random.shuffle(docs);
    const counts = apportion(docs.length, fractions);
    const splitOf = new Map<number, number>();
    docs.forEach((doc, k) => splitOf.set(doc, k < counts[0] ? 0 : k < counts[0] + counts[1] ? 1 : 2));
    for (let i = 0; i < n; i++) rows[splitOf.get(ds.docIds[i])!].push(i);
    const wanted = fractions.filter((f) => f > 0).length;
    if (docs.length < wanted) {
      warnings.push(`only ${docs.length} document(s) for ${wanted} splits: some splits are empty`);
    }
  } else {
    const order = random.permutation(n);
    const counts = apportion(n, fractions);
    order.forEach((row, k) => rows[k < counts[0] ? 0 : k < counts[0] + counts[1] ? 1 : 2].push(row));
    for (const r of rows) r.sort((a, b) => a - b);
    warnings.push('the data has no document ids, so rows were split at random: windows from one document ' +
      '(overlapping contexts, neighbouring sentences) may sit in train and in val/test, which makes held-out ' +
      'scores optimistic; give document ids (a doc_ids array, or datasets.fromVectors) to split by document');
  }
  const [train, val, test] = rows.map((r) => ds.subset(r));
  return { train, val, test, warnings };
}

function checkFractions(opts: SplitOptions): [number, number, number] {
  const given = [opts.train ?? 0.8, opts.val ?? 0.1, opts.test ?? 0.1] as [number, number, number];
  given.forEach((f, i) => {
    if (!Number.isFinite(f) || f < 0) throw new RangeError(`split fraction ${['train', 'val', 'test'][i]} must be >= 0, got ${f}`);
  });
  const total = given[0] + given[1] + given[2];
  if (total <= 0) throw new RangeError('the split fractions add up to 0');
  return given.map((f) => f / total) as [number, number, number];
}

// Whole counts for n items, close to the fractions; every split with a share gets at least one when n allows.
function apportion(n: number, fractions: [number, number, number]): [number, number, number] {
  const counts = fractions.map((f) => Math.floor(f * n + 1e-9));
  const order = [0, 1, 2].sort((a, b) => (fractions[b] * n - counts[b]) - (fractions[a] * n - counts[a]));
  let left = n - counts.reduce((a, b) => a + b, 0);
  for (const i of order) if (left > 0 && fractions[i] > 0) { counts[i]++; left--; }
  for (let i = 0; i < 3; i++) {
    if (fractions[i] > 0 && counts[i] === 0) {
      const donor = counts.indexOf(Math.max(...counts));
      if (counts[donor] > 1) { counts[donor]--; counts[i]++; }
    }
  }
  return counts as [number, number, number];
}
