"""Python counterpart of bench/train.js: the seed's training loop, one epoch per request, on the data file the lvmtorch
side wrote: a shuffled pass of batches (randperm + index), the seed's GRU (test/python/models_reference.py), the
seed's composite loss (test/python/loss_reference.py's DESIGN.md formulas: InfoNCE 1, moment 0.1, variance 0.01), backward, clip_grad_norm_(1.0),
AdamW(5e-4, weight_decay 0.01).

Protocol: one greeting line of JSON, then per request line {"file", "B", "threads", "blasThreads"} one answer line
{"rows", "seconds", "samplesPerSecond", "loss"}.
"""
import ctypes
import ctypes.util
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from loss_reference import design_terms  # noqa: E402
from models_reference import Mamba2VectorPredictor  # noqa: E402

SEED_WEIGHTS = {'tau': 0.07, 'info': 1, 'moment': 0.1, 'variance': 0.01, 'mse': 0, 'cosMse': 0}


def seed_loss(pred, target):
    return design_terms(pred, target, SEED_WEIGHTS)[0]


def set_blas_threads(n):
    for name in ('openblas', 'openblasp', 'blas'):
        path = ctypes.util.find_library(name)
        if path:
            lib = ctypes.CDLL(path)
            if hasattr(lib, 'openblas_set_num_threads'):
                lib.openblas_set_num_threads(n)
                return True
    return False


data = {}


def epoch(req):
    torch.set_num_threads(req['threads'])
    set_blas_threads(req['blasThreads'])
    if req['file'] not in data:
        z = np.load(req['file'])
        data[req['file']] = (torch.from_numpy(z['context_sequences']), torch.from_numpy(z['target_vectors']))
    x_all, y_all = data[req['file']]
    torch.manual_seed(0)
    model = Mamba2VectorPredictor(768, 512, 4, 768)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    n, B = x_all.shape[0], req['B']
    t0 = time.perf_counter()
    order = torch.randperm(n)
    total = 0.0
    for s in range(0, n - B + 1, B):
        idx = order[s:s + B]
        x, y = x_all[idx], y_all[idx]
        opt.zero_grad()
        raw, _ = model(x)
        loss = seed_loss(raw, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total = float(loss)
    seconds = time.perf_counter() - t0
    rows = (n // B) * B
    return {'rows': rows, 'seconds': seconds, 'samplesPerSecond': rows / seconds, 'loss': total}


def main():
    print(json.dumps({'impl': 'python', 'torch': torch.__version__}), flush=True)
    for line in sys.stdin:
        print(json.dumps(epoch(json.loads(line))), flush=True)


if __name__ == '__main__':
    main()
