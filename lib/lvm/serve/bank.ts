// Decoding by retrieval: a bank of vectors with their texts (a training .npz: target_vectors + target_texts, or
// vectors + texts), searched exactly. The bank is kept L2-normalised, so one matrix product gives every cosine;
// topk picks the k best, on a worker thread (native/lvm/serve/bank_search.cc). 1M x 768 vectors are 3 GB of float32:
// a search reads all of it, ~250 ms here.
import { loadNpz } from '../../torch/io/tensor-formats.js';
import { ZipReader } from '../../formats/zip.js';
import { readValueArray } from '../data/npz-objects.js';
import { native } from '../../torch/native.js';
import { fromRaw, rawOf, type Tensor } from '../../torch/tensor.js';
import { tensor, tidy } from '../../torch/functions.js';

const VECTOR_KEYS = ['target_vectors', 'vectors', 'embeddings'];
const TEXT_KEYS = ['target_texts', 'texts', 'sentences'];

export interface Neighbour {
  /** The row of the bank. */
  index: number;
  text: string;
  cosine: number;
}

export class VectorBank {
  readonly path: string;
  readonly #vectors: Tensor;
  readonly #texts: string[];

  private constructor(path: string, vectors: Tensor, texts: string[]) {
    this.path = path;
    this.#vectors = vectors;
    this.#texts = texts;
  }

  /** Reads an .npz with vectors [N, D] and their N texts (the first of each key name found). */
  static load(path: string): VectorBank {
    const zip = ZipReader.open(path);
    let texts: unknown[];
    let vectorKey: string;
    try {
      const members = new Set(zip.entries.map((e) => e.name.replace(/\.npy$/, '')));
      vectorKey = VECTOR_KEYS.find((k) => members.has(k)) ?? '';
      const textKey = TEXT_KEYS.find((k) => members.has(k));
      if (!vectorKey || !textKey) {
        throw new Error(`${path}: a bank needs one of ${VECTOR_KEYS.join('/')} and one of ${TEXT_KEYS.join('/')}; it has ${[...members].join(', ')}`);
      }
      const values = readValueArray(zip, textKey, path);
      if (!values) throw new Error(`${path}: '${textKey}' holds numbers, not texts`);
      texts = values.values;
    } finally {
      zip.close();
    }
    const raw = loadNpz(path, { keys: [vectorKey] })[vectorKey];
    if (raw.ndim !== 2 || raw.shape[0] !== texts.length) {
      raw.dispose();
      throw new Error(`${path}: '${vectorKey}' has shape [${raw.shape.join(', ')}] for ${texts.length} texts; expected [${texts.length}, D]`);
    }
    const vectors = tidy(() => raw.to('float32').normalize({ dim: 1 }));
    raw.dispose();
    return new VectorBank(path, vectors, texts.map((t) => String(t)));
  }

  get size(): number {
    return this.#vectors.shape[0];
  }

  get dim(): number {
    return this.#vectors.shape[1];
  }

  /** The k nearest texts (by cosine) of each query row (any norm), searched off the JS thread. */
  async nearest(queries: Float32Array[], k: number): Promise<Neighbour[][]> {
    const kk = Math.min(k, this.size);
    const flat = new Float32Array(queries.length * this.dim);
    queries.forEach((r, i) => flat.set(r, i * this.dim));
    const q = tidy(() => tensor(flat, { shape: [queries.length, this.dim] }).normalize({ dim: 1 }));
    let values: Tensor | undefined;
    let indices: Tensor | undefined;
    try {
      const [v, i] = await native().bankSearchAsync(rawOf(this.#vectors), rawOf(q), kk);
      values = fromRaw(v);
      indices = fromRaw(i);
      const cos = values.toTypedArray() as Float32Array;
      const idx = indices.toTypedArray() as BigInt64Array;
      return queries.map((_, b) => Array.from({ length: kk }, (_, j) => {
        const index = Number(idx[b * kk + j]);
        return { index, text: this.#texts[index], cosine: cos[b * kk + j] };
      }));
    } finally {
      q.dispose();
      values?.dispose();
      indices?.dispose();
    }
  }

  dispose(): void {
    this.#vectors.dispose();
  }
}
