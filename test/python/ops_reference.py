# What real PyTorch computes for test/ops.test.ts, in one process: stdin is JSON
#   {"inputs": {name: {"dtype", "shape", "data": base64 of the raw little-endian elements}},
#    "cases": {name: {"py": expression, "grad": [input names]?}}}
# and stdout is JSON {name: result}, where a result is an encoded tensor, a list of them (tuples, chunk, split),
# or {"error": message} when PyTorch raises (the test then expects lvmtorch to throw too).
#
# A case with "grad" evaluates its expression on fresh leaves in place of those inputs, calls backward() (plain
# when the result is 0-d, else with the gradient weights() below, which the test makes the same way) and returns
# {"value": result, "grads": [leaf.grad, ...]}.
#
# Tensors travel as raw bytes in base64, never as JSON numbers: JSON has no NaN or Inf, and bytes are exact.
# float16/bfloat16 results travel as float32 values (exact), bool as one byte each.
import base64
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

NUMPY = {
    'float32': np.float32, 'float64': np.float64, 'float16': np.float16, 'bfloat16': np.int16,
    'int64': np.int64, 'int32': np.int32, 'int16': np.int16, 'int8': np.int8, 'uint8': np.uint8, 'bool': np.bool_,
}
NAMES = {getattr(torch, name): name for name in NUMPY}


def decode(spec):
    array = np.frombuffer(base64.b64decode(spec['data']), NUMPY[spec['dtype']]).copy()
    t = torch.from_numpy(array)
    if spec['dtype'] == 'bfloat16':
        t = t.view(torch.bfloat16)  # numpy has no bfloat16: the bits came as int16
    return t.reshape(spec['shape'])


def encode(value):
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if not torch.is_tensor(value):
        raise TypeError(f'the expression gave a {type(value).__name__}, not a tensor')
    dtype = NAMES[value.dtype]
    data = value.detach()
    if dtype in ('float16', 'bfloat16'):
        data = data.float()
    return {
        'dtype': dtype,
        'shape': list(value.shape),
        'stride': list(value.stride()),
        'offset': value.storage_offset(),
        'data': base64.b64encode(data.contiguous().numpy().tobytes()).decode('ascii'),
    }


def weights(out):
    """The gradient fed to backward() for a non-scalar result; ops.test.ts builds the same one."""
    return torch.arange(out.numel()).mul(0.37).add(0.5).sin().reshape(out.shape).to(out.dtype)


def run(case, inputs):
    scope = dict(inputs, torch=torch, F=F, inf=float('inf'), nan=float('nan'))
    leaves = []
    for name in case.get('grad', []):
        leaf = scope[name].detach().clone().requires_grad_()
        scope[name] = leaf
        leaves.append(leaf)
    # A case may name an input it views, to compare storage sharing: the result shares that input's storage.
    out = eval(case['py'], scope)
    result = encode(out)
    if case.get('viewOf'):
        base = scope[case['viewOf']]
        parts = out if isinstance(out, (tuple, list)) else [out]
        result = {'value': result, 'shares': [p.storage().data_ptr() == base.storage().data_ptr() for p in parts]}
    if leaves:
        if out.dim() == 0:
            out.backward()
        else:
            out.backward(weights(out))
        result = {'value': result, 'grads': [None if l.grad is None else encode(l.grad) for l in leaves]}
    return result


def main():
    request = json.load(sys.stdin)
    inputs = {name: decode(spec) for name, spec in request['inputs'].items()}
    results = {}
    for name, case in request['cases'].items():
        try:
            results[name] = run(case, inputs)
        except Exception as e:  # noqa: BLE001 - every PyTorch error is an expected outcome to compare
            results[name] = {'error': f'{type(e).__name__}: {e}'}
    json.dump(results, sys.stdout)


main()
