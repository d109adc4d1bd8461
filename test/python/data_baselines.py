"""Scores a dataset .npz (the seed's layout, with doc_ids and oracle_vectors as `lvmtorch data synth` writes it)
with real PyTorch: the global-mean, copy-last and ridge baselines, the oracle, and optionally the seed's GRU
trained here. This is how the synthetic corpus's parameters were tuned (see README "## Data"); it is not run by
the test suite (training takes minutes).

  /usr/bin/python3 test/python/data_baselines.py --npz x.npz --split split.json [--gru-epochs 15] [--loss cos|infonce]

split.json: {"train": [rows], "val": [rows], "test": [rows]}, e.g. from datasets.splitByDocument(ds, {seed: 0}).
Without --split, documents are split 80/10/10 with torch.randperm(seed 0). Prints one JSON object.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def cos(a, b):
    return F.cosine_similarity(a, b, dim=1).mean().item()


def ridge(xtr, ytr, xva, yva, lams=(1e-3, 1e-2, 1e-1, 1, 10, 100)):
    """Closed-form ridge on the flattened context (float64), lambda (relative to the mean diagonal) chosen on val."""
    X, Y = xtr.flatten(1).double(), ytr.double()
    xm, ym = X.mean(0), Y.mean(0)
    G = (X - xm).t() @ (X - xm)
    C = (X - xm).t() @ (Y - ym)
    scale = G.trace() / G.shape[0]
    best = None
    for lam in lams:
        W = torch.linalg.solve(G + lam * scale * torch.eye(G.shape[0], dtype=G.dtype), C)
        predict = lambda x, W=W: ((x.flatten(1).double() - xm) @ W + ym).float()
        c = cos(predict(xva), yva)
        if best is None or c > best[0]:
            best = (c, lam, predict)
    return best


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mamba = nn.GRU(d, d, batch_first=True)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        return x + self.mamba(self.norm(x))[0]


class GRUPredictor(nn.Module):
    """The seed's Mamba2VectorPredictor in its GRU fallback, smaller: input_proj, blocks of x + GRU(LN(x)), head."""
    def __init__(self, dim=768, d_model=256, layers=2):
        super().__init__()
        self.input_proj = nn.Linear(dim, d_model)
        self.blocks = nn.ModuleList([Block(d_model) for _ in range(layers)])
        self.head = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model), nn.Linear(d_model, dim))

    def forward(self, x):
        x = self.input_proj(x)
        for b in self.blocks:
            x = b(x)
        raw = self.head(x[:, -1])
        return raw, F.normalize(raw, dim=-1)


def seed_loss(raw, y, tau=0.07):
    """The seed's loss without its variance term: symmetric InfoNCE + 0.1 * moment matching."""
    p, t = F.normalize(raw, dim=1), F.normalize(y, dim=1)
    logits = p @ t.t() / tau
    labels = torch.arange(len(y))
    info = F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)
    moment = ((raw.mean(0) - y.mean(0)) ** 2).mean() + ((raw.std(0) - y.std(0)) ** 2).mean()
    return info + 0.1 * moment


def train_gru(xtr, ytr, xva, yva, epochs, loss, lr=1e-3, batch=64, seed=0, d_model=256, layers=2):
    torch.manual_seed(seed)
    model = GRUPredictor(xtr.shape[-1], d_model, layers)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    history, start = [], time.time()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            raw, pred = model(xtr[idx])
            if loss == 'cos':
                l = ((pred - F.normalize(ytr[idx], dim=1)) ** 2).mean()
            else:
                l = seed_loss(raw, ytr[idx])
            opt.zero_grad()
            l.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            history.append(round(cos(model(xva)[1], yva), 4))
    return {'best': max(history), 'last': history[-1], 'history': history, 'seconds': round(time.time() - start, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--npz', required=True)
    ap.add_argument('--split')
    ap.add_argument('--gru-epochs', type=int, default=0)
    ap.add_argument('--loss', choices=['cos', 'infonce'], default='cos')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    z = np.load(args.npz)
    x = torch.from_numpy(z['context_sequences'])
    y = torch.from_numpy(z['target_vectors'])
    oracle = torch.from_numpy(z['oracle_vectors']) if 'oracle_vectors' in z.files else None
    if args.split:
        with open(args.split) as f:
            s = json.load(f)
        tr, va, te = (torch.tensor(s[k]) for k in ('train', 'val', 'test'))
    else:
        docs = torch.from_numpy(z['doc_ids'])
        ids = docs.unique()
        perm = ids[torch.randperm(len(ids), generator=torch.Generator().manual_seed(0))]
        a, b = int(0.8 * len(ids)), int(0.9 * len(ids))
        pick = lambda d: torch.nonzero(torch.isin(docs, d)).flatten()
        tr, va, te = pick(perm[:a]), pick(perm[a:b]), pick(perm[b:])
    mean = F.normalize(y[tr].mean(0), dim=0)
    rc, lam, predict = ridge(x[tr], y[tr], x[va], y[va])
    out = {'rows': {'train': len(tr), 'val': len(va), 'test': len(te)}, 'ridge_lambda': lam}
    for name, rows in (('val', va), ('test', te)):
        r = {'mean': cos(mean.expand(len(rows), -1), y[rows]), 'copy_last': cos(x[rows, -1], y[rows]),
             'ridge': cos(predict(x[rows]), y[rows])}
        if oracle is not None:
            r['oracle'] = cos(oracle[rows], y[rows])
            r['ridge/oracle'] = r['ridge'] / r['oracle']
        out[name] = {k: round(v, 4) for k, v in r.items()}
    if args.gru_epochs:
        g = train_gru(x[tr], y[tr], x[va], y[va], args.gru_epochs, args.loss, seed=args.seed)
        if oracle is not None:
            g['best/oracle'] = round(g['best'] / out['val']['oracle'], 4)
        out['gru_' + args.loss] = g
    print(json.dumps(out))


if __name__ == '__main__':
    main()
