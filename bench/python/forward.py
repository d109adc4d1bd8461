"""Python counterpart of bench/forward.js: inference latency of the seed's classes (test/python/models_reference.py,
built from lvmtorch's config of the model) with the weights and inputs the lvmtorch side wrote, in eval mode under
`torch.inference_mode()`: the call a PyTorch user makes (`model(x)`; for LatentMamba, `model(x)` and the
normalisation of its first 768 outputs, as the seed server does).

Thread settings are fixed for the life of the process: `--threads=N` (intra-op) and `--blas=M` (OpenBLAS's pool, where
torch has one), or torch's defaults without them (bench_threads.py).

Protocol: one greeting line of JSON (torch, threads, BLAS), then per request line one answer line:
  {"load": {"kind", "config", "file", "sizes"}}  -> {"params", "outputs": {"python": {B: [normalised prediction]}}}
  {"time": {"kind", "B", "seconds", "minCalls"}}  -> {"calls", "ms"}: the median of calls repeated for that long
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from models_reference import build, outputs  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402

loaded = {}


def load(req):
    kind, c = req['kind'], req['config']
    f = torch.load(req['file'], weights_only=True)
    model = build(kind, c)
    model.load_state_dict(f['state_dict'], strict=True)
    model.eval()
    inputs = {B: f[f'x{B}'] for B in req['sizes']}
    loaded[kind] = (model, c, inputs)
    out = {}
    with torch.inference_mode():
        for B, x in inputs.items():
            out[str(B)] = outputs(model, kind, c, x)[1].flatten().tolist()
    return {'params': sum(p.numel() for p in model.parameters()), 'outputs': {'python': out}}


def timed(req):
    kind, B = req['kind'], req['B']
    model, c, inputs = loaded[kind]
    x = inputs[B]
    times = []
    with torch.inference_mode():
        outputs(model, kind, c, x)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < req['seconds'] or len(times) < req['minCalls']:
            t = time.perf_counter()
            outputs(model, kind, c, x)
            times.append(time.perf_counter() - t)
    return {'calls': len(times), 'ms': float(np.median(times)) * 1e3}


def main():
    bench_threads.apply(bench_threads.parse_args())
    print(json.dumps({'impl': 'python', 'python': sys.executable, 'torch': torch.__version__,
                      'libtorch': bench_threads.mapped_library('libtorch_cpu'), **bench_threads.describe()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            print(json.dumps(load(req['load']) if 'load' in req else timed(req['time'])), flush=True)
        except Exception as e:  # noqa: BLE001 (the orchestrator reports it)
            print(json.dumps({'error': f'{type(e).__name__}: {e}'}), flush=True)


if __name__ == '__main__':
    main()
