// A dataset from an .npz in the seed's layout (tools/extract_ordered_training_data.py in lnsp-phase-4):
// `context_sequences` [N, T, D] and `target_vectors` [N, D] float32, and when present `target_texts`,
// `target_ids` and `metadata` (object arrays), `sequence_positions` [N]; plus ours: `doc_ids` [N] and
// `oracle_vectors` [N, D]. The vectors become one matrix, [contexts of every row; targets], indexed per row.
//
// Where the document of a row comes from, first found first:
//   1. `doc_ids` (lvmtorch's synthetic files write it);
//   2. `metadata`, when it holds one dict per row with a document key (doc_id, article_id, batch_id, ...);
//   3. the seed's source file: its training file's `metadata` is ONE dict whose `source_npz` names the ordered
//      vectors file (wikipedia_N_ordered.npz) that holds the article of every vector in `batch_ids`, and
//      `sequence_positions[i]` is where row i's context starts in it; so row i's article is
//      batch_ids[sequence_positions[i] + T], and a window that reads across articles is found (the seed's bug).
//      Give the source's path with `source` when `metadata.source_npz` does not lead to it.
// Without any of them the rows have no document ids, and splitByDocument() falls back to a random row split.
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import type { Device } from '../../torch/device.js';
import { loadNpz } from '../../torch/io/tensor-formats.js';
import { ZipReader } from '../../formats/zip.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { denseIds, documentsOf } from './doc-ids.js';
import { fromOrderedNpz, isOrderedNpz, ORDERED_VECTORS_KEY } from './from-ordered-npz.js';
import { readValueArray, type ValueArray } from './npz-objects.js';

/** The arrays fromNpz() reads, by role. */
export interface NpzKeys {
  context: string;
  target: string;
  docIds: string;
  oracle: string;
  texts: string;
  ids: string;
  metadata: string;
  positions: string;
}

export const SEED_KEYS: NpzKeys = {
  context: 'context_sequences', target: 'target_vectors', docIds: 'doc_ids', oracle: 'oracle_vectors',
  texts: 'target_texts', ids: 'target_ids', metadata: 'metadata', positions: 'sequence_positions',
};

/** Keys of a per-row metadata dict that name the row's document. */
const DOC_KEYS = ['doc_id', 'document_id', 'doc', 'article_id', 'article_index', 'article', 'batch_id', 'source_document'];

export interface FromNpzOptions {
  /** Other array names for some roles (the others keep the seed's names). */
  keys?: Partial<NpzKeys>;
  /** Where the data goes (default the CPU). */
  device?: Device;
  /** The ordered source file with each vector's document (the seed's `batch_ids`); false: never look for one. */
  source?: string | false;
  /** Windows that read across a document boundary (found through the source file): 'drop' (default) or 'keep'. */
  crossing?: 'drop' | 'keep';
  /** For an ordered vectors file (fromOrderedNpz): context vectors per window (default 5). */
  context?: number;
}

export function fromNpz(path: string, opts: FromNpzOptions = {}): Dataset {
  const keys = { ...SEED_KEYS, ...opts.keys };
  const zip = ZipReader.open(path);
  let values: Partial<Record<'docIds' | 'texts' | 'ids' | 'metadata' | 'positions', ValueArray | Tensor>>;
  let members: Set<string>;
  try {
    members = new Set(zip.entries.map((e) => e.name.replace(/\.npy$/, '')));
    if (!members.has(keys.context) && isOrderedNpz(members)) {
      return fromOrderedNpz(path, { context: opts.context, device: opts.device });
    }
    for (const role of ['context', 'target'] as const) {
      if (!members.has(keys[role])) {
        throw new DatasetError(`${path}: no '${keys[role]}' array (it holds ${[...members].join(', ')}); ` +
          `a dataset file needs ${keys.context} [N, T, D] and ${keys.target} [N, D], or is an ordered vectors file ` +
          `(${ORDERED_VECTORS_KEY} [N, D] and doc_ids [N])`);
      }
    }
    values = {};
    for (const role of ['docIds', 'texts', 'ids', 'metadata', 'positions'] as const) {
      if (members.has(keys[role])) values[role] = readValueArray(zip, keys[role], path) ?? loadNpz(path, { keys: [keys[role]] })[keys[role]];
    }
  } finally {
    zip.close();
  }
  const disposeValues = () => Object.values(values).forEach((v) => (isTensor(v) ? v.dispose() : undefined));
  try {
    const numeric = [keys.context, keys.target, ...(members.has(keys.oracle) ? [keys.oracle] : [])];
    const arrays = loadNpz(path, { keys: numeric });
    const ds = build(path, keys, arrays, values, opts);
    return opts.device && opts.device !== 'cpu' ? ds.to(opts.device) : ds;
  } finally {
    disposeValues();
  }
}

