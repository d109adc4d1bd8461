# Writes files with Python (torch.save zip and legacy, np.save/savez) and says, for each, what `lvmtorch inspect
# --json` must print: every tensor's dotted path (list items by index), dtype name, shape and float64 sum.
# stdin: {"dir": "..."}; stdout: {"<file name>": {"<dotted.path>": {"dtype", "shape", "sum"}}}.
import argparse
import json
import os
import sys

import numpy as np
import torch


def walk(value, path, out):
    if isinstance(value, torch.Tensor):
        out[path] = {'dtype': str(value.dtype).replace('torch.', ''), 'shape': list(value.shape),
                     'sum': value.detach().double().sum().item()}
    elif isinstance(value, np.ndarray):
        walk(torch.from_numpy(value), path, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            walk(v, f'{path}.{k}' if path else str(k), out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            walk(v, f'{path}.{i}' if path else str(i), out)
    elif isinstance(value, argparse.Namespace):
        walk(vars(value), path, out)


def main():
    d = json.load(sys.stdin)['dir']
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.GELU(), torch.nn.LayerNorm(4))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    model(torch.randn(3, 6)).pow(2).sum().backward()
    opt.step()
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    checkpoint = {
        'epoch': 7, 'model_state_dict': model.state_dict(), 'optimizer_state_dict': opt.state_dict(),
        'val_loss': 0.125, 'val_cosine': np.float64(0.5), 'args': argparse.Namespace(lr=5e-4, model='gru'),
        'views': [base, base.t(), base[1:, ::2]], 'dtypes': {
            'f16': torch.randn(3).half(), 'bf16': torch.randn(3).bfloat16(), 'i8': torch.tensor([-3, 4], dtype=torch.int8),
            'u8': torch.tensor([250, 3], dtype=torch.uint8), 'i32': torch.tensor([2**31 - 1, -5], dtype=torch.int32),
            'i64': torch.tensor([2**40, -1]), 'bool': torch.tensor([True, False, True]),
        },
    }
    files = {}
    torch.save(checkpoint, os.path.join(d, 'seed.pt'))
    files['seed.pt'] = checkpoint
    torch.save(model.state_dict(), os.path.join(d, 'legacy.bin'), _use_new_zipfile_serialization=False)
    files['legacy.bin'] = model.state_dict()
    arrays = {'context_sequences': np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32),
              'ids': np.arange(4, dtype=np.int32)}
    np.savez_compressed(os.path.join(d, 'data.npz'), **arrays)
    files['data.npz'] = arrays
    np.save(os.path.join(d, 'one.npy'), arrays['context_sequences'])
    files['one.npy'] = {'': arrays['context_sequences']}
    out = {}
    for name, value in files.items():
        index = {}
        walk(value, '', index)
        out[name] = index
    json.dump(out, sys.stdout)


main()
