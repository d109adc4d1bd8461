# The serving tests' PyTorch side, for test/serve.test.ts. stdin JSON, stdout JSON.
#   {"mode": "write", "dir"}: a seed-server LatentMamba raw state dict (latent_mamba.pt, torch.manual_seed(0)) and a
#     bank (bank.npz: target_vectors [500, 768] unit vectors, target_texts as a numpy object array, as the seed's
#     training .npz keeps its texts).
#   {"mode": "predict", "dir", "requests": [{vector_sequence, tmd_codes}]}: what the seed server answers for each:
#     the vectors with the 16-D TMD bits appended to every step, LatentMamba's first 768 outputs, L2-normalised.
#   {"mode": "nearest", "dir", "queries": [[...768]], "k"}: the k bank rows of highest cosine, by numpy.
#   {"mode": "bank", "dir", "vectors": an .npz with `vectors`}: bank.npz of those vectors, texts 'sentence i'.
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from models_reference import LatentMamba  # noqa: E402


def tmd(domain, task, modifier):
    v = np.zeros(16, dtype=np.float32)
    for i in range(4):
        v[i] = (domain >> i) & 1
    for i in range(5):
        v[4 + i] = (task >> i) & 1
    for i in range(6):
        v[9 + i] = (modifier >> i) & 1
    return v


def main():
    req = json.load(sys.stdin)
    d = req['dir']
    if req['mode'] == 'write':
        torch.manual_seed(0)
        torch.save(LatentMamba().state_dict(), os.path.join(d, 'latent_mamba.pt'))
        rng = np.random.default_rng(0)
        v = rng.standard_normal((500, 768)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        texts = np.array([f'sentence {i}' for i in range(500)], dtype=object)
        np.savez(os.path.join(d, 'bank.npz'), target_vectors=v, target_texts=texts)
        out = {'parameters': sum(p.numel() for p in LatentMamba().parameters())}
    elif req['mode'] == 'bank':
        v = np.load(req['vectors'])['vectors']
        texts = np.array([f'sentence {i}' for i in range(len(v))], dtype=object)
        np.savez(os.path.join(d, 'bank.npz'), target_vectors=v, target_texts=texts)
        out = {'rows': len(v)}
    elif req['mode'] == 'predict':
        model = LatentMamba()
        model.load_state_dict(torch.load(os.path.join(d, 'latent_mamba.pt')))
        model.eval()
        out = []
        with torch.no_grad():
            for r in req['requests']:
                seq = np.array(r['vector_sequence'], dtype=np.float32)
                x = np.concatenate([seq, np.tile(tmd(*r['tmd_codes']), (len(seq), 1))], axis=1)
                y = model(torch.from_numpy(x).unsqueeze(0))[0, :768]
                out.append((y / y.norm()).tolist())
    elif req['mode'] == 'nearest':
        bank = np.load(os.path.join(d, 'bank.npz'), allow_pickle=True)
        v = bank['target_vectors'].astype(np.float64)
        q = np.array(req['queries'], dtype=np.float64)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        cos = q @ v.T
        out = []
        for row in cos:
            top = np.argsort(-row, kind='stable')[:req['k']]
            out.append([{'index': int(i), 'text': str(bank['target_texts'][i]), 'cosine': float(row[i])} for i in top])
    json.dump(out, sys.stdout)


main()
