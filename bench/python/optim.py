"""Python counterpart of bench/optim.js: torch.optim.AdamW(lr 5e-4, weight_decay 0.01, **opts).step() over the seed's
GRU (test/python/models_reference.py's Mamba2VectorPredictor, 7,359,232 parameters), gradients from one backward of
raw.sum() on a random [B, 5, 768] batch. One optimiser per opts ({} = the CPU default, single-tensor; foreach=True;
fused=True), kept across requests.

Thread settings are fixed for the life of the process: `--threads=N` (intra-op) and `--blas=M` (OpenBLAS's pool),
or torch's defaults without them (bench_threads.py).

Protocol: one greeting line of JSON (torch, threads, BLAS), then per request line {"opts", "steps", "B"} one answer
line {"ms", "min", "max"}: the median (min, max) of `steps` timed steps, after one untimed step.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from models_reference import Mamba2VectorPredictor  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402


def main():
    bench_threads.apply(bench_threads.parse_args())
    print(json.dumps({'impl': 'python', 'torch': torch.__version__, **bench_threads.describe()}), flush=True)
    model, optimizers = None, {}
    for line in sys.stdin:
        req = json.loads(line)
        if model is None:
            torch.manual_seed(0)
            model = Mamba2VectorPredictor(768, 512, 4, 768).train()
            raw, _ = model(torch.randn(req['B'], 5, 768))
            raw.sum().backward()
        key = json.dumps(req['opts'], sort_keys=True)
        if key not in optimizers:
            optimizers[key] = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, **req['opts'])
        opt = optimizers[key]
        opt.step()
        ms = []
        for _ in range(req['steps']):
            t0 = time.perf_counter()
            opt.step()
            ms.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps({'ms': statistics.median(ms), 'min': min(ms), 'max': max(ms)}), flush=True)


if __name__ == '__main__':
    main()
