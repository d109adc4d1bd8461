// Which document each vector or row belongs to, read from an .npz: ids of any kind made dense int32s.
import { loadNpz } from '../../torch/io/tensor-formats.js';
import { ZipReader } from '../../formats/zip.js';
import { DatasetError } from './errors.js';
import { readValueArray } from './npz-objects.js';

/** Arrays of the seed's ordered source file that name the document of each vector, first found first. */
export const SOURCE_DOC_KEYS = ['batch_ids', 'doc_ids', 'article_ids'];

/** The document of every vector of an ordered vectors file (the seed's wikipedia_N_ordered.npz), from its first
 * array of SOURCE_DOC_KEYS. */
export function documentsOf(file: string): Int32Array {
  const zip = ZipReader.open(file);
  try {
    const names = new Set(zip.entries.map((e) => e.name.replace(/\.npy$/, '')));
    const key = SOURCE_DOC_KEYS.find((k) => names.has(k));
    if (!key) throw new DatasetError(`${file}: no ${SOURCE_DOC_KEYS.join(' / ')} array naming each vector's document`);
    const objects = readValueArray(zip, key, file);
    if (objects) return denseIds(objects.values, `${file}: '${key}'`);
    const t = loadNpz(file, { keys: [key] })[key];
    try {
      return denseIds(Array.from(t.toTypedArray() as ArrayLike<unknown>), `${file}: '${key}'`);
    } finally {
      t.dispose();
    }
  } finally {
    zip.close();
  }
}

// Ids of any kind (numbers, bigints, strings) as numbers: integers that fit int32 stay, others are renumbered
// 0.. in order of first appearance.
export function denseIds(given: unknown[], where: string): Int32Array {
  const list = given.map((v) => (typeof v === 'bigint' && v >= -(2n ** 31n) && v < 2n ** 31n ? Number(v) : v));
  const out = new Int32Array(list.length);
  if (list.every((v) => typeof v === 'number' && Number.isInteger(v) && v === (v | 0))) {
    list.forEach((v, i) => (out[i] = v as number));
    return out;
  }
  const seen = new Map<string, number>();
  list.forEach((v, i) => {
    if (v === null || v === undefined || (typeof v === 'object' && !(v instanceof Uint8Array))) {
      throw new DatasetError(`${where}: entry ${i} is not a document id (${v === null ? 'None' : typeof v})`);
    }
    const key = `${typeof v}:${v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v)}`;
    let id = seen.get(key);
    if (id === undefined) seen.set(key, (id = seen.size));
    out[i] = id;
  });
  return out;
}
