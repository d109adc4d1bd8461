# What torch.optim computes for test/optim.test.ts, in one process. stdin is JSON with:
#   "optim":   [{"kind": "Adam" | "AdamW" | "SGD", "groups": [{"params": [i, ...], "opts": {kwargs}}],
#                "params": [tensor], "grads": [[tensor | null per param] per step], "lrs": [lr per step] | null}]
#   "clip":    [{"grads": [tensor | null], "maxNorm", "normType": number | "inf"}]
#   "plateau": [{"lrs": [lr per group], "opts": {kwargs}, "metrics": [...]}]
#   "cosine":  [{"lrs": [lr per group], "warmup", "total", "minLr"}]
#   "interop": {"jsFile", "pyFile", "kind", "opts", "params": [tensor], "grads": [[tensor per param] per step]}
# where a tensor is {"dtype", "shape", "data": base64 of its raw little-endian elements}. stdout is JSON with, per
# optim case, the parameters after every step and the final state_dict() (tensors encoded the same way), and so on
# for the others (see each function). Optimisers run with torch.optim's defaults, foreach=None: on CPU tensors its
# single-tensor path; a case whose opts say fused=True (torch >= 2.4) runs its fused CPU kernels instead.
import base64
import json
import math
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings('ignore')  # SequentialLR passes an epoch to step(), which warns
NUMPY = {'float32': np.float32, 'float64': np.float64}
NAMES = {torch.float32: 'float32', torch.float64: 'float64'}
OPTIMIZERS = {'Adam': torch.optim.Adam, 'AdamW': torch.optim.AdamW, 'SGD': torch.optim.SGD}


def decode(spec):
    if spec is None:
        return None
    return torch.from_numpy(np.frombuffer(base64.b64decode(spec['data']), NUMPY[spec['dtype']]).copy()).reshape(spec['shape'])


def encode(t):
    t = t.detach()
    return {'dtype': NAMES[t.dtype], 'shape': list(t.shape),
            'data': base64.b64encode(t.contiguous().numpy().tobytes()).decode('ascii')}


def plain(value):
    """JSON-able: tensors encoded, tuples as lists, infinities as strings."""
    if torch.is_tensor(value):
        return encode(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def make_optimizer(kind, groups, params):
    # One group as a user writes it, `AdamW(model.parameters(), lr=...)`: its state_dict keys then come in the
    # optimiser's own order. Groups as dicts keep the user's keys first.
    if len(groups) == 1:
        return OPTIMIZERS[kind]([params[i] for i in groups[0]['params']], **groups[0]['opts'])
    return OPTIMIZERS[kind]([dict(g['opts'], params=[params[i] for i in g['params']]) for g in groups])


def run_optim(case):
    params = [torch.nn.Parameter(decode(p)) for p in case['params']]
    opt = make_optimizer(case['kind'], case['groups'], params)
    steps = []
    for k, grads in enumerate(case['grads']):
        for p, g in zip(params, grads):
            p.grad = decode(g)
        if case.get('lrs'):
            for group in opt.param_groups:
                group['lr'] = case['lrs'][k]
        opt.step()
        steps.append([encode(p) for p in params])
    sd = opt.state_dict()
    return {'steps': steps, 'state': {str(k): plain(v) for k, v in sd['state'].items()},
            'stateKeys': {str(k): list(v.keys()) for k, v in sd['state'].items()},
            'param_groups': plain(sd['param_groups']),
            'groupKeys': [list(g.keys()) for g in sd['param_groups']]}


def run_clip(case):
    params = []
    for g in case['grads']:
        p = torch.nn.Parameter(torch.zeros(1))
        if g is not None:
            grad = decode(g)
            p = torch.nn.Parameter(torch.zeros_like(grad))
            p.grad = grad
        params.append(p)
    norm_type = float('inf') if case['normType'] == 'inf' else case['normType']
    total = torch.nn.utils.clip_grad_norm_(params, case['maxNorm'], norm_type)
    return {'total': float(total), 'grads': [None if p.grad is None else encode(p.grad) for p in params]}


def dummy_optimizer(lrs):
    return torch.optim.SGD([{'params': [torch.nn.Parameter(torch.zeros(1))], 'lr': lr} for lr in lrs])


def run_plateau(case):
    opt = dummy_optimizer(case['lrs'])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **case['opts'])
    lrs = []
    for m in case['metrics']:
        sched.step(m)
        lrs.append([g['lr'] for g in opt.param_groups])
    return {'lrs': lrs, 'state': plain(sched.state_dict())}


