# The Python side of bench/checkpoint.js: makes the seed-style checkpoint, then times torch.load (also with
# mmap=True) / torch.save on request. One JSON line in, one JSON line out; the first line out says what this is.
import argparse
import json
import sys
import time

import numpy as np
import torch

SEED_GRU = [('input_proj.weight', (512, 768)), ('input_proj.bias', (512,))]
for i in range(4):
    SEED_GRU += [(f'blocks.{i}.norm.weight', (512,)), (f'blocks.{i}.norm.bias', (512,)),
                 (f'blocks.{i}.mamba.weight_ih_l0', (1536, 512)), (f'blocks.{i}.mamba.weight_hh_l0', (1536, 512)),
                 (f'blocks.{i}.mamba.bias_ih_l0', (1536,)), (f'blocks.{i}.mamba.bias_hh_l0', (1536,))]
SEED_GRU += [('head.0.weight', (512, 512)), ('head.0.bias', (512,)), ('head.2.weight', (512,)), ('head.2.bias', (512,)),
             ('head.3.weight', (768, 512)), ('head.3.bias', (768,))]


def make(path):
    """A checkpoint as the seed's trainer writes it: the GRU's state dict and its AdamW state (~88 MB)."""
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(shape) * 0.02) for _, shape in SEED_GRU]
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    sd = {name: p.detach() for (name, _), p in zip(SEED_GRU, params)}
    from collections import OrderedDict
    ckpt = {'epoch': 12, 'model_state_dict': OrderedDict(sd), 'optimizer_state_dict': opt.state_dict(),
            'val_loss': 0.0123, 'val_cosine': np.float64(0.51),
            'args': argparse.Namespace(model='gru', lr=5e-4, batch_size=32, epochs=20)}
    torch.save(ckpt, path)
    return sum(p.numel() for p in params)


def main():
    torch.set_num_threads(1)
    print(json.dumps({'impl': 'python', 'torch': torch.__version__, 'python': sys.version.split()[0]}), flush=True)
    loaded = None
    for line in sys.stdin:
        req = json.loads(line)
        if req['action'] == 'make':
            print(json.dumps({'params': make(req['path'])}), flush=True)
            continue
        loading = req['action'] in ('load', 'loadMmap')
        if loading:
            loaded = None  # the previous checkpoint is freed outside the timing, on both sides
        t0 = time.perf_counter()
        if loading:
            # The file holds an argparse.Namespace and a numpy float, as the seed's do: PyTorch >= 2.6's default
            # weights_only=True refuses those, so load it the way the seed's users must (1.13 also takes the flag;
            # mmap needs PyTorch >= 2.1).
            mmap = {'mmap': True} if req['action'] == 'loadMmap' else {}
            loaded = torch.load(req['path'], weights_only=False, **mmap)
        else:
            torch.save(loaded, req['path'])
        print(json.dumps({'ms': (time.perf_counter() - t0) * 1e3}), flush=True)


main()
