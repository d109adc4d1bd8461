"""Python counterpart of bench/loss.js: the seed's own compute_losses (app/lvm/loss_utils.py at commit 14ae4fd, read
from a clone of github.com/TrentCarter/lnsp-phase-4 that LVMTORCH_SEED_REPO names), forward and backward, called as
the seed's trainer calls it: pred_cos = F.normalize(pred_raw). Without it, the same formulas written from DESIGN.md
are timed instead, and the greeting says so. One intra-op thread.

Protocol: one greeting line of JSON, then per request line {"impl": "python", "B", "D", "seconds"} one answer line
{"iters", "seconds", "ms"}.
"""
import json
import os
import subprocess
import sys
import time
import types

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
TAU, MOMENT, VARIANCE = 0.07, 0.1, 0.01


def load_seed():
    repo = os.environ.get('LVMTORCH_SEED_REPO')
    if not repo:
        return None
    try:
        source = subprocess.run(['git', '-C', repo, 'show', '14ae4fd:app/lvm/loss_utils.py'],
                                check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType('seed_loss_utils')
    sys.modules['seed_loss_utils'] = module
    exec(compile(source, 'loss_utils.py', 'exec'), module.__dict__)
    return module


seed = load_seed()


def design_loss(pred, target):
    pred_cos = F.normalize(pred, dim=1)
    target_cos = F.normalize(target, dim=1)
    labels = torch.arange(pred.shape[0])
    logits = pred_cos @ target_cos.t() / TAU
    info = F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)
    moment = (pred.mean(0) - target.mean(0)).pow(2).mean() + (pred.std(0) - target.std(0)).pow(2).mean()
    variance = F.relu(1 - pred_cos.std(0)).mean()
    return info + MOMENT * moment + VARIANCE * variance


def seed_loss(pred, target):
    weights = seed.LossWeights(tau=TAU, mse=0.0, moment=MOMENT, variance=VARIANCE)
    return seed.compute_losses(pred, F.normalize(pred, dim=-1), target, weights)[0]


loss_fn = seed_loss if seed is not None else design_loss
inputs = {}


def main():
    print(json.dumps({'impl': 'python', 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'loss': 'seed compute_losses' if seed is not None else 'DESIGN.md formulas (no seed mirror)'}),
          flush=True)
    clock = time.perf_counter
    for line in sys.stdin:
        req = json.loads(line)
        B, D = req['B'], req['D']
        if B not in inputs:
            inputs[B] = (torch.randn(B, D, requires_grad=True), F.normalize(torch.randn(B, D), dim=1))
        pred, target = inputs[B]

        def once():
            loss_fn(pred, target).backward()
            pred.grad = None
        once()
        iters = 0
        t0 = clock()
        while True:
            once()
            iters += 1
            elapsed = clock() - t0
            if elapsed >= req['seconds']:
                break
        print(json.dumps({'iters': iters, 'seconds': elapsed, 'ms': elapsed / iters * 1e3}), flush=True)


if __name__ == '__main__':
    main()
