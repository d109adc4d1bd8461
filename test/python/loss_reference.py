# What real PyTorch computes for test/loss.test.ts, in one process: stdin is JSON
#   {"cases": [{"name", "dtype", "shape": [B, D], "pred": base64, "target": base64,
#               "weights": {"tau", "info", "moment", "variance", "mse", "cosMse", "document"}, "targetGrad": bool,
#               "candidates": {"vectors": base64 [M, D], "positive": [B], "context": [B][T]} (optional)}]}
# and stdout is JSON {"results": [{"design": terms}]}.
#
# "design" is the composite loss written here from ../shared/DESIGN.md's formulas with PyTorch's own functionals
# (F.normalize, F.cross_entropy, std, F.relu, F.mse_loss) and autograd. (The seed's own compute_losses is held to
# the fused loss through test/fixtures/seed-loss.json, written by seed_loss_fixture.py.) Terms: each loss value (non-finite ones as strings: JSON has no NaN), and the gradients of the total with
# respect to pred (and target, when asked) as base64 float64.
import base64
import json
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings('ignore')  # std over one row warns; the NaN it gives is what the tests look at
NUMPY = {'float32': np.float32, 'float64': np.float64}


def decode(data, dtype, shape):
    return torch.from_numpy(np.frombuffer(base64.b64decode(data), NUMPY[dtype]).copy()).reshape(shape)


def encode(t):
    return base64.b64encode(t.detach().to(torch.float64).contiguous().numpy().tobytes()).decode('ascii')


def number(x):
    x = float(x)
    return x if np.isfinite(x) else str(x)


def document_term(pred_cos, candidates, tau):
    """CE over pred_cos @ normalize(candidates).T / tau against each row's positive candidate, each row's context
    and any other copy of its target (cosine >= 1 - 1e-6) masked out."""
    if candidates is None:
        return torch.tensor(float('nan'), dtype=pred_cos.dtype)
    c = F.normalize(candidates['vectors'], dim=1)
    positive = torch.tensor(candidates['positive'])
    logits = pred_cos @ c.t() / tau
    mask = (c[positive] @ c.t()) >= 1 - 1e-6
    for i, row in enumerate(candidates['context']):
        for p in row:
            if p >= 0:
                mask[i, p] = True
    mask[torch.arange(len(positive)), positive] = False
    return F.cross_entropy(logits.masked_fill(mask, float('-inf')), positive)


def design_terms(pred, target, w, candidates=None):
    pred_cos = F.normalize(pred, dim=1)
    target_cos = F.normalize(target, dim=1)
    labels = torch.arange(pred.shape[0])
    logits = pred_cos @ target_cos.t() / w['tau']
    terms = {
        'info': F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels),
        'moment': (pred.mean(0) - target.mean(0)).pow(2).mean() + (pred.std(0) - target.std(0)).pow(2).mean(),
        'variance': F.relu(1 - pred_cos.std(0)).mean(),
        'mse': F.mse_loss(pred, target),
        'cosMse': F.mse_loss(pred_cos, target_cos),
        'document': document_term(pred_cos, candidates, w['tau']),
    }
    total = sum((w.get(k, 0) * v for k, v in terms.items() if w.get(k, 0) != 0), torch.zeros((), dtype=pred.dtype))
    terms['cosine'] = (pred_cos * target_cos).sum(1).mean()
    return total, terms


def run(case, fn):
    pred = decode(case['pred'], case['dtype'], case['shape']).requires_grad_()
    candidates = case.get('candidates')
    if candidates:
        vectors = decode(candidates['vectors'], case['dtype'], [-1, case['shape'][1]])
        candidates = {**candidates, 'vectors': vectors}
    target = decode(case['target'], case['dtype'], case['shape']).requires_grad_(case.get('targetGrad', False))
    total, terms = fn(pred, target, case['weights'], candidates)
    out = {k: number(v) for k, v in terms.items()}
    out['total'] = number(total)
    if total.requires_grad:
        total.backward()
        out['gradPred'] = encode(pred.grad)
        if target.grad is not None:
            out['gradTarget'] = encode(target.grad)
    return out


def main():
    request = json.load(sys.stdin)
    json.dump({'results': [{'design': run(case, design_terms)} for case in request['cases']]}, sys.stdout)


if __name__ == '__main__':
    main()
