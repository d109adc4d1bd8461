# What torch.nn computes for test/nn.test.ts. stdin is JSON {"inFile", "outFile", "cases": [...]}; inFile is a
# torch.save file that lvmtorch wrote, {case name: {"state": state_dict, "inputs": [tensor], "grad": tensor}}, read
# with weights_only=True. Each case is one of
#   {"name", "kind": "module", "ctor": "Linear", "args": [...], "kwargs": {...}, "train": false}
#       builds nn.<ctor>(*args, **kwargs), load_state_dict(state, strict=True), runs it on the inputs (floating ones
#       requiring grad; "pairState": m(x, (h, c))) and backward from sum(output * grad), a tuple output (an RNN's)
#       flattened into one tensor; "positional": n and "callKwargs": {"key_padding_mask": "$3"} pass inputs by name;
#   {"name", "kind": "functional", "fn": "mse_loss", "kwargs": {...}}
#       F.<fn>(*inputs, **kwargs) and its backward the same way ("attn_mask": "$2" in kwargs names inputs[2]);
#   {"name", "kind": "init", "seed", "ops": [[fn, shape, kwargs], ...]}
#       torch.manual_seed(seed), then each nn.init.<fn> on a new float32 tensor of that shape, in order;
#   {"name", "kind": "construct", "seed", "ctor", "args", "kwargs"}
#       torch.manual_seed(seed), then nn.<ctor>(*args, **kwargs): its state_dict.
# outFile gets {case name: {"output", "inputGrads": [tensor | None], "paramGrads": {name: tensor}}} (module and
# functional), {"values": [tensor]} (init) or {"state": state_dict} (construct), written with torch.save.
import json
import sys

import torch
import torch.nn.functional as F
from torch import nn


def resolve(kwargs, inputs):
    return {k: inputs[int(v[1:])] if isinstance(v, str) and v.startswith('$') else v for k, v in kwargs.items()}


def flat(out):
    """A module's output as one tensor: a tuple (an RNN's (output, h_n) or (output, (h_n, c_n))) flattened in order."""
    if isinstance(out, (tuple, list)):
        return torch.cat([flat(o).reshape(-1) for o in out if o is not None])
    return out


def run_forward(fn, inputs, grad, n_grad_inputs):
    ins = [x.detach().clone().requires_grad_(i < n_grad_inputs and x.is_floating_point()) for i, x in enumerate(inputs)]
    out = flat(fn(ins))
    if grad is not None:
        (out * grad).sum().backward()
    return out.detach(), [x.grad for x in ins]


def build(case):
    if 'encoder' in case:  # nn.TransformerEncoder of an encoder layer [args, kwargs]
        args, kwargs = case['encoder']
        norm = nn.LayerNorm(case['norm']) if case.get('norm') else None
        return nn.TransformerEncoder(nn.TransformerEncoderLayer(*args, **kwargs), case['numLayers'], norm=norm,
                                     enable_nested_tensor=False)
    if 'layers' in case:  # nn.Sequential of [ctor, args, kwargs]
        return nn.Sequential(*[getattr(nn, c)(*a, **k) for c, a, k in case['layers']])
    return getattr(nn, case['ctor'])(*case.get('args', []), **case.get('kwargs', {}))


def main():
    job = json.load(sys.stdin)
    data = torch.load(job['inFile'], weights_only=True)
    results = {}
    for case in job['cases']:
        name, kind = case['name'], case['kind']
        d = data.get(name, {})
        if kind == 'module':
            m = build(case)
            m.load_state_dict(d['state'], strict=True)
            m.train(case.get('train', False))
            n = case.get('gradInputs', len(d['inputs']))
            positional = case.get('positional', len(d['inputs']))
            call = (lambda ins: m(ins[0], (ins[1], ins[2]))) if case.get('pairState') else \
                (lambda ins: m(*ins[:positional], **resolve(case.get('callKwargs', {}), ins)))
            out, in_grads = run_forward(call, d['inputs'], d.get('grad'), n)
            results[name] = {'output': out, 'inputGrads': in_grads,
                             'paramGrads': {k: p.grad for k, p in m.named_parameters() if p.grad is not None}}
        elif kind == 'functional':
            fn = getattr(F, case['fn'])
            n = case.get('gradInputs', len(d['inputs']))
            positional = case.get('positional', len(d['inputs']))
            out, in_grads = run_forward(
                lambda ins: fn(*ins[:positional], **resolve(case.get('kwargs', {}), ins)), d['inputs'], d.get('grad'), n)
            results[name] = {'output': out, 'inputGrads': in_grads, 'paramGrads': {}}
        elif kind == 'init':
            torch.manual_seed(case['seed'])
            values = []
            for fn, shape, kwargs in case['ops']:
                t = torch.empty(shape)
                getattr(nn.init, fn)(t, **kwargs)
                values.append(t)
            results[name] = {'values': values}
        elif kind == 'construct':
            torch.manual_seed(case['seed'])
            results[name] = {'state': build(case).state_dict()}
        else:
            raise ValueError(kind)
    torch.save(results, job['outFile'])
    print(json.dumps({'torch': torch.__version__}))


main()
