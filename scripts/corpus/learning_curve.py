"""Does more text let a nonlinear model pull ahead of ridge? A learning curve of 5 -> next on an ordered vectors file.

    python learning_curve.py FILE.npz [--fractions 0.125,0.25,0.5,1] [--epochs 12] [--threads 1]

baselines.py's split by document; for each fraction, the first documents of its train split (val stays whole):
closed-form ridge (strength chosen on val), the mean of the context, and an MLP residual over that ridge (1,024
hidden, GELU, dropout 0.2, its last layer starting at zero, so that it starts from ridge; AdamW lr 3e-4, weight
decay 0.01, batch 256, cosine loss, the epoch with the best val raw cosine), and a nearest-neighbour blend (the
targets of the 50 train windows whose contexts are most alike, softmax-weighted, mixed 1:4 with ridge's unit
prediction). Prints val raw / centred cosine (the normalised prediction and the target, both minus the train
targets' mean, as lvmtorch scores it) and each one's gain over ridge. Needs PyTorch (the project's .venv has 2.13).
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from baselines import draw, windows

RIDGE_STRENGTHS = [0.1, 0.3, 1.0, 3.0, 10.0]  # times the mean eigenvalue of the centred Gram matrix


def scores(pred, target, mu):
    p = F.normalize(pred, dim=1)
    raw = (p * F.normalize(target, dim=1)).sum(1).mean().item()
    centred = (F.normalize(p - mu, dim=1) * F.normalize(target - mu, dim=1)).sum(1).mean().item()
    return raw, centred


def fit_ridge(x, y, val, mu):
    """The ridge map (W [p, D], b [D]) with the best val raw cosine."""
    xm, ym = x.mean(0), y.mean(0)
    xc = x - xm
    gram, cross = xc.T @ xc, xc.T @ (y - ym)
    scale = gram.diagonal().mean().item()
    best = None
    for rel in RIDGE_STRENGTHS:
        w = torch.linalg.solve(gram + rel * scale * torch.eye(len(gram), dtype=gram.dtype), cross)
        b = ym - xm @ w
        s = scores((val[0] @ w + b).float(), val[1], mu)
        if best is None or s[0] > best[0][0]:
            best = (s, rel, w.float(), b.float())
    return best


class Residual(torch.nn.Module):
    def __init__(self, w, b, hidden=1024, dropout=0.2):
        super().__init__()
        self.register_buffer("w", w)
        self.register_buffer("b", b)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(w.shape[0], hidden), torch.nn.GELU(), torch.nn.Dropout(dropout),
                                       torch.nn.Linear(hidden, w.shape[1]))
        torch.nn.init.zeros_(self.mlp[3].weight)
        torch.nn.init.zeros_(self.mlp[3].bias)

    def forward(self, x):
        return x @ self.w + self.b + self.mlp(x)


def train_residual(w, b, x, y, val, mu, epochs):
    torch.manual_seed(0)
    model = Residual(w, b)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    best = (None, -1)
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(y)).split(256):
            loss = (1 - F.cosine_similarity(model(x[idx]), y[idx])).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            s = scores(model(val[0]), val[1], mu)
        if best[0] is None or s[0] > best[0][0]:
            best = (s, epoch)
    return best


def knn_blend(c, y, vc, ridge_val, mu, k=50, temperature=0.05, share=0.2):
    """Ridge's unit prediction mixed with the softmax-weighted targets of the k train windows of the most alike
    contexts (each sentence centred and normalised, later sentences weighing more)."""
    weights = torch.tensor([0.1, 0.2, 0.3, 0.6, 1.0])
    key = lambda ctx: F.normalize((F.normalize(ctx - mu, dim=2) * weights[:, None]).reshape(len(ctx), -1), dim=1)
    keys = key(c)
    out = []
    for rows in key(vc).split(1024):
        sim, idx = (rows @ keys.T).topk(k, dim=1)
        out.append((torch.softmax(sim / temperature, dim=1)[:, :, None] * y[idx]).sum(1))
    return F.normalize(ridge_val, dim=1) * (1 - share) + share * F.normalize(torch.cat(out), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("npz")
    ap.add_argument("--fractions", default="0.125,0.25,0.5,1")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    z = np.load(args.npz, allow_pickle=False)
    vectors, doc_ids = z["vectors"].astype(np.float32), z["doc_ids"]
    _, split = draw(len(vectors), doc_ids)
    flat = lambda c: torch.from_numpy(c.reshape(len(c), -1))
    vc, vy = windows(vectors, doc_ids, split["val"])
    print(f"{'train docs':>10}{'windows':>9}  {'ridge':>15}  {'context mean':>15}  {'MLP residual':>15} (epoch, gain)"
          f"  {'kNN blend':>15} (gain)")
    for fraction in (float(f) for f in args.fractions.split(",")):
        t0 = time.time()
        docs = split["train"][: max(1, round(fraction * len(split["train"])))]
        c, y = windows(vectors, doc_ids, docs)
        x, y = flat(c), torch.from_numpy(y)
        mu = y.double().mean(0).float()
        val64 = (flat(vc).double(), torch.from_numpy(vy))
        rs, rel, w, b = fit_ridge(x.double(), y.double(), val64, mu)
        val = (flat(vc), torch.from_numpy(vy))
        cm = scores(torch.from_numpy(vc.mean(1)), val[1], mu)
        (ms, epoch) = train_residual(w, b, x, y, val, mu, args.epochs)
        ks = scores(knn_blend(torch.from_numpy(c), y, torch.from_numpy(vc), val[0] @ w + b, mu), val[1], mu)
        pct = lambda s: f"{100 * s[0]:6.2f} / {100 * s[1]:5.2f}"
        gain = lambda s: f"{100 * (s[0] - rs[0]):+.2f} / {100 * (s[1] - rs[1]):+.2f}"
        print(f"{len(docs):10d}{len(y):9d}  {pct(rs):>15}  {pct(cm):>15}  {pct(ms):>15} ({epoch:2d}, {gain(ms)})"
              f"  {pct(ks):>15} ({gain(ks)})   [ridge strength {rel}, {time.time() - t0:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
