"""Writes test/fixtures/seed-loss.json: what the seed's own compute_losses (app/lvm/loss_utils.py of
TrentCarter/lnsp-phase-4 at commit 14ae4fd, public) computes on fixed batches, so that test/loss.test.ts holds the
fused loss to the seed's code on any machine, without the seed's source.

    LVMTORCH_SEED_REPO=path/to/a/clone/of/lnsp-phase-4 python test/python/seed_loss_fixture.py

The inputs come from numpy's default_rng(14) and are stored beside the results (base64 little-endian), each batch
run as the seed's trainer runs it: pred_cos = F.normalize(pred_raw). Per case: every term, the total and the
gradient of the total with respect to pred_raw (float64), non-finite values as strings (JSON has no NaN).
"""
import base64
import json
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings('ignore')  # std over one row warns; the NaN it gives is what the case is for
COMMIT = '14ae4fd'
SOURCE = 'app/lvm/loss_utils.py'
OUT = Path(__file__).resolve().parents[1] / 'fixtures' / 'seed-loss.json'
SEED_WEIGHTS = {'tau': 0.07, 'moment': 0.1, 'variance': 0.01, 'mse': 0.0}
# name, dtype, [B, D], weights, unit-norm targets
CASES = [
    ('random 2x3', 'float64', [2, 3], SEED_WEIGHTS, False),
    ('random 5x8', 'float64', [5, 8], SEED_WEIGHTS, False),
    ('random 16x32', 'float64', [16, 32], SEED_WEIGHTS, False),
    ('with mse, unit-norm targets', 'float64', [12, 24], {**SEED_WEIGHTS, 'mse': 0.25}, True),
    ('tau 0.01, every term', 'float64', [6, 9], {'tau': 0.01, 'moment': 0.3, 'variance': 0.5, 'mse': 0.9}, False),
    ('float32, unit-norm targets', 'float32', [32, 64], {**SEED_WEIGHTS, 'mse': 0.25}, True),
    ('batch of 1 (moment and variance NaN, so is the seed\'s total)', 'float64', [1, 6], {**SEED_WEIGHTS, 'moment': 0.0, 'variance': 0.0}, False),
]


def load_seed():
    repo = os.environ.get('LVMTORCH_SEED_REPO')
    if not repo:
        sys.exit('seed_loss_fixture.py: set LVMTORCH_SEED_REPO to a clone of github.com/TrentCarter/lnsp-phase-4')
    source = subprocess.run(['git', '-C', repo, 'show', f'{COMMIT}:{SOURCE}'], check=True, capture_output=True, text=True).stdout
    module = types.ModuleType('seed_loss_utils')
    sys.modules['seed_loss_utils'] = module  # dataclasses look their module up
    exec(compile(source, f'lnsp-phase-4@{COMMIT}:{SOURCE}', 'exec'), module.__dict__)
    return module


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes()).decode('ascii')


def number(x):
    x = float(x.detach()) if torch.is_tensor(x) else float(x)
    return x if np.isfinite(x) else str(x)


def main():
    seed = load_seed()
    rng = np.random.default_rng(14)
    cases = []
    for name, dtype, shape, w, unit in CASES:
        pred = rng.standard_normal(shape).astype(dtype)
        target = rng.standard_normal(shape).astype(dtype)
        if unit:
            target /= np.linalg.norm(target, axis=1, keepdims=True)
        p = torch.from_numpy(pred.copy()).requires_grad_()
        total, stats = seed.compute_losses(p, F.normalize(p, dim=-1), torch.from_numpy(target.copy()), seed.LossWeights(**w))
        case = {'name': name, 'dtype': dtype, 'shape': shape, 'weights': w, 'pred': b64(pred), 'target': b64(target),
                'info': number(stats['loss_info']), 'moment': number(stats['loss_moment']),
                'variance': number(stats['loss_variance']), 'mse': number(stats['loss_mse']), 'total': number(total)}
        if torch.isfinite(total):
            total.backward()
            case['gradPred'] = b64(p.grad.to(torch.float64).numpy())
        cases.append(case)
    fixture = {'source': f'github.com/TrentCarter/lnsp-phase-4@{COMMIT}:{SOURCE}', 'torch': torch.__version__,
               'written_by': 'test/python/seed_loss_fixture.py', 'cases': cases}
    OUT.write_text(json.dumps(fixture, indent=1) + '\n')
    print(f'{OUT}: {len(cases)} cases from {fixture["source"]} (torch {torch.__version__})')


if __name__ == '__main__':
    main()
