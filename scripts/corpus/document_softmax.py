"""Which objective beats copy-last on in-document retrieval? The in-document softmax (lvmtorch's `--loss document`)
written in PyTorch, on an ordered vectors file, with baselines.py's split by document: each row's prediction is
ranked by softmax against every sentence of the batch's documents (`--docs` per batch, at most `--rows` windows
of each), its context and other copies of its target masked (`--nomask`: not), and scored by the in-document
MRR that lvmtorch prints (the truth among its document's distinct sentences, its context left out).

    python document_softmax.py FILE.npz [--model linear|gru|mlp|scalar] [--lr 1e-4] [--epochs 4] [--tau 0.05]

Every model predicts a residual over the last context vector, its last layer starting at zero (copy-last at
epoch 0). bench/quality.md's "Judged by retrieval" quotes its runs. Needs PyTorch (the project's .venv has 2.13).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import draw

CTX = 5
ap = argparse.ArgumentParser()
ap.add_argument("npz")
ap.add_argument("--model", default="linear")  # linear | gru | mlp
ap.add_argument("--loss", default="doc")  # doc | batch | doc+batch
ap.add_argument("--tau", type=float, default=0.05)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--wd", type=float, default=0.01)
ap.add_argument("--epochs", type=int, default=8)
ap.add_argument("--docs", type=int, default=4)  # documents per batch
ap.add_argument("--rows", type=int, default=64)
ap.add_argument("--nomask", action="store_true")
ap.add_argument("--hidden", type=int, default=256)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

z = np.load(args.npz)
V = torch.from_numpy(z["vectors"].astype(np.float32))
doc_ids = z["doc_ids"]
_, split = draw(len(V), doc_ids)
Vn = F.normalize(V, dim=1)
starts = np.flatnonzero(np.r_[True, doc_ids[1:] != doc_ids[:-1]])
ends = np.r_[starts[1:], len(doc_ids)]
span = {int(doc_ids[s]): (int(s), int(e)) for s, e in zip(starts, ends)}


def doc_windows(d):
    s, e = span[d]
    return list(range(s + CTX, e))


def idx_ctx(t):  # [W] -> [W, CTX]
    t = torch.as_tensor(t)
    return t[:, None] - CTX + torch.arange(CTX)[None]


def in_doc_eval(predict, docs):
    rr, top1, n = 0.0, 0, 0
    with torch.no_grad():
        for d in docs:
            s, e = span[d]
            ts = doc_windows(d)
            if not ts: continue
            ci = idx_ctx(ts)
            p = F.normalize(predict(V[ci]), dim=1)
            cand = Vn[s:e]
            uniq, inv = torch.unique(V[s:e], dim=0, return_inverse=True)
            sim = p @ cand.T  # [W, n]
            for r, t in enumerate(ts):
                excl = set(inv[ci[r] - s].tolist())
                truth = int(inv[t - s])
                if truth in excl:  # truth equals a context sentence: still counted, as eval's truth
                    excl.discard(truth)
                # distinct candidate ids: first position of each unique id
                seen = {}
                for j in range(e - s):
                    u = int(inv[j])
                    if u in excl or u in seen: continue
                    seen[u] = j
                st = sim[r, t - s]
                better = sum(1 for u, j in seen.items() if u != truth and sim[r, j] > st)
                rank = better + 1
                rr += 1 / rank; top1 += rank == 1; n += 1
    return rr / n, top1 / n


class Linear(torch.nn.Module):
    def __init__(self, D):
        super().__init__()
        self.lin = torch.nn.Linear(CTX * D, D)
        torch.nn.init.zeros_(self.lin.weight); torch.nn.init.zeros_(self.lin.bias)
    def forward(self, c):
        return c[:, -1] + self.lin(c.flatten(1))


class GRU(torch.nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.gru = torch.nn.GRU(D, H, 2, batch_first=True)
        self.out = torch.nn.Linear(H, D)
        torch.nn.init.zeros_(self.out.weight); torch.nn.init.zeros_(self.out.bias)
    def forward(self, c):
        h, _ = self.gru(c)
        return c[:, -1] + self.out(h[:, -1])


class MLP(torch.nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(CTX * D, H), torch.nn.GELU(), torch.nn.Linear(H, D))
        torch.nn.init.zeros_(self.net[2].weight); torch.nn.init.zeros_(self.net[2].bias)
    def forward(self, c):
        return c[:, -1] + self.net(c.flatten(1))


class Scalar(torch.nn.Module):
    def __init__(self, D):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0., 0, 0, 0, 1]))
        self.b = torch.nn.Parameter(torch.zeros(D))
    def forward(self, c):
        return (c * self.w[None, :, None]).sum(1) + self.b


D = V.shape[1]
model = {"linear": lambda: Linear(D), "gru": lambda: GRU(D, args.hidden), "mlp": lambda: MLP(D, 1024), "scalar": lambda: Scalar(D)}[args.model]()
opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
train_docs = [int(d) for d in split["train"] if doc_windows(int(d))]
print("copy-last val", in_doc_eval(lambda c: c[:, -1], [int(d) for d in split["val"]]), flush=True)
best = (-1, 0)
rng = np.random.default_rng(0)
for epoch in range(1, args.epochs + 1):
    model.train(); t0 = time.time(); tot = 0; nb = 0
    order = rng.permutation(train_docs)
    for b in range(0, len(order), args.docs):
        docs = order[b:b + args.docs]
        ts = [t for d in docs for t in doc_windows(int(d))]
        ts = torch.tensor(ts)
        if len(ts) > args.rows * args.docs:  # subsample long documents
            ts = ts[torch.randperm(len(ts))[: args.rows * args.docs]]
        ci = idx_ctx(ts)
        pred = F.normalize(model(V[ci]), dim=1)
        if args.loss == "batch":
            cand_idx = ts
        else:
            cand_idx = torch.cat([torch.arange(*span[int(d)]) for d in docs])
        cand = Vn[cand_idx]
        logits = pred @ cand.T / args.tau
        # mask: candidates that are a context sentence of the row (by index) or equal the truth's vector elsewhere
        is_ctx = (cand_idx[None, None, :] == ci[:, :, None]).any(1)
        same_vec = (cand @ Vn[ts].T).T > 1 - 1e-6
        is_truth = cand_idx[None, :] == ts[:, None]
        mask = (is_ctx | same_vec) & ~is_truth
        if not args.nomask:
            logits = logits.masked_fill(mask, float("-inf"))
        target = is_truth.float().argmax(1)
        loss = F.cross_entropy(logits, target)
        opt.zero_grad(); loss.backward(); opt.step()
        tot += loss.item(); nb += 1
    model.eval()
    mrr, t1 = in_doc_eval(model, [int(d) for d in split["val"]])
    if mrr > best[0]:
        best = (mrr, epoch); test = in_doc_eval(model, [int(d) for d in split["test"]])
    print(f"epoch {epoch} loss {tot/nb:.4f} val in-doc MRR {mrr:.4f} top1 {t1:.4f} ({time.time()-t0:.0f}s)", flush=True)
print("best", best, "test at best", test, "copy-last test", in_doc_eval(lambda c: c[:, -1], [int(d) for d in split["test"]]))
if args.model == "scalar": print("w", model.w.data, "|b|", model.b.norm().item())
