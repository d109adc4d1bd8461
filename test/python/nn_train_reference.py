# The same training steps in PyTorch for test/nn-train.test.ts: stdin JSON {"inFile", "outFile", "weights", "lr",
# "clipNorm"}; inFile (written by lvmtorch) holds {"state": the model's state_dict, "xs": [x per step], "ys": [y]}.
# The model is the test's PooledPredictor, written here as a PyTorch twin; each step is zero_grad, the composite loss
# of loss_reference.py (DESIGN.md's formulas), backward, clip_grad_norm_, AdamW.step. outFile gets {"losses",
# "gradNorms", "state"} after the steps. With {"checkpoint", "inFile": {"x"}, "outFile"} instead: the Trainer's
# checkpoint loaded strictly into the twin (its model_config gives the sizes), and its predictions for x.
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loss_reference import design_terms  # noqa: E402


class PooledPredictor(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        h, _ = self.gru(x)
        w = self.score(h).softmax(1)
        return self.head((h * w).sum(1))


def check(job):
    """Loads a checkpoint the Trainer wrote strictly into the twin and predicts for the inputs, L2-normalised."""
    ckpt = torch.load(job['checkpoint'], weights_only=True)
    cfg = ckpt['model_config']
    model = PooledPredictor(cfg['inputDim'], cfg['hidden'])
    model.load_state_dict(ckpt['model_state_dict'], strict=True)
    model.eval()
    with torch.no_grad():
        pred = torch.nn.functional.normalize(model(torch.load(job['inFile'], weights_only=True)['x']), dim=1)
    torch.save({'pred': pred, 'kind': cfg['kind'], 'epoch': ckpt['epoch']}, job['outFile'])
    print(json.dumps({'torch': torch.__version__}))


def main():
    job = json.load(sys.stdin)
    if 'checkpoint' in job:
        return check(job)
    data = torch.load(job['inFile'], weights_only=True)
    dim, hidden = data['state']['head.3.weight'].shape
    model = PooledPredictor(dim, hidden)
    model.load_state_dict(data['state'], strict=True)
    opt = torch.optim.AdamW(model.parameters(), lr=job['lr'])
    losses, norms = [], []
    for x, y in zip(data['xs'], data['ys']):
        opt.zero_grad()
        total, _ = design_terms(model(x), y, job['weights'])
        total.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), job['clipNorm'])))
        opt.step()
        losses.append(float(total))
    torch.save({'losses': torch.tensor(losses, dtype=torch.float64), 'gradNorms': torch.tensor(norms, dtype=torch.float64),
                'state': model.state_dict()}, job['outFile'])
    print(json.dumps({'torch': torch.__version__}))


main()
