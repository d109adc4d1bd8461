"""Python counterpart of bench/nn.js: the seed's GRU class (test/python/models_reference.py), per request line
{"impl": "python", "mode": "train" | "forward", "B", "steps"} one answer line {"ms"}: the median over `steps` of a
training step (zero_grad, forward, the seed's composite loss, backward, clip_grad_norm_(1.0), AdamW(5e-4, 0.01)) or
of an eval forward under inference_mode, on random [B, 5, 768] inputs. `--threads=N` as bench_threads.py reads it.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from loss_reference import design_terms  # noqa: E402
from models_reference import build  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402

SEED_GRU = {'inputDim': 768, 'dModel': 512, 'numLayers': 4, 'outputDim': 768}
SEED_WEIGHTS = {'tau': 0.07, 'info': 1, 'moment': 0.1, 'variance': 0.01, 'mse': 0, 'cosMse': 0}


def main():
    bench_threads.apply(bench_threads.parse_args())
    print(json.dumps({'impl': 'python', 'torch': torch.__version__, **bench_threads.describe()}), flush=True)
    torch.manual_seed(0)
    model = build('gru', SEED_GRU)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    for line in sys.stdin:
        req = json.loads(line)
        x, y = torch.randn(req['B'], 5, 768), torch.randn(req['B'], 768)
        times = []
        model.train(req['mode'] == 'train')
        for _ in range(req['steps']):
            t0 = time.perf_counter()
            if req['mode'] == 'train':
                opt.zero_grad()
                raw, _ = model(x)
                design_terms(raw, y, SEED_WEIGHTS)[0].backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            else:
                with torch.inference_mode():
                    model(x)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(json.dumps({'ms': times[len(times) // 2]}), flush=True)


main()
