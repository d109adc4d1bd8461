# What numpy/PyTorch compute for test/baselines.test.ts: stdin JSON {"file"}; the file (written by lvmtorch) holds
# xTrain [N,T,D], yTrain, xVal, yVal, pred, target, centre [D], A (SPD), B, two more ridge cases (xWide/yWide with
# xWideVal/yWideVal; xSmall/ySmall, scored on xVal/yVal), and tiePred/tieTarget (exact ties). stdout JSON: the
# metrics of pred vs target (cosine, mse, top-1, top-5 among all targets, and in torch the centred cosine about
# `centre`, MRR and median rank), the baselines on val (mean, copy-last, context mean, ridge at each strength of the grid,
# written from the formulas in float64 numpy; ridge's val cosines for each case; in torch each baseline's centred
# cosine about the train targets' mean, and their MRR/median rank), the train targets' mean, and torch.linalg's
# solve / cholesky / cholesky_solve as base64.
import base64
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

GRID = [1e-3, 1e-2, 1e-1, 1, 10, 100]  # lib/lvm/train/baselines.ts RIDGE_GRID


def normalize(a):
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def metrics(pred, target):
    p, t = normalize(pred), normalize(target)
    own = (p * t).sum(1)
    sims = p @ t.T
    rank = (sims > np.diag(sims)[:, None]).sum(1)
    return {'cosine': float(own.mean()), 'mse': float(((p - target) ** 2).mean()),
            'top1': float((rank == 0).mean()), 'top5': float((rank < 5).mean())}


def torch_metrics(pred, target, centre=None):
    """The centred cosine, MRR and median rank, written in PyTorch: rank = how many targets are strictly more
    similar to the prediction than its own (ties in the row's favour); the median is torch.median's (the lower of
    the two middle values for an even count), 1-based."""
    pred, target = torch.as_tensor(pred), torch.as_tensor(target)
    p, t = F.normalize(pred, dim=1), F.normalize(target, dim=1)
    sims = p @ t.T
    rank = (sims > sims.diagonal().unsqueeze(1)).sum(1)
    out = {'top1': (rank == 0).double().mean().item(), 'top5': (rank < 5).double().mean().item(),
           'mrr': (1.0 / (rank + 1).double()).mean().item(), 'medianRank': int(rank.median().item()) + 1}
    if centre is not None:
        c = torch.as_tensor(centre)
        out['centredCosine'] = (F.normalize(p - c, dim=1) * F.normalize(target - c, dim=1)).sum(1).mean().item()
    return out


def ridge_predictions(x_train, y_train, x_val):
    X = x_train.reshape(len(x_train), -1).astype(np.float64)
    Y = y_train.astype(np.float64)
    xm, ym = X.mean(0), Y.mean(0)
    Xc, Yc = X - xm, Y - ym
    G = Xc.T @ Xc
    scale = np.trace(G) / G.shape[0]
    return [(x_val.reshape(len(x_val), -1) - xm) @ np.linalg.solve(G + rel * scale * np.eye(G.shape[0]), Xc.T @ Yc) + ym
            for rel in GRID]


def ridge(x_train, y_train, x_val, y_val):
    return [metrics(pred, y_val)['cosine'] for pred in ridge_predictions(x_train, y_train, x_val)]


def b64(t):
    return base64.b64encode(t.contiguous().numpy().astype(np.float64).tobytes()).decode('ascii')


def main():
    req = json.load(sys.stdin)
    d = torch.load(req['file'])
    n = {k: v.double().numpy() for k, v in d.items()}
    mean = normalize(n['yTrain'].mean(0, keepdims=True))
    A, B = d['A'].double(), d['B'].double()
    L = torch.linalg.cholesky(A)
    # The train targets' mean, raw (the centre of every centred cosine), in float64.
    centre = d['yTrain'].double().mean(0)
    val = {'mean': np.repeat(mean, len(n['yVal']), 0), 'copyLast': n['xVal'][:, -1, :], 'contextMean': n['xVal'].mean(1)}
    for i, p in enumerate(ridge_predictions(n['xTrain'], n['yTrain'], n['xVal'])):
        val[f'ridge{i}'] = p
    json.dump({
        'metrics': {**torch_metrics(d['pred'].double(), d['target'].double(), d['centre'].double()),
                    **metrics(n['pred'], n['target'])},
        'ties': torch_metrics(d['tiePred'], d['tieTarget']),
        'trainMean': centre.tolist(),
        'centred': {k: torch_metrics(p, d['yVal'].double(), centre) for k, p in val.items()},
        'mean': metrics(np.repeat(mean, len(n['yVal']), 0), n['yVal']),
        'copyLast': metrics(n['xVal'][:, -1, :], n['yVal']),
        'contextMean': metrics(n['xVal'].mean(1), n['yVal']),
        'ridgePredictions': [b64(torch.from_numpy(val[f'ridge{i}'])) for i in range(len(GRID))],
        'ridge': ridge(n['xTrain'], n['yTrain'], n['xVal'], n['yVal']),
        'ridgeWide': ridge(n['xWide'], n['yWide'], n['xWideVal'], n['yWideVal']),
        'ridgeSmall': ridge(n['xSmall'], n['ySmall'], n['xVal'], n['yVal']),
        'solve': b64(torch.linalg.solve(A, B)), 'cholesky': b64(L), 'choleskySolve': b64(torch.cholesky_solve(B, L)),
    }, sys.stdout)


if __name__ == '__main__':
    main()
