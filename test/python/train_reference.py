# The training loop of test/train.test.ts in real PyTorch, in one process: stdin is JSON {"dir", "file", "out",
# "kind", "config", "weights", "lr", "weightDecay", "clipNorm"}; <dir>/<file> (written by lvmtorch) holds the
# model's initial state_dict and the batches xs[i], ys[i]. Each step is the seed's: zero_grad, forward, the
# composite loss (loss_reference.design_terms), backward, clip_grad_norm_, AdamW.step. <dir>/<out> gets the final
# state_dict and the optimizer's state_dict; stdout is JSON {"losses": [...], "norms": [...]}. With "bf16": true
# the forward runs under torch.autocast('cpu', dtype=torch.bfloat16) and the loss on its output widened to fp32.
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from loss_reference import design_terms  # noqa: E402
from models_reference import build  # noqa: E402


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    data = torch.load(os.path.join(req['dir'], req['file']))
    model = build(req['kind'], req['config'])
    model.load_state_dict(data['state_dict'], strict=True)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=req['lr'], weight_decay=req['weightDecay'])
    losses, norms = [], []
    for x, y in zip(data['xs'], data['ys']):
        opt.zero_grad()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bool(req.get('bf16'))):
            raw, _ = model(x)
        total, _ = design_terms(raw.float(), y, req['weights'])
        total.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), req['clipNorm'])))
        opt.step()
        losses.append(float(total))
    torch.save({'state_dict': model.state_dict(), 'optimizer': opt.state_dict()}, os.path.join(req['dir'], req['out']))
    json.dump({'losses': losses, 'norms': norms}, sys.stdout)


if __name__ == '__main__':
    main()
