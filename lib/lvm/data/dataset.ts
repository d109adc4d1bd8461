// A dataset of next-vector windows in one representation, whatever it was read from: a matrix of vectors and,
// per row, the indices of its context vectors and of its target vector. Row i's context is
// vectors[contextIndex[i]] ([T, D]) and its target vectors[targetIndex[i]] ([D]); a batch is gathered natively
// with indexSelect, so windows that overlap (a document's sentences read five times over) are stored once.
// Splits share the parent's `vectors` (reference counted): each dataset is disposed on its own.
import type { Device } from '../../torch/device.js';
import type { Candidates } from '../loss/composite.js';
import { keep, tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { DatasetError } from './errors.js';
import { Random } from './random.js';
import { SharedTensor } from './shared.js';
import { DisposedError } from '../../errors.js';

/** Rows of a dataset: an array of row numbers or a 1-d integer tensor of them. */
export type Rows = ArrayLike<number> | Tensor;

export interface DatasetInit {
  /** [M, D] float: every vector once. */
  vectors: Tensor;
  /** [N, T] int64: the rows of `vectors` that are row i's context, oldest first. */
  contextIndex: Tensor;
  /** [N] int64: the row of `vectors` that is row i's target. */
  targetIndex: Tensor;
  /** The document of each row (an int64/int32 tensor or numbers): splits keep a document whole. */
  docIds?: Tensor | ArrayLike<number>;
  /** `[N, D]`: what an oracle that knows the hidden state predicts for each row (the synthetic corpus has one). */
  oracle?: Tensor;
  /** Per row: the target's text and id, when the file has them. */
  texts?: string[];
  ids?: (string | number)[];
  /** Whatever the file says about itself (the seed's `metadata`). */
  metadata?: unknown;
  /** What the reader noticed and the user should know (windows across documents, missing document ids). */
  warnings?: string[];
}

/** One batch: contexts [B, T, D] and targets [B, D], owned by the caller. */
export interface Batch {
  x: Tensor;
  y: Tensor;
  /** With batches' `candidates`: the loss's document candidates, owned by the caller too. */
  candidates?: Candidates;
}

export interface BatchesOptions {
  batchSize: number;
  /** Visit the rows in a random order (default false), drawn from `seed`, not from torch's generator. */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0): the same seed gives the same order. */
  seed?: number;
  /** Leave out a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /**
   * With shuffle, 'document': the documents in a random order, each one's rows together (in a random order), so
   * that a batch holds the rows of a few documents: the other rows of a batch, a contrastive loss's negatives, are
   * then mostly sentences of the same document. Needs docIds. Default 'none': every row on its own.
   */
  group?: 'none' | 'document';
  /**
   * Give each batch the loss's document candidates: every distinct vector of the batch's documents (contexts and
   * targets of all their rows, not only the batch's), each row's target and context located among them. Needs
   * docIds. Default false.
   */
  candidates?: boolean;
}

export class Dataset implements Disposable {
  #vectors: SharedTensor;
  #contextIndex: Tensor;
  #targetIndex: Tensor;
  #oracle: Tensor | undefined;
  #disposed = false;
  #documents: DocumentIndex | undefined;
  /** The document of each row, as numbers (dense, 0-based, when the source's ids were not int32). */
  readonly docIds: Int32Array | undefined;
  readonly texts: string[] | undefined;
  readonly ids: (string | number)[] | undefined;
  readonly metadata: unknown;
  readonly warnings: string[];

