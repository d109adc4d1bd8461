"""Python counterpart of bench/train.js: the seed's training loop, one epoch per request, on the data file the lvmtorch
side wrote: a shuffled pass of batches (randperm + index), the seed's GRU, LSTM or Transformer
(test/python/models_reference.py's classes, built from lvmtorch's config of the model), the seed's composite loss
(test/python/loss_reference.py's DESIGN.md formulas: InfoNCE 1, moment 0.1, variance 0.01), backward,
clip_grad_norm_(1.0), AdamW(5e-4, weight_decay 0.01).

Thread settings are fixed for the life of the process: `--threads=N` (intra-op) and `--blas=M` (OpenBLAS's pool, where
torch has one), or torch's defaults without them (bench_threads.py).

Protocol: one greeting line of JSON (torch, threads, BLAS), then per request line {"file", "B", "maxRows"?, "kind"?,
"config"?} one answer line {"rows", "seconds", "samplesPerSecond", "loss", "params"}: one shuffled epoch of that model
(default: the seed GRU) over the file, or over its first maxRows rows; or per {"gemm": {"n", "seconds"}} one line
{"calls", "ms", "gflops"}: the median of n x n x n float32 matmuls repeated for that long.
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from loss_reference import design_terms  # noqa: E402
from models_reference import build  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402

SEED_GRU = {'inputDim': 768, 'dModel': 512, 'numLayers': 4, 'outputDim': 768}
SEED_WEIGHTS = {'tau': 0.07, 'info': 1, 'moment': 0.1, 'variance': 0.01, 'mse': 0, 'cosMse': 0}


def seed_loss(pred, target):
    return design_terms(pred, target, SEED_WEIGHTS)[0]


data = {}


def epoch(req):
    if req['file'] not in data:
        z = np.load(req['file'])
        data[req['file']] = (torch.from_numpy(z['context_sequences']), torch.from_numpy(z['target_vectors']))
    x_all, y_all = data[req['file']]
    torch.manual_seed(0)
    model = build(req.get('kind', 'gru'), req.get('config') or SEED_GRU)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    n, B = x_all.shape[0], req['B']
    if req.get('maxRows'):
        n = min(n, req['maxRows'])
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
    return {'rows': rows, 'seconds': seconds, 'samplesPerSecond': rows / seconds, 'loss': total,
            'params': sum(p.numel() for p in model.parameters())}


def gemm(req):
    n, seconds = req['n'], req['seconds']
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or len(times) < 5:
        t = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t)
    ms = float(np.median(times)) * 1e3
    return {'calls': len(times), 'ms': ms, 'gflops': 2 * n ** 3 / (ms / 1e3) / 1e9}


def main():
    bench_threads.apply(bench_threads.parse_args())
    print(json.dumps({'impl': 'python', 'python': sys.executable, 'torch': torch.__version__,
                      'libtorch': bench_threads.mapped_library('libtorch_cpu'), **bench_threads.describe()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        print(json.dumps(gemm(req['gemm']) if 'gemm' in req else epoch(req)), flush=True)


if __name__ == '__main__':
    main()
