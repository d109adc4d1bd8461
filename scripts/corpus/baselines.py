"""Baselines for "5 sentences -> the next one" on an ordered vectors file (vectors [N, D], doc_ids [N]).

    python baselines.py FILE.npz [--out baselines.json]

Split by document, 80/10/10 with a fixed seed; windows never cross a document. For the global train mean,
copy-last, the mean of the 5 context vectors and closed-form ridge on the flattened 5 x D context (strength chosen
on val) it prints raw cosine, centred cosine (the unit prediction and the target both minus the train mean, as
lvmtorch scores it: raw cosine flatters anything that points along the mean direction of anisotropic sentence
vectors) and the rank of the true
next sentence among all targets of the split (by raw and by centred cosine). Also the anisotropy: mean cosine of random sentence pairs.
"""
import argparse
import json
import time

import numpy as np

CTX = 5
SEED = 13
# Ridge strengths, times the number of train windows: unit vectors of 512 dimensions vary ~1/512 per dimension.
LAMBDAS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]


def windows(vectors, doc_ids, docs):
    """Context [W, CTX, D] and target [W, D] of every window inside the given documents."""
    starts = np.flatnonzero(np.r_[True, doc_ids[1:] != doc_ids[:-1]])
    ends = np.r_[starts[1:], len(doc_ids)]
    keep = set(int(d) for d in docs)
    idx = [t for s, e in zip(starts, ends) if int(doc_ids[s]) in keep for t in range(s + CTX, e)]
    idx = np.asarray(idx, dtype=np.int64)
    ctx = np.stack([vectors[idx - CTX + k] for k in range(CTX)], axis=1)
    return ctx, vectors[idx]


def cos(a, b):
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(1)


def scores(pred, target, mu, ranks=True):
    """Raw and centred mean cosine, and the rank of each true target among all the split's targets. Centred as
    lvmtorch scores it: the unit prediction (what raw cosine judges) and the target, both minus the train mean."""
    raw = float(cos(pred, target).mean())
    unit = pred / np.maximum(np.linalg.norm(pred, axis=1, keepdims=True), 1e-12)
    pc, tc = unit - mu, target - mu
    centred = float(cos(pc, tc).mean())
    if not ranks:  # the train split is too large for an all-pairs matrix, and its ranks say little
        return {"cosine": raw, "centred_cosine": centred}
    out = {"cosine": raw, "centred_cosine": centred, "candidates": len(target)}
    for name, p, t in (("", pred, target), ("centred_", pc, tc)):
        p = p / np.linalg.norm(p, axis=1, keepdims=True)
        t = t / np.linalg.norm(t, axis=1, keepdims=True)
        sim = p @ t.T
        rank = (sim > np.diag(sim)[:, None]).sum(1) + 1  # 1 = the true next sentence is the closest target
        out |= {f"{name}median_rank": float(np.median(rank)), f"{name}top1": float((rank == 1).mean()), f"{name}top10": float((rank <= 10).mean())}
    return out


def ridge_path(x, y, lams):
    """Closed-form ridge (with bias) for every strength from one eigendecomposition of the Gram matrix."""
    xm, ym = x.mean(0), y.mean(0)
    xc = x - xm
    s, v = np.linalg.eigh(xc.T @ xc)
    proj = v.T @ (xc.T @ (y - ym))
    fits = {}
    for lam in lams:
        w = v @ (proj / (s + lam * len(x))[:, None])
        fits[lam] = lambda z, w=w: (z - xm) @ w + ym
    return fits