  /** Takes ownership of the tensors given (dispose() frees them). */
  constructor(init: DatasetInit | (Omit<DatasetInit, 'vectors'> & { vectors: SharedTensor })) {
    const { vectors, contextIndex, targetIndex, oracle } = init;
    for (const [name, t] of [['contextIndex', contextIndex], ['targetIndex', targetIndex]] as const) {
      if (!(t instanceof Tensor)) throw new TypeError(`a Dataset's ${name} must be a Tensor, got ${typeof t}`);
    }
    if (!(vectors instanceof Tensor) && !(vectors instanceof SharedTensor)) {
      throw new TypeError(`a Dataset's vectors must be a Tensor, got ${typeof vectors}`);
    }
    if (oracle !== undefined && !(oracle instanceof Tensor)) throw new TypeError('a Dataset\'s oracle must be a Tensor');
    this.#vectors = vectors instanceof SharedTensor ? vectors : new SharedTensor(vectors);
    this.#contextIndex = keep(contextIndex);
    this.#targetIndex = keep(targetIndex);
    this.#oracle = oracle && keep(oracle);
    this.docIds = init.docIds === undefined ? undefined : docIdArray(init.docIds);
    this.texts = init.texts;
    this.ids = init.ids;
    this.metadata = init.metadata;
    this.warnings = init.warnings ?? [];
  }

