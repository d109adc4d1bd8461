"""Reference side of test/data.test.ts: writes dataset files in the seed's layout with numpy, as the seed's
tools/extract_ordered_training_data.py does (np.savez_compressed; texts, ids and metadata as object arrays),
and reads back what lvmtorch writes. JSON in on stdin ({"mode": ..., "dir": ...}), JSON out on stdout.
Float32 values travel as JSON numbers, which hold them exactly."""
import json
import os
import sys

import numpy as np

T, D = 5, 6


def seed_files(d):
    rng = np.random.default_rng(7)
    out = {}

    # 1. The seed's training file: windows over an ordered stream, metadata one dict (np.savez_compressed).
    n = 7
    context = rng.standard_normal((n, T, D)).astype(np.float32)
    target = rng.standard_normal((n, D)).astype(np.float32)
    texts = [f'sentence {i} — ünïcödé' for i in range(n)]
    ids = [f'cpe-{i:04d}' for i in range(n)]
    np.savez_compressed(
        os.path.join(d, 'seed.npz'),
        context_sequences=context, target_vectors=target,
        target_texts=np.array(texts, dtype=object),
        target_tmds=np.arange(n, dtype=np.int32),
        target_ids=np.array(ids, dtype=object),
        sequence_positions=np.arange(n, dtype=np.int32),
        metadata=np.array([{'num_sequences': n, 'context_size': T, 'vector_dim': D,
                            'source_npz': 'artifacts/lvm/missing_ordered.npz', 'creation_date': '2025-10-13T00:00:00'}],
                          dtype=object))
    out['seed'] = {'context': context.tolist(), 'target': target.tolist(), 'texts': texts, 'ids': ids}

    # 2. Stored (np.savez), with our doc_ids and oracle_vectors, texts as a fixed-width unicode array.
    docs = np.array([3, 3, 9, 9, 9, 1, 1], dtype=np.int64)
    oracle = rng.standard_normal((n, D)).astype(np.float32)
    np.savez(os.path.join(d, 'docs.npz'), context_sequences=context, target_vectors=target, doc_ids=docs,
             oracle_vectors=oracle, target_texts=np.array(texts))
    out['docs'] = {'doc_ids': docs.tolist(), 'oracle': oracle.tolist()}

    # 3. Per-row metadata dicts naming the article.
    articles = ['Paris', 'Paris', 'Rome', 'Rome', 'Rome', 'Oslo', 'Paris']
    meta = np.array([{'article_id': a, 'position': i} for i, a in enumerate(articles)], dtype=object)
    np.savez_compressed(os.path.join(d, 'meta_rows.npz'), context_sequences=context, target_vectors=target,
                        metadata=meta)
    out['meta_rows'] = {'articles': articles}

    # 4. The seed's full pipeline: an ordered source file (vectors, batch_ids per vector) and the training file
    # cut from it with windows that run across articles, as the seed's did.
    lengths = [8, 3, 9]  # three articles; the 3-sentence one has no window of its own
    batch_ids = [f'article-{k}' for k, m in enumerate(lengths) for _ in range(m)]
    vectors = rng.standard_normal((len(batch_ids), D)).astype(np.float32)
    np.savez_compressed(os.path.join(d, 'wikipedia_20_ordered.npz'), vectors=vectors,
                        batch_ids=np.array(batch_ids, dtype=object),
                        cpe_ids=np.array([f'id{i}' for i in range(len(batch_ids))], dtype=object))
    m = len(batch_ids) - T
    ctx = np.array([vectors[i:i + T] for i in range(m)], dtype=np.float32)
    tgt = np.array([vectors[i + T] for i in range(m)], dtype=np.float32)
    np.savez_compressed(
        os.path.join(d, 'pipeline.npz'), context_sequences=ctx, target_vectors=tgt,
        sequence_positions=np.arange(m, dtype=np.int32),
        metadata=np.array([{'num_sequences': m, 'context_size': T, 'vector_dim': D,
                            'source_npz': 'artifacts/lvm/wikipedia_20_ordered.npz'}], dtype=object))
    crossing = [i for i in range(m) if len(set(batch_ids[i:i + T + 1])) > 1]
    out['pipeline'] = {'rows': m, 'crossing': crossing, 'target_docs': [batch_ids[i + T] for i in range(m)]}
    return out


def read_synthetic(path):
    z = np.load(path)  # no allow_pickle: the file must hold plain arrays only
    arrays = {k: {'dtype': z[k].dtype.name, 'shape': list(z[k].shape)} for k in z.files}
    ctx, tgt = z['context_sequences'], z['target_vectors']
    docs = z['doc_ids']
    # Within a document, row i+1's context is row i's context shifted by one, and its last is row i's target.
    same = docs[1:] == docs[:-1]
    shifted = bool(np.array_equal(ctx[1:][same, :-1], ctx[:-1][same, 1:]) and np.array_equal(ctx[1:][same, -1], tgt[:-1][same]))
    norms = np.linalg.norm(tgt.astype(np.float64), axis=1)
    oracle_cos = float(np.mean(np.sum(z['oracle_vectors'] * tgt, axis=1) /
                               (np.linalg.norm(z['oracle_vectors'], axis=1) * norms)))
    return {'arrays': arrays, 'shifted': shifted, 'max_norm_error': float(np.max(np.abs(norms - 1))),
            'docs': int(len(np.unique(docs))), 'oracle_cos_all': oracle_cos}


def main():
    job = json.load(sys.stdin)
    if job['mode'] == 'write':
        print(json.dumps(seed_files(job['dir'])))
    elif job['mode'] == 'read_synthetic':
        print(json.dumps(read_synthetic(job['path'])))
    else:
        raise SystemExit(f"unknown mode {job['mode']}")


if __name__ == '__main__':
    main()