def draw(n_vectors, doc_ids):
    """The random pairs for the anisotropy and the split by document (80/10/10), both from one default_rng(SEED)."""
    rng = np.random.default_rng(SEED)
    pairs = rng.integers(0, n_vectors, (2, 200_000))
    docs = rng.permutation(np.unique(doc_ids))
    n_train, n_val = int(0.8 * len(docs)), int(0.1 * len(docs))
    return pairs, {"train": docs[:n_train], "val": docs[n_train : n_train + n_val], "test": docs[n_train + n_val :]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("npz")
    ap.add_argument("--out")
    args = ap.parse_args()
    z = np.load(args.npz, allow_pickle=False)
    vectors, doc_ids = z["vectors"].astype(np.float64), z["doc_ids"]

    (i, j), split = draw(len(vectors), doc_ids)
    # Anisotropy: two random distinct sentences.
    same = i == j
    pair_cos = cos(vectors[i[~same]], vectors[j[~same]])
    data = {k: windows(vectors, doc_ids, v) for k, v in split.items()}
    xtr, ytr = data["train"]
    mu = ytr.mean(0)
    flat = lambda c: c.reshape(len(c), -1)

    t0 = time.time()
    fits = ridge_path(flat(xtr), ytr, LAMBDAS)
    lam_scores = {lam: float(cos(f(flat(data["val"][0])), data["val"][1]).mean()) for lam, f in fits.items()}
    best = max(lam_scores, key=lam_scores.get)
    ridge = fits[best]
    ridge_s = time.time() - t0

    predictors = {
        "train_mean": lambda c: np.broadcast_to(mu, (len(c), mu.shape[0])),
        "copy_last": lambda c: c[:, -1],
        "context_mean": lambda c: c.mean(1),
        "ridge": lambda c: ridge(flat(c)),
    }
    result = {
        "file": args.npz,
        "sentences": int(len(vectors)),
        "documents": int(len(np.unique(doc_ids))),
        "dim": int(vectors.shape[1]),
        "split": {k: {"documents": int(len(v)), "windows": int(len(data[k][1]))} for k, v in split.items()},
        "split_rule": f"documents permuted by numpy default_rng({SEED}), 80/10/10; windows of {CTX} -> next inside a document",
        "anisotropy": {"mean_pair_cosine": float(pair_cos.mean()), "std": float(pair_cos.std()), "pairs": int(len(pair_cos)),
                       "train_mean_norm": float(np.linalg.norm(mu))},
        "ridge": {"lambda": best, "lambda_scale": "times the number of train windows", "val_cosine_by_lambda": lam_scores, "fit_seconds": round(ridge_s, 1)},
        "baselines": {name: {k: scores(f(data[k][0]), data[k][1], mu, ranks=k != "train") for k in ("train", "val", "test")}
                      for name, f in predictors.items()},
    }
    print(f"{args.npz}: {result['sentences']} sentences, {result['documents']} documents; windows "
          + ", ".join(f"{k} {v['windows']} ({v['documents']} docs)" for k, v in result["split"].items()))
    a = result["anisotropy"]
    print(f"anisotropy: mean cosine of random pairs {a['mean_pair_cosine']:.4f} (sd {a['std']:.4f}); |train mean| {a['train_mean_norm']:.4f}")
    print(f"ridge lambda {best} (val cosine by lambda: " + ", ".join(f"{k}: {v:.4f}" for k, v in lam_scores.items()) + ")")
    print(f"{'':14}{'val cos':>9}{'val ccos':>9}{'val rank':>9}{'val crank':>10}{'val top10':>10}{'test cos':>9}{'test ccos':>10}{'train cos':>10}{'train ccos':>11}")
    for name, r in result["baselines"].items():
        v, t, tr = r["val"], r["test"], r["train"]
        crank = f"{v['centred_median_rank']:10.0f}" if "centred_median_rank" in v else f"{'-':>10}"
        print(f"{name:14}{v['cosine']:9.4f}{v['centred_cosine']:9.4f}{v['median_rank']:9.0f}{crank}{v['top10']:10.3f}"
              f"{t['cosine']:9.4f}{t['centred_cosine']:10.4f}{tr['cosine']:10.4f}{tr['centred_cosine']:11.4f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
