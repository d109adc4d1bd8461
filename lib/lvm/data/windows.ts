// Context windows cut from a stream of vectors in reading order: row k of the stream is the target of a window
// when the T rows before it belong to the same document, so that no window reads across a document boundary
// (the seed cut its windows across articles). A document is a run of equal consecutive ids.

export interface Windows {
  /** [N * T] row numbers of the stream, window by window, oldest first. */
  contextIndex: BigInt64Array;
  /** [N] the target row of each window. */
  targetIndex: BigInt64Array;
  /** [N] the document of each window. */
  docIds: Int32Array;
  /** N */
  count: number;
}

/** Every window of `context` vectors followed by a target inside one document, in stream order. */
export function cutWindows(docIds: ArrayLike<number>, context: number): Windows {
  if (!Number.isSafeInteger(context) || context < 1) throw new RangeError(`context must be a positive integer, got ${context}`);
  const m = docIds.length;
  const targets: number[] = [];
  let runStart = 0;
  for (let k = 0; k < m; k++) {
    if (k > 0 && docIds[k] !== docIds[k - 1]) runStart = k;
    if (k - runStart >= context) targets.push(k);
  }
  const n = targets.length;
  const contextIndex = new BigInt64Array(n * context);
  const targetIndex = new BigInt64Array(n);
  const windowDocs = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = targets[i];
    for (let j = 0; j < context; j++) contextIndex[i * context + j] = BigInt(k - context + j);
    targetIndex[i] = BigInt(k);
    windowDocs[i] = docIds[k];
  }
  return { contextIndex, targetIndex, docIds: windowDocs, count: n };
}
