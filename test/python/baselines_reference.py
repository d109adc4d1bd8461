# What numpy/PyTorch compute for test/baselines.test.ts: stdin JSON {"file"}; the file (written by lvmtorch) holds
# xTrain [N,T,D], yTrain, xVal, yVal, pred, target, A (SPD), B, and two more ridge cases (xWide/yWide with
# xWideVal/yWideVal; xSmall/ySmall, scored on xVal/yVal). stdout JSON: the metrics of pred vs target (cosine, mse,
# top-1, top-5 among all targets), the baselines on val (mean, copy-last, ridge at each strength of the grid,
# written from the formulas in float64 numpy; ridge's val cosines for each case), and torch.linalg's solve /
# cholesky / cholesky_solve as base64.
import base64
import json
import sys

import numpy as np
import torch

GRID = [1e-3, 1e-2, 1e-1, 1]


def normalize(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def metrics(pred, target):
    p, t = normalize(pred), normalize(target)
    own = (p * t).sum(1)
    sims = p @ t.T
    rank = (sims > np.diag(sims)[:, None]).sum(1)
    return {'cosine': float(own.mean()), 'mse': float(((p - target) ** 2).mean()),
            'top1': float((rank == 0).mean()), 'top5': float((rank < 5).mean())}


def ridge(x_train, y_train, x_val, y_val):
    X = x_train.reshape(len(x_train), -1).astype(np.float64)
    Y = y_train.astype(np.float64)
    xm, ym = X.mean(0), Y.mean(0)
    Xc, Yc = X - xm, Y - ym
    G = Xc.T @ Xc
    scale = np.trace(G) / G.shape[0]
    out = []
    for rel in GRID:
        W = np.linalg.solve(G + rel * scale * np.eye(G.shape[0]), Xc.T @ Yc)
        pred = (x_val.reshape(len(x_val), -1) - xm) @ W + ym
        out.append(metrics(pred, y_val)['cosine'])
    return out


def b64(t):
    return base64.b64encode(t.contiguous().numpy().astype(np.float64).tobytes()).decode('ascii')


def main():
    req = json.load(sys.stdin)
    d = torch.load(req['file'])
    n = {k: v.double().numpy() for k, v in d.items()}
    mean = normalize(n['yTrain'].mean(0, keepdims=True))
    A, B = d['A'].double(), d['B'].double()
    L = torch.linalg.cholesky(A)
    json.dump({
        'metrics': metrics(n['pred'], n['target']),
        'mean': metrics(np.repeat(mean, len(n['yVal']), 0), n['yVal']),
        'copyLast': metrics(n['xVal'][:, -1, :], n['yVal']),
        'ridge': ridge(n['xTrain'], n['yTrain'], n['xVal'], n['yVal']),
        'ridgeWide': ridge(n['xWide'], n['yWide'], n['xWideVal'], n['yWideVal']),
        'ridgeSmall': ridge(n['xSmall'], n['ySmall'], n['xVal'], n['yVal']),
        'solve': b64(torch.linalg.solve(A, B)), 'cholesky': b64(L), 'choleskySolve': b64(torch.cholesky_solve(B, L)),
    }, sys.stdout)


if __name__ == '__main__':
    main()
