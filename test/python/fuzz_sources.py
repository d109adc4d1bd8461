"""The valid files test/io-fuzz.test.ts mutates, as PyTorch and numpy write them: a seed-style checkpoint (a GRU's
state dict, an AdamW state, numbers, a view, nested containers) with torch.save in the zip and the legacy format,
and an .npz with np.savez_compressed. JSON in on stdin ({"dir": ...}), JSON out (the torch version)."""
import json
import os
import sys

import numpy as np
import torch


def main():
    d = json.loads(sys.stdin.read())['dir']
    torch.manual_seed(0)
    m = torch.nn.GRU(4, 3)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.randn(2, 1, 4))[0].sum().backward()
    opt.step()
    ckpt = {'epoch': 2, 'val_loss': 0.25, 'model_state_dict': m.state_dict(), 'optimizer_state_dict': opt.state_dict(),
            'v': m.weight_ih_l0[1:, ::2], 'args': {'lr': 1e-3, 'layers': [1, 2, (3, 'x')], 'name': 'gru'},
            'ids': torch.arange(5), 'flags': torch.tensor([True, False]), 'half': torch.ones(3).half()}
    torch.save(ckpt, os.path.join(d, 'torch.pt'))
    torch.save(ckpt, os.path.join(d, 'legacy.pt'), _use_new_zipfile_serialization=False)
    rng = np.random.default_rng(0)
    np.savez_compressed(os.path.join(d, 'numpy.npz'), a=rng.standard_normal((3, 4)).astype(np.float32),
                        ids=np.arange(6, dtype=np.int64), f=np.asfortranarray(np.arange(6, dtype='>f4').reshape(2, 3)),
                        b=np.array([True, False]), s=np.array(2.5))
    print(json.dumps({'torch': torch.__version__}))


if __name__ == '__main__':
    main()