def run_cosine(case):
    W, T, min_lr = case['warmup'], case['total'], case['minLr']
    out = {}
    # LambdaLR over the closed form (one lambda per group: the factor is lr / base).
    opt = dummy_optimizer(case['lrs'])

    def factor(base):
        def f(t):
            if t < W:
                return (t + 1) / W
            progress = min(1.0, (t - W) / max(1, T - W))
            return (min_lr + (base - min_lr) * (1 + math.cos(math.pi * progress)) / 2) / base
        return f
    sched = torch.optim.lr_scheduler.LambdaLR(opt, [factor(b) for b in case['lrs']])
    seq = [[g['lr'] for g in opt.param_groups]]
    for _ in range(T):
        sched.step()
        seq.append([g['lr'] for g in opt.param_groups])
    out['lambda'] = seq
    # PyTorch's own schedulers chained: LinearLR warm-up, then CosineAnnealingLR.
    opt = dummy_optimizer(case['lrs'])
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / W, end_factor=1.0, total_iters=W - 1),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T - W, eta_min=min_lr),
    ], milestones=[W])
    seq = [[g['lr'] for g in opt.param_groups]]
    for _ in range(T):
        sched.step()
        seq.append([g['lr'] for g in opt.param_groups])
    out['sequential'] = seq
    return out


def run_interop(case):
    """Continue the JS-written checkpoint here; write our own, continue it, and say where both ended."""
    grads = [[decode(g) for g in step] for step in case['grads']]
    half = len(grads) // 2

    def steps(opt, params, span):
        for gs in span:
            for p, g in zip(params, gs):
                p.grad = g.clone()
            opt.step()

    # From JS: load its checkpoint into a fresh optimiser with default hyperparameters, continue.
    ckpt = torch.load(case['jsFile'])
    params = [torch.nn.Parameter(p.clone()) for p in ckpt['params']]
    opt = OPTIMIZERS[case['kind']](params, **({'lr': 0.5} if case['kind'] == 'SGD' else {}))
    opt.load_state_dict(ckpt['optimizer_state_dict'])
    loaded_group = plain({k: v for k, v in opt.param_groups[0].items() if k != 'params'})
    steps(opt, params, grads[half:])
    from_js = [encode(p) for p in params]

    # To JS: the same run from the start here, saved halfway.
    params = [torch.nn.Parameter(decode(p)) for p in case['params']]
    opt = OPTIMIZERS[case['kind']](params, **case['opts'])
    steps(opt, params, grads[:half])
    torch.save({'params': [p.detach().clone() for p in params], 'optimizer_state_dict': opt.state_dict()},
               case['pyFile'])
    steps(opt, params, grads[half:])
    return {'fromJs': from_js, 'loadedGroup': loaded_group, 'pyFinal': [encode(p) for p in params]}


def main():
    request = json.load(sys.stdin)
    json.dump({
        'optim': [run_optim(c) for c in request.get('optim', [])],
        'clip': [run_clip(c) for c in request.get('clip', [])],
        'plateau': [run_plateau(c) for c in request.get('plateau', [])],
        'cosine': [run_cosine(c) for c in request.get('cosine', [])],
        'interop': [run_interop(c) for c in request.get('interop', [])],
    }, sys.stdout)


if __name__ == '__main__':
    main()