function build(path: string, keys: NpzKeys, arrays: Record<string, Tensor>,
  values: Partial<Record<'docIds' | 'texts' | 'ids' | 'metadata' | 'positions', ValueArray | Tensor>>, opts: FromNpzOptions): Dataset {
  const context = arrays[keys.context];
  const target = arrays[keys.target];
  const oracle = arrays[keys.oracle];
  try {
    const [n, t, d] = checkShapes(path, keys, context, target, oracle);
    const metadataValues = values.metadata && !isTensor(values.metadata) ? values.metadata.values : undefined;
    const metadata = metadataValues?.length === 1 ? metadataValues[0] : metadataValues;
    const warnings: string[] = [];
    let docIds = documentIds(path, keys, values, metadataValues, n);
    let crossing: Int32Array | undefined;
    if (!docIds && opts.source !== false) {
      const found = fromSource(path, keys, values.positions, metadata, n, t, opts.source);
      if (found) ({ docIds, crossing } = found);
    }
    const tensors = tidy(() => ({
      vectors: torch.cat([context.reshape(n * t, d), target]).to({ dtype: 'float32' }),
      contextIndex: torch.arange(n * t).view(n, t),
      targetIndex: torch.arange(n * t, n * t + n),
      oracle: oracle?.to({ dtype: 'float32' }),
    }));
    const ds = new Dataset({
      ...tensors, docIds, warnings, metadata,
      texts: stringsOf(values.texts, n, `${path}: '${keys.texts}'`),
      ids: idsOf(values.ids, n, `${path}: '${keys.ids}'`),
    });
    if (!crossing || crossing.length === 0) return ds;
    const drop = (opts.crossing ?? 'drop') === 'drop';
    const what = `${crossing.length} of ${n} windows read across a document boundary (first: row ${crossing[0]})`;
    if (!drop) {
      ds.warnings.push(`${what}; kept, as asked`);
      return ds;
    }
    const cross = new Set(crossing);
    const kept = ds.subset(Array.from({ length: n }, (_, i) => i).filter((i) => !cross.has(i)));
    kept.warnings.push(`${what}; they were dropped`);
    ds.dispose();
    return kept;
  } finally {
    context.dispose();
    target.dispose();
    oracle?.dispose(); // the dataset holds its own handles
  }
}

function checkShapes(path: string, keys: NpzKeys, context: Tensor, target: Tensor, oracle: Tensor | undefined): [number, number, number] {
  const shape = (x: Tensor) => `[${x.shape.join(', ')}]`;
  const isFloat = (x: Tensor) => x.dtype.startsWith('float') || x.dtype === 'bfloat16';
  if (context.ndim !== 3) throw new DatasetError(`${path}: '${keys.context}' must be [N, T, D], got shape ${shape(context)}`);
  if (target.ndim !== 2) throw new DatasetError(`${path}: '${keys.target}' must be [N, D], got shape ${shape(target)}`);
  for (const [key, x] of [[keys.context, context], [keys.target, target], [keys.oracle, oracle]] as const) {
    if (x && !isFloat(x)) throw new DatasetError(`${path}: '${key}' must be floating point (float32), got ${x.dtype}`);
  }
  const [n, t, d] = context.shape;
  if (target.shape[0] !== n) {
    throw new DatasetError(`${path}: '${keys.context}' has ${n} rows but '${keys.target}' ${target.shape[0]}`);
  }
  if (target.shape[1] !== d) {
    throw new DatasetError(`${path}: the context vectors are ${d}-D but the targets ${target.shape[1]}-D`);
  }
  if (t === 0) throw new DatasetError(`${path}: '${keys.context}' has an empty context (T = 0)`);
  if (oracle && (oracle.ndim !== 2 || oracle.shape[0] !== n || oracle.shape[1] !== d)) {
    throw new DatasetError(`${path}: '${keys.oracle}' must be [${n}, ${d}], got shape ${shape(oracle)}`);
  }
  return [n, t, d];
}