  /** `[M, D]`: every vector once. */
  get vectors(): Tensor {
    return this.#live().#vectors.tensor;
  }
  /** [N, T] int64. */
  get contextIndex(): Tensor {
    return this.#live().#contextIndex;
  }
  /** [N] int64. */
  get targetIndex(): Tensor {
    return this.#live().#targetIndex;
  }
  /** `[N, D]`: the oracle's prediction per row, when the data has an oracle. */
  get oracle(): Tensor | undefined {
    return this.#live().#oracle;
  }
  /** N, the number of rows (windows). */
  get size(): number {
    return this.#live().#targetIndex.shape[0] ?? 0;
  }
  /** D, the size of each vector. */
  get dim(): number {
    return this.#live().#vectors.tensor.shape[1] ?? 0;
  }
  /** T, the number of context vectors per row. */
  get context(): number {
    return this.#live().#contextIndex.shape[1] ?? 0;
  }
  get device(): Device {
    return this.#live().#vectors.tensor.device;
  }
  /** How many distinct documents the rows come from, when the data says. */
  get numDocuments(): number | undefined {
    return this.docIds && new Set(this.docIds).size;
  }
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Contexts [B, T, D] and targets [B, D] of these rows, gathered on the dataset's device. */
  batch(rows: Rows): Batch {
    this.#live();
    return tidy(() => {
      const index = this.#rowTensor(rows);
      const b = index.shape[0];
      const x = this.vectors.indexSelect(0, this.#contextIndex.indexSelect(0, index).view(-1)).view(b, this.context, this.dim);
      const y = this.vectors.indexSelect(0, this.#targetIndex.indexSelect(0, index));
      return { x, y };
    });
  }

  /** Batches over every row (in order, or shuffled with a seed), each gathered when the loop asks for it. */
  *batches(opts: BatchesOptions): Generator<Batch, void, undefined> {
    const { batchSize, shuffle = false, seed = 0, dropLast = false, group = 'none', candidates = false } = opts;
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    if (group === 'document' && !this.docIds) throw new DatasetError('batches grouped by document need docIds; this dataset has none');
    if (candidates && !this.docIds) throw new DatasetError('document candidates need docIds; this dataset has none');
    const n = this.size;
    const order = !shuffle ? Int32Array.from({ length: n }, (_, i) => i)
      : group === 'document' ? byDocument(this.docIds!, new Random(seed)) : new Random(seed).permutation(n);
    for (let start = 0; start < n; start += batchSize) {
      const rows = order.subarray(start, Math.min(start + batchSize, n));
      if (dropLast && rows.length < batchSize) return;
      const b: Batch = this.batch(rows);
      if (candidates) b.candidates = this.#candidates(rows);
      yield b;
    }
  }

  /** How many batches batches() yields. */
  numBatches(batchSize: number, dropLast = false): number {
    return dropLast ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  /** A dataset of these rows, in this order, sharing this one's vectors (dispose each on its own). */
  subset(rows: Rows): Dataset {
    this.#live();
    const list = rowArray(rows, this.size);
    const picked = tidy(() => {
      const index = this.#rowTensor(list);
      return {
        contextIndex: this.#contextIndex.indexSelect(0, index),
        targetIndex: this.#targetIndex.indexSelect(0, index),
        oracle: this.#oracle?.indexSelect(0, index),
      };
    });
    const pick = <T>(a: T[] | undefined): T[] | undefined => a && Array.from(list, (i) => a[i]);
    return new Dataset({
      vectors: this.#vectors.retain(),
      ...picked,
      docIds: this.docIds && Int32Array.from(list, (i) => this.docIds![i]),
      texts: pick(this.texts),
      ids: pick(this.ids),
      metadata: this.metadata,
      warnings: [...this.warnings],
    });
  }

  /** Moves the data to a device, in place (splits already cut stay where they are); returns this dataset. */
  to(device: Device): this {
    this.#live();
    const vectors = new SharedTensor(this.#vectors.tensor.to(device));
    const contextIndex = keep(this.#contextIndex.to(device));
    const targetIndex = keep(this.#targetIndex.to(device));
    const oracle = this.#oracle && keep(this.#oracle.to(device));
    this.#release();
    this.#vectors = vectors;
    this.#contextIndex = contextIndex;
    this.#targetIndex = targetIndex;
    this.#oracle = oracle;
    return this;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#release();
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    if (this.#disposed) return 'Dataset(disposed)';
    const docs = this.numDocuments;
    return `Dataset(${this.size} rows, context ${this.context}, dim ${this.dim}` +
      `${docs === undefined ? '' : `, ${docs} documents`}${this.#oracle ? ', oracle' : ''}, ${this.device})`;
  }

  // The document candidates of a batch's rows (BatchesOptions.candidates).
  #candidates(rows: Int32Array): Candidates {
    const docs = (this.#documents ??= documentIndex(this));
    const position = new Map<number, number>();
    const list: number[] = [];
    for (const d of new Set(Array.from(rows, (r) => this.docIds![r]))) {
      for (const v of docs.vectorsOf.get(d)!) {
        if (position.has(v)) continue;
        position.set(v, list.length);
        list.push(v);
      }
    }
    const T = this.context;
    const positive = new BigInt64Array(rows.length);
    const context = new BigInt64Array(rows.length * T);
    rows.forEach((r, i) => {
      positive[i] = BigInt(position.get(docs.target[r])!);
      for (let k = 0; k < T; k++) context[i * T + k] = BigInt(position.get(docs.context[r * T + k]) ?? -1);
    });
    return tidy(() => {
      const device = this.device;
      const at = (a: BigInt64Array, shape: number[]) => torch.tensor(a, { shape, device });
      return {
        vectors: this.vectors.indexSelect(0, at(BigInt64Array.from(list, BigInt), [list.length])),
        positive: at(positive, [rows.length]),
        context: at(context, [rows.length, T]),
      };
    });
  }

  #release(): void {
    this.#vectors.release();
    this.#contextIndex.dispose();
    this.#targetIndex.dispose();
    this.#oracle?.dispose();
  }

  #live(): this {
    if (this.#disposed) throw new DisposedError('this Dataset has been disposed');
    return this;
  }

  // Row numbers as an int64 tensor on the dataset's device, each checked to be a row.
  #rowTensor(rows: Rows): Tensor {
    const device = this.#contextIndex.device;
    if (rows instanceof Tensor) {
      if (rows.ndim !== 1) throw new RangeError(`rows must be 1-d, got shape [${rows.shape}]`);
      if (rows.dtype !== 'int64' && rows.dtype !== 'int32') throw new TypeError(`rows must be an integer tensor, got ${rows.dtype}`);
      rowArray(rows, this.size); // checks the range
      return rows.to({ device, dtype: 'int64' });
    }
    const list = rowArray(rows, this.size);
    const t = torch.tensor(BigInt64Array.from(list, (i) => BigInt(i)));
    return device === 'cpu' ? t : t.to(device);
  }
}

function rowArray(rows: Rows, size: number): Int32Array {
  let list: ArrayLike<number | bigint>;
  if (rows instanceof Tensor) list = rows.toTypedArray() as ArrayLike<number | bigint>;
  else if (rows !== null && typeof rows === 'object' && typeof rows.length === 'number') list = rows;
  else throw new TypeError('rows must be an array of row numbers or a 1-d integer tensor');
  const out = new Int32Array(list.length);
  for (let k = 0; k < list.length; k++) {
    const i = Number(list[k]);
    if (!Number.isInteger(i) || i < 0 || i >= size) {
      throw new RangeError(`row ${String(list[k])} (at position ${k}) is not a row of a dataset of ${size} rows`);
    }
    out[k] = i;
  }
  return out;
}

// Document ids as an Int32Array: kept as they are when they fit, else renumbered 0.. in order of first appearance.
function docIdArray(ids: Tensor | ArrayLike<number>): Int32Array {
  if (ids instanceof Int32Array) return ids;
  let values: ArrayLike<number | bigint>;
  if (ids instanceof Tensor) {
    if (ids.ndim !== 1) throw new DatasetError(`docIds must be 1-d (one per row), got shape [${ids.shape}]`);
    if (ids.dtype.startsWith('float') || ids.dtype === 'bfloat16' || ids.dtype === 'bool') {
      throw new DatasetError(`docIds must be integers, got ${ids.dtype}`);
    }
    values = ids.toTypedArray() as ArrayLike<number | bigint>;
  } else {
    values = ids;
  }
  const out = new Int32Array(values.length);
  let fits = true;
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (typeof values[i] === 'number' && !Number.isInteger(v)) throw new DatasetError(`docIds[${i}] is ${v}, not an integer`);
    if (v !== (v | 0) || BigInt(values[i]) !== BigInt(v)) fits = false;
    out[i] = v;
  }
  if (fits) return out;
  const dense = new Map<bigint, number>();
  for (let i = 0; i < values.length; i++) {
    const key = BigInt(values[i]);
    let id = dense.get(key);
    if (id === undefined) dense.set(key, (id = dense.size));
    out[i] = id;
  }
  return out;
}

// The rows grouped by document, the documents and the rows within each in random orders.
function byDocument(docIds: Int32Array, random: Random): Int32Array {
  const rowsOf = new Map<number, number[]>();
  docIds.forEach((d, i) => (rowsOf.get(d) ?? rowsOf.set(d, []).get(d)!).push(i));
  const docs = [...rowsOf.values()];
  const out = new Int32Array(docIds.length);
  let k = 0;
  for (const d of random.permutation(docs.length)) {
    const rows = docs[d];
    for (const j of random.permutation(rows.length)) out[k++] = rows[j];
  }
  return out;
}

// Per document, the distinct vectors its rows read (contexts and targets); and every row's indices as numbers.
interface DocumentIndex {
  vectorsOf: Map<number, number[]>;
  context: Int32Array;
  target: Int32Array;
}

function documentIndex(ds: Dataset): DocumentIndex {
  const context = Int32Array.from(ds.contextIndex.toTypedArray() as BigInt64Array, Number);
  const target = Int32Array.from(ds.targetIndex.toTypedArray() as BigInt64Array, Number);
  const sets = new Map<number, Set<number>>();
  const T = ds.context;
  ds.docIds!.forEach((d, r) => {
    const set = sets.get(d) ?? sets.set(d, new Set()).get(d)!;
    for (let k = 0; k < T; k++) set.add(context[r * T + k]);
    set.add(target[r]);
  });
  const vectorsOf = new Map([...sets].map(([d, set]) => [d, [...set].sort((a, b) => a - b)]));
  return { vectorsOf, context, target };
}
