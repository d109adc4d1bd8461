// A dataset from a stream of vectors in reading order and the document of each: windows of `context` vectors
// and the next one, never across a document boundary.
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { cutWindows } from './windows.js';

export interface FromVectorsOptions {
  /** Context vectors per window (default 5). */
  context?: number;
  /** `[N, D]`: an oracle's prediction for each window, in the order the windows are cut (stream order). */
  oracle?: Tensor;
  /** Per vector (length M): its text and id; each window keeps its target's. */
  texts?: string[];
  ids?: (string | number)[];
  metadata?: unknown;
}

/**
 * Windows over `vectors` [M, D] (float), whose row k belongs to document `docIds[k]`: a document is a run of
 * equal consecutive ids, and every window lies inside one. The dataset reads the same memory as `vectors`
 * (converted to float32 if it is not) and does not take it over: dispose both.
 */
export function fromVectors(vectors: Tensor, docIds: ArrayLike<number> | Tensor, opts: FromVectorsOptions = {}): Dataset {
  const context = opts.context ?? 5;
  if (!(vectors instanceof Tensor)) throw new TypeError('fromVectors() takes a [M, D] Tensor of vectors');
  if (vectors.ndim !== 2) throw new DatasetError(`vectors must be [M, D], got shape [${vectors.shape.join(', ')}]`);
  if (!vectors.dtype.startsWith('float') && vectors.dtype !== 'bfloat16') {
    throw new DatasetError(`vectors must be floating point, got ${vectors.dtype}`);
  }
  const ids = docIds instanceof Tensor ? Int32Array.from(docIds.toTypedArray() as ArrayLike<number | bigint>, Number) : docIds;
  const m = vectors.shape[0];
  if (ids.length !== m) throw new DatasetError(`docIds has ${ids.length} entries for ${m} vectors (one per vector)`);
  const w = cutWindows(ids, context);
  if (opts.oracle && (opts.oracle.ndim !== 2 || opts.oracle.shape[0] !== w.count || opts.oracle.shape[1] !== vectors.shape[1])) {
    throw new DatasetError(`oracle must be [${w.count}, ${vectors.shape[1]}] (one per window), got [${opts.oracle.shape.join(', ')}]`);
  }
  for (const [name, a] of [['texts', opts.texts], ['ids', opts.ids]] as const) {
    if (a && a.length !== m) throw new DatasetError(`${name} has ${a.length} entries for ${m} vectors (one per vector)`);
  }
  const targets = Array.from(w.targetIndex, Number);
  const device = vectors.device;
  const tensors = tidy(() => ({
    vectors: vectors.to({ dtype: 'float32' }),
    contextIndex: torch.tensor(w.contextIndex, { shape: [w.count, context], device }),
    targetIndex: torch.tensor(w.targetIndex, { device }),
    oracle: opts.oracle?.to({ dtype: 'float32', device }),
  }));
  return new Dataset({
    ...tensors,
    docIds: w.docIds,
    texts: opts.texts && targets.map((k) => opts.texts![k]),
    ids: opts.ids && targets.map((k) => opts.ids![k]),
    metadata: opts.metadata,
  });
}