// Document ids from the file itself: a doc_ids array, or per-row metadata dicts.
function documentIds(path: string, keys: NpzKeys, values: { docIds?: ValueArray | Tensor }, metadata: unknown[] | undefined,
  n: number): Int32Array | undefined {
  const ids = values.docIds;
  if (ids) {
    const list = isTensor(ids) ? ids.toTypedArray() as ArrayLike<number | bigint> : ids.values;
    if (list.length !== n) throw new DatasetError(`${path}: '${keys.docIds}' has ${list.length} entries for ${n} rows`);
    return denseIds(Array.from(list as ArrayLike<unknown>), `${path}: '${keys.docIds}'`);
  }
  if (metadata && metadata.length === n && n > 1) {
    const key = DOC_KEYS.find((k) => metadata.every((m) => isRecord(m) && m[k] !== undefined && m[k] !== null));
    if (key) return denseIds(metadata.map((m) => (m as Record<string, unknown>)[key]), `${path}: metadata '${key}'`);
  }
  return undefined;
}

// The seed's way: positions into an ordered source file that names the document of every vector.
function fromSource(path: string, keys: NpzKeys, positions: ValueArray | Tensor | undefined, metadata: unknown, n: number,
  t: number, source: string | undefined): { docIds: Int32Array; crossing: Int32Array } | undefined {
  const named = isRecord(metadata) && typeof metadata.source_npz === 'string' ? metadata.source_npz : undefined;
  const candidates = source !== undefined ? [source]
    : named ? [resolve(named), join(dirname(path), named), join(dirname(path), basename(named))] : [];
  const file = candidates.find((c) => existsSync(c));
  if (!file) {
    if (source !== undefined) throw new DatasetError(`${path}: the source file ${source} does not exist`);
    return undefined;
  }
  if (!positions || !isTensor(positions)) {
    if (source === undefined) return undefined;
    throw new DatasetError(`${path}: no numeric '${keys.positions}' array to place its rows in ${file}`);
  }
  const pos = Array.from(positions.toTypedArray() as ArrayLike<number | bigint>, Number);
  if (pos.length !== n) throw new DatasetError(`${path}: '${keys.positions}' has ${pos.length} entries for ${n} rows`);
  const docs = documentsOf(file);
  const docIds = new Int32Array(n);
  const crossing: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = pos[i];
    if (!Number.isInteger(p) || p < 0 || p + t >= docs.length) {
      throw new DatasetError(`${path}: row ${i} starts at position ${p}, outside the ${docs.length} vectors of ${file}`);
    }
    docIds[i] = docs[p + t];
    for (let j = 0; j < t; j++) {
      if (docs[p + j] !== docs[p + t]) {
        crossing.push(i);
        break;
      }
    }
  }
  return { docIds, crossing: Int32Array.from(crossing) };
}

function stringsOf(v: ValueArray | Tensor | undefined, n: number, where: string): string[] | undefined {
  if (!v) return undefined;
  const list = isTensor(v) ? Array.from(v.toTypedArray() as ArrayLike<unknown>) : v.values;
  if (list.length !== n) throw new DatasetError(`${where} has ${list.length} entries for ${n} rows`);
  return list.map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString('utf8') : String(x)));
}

function idsOf(v: ValueArray | Tensor | undefined, n: number, where: string): (string | number)[] | undefined {
  if (!v) return undefined;
  const list = isTensor(v) ? Array.from(v.toTypedArray() as ArrayLike<unknown>) : v.values;
  if (list.length !== n) throw new DatasetError(`${where} has ${list.length} entries for ${n} rows`);
  return list.map((x) => (typeof x === 'number' ? x : typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : String(x)) : String(x)));
}

function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
