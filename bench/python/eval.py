"""Python counterpart of bench/eval.js: `lvmtorch eval`'s work written in PyTorch, as lib/lvm/train/evaluate.ts,
metrics.ts and baselines.ts do it (the same chunks, dtypes and ridge grid), on the split the lvmtorch side wrote
(the shared vectors and, per split, the context and target row indices and the oracle rows):
  load      torch.load(checkpoint) + the seed's class (test/python/models_reference.py, from its model_config) +
            load_state_dict
  evaluate  the model scored on train/val/test (eval mode, inference_mode, 1,024 rows a forward; cosine, mse, top-1
            and top-5 against all the split's targets, MRR, median rank, and the centred cosine about the train
            targets' mean), then the baselines fitted on train and scored on val and test: mean (normalised mean
            train target), copy-last, context-mean, ridge (float64 closed form on the centred flattened context,
            strength chosen on val from the grid), oracle
Reading the data file (np.load) is timed apart, as `read`: lvmtorch builds the corpus instead.

Protocol: one greeting line of JSON, then per request line {"checkpoint", "data", "seed", "split"} one answer line
{"seconds": {"load", "read", "evaluate"}, "scores": {split: metrics}, "baselines": {"scores", "ridgeLambda"}}.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from models_reference import build  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402

SCORE_ROWS = 1024      # lib/lvm/train/evaluate.ts: rows a forward
BASELINE_ROWS = 2048   # lib/lvm/train/baselines.ts: rows gathered at once
CHUNK = 1024           # lib/lvm/train/metrics.ts: rows of similarities at once
RIDGE_GRID = [1e-3, 1e-2, 1e-1, 1, 10, 100]


class Split:
    def __init__(self, vectors, context, target, oracle):
        self.vectors, self.context, self.target, self.oracle = vectors, context, target, oracle
        self.size = context.shape[0]

    def batch(self, s, e):
        idx = self.context[s:e]
        x = self.vectors.index_select(0, idx.reshape(-1)).view(idx.shape[0], idx.shape[1], -1)
        return x, self.vectors.index_select(0, self.target[s:e])

    def ranges(self, rows):
        return [(s, min(s + rows, self.size)) for s in range(0, self.size, rows)]


def score(pred, target, centre):
    n = pred.shape[0]
    p = F.normalize(pred, dim=1)
    t = F.normalize(target, dim=1)
    own = (p * t).sum(1)
    ranks = []
    for s in range(0, n, CHUNK):
        e = min(s + CHUNK, n)
        sims = p[s:e] @ t.T
        diag = torch.arange(s, e).unsqueeze(1)
        ranks.append((sims > sims.gather(1, diag)).sum(1))
    rank = torch.cat(ranks)
    centred = (F.normalize(p - centre, dim=1) * F.normalize(target - centre, dim=1)).sum(1)
    return {'cosine': float(own.mean()), 'mse': float((p - target).square().mean()), 'top1': int((rank == 0).sum()) / n,
            'top5': int((rank < 5).sum()) / n, 'count': n, 'centredCosine': float(centred.mean()),
            'mrr': float((rank.double() + 1).reciprocal().mean()), 'medianRank': int(rank.median()) + 1}


def score_model(model, ds, centre):
    preds, ys = [], []
    for s, e in ds.ranges(SCORE_ROWS):
        x, y = ds.batch(s, e)
        preds.append(model(x)[1])
        ys.append(y)
    return score(torch.cat(preds), torch.cat(ys), centre)


def targets(ds):
    return torch.cat([ds.batch(s, e)[1] for s, e in ds.ranges(BASELINE_ROWS)])


def last_context(ds):
    return torch.cat([ds.batch(s, e)[0][:, -1] for s, e in ds.ranges(BASELINE_ROWS)])


def context_mean(ds):
    return torch.cat([ds.batch(s, e)[0].mean(1) for s, e in ds.ranges(BASELINE_ROWS)])


def apply_ridge(ds, w, x_mean, y_mean):
    return torch.cat([((ds.batch(s, e)[0].flatten(1).double() - x_mean) @ w + y_mean).float()
                      for s, e in ds.ranges(BASELINE_ROWS)])


def ridge_system(train):
    """(x_mean, y_mean, matrix, rhs, scale, weights): p x p Gram matrix summed over chunks when N > p, else N x N."""
    p = train.context.shape[1] * train.vectors.shape[1]
    if train.size > p:
        sx = sy = g = c = None
        squares = 0.0
        for s, e in train.ranges(BASELINE_ROWS):
            x, y = train.batch(s, e)
            X, Y = x.flatten(1).double(), y.double()
            squares += float(X.square().sum())
            terms = [X.sum(0), Y.sum(0), X.T @ X, X.T @ Y]
            sx, sy, g, c = terms if sx is None else [a + b for a, b in zip(terms, [sx, sy, g, c])]
        n = train.size
        x_mean, y_mean = sx / n, sy / n
        gram = g - torch.outer(x_mean, x_mean) * n
        cross = c - torch.outer(x_mean, y_mean) * n
        trace = squares - n * float(x_mean.square().sum())
        return x_mean, y_mean, gram, cross, trace / gram.shape[0], lambda sol: sol
    X = torch.cat([train.batch(s, e)[0].flatten(1).double() for s, e in train.ranges(BASELINE_ROWS)])
    Y = targets(train).double()
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc = X - x_mean
    trace = float(Xc.square().sum())
    return x_mean, y_mean, Xc @ Xc.T, Y - y_mean, trace / X.shape[1], lambda sol: Xc.T @ sol


def baselines(train, splits, centre):
    mean = F.normalize(targets(train).mean(0), dim=0)
    x_mean, y_mean, matrix, rhs, scale, weights = ridge_system(train)
    n = matrix.shape[0]
    eye = torch.eye(n, dtype=torch.float64)
    y_val = targets(splits['val'])
    best = None
    for rel in RIDGE_GRID:
        factor = torch.linalg.cholesky(matrix + eye * (rel * scale))
        w = weights(torch.cholesky_solve(rhs, factor))
        cosine = score(apply_ridge(splits['val'], w, x_mean, y_mean), y_val, centre)['cosine']
        if best is None or cosine > best[2]:
            best = (rel, w, cosine)
    lam, w, _ = best
    scores = {'mean': {}, 'copy-last': {}, 'context-mean': {}, 'ridge': {}}
    for name, ds in splits.items():
        y = targets(ds)
        scores['mean'][name] = score(mean.unsqueeze(0).expand(ds.size, -1), y, centre)
        scores['copy-last'][name] = score(last_context(ds), y, centre)
        scores['context-mean'][name] = score(context_mean(ds), y, centre)
        scores['ridge'][name] = score(apply_ridge(ds, w, x_mean, y_mean), y, centre)
        if ds.oracle is not None:
            scores.setdefault('oracle', {})[name] = score(ds.oracle, y, centre)
    return {'scores': scores, 'ridgeLambda': lam}


def evaluate(req):
    t = time.perf_counter()
    try:
        ckpt = torch.load(req['checkpoint'], weights_only=True)
    except Exception:  # noqa: BLE001 (a checkpoint holding more than weights_only allows: load it as the seed's users do)
        ckpt = torch.load(req['checkpoint'], weights_only=False)
    c = ckpt['model_config']
    model = build(c['kind'], c)
    model.load_state_dict(ckpt['model_state_dict'], strict=True)
    model.eval()
    load = time.perf_counter() - t

    t = time.perf_counter()
    z = np.load(req['data'])
    vectors = torch.from_numpy(z['vectors'])
    splits = {k: Split(vectors, torch.from_numpy(z[f'{k}_context']), torch.from_numpy(z[f'{k}_target']),
                       torch.from_numpy(z[f'{k}_oracle']) if f'{k}_oracle' in z else None)
              for k in ('train', 'val', 'test')}
    read = time.perf_counter() - t

    t = time.perf_counter()
    with torch.inference_mode():
        centre = targets(splits['train']).double().mean(0).float()  # lib/lvm/train/metrics.ts targetMean
        scores = {k: score_model(model, ds, centre) for k, ds in splits.items()}
        base = baselines(splits['train'], {'val': splits['val'], 'test': splits['test']}, centre)
    seconds = time.perf_counter() - t
    return {'seconds': {'load': load, 'read': read, 'evaluate': seconds}, 'scores': scores, 'baselines': base}


def main():
    bench_threads.apply(bench_threads.parse_args())
    print(json.dumps({'impl': 'python', 'python': sys.executable, 'torch': torch.__version__,
                      'libtorch': bench_threads.mapped_library('libtorch_cpu'), **bench_threads.describe()}), flush=True)
    for line in sys.stdin:
        try:
            print(json.dumps(evaluate(json.loads(line))), flush=True)
        except Exception as e:  # noqa: BLE001 (the orchestrator reports it)
            print(json.dumps({'error': f'{type(e).__name__}: {e}'}), flush=True)


if __name__ == '__main__':
    main()
