"""Python counterpart of bench/models.js: forward + backward of the seed's classes (test/python/models_reference.py,
and test/python/mamba2_reference.py for mamba2) at the seed's sizes, on [B, 5, 768] float32 in train mode.

Protocol: one greeting line of JSON, then per request line {"kind", "config", "B", "seconds", "threads",
"blasThreads"} one answer line {"iters", "seconds", "ms"}.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from models_reference import build  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_threads import set_blas_threads  # noqa: E402  (only an OpenBLAS torch itself loaded)


def make(kind, config):
    if kind == 'mamba2':
        from mamba2_reference import build as build_mamba2
        return build_mamba2(config)
    return build(kind, config)


models = {}


def main():
    print(json.dumps({'impl': 'python', 'torch': torch.__version__}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        torch.set_num_threads(req['threads'])
        set_blas_threads(req['blasThreads'])
        kind = req['kind']
        if kind not in models:
            torch.manual_seed(0)
            models[kind] = make(kind, req['config']).train()
        model = models[kind]
        x = torch.randn(req['B'], 5, req['config']['inputDim'])

        def once():
            raw, _ = model(x)
            raw.sum().backward()
            for p in model.parameters():
                p.grad = None
        once()
        iters, t0 = 0, time.perf_counter()
        while True:
            once()
            iters += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= req['seconds']:
                break
        print(json.dumps({'iters': iters, 'seconds': elapsed, 'ms': elapsed / iters * 1e3}), flush=True)


if __name__ == '__main__':
    main()
