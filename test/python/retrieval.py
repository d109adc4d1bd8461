"""Python side of test/retrieval.test.ts: the retrieval metrics computed row by row, written from their definitions
(lib/lvm/train/metrics.ts), with none of lvmtorch's batching. Input (JSON on stdin): {"path": an .npz holding pred [N, D],
vectors [M, D], context_index [N, T], target_index [N] and optionally doc_ids [N]}. Output: {mrr, in_doc_mrr,
in_doc_top1, in_doc_candidates, contrastive_accuracy}; the in-document ones null without doc_ids."""
import json
import sys

import numpy as np
import torch


def main():
    req = json.load(sys.stdin)
    d = np.load(req['path'])
    pred = torch.nn.functional.normalize(torch.from_numpy(d['pred']), dim=1)
    vectors = d['vectors']
    ctx, tgt = d['context_index'], d['target_index']
    docs = d['doc_ids'] if 'doc_ids' in d.files else None
    n = len(tgt)
    targets = torch.nn.functional.normalize(torch.from_numpy(vectors[tgt]), dim=1)

    # Among all targets, and the contrastive accuracy: the share of distractors strictly less similar than the truth.
    reciprocal, accuracies = [], []
    for i in range(n):
        sims = targets @ pred[i]
        own = sims[i]
        reciprocal.append(1.0 / (1 + int((sims > own).sum())))
        others = [j for j in range(n) if (docs[j] != docs[i] if docs is not None else j != i)]
        if others:
            accuracies.append(float((sims[others] < own).double().mean()))
    out = {'mrr': float(np.mean(reciprocal)), 'contrastive_accuracy': float(np.mean(accuracies)) if accuracies else None,
           'in_doc_mrr': None, 'in_doc_top1': None, 'in_doc_candidates': None}
    if docs is None:
        print(json.dumps(out))
        return

    # In the document: its distinct sentences (equal vectors are one sentence), the row's context left out.
    reciprocal, top1, candidates = [], 0, []
    for doc in sorted(set(docs.tolist())):
        rows = [i for i in range(n) if docs[i] == doc]
        sentence = {}  # vector bytes -> sentence number
        for i in rows:
            for k in list(ctx[i]) + [tgt[i]]:
                sentence.setdefault(vectors[k].tobytes(), len(sentence))
        unit = torch.nn.functional.normalize(torch.from_numpy(np.stack(
            [np.frombuffer(b, dtype=vectors.dtype) for b in sentence]).copy()), dim=1)
        for i in rows:
            truth = sentence[vectors[tgt[i]].tobytes()]
            left_out = {sentence[vectors[k].tobytes()] for k in ctx[i]} | {truth}
            others = [s for s in range(len(sentence)) if s not in left_out]
            own = unit[truth] @ pred[i]
            # The truth is not compared with itself: computed apart, its two products may differ in the last bit.
            rank = int((unit[others] @ pred[i] > own).sum()) if others else 0
            reciprocal.append(1.0 / (1 + rank))
            top1 += rank == 0
            candidates.append(len(others) + 1)
    out.update(in_doc_mrr=float(np.mean(reciprocal)), in_doc_top1=top1 / n, in_doc_candidates=float(np.mean(candidates)))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
