// Checks a dataset before any training starts, so that a bad file fails in one clear message naming every problem
// (shapes, dtypes, indices, NaN/Inf rows, too few rows) instead of a NaN loss or a shape error deep in an epoch.
import { tidy } from '../../torch/scope.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';

export interface ValidateOptions {
  /** The training batch size: fewer rows than this is an error. */
  batchSize?: number;
  /** What the dataset is called in messages ('train', 'val', a file name). */
  name?: string;
  /** The vector size the model reads: a different D is an error. */
  dim?: number;
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);
const INDICES = new Set(['int64', 'int32']);

/** Throws a DatasetError listing every problem found; returns the dataset when there is none. */
export function validate(ds: Dataset, opts: ValidateOptions = {}): Dataset {
  const problems = findProblems(ds, opts);
  if (problems.length > 0) {
    const name = opts.name ?? 'the dataset';
    throw new DatasetError(`${name}: ${problems.join('; ')}`);
  }
  return ds;
}

/** Every problem validate() would report, as sentences (empty when the dataset is fit to train on). */
export function findProblems(ds: Dataset, opts: ValidateOptions = {}): string[] {
  if (ds.isDisposed) return ['it has been disposed'];
  const problems: string[] = [];
  const { vectors, contextIndex, targetIndex, oracle } = ds;
  const shape = (t: Tensor): string => `[${t.shape.join(', ')}]`;

  let shapesOk = true;
  if (vectors.ndim !== 2) {
    problems.push(`vectors must be [M, D] (one vector per row), got shape ${shape(vectors)}`);
    shapesOk = false;
  } else if (!FLOATS.has(vectors.dtype)) {
    problems.push(`vectors must be floating point (float32), got ${vectors.dtype}`);
  }
  if (contextIndex.ndim !== 2) {
    problems.push(`contextIndex must be [N, T], got shape ${shape(contextIndex)}`);
    shapesOk = false;
  } else if (contextIndex.shape[1] === 0) {
    problems.push('the context is empty (T = 0): each row needs at least one context vector');
    shapesOk = false;
  }
  if (targetIndex.ndim !== 1) {
    problems.push(`targetIndex must be [N], got shape ${shape(targetIndex)}`);
    shapesOk = false;
  }
  for (const [name, t] of [['contextIndex', contextIndex], ['targetIndex', targetIndex]] as const) {
    if (!INDICES.has(t.dtype)) {
      problems.push(`${name} must be int64, got ${t.dtype}`);
      shapesOk = false;
    }
  }
  const n = targetIndex.shape[0] ?? 0;
  if (shapesOk && contextIndex.shape[0] !== n) {
    problems.push(`contextIndex has ${contextIndex.shape[0]} rows but targetIndex ${n}`);
    shapesOk = false;
  }
  const d = vectors.shape[1];
  if (opts.dim !== undefined && vectors.ndim === 2 && d !== opts.dim) {
    problems.push(`the vectors are ${d}-D, but ${opts.dim}-D are expected (the model's inputDim)`);
  }
  if (oracle) {
    if (oracle.ndim !== 2 || oracle.shape[0] !== n || oracle.shape[1] !== d) {
      problems.push(`oracle must be [N, D] = [${n}, ${d}], got shape ${shape(oracle)}`);
    } else if (!FLOATS.has(oracle.dtype)) {
      problems.push(`oracle must be floating point, got ${oracle.dtype}`);
    }
  }
  for (const [name, a] of [['docIds', ds.docIds], ['texts', ds.texts], ['ids', ds.ids]] as const) {
    if (a !== undefined && a.length !== n) problems.push(`${name} has ${a.length} entries for ${n} rows`);
  }

  if (shapesOk && n > 0) {
    const m = vectors.shape[0];
    const range = tidy(() => [
      Number(contextIndex.amin().item()), Number(contextIndex.amax().item()),
      Number(targetIndex.amin().item()), Number(targetIndex.amax().item()),
    ]);
    const [cmin, cmax, tmin, tmax] = range;
    if (Math.min(cmin, tmin) < 0 || Math.max(cmax, tmax) >= m) {
      problems.push(`indices out of range: the vectors have ${m} rows, contextIndex spans ${cmin}..${cmax} ` +
        `and targetIndex ${tmin}..${tmax}`);
    } else if (vectors.ndim === 2 && FLOATS.has(vectors.dtype)) {
      const bad = nonFiniteRows(vectors, contextIndex, targetIndex);
      if (bad) {
        problems.push(`${bad.count} of ${n} rows hold NaN or Inf values in their context or target ` +
          `(first: row ${bad.first})`);
      }
    }
  }
  if (oracle && oracle.ndim === 2 && FLOATS.has(oracle.dtype) && oracle.shape[0] === n && n > 0) {
    const bad = tidy(() => firstTrue(oracle.isfinite().logicalNot().any(1)));
    if (bad) problems.push(`${bad.count} oracle rows hold NaN or Inf values (first: row ${bad.first})`);
  }

  if (n === 0) {
    problems.push('it is empty (0 rows): no document landed in this split, or the file holds no windows');
  } else if (opts.batchSize !== undefined && n < opts.batchSize) {
    problems.push(`it has ${n} rows, fewer than one batch of ${opts.batchSize}: use a smaller batch size or more data`);
  }
  return problems;
}

// Rows whose context or target holds a NaN or Inf: how many, and the first.
function nonFiniteRows(vectors: Tensor, contextIndex: Tensor, targetIndex: Tensor): { count: number; first: number } | null {
  return tidy(() => {
    const badVector = vectors.isfinite().logicalNot().any(1);
    if (!(badVector.any().item() as boolean)) return null;
    const n = targetIndex.shape[0];
    const badContext = badVector.indexSelect(0, contextIndex.reshape(-1)).view(n, -1).any(1);
    return firstTrue(badContext.logicalOr(badVector.indexSelect(0, targetIndex)));
  });
}

function firstTrue(mask: Tensor): { count: number; first: number } | null {
  const count = Number(mask.sum().item());
  if (count === 0) return null;
  return { count, first: Number(mask.to('int32').argmax().item()) };
}
