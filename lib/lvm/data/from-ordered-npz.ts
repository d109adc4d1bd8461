// A dataset from an ordered vectors file: `vectors` [N, D] in reading order and the document of each (`doc_ids`
// [N], or the seed's `batch_ids` / `article_ids`), the layout of the seed's wikipedia_N_ordered.npz before its
// windows were cut. The windows are cut here (fromVectors), never across a document.
import type { Device } from '../../torch/device.js';
import { loadNpz } from '../../torch/io/tensor-formats.js';
import { ZipReader } from '../../formats/zip.js';
import { Dataset } from './dataset.js';
import { documentsOf, SOURCE_DOC_KEYS } from './doc-ids.js';
import { DatasetError } from './errors.js';
import { fromVectors } from './from-vectors.js';

export const ORDERED_VECTORS_KEY = 'vectors';

export interface FromOrderedNpzOptions {
  /** Context vectors per window (default 5). */
  context?: number;
  /** Where the data goes (default the CPU). */
  device?: Device;
}

/** Whether the members of an .npz (names without .npy) are an ordered vectors file rather than windows. */
export function isOrderedNpz(members: Set<string>): boolean {
  return members.has(ORDERED_VECTORS_KEY) && SOURCE_DOC_KEYS.some((k) => members.has(k));
}

export function fromOrderedNpz(path: string, opts: FromOrderedNpzOptions = {}): Dataset {
  const context = opts.context ?? 5;
  if (!Number.isInteger(context) || context < 1) throw new DatasetError(`context must be a positive integer, got ${context}`);
  const zip = ZipReader.open(path);
  let members: string[];
  try {
    members = zip.entries.map((e) => e.name.replace(/\.npy$/, ''));
  } finally {
    zip.close();
  }
  if (!isOrderedNpz(new Set(members))) {
    throw new DatasetError(`${path}: an ordered vectors file needs '${ORDERED_VECTORS_KEY}' [N, D] and one of ` +
      `${SOURCE_DOC_KEYS.join(' / ')} [N] (it holds ${members.join(', ')})`);
  }
  const docIds = documentsOf(path);
  const { [ORDERED_VECTORS_KEY]: vectors } = loadNpz(path, { keys: [ORDERED_VECTORS_KEY] });
  try {
    const ds = fromVectors(vectors, docIds, { context, metadata: { source: path, layout: 'ordered vectors' } });
    if (ds.size === 0) {
      ds.dispose();
      throw new DatasetError(`${path}: no document has more than ${context} vectors, so no window of ${context} -> next fits`);
    }
    return opts.device && opts.device !== 'cpu' ? ds.to(opts.device) : ds;
  } finally {
    vectors.dispose();  // the dataset holds its own handle
  }
}
