# Trainer checkpoints in real PyTorch, for test/train.test.ts. stdin JSON {"dir", "jobs": [...]}, stdout JSON: one
# answer per job.
#   {"job": "check", "file", "inputs", "kind", "config"}: torch.load(file) (weights_only=False: 1.13's allow-list has
#     no floats), model_state_dict into the seed class with strict=True, its predictions on <inputs>'s x (saved to
#     <inputs>.out.pt), and optimizer_state_dict into torch.optim.AdamW, which then takes a step.
#   {"job": "export", "file", "kind", "config", "epoch"}: a seed-style checkpoint written by Python after one AdamW
#     step: {epoch, model_state_dict, optimizer_state_dict, val_loss, val_cosine, args}.
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from models_reference import build  # noqa: E402


def check(job, d):
    ckpt = torch.load(os.path.join(d, job['file']))
    model = build(job['kind'], job['config'])
    model.load_state_dict(ckpt['model_state_dict'], strict=True)
    model.eval()
    x = torch.load(os.path.join(d, job['inputs']))['x']
    with torch.no_grad():
        _, cos = model(x)
    torch.save({'pred': cos}, os.path.join(d, job['inputs'] + '.out.pt'))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.load_state_dict(ckpt['optimizer_state_dict'])
    model.train()
    raw, _ = model(x)
    raw.pow(2).mean().backward()
    opt.step()
    steps = sorted({int(s['step']) for s in opt.state_dict()['state'].values()})
    return {'keys': sorted(ckpt.keys()), 'epoch': ckpt['epoch'], 'steps_after': steps,
            'lr': opt.param_groups[0]['lr'], 'weight_decay': opt.param_groups[0]['weight_decay']}


def export(job, d):
    torch.manual_seed(0)
    model = build(job['kind'], job['config'])
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    x = torch.randn(4, 5, job['config']['inputDim'])
    raw, _ = model(x)
    raw.pow(2).mean().backward()
    opt.step()
    torch.save({'epoch': job['epoch'], 'model_state_dict': model.state_dict(), 'optimizer_state_dict': opt.state_dict(),
                'val_loss': 0.5, 'val_cosine': 0.5, 'args': {'lr': 5e-4, 'batch_size': 32}},
               os.path.join(d, job['file']))
    return True


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    jobs = {'check': check, 'export': export}
    print(json.dumps([jobs[j['job']](j, req['dir']) for j in req['jobs']]))


if __name__ == '__main__':
    main()
