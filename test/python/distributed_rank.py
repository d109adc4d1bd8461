# A Python rank in an lvmtorch process group (test/distributed.test.ts): torch.distributed's own TCPStore and
# ProcessGroupGloo join the group rank 0 (lvmtorch) hosts, and take one data-parallel step of the seed loop on rows
# [start, end) of the batch, as lvmtorch's native step does: backward, the gradients all-reduced in lvmtorch's
# bucket layout (native/torch/distributed/grad_reducer.h: the parameters in reverse order, each gradient flattened, then
# one "has a gradient" flag per parameter; a small model makes one float32 bucket) and divided by the world size,
# clip_grad_norm_, SGD.step. stdin is JSON {"dir", "file",
# "out", "kind", "config", "weights", "lr", "momentum", "weightDecay", "clipNorm", "port", "rank", "worldSize", "start",
# "end"}; <dir>/<out> gets the state_dict after the step; stdout is JSON {"loss", "norm"}.
import datetime
import json
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(__file__))
from loss_reference import design_terms  # noqa: E402
from models_reference import build  # noqa: E402


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    timeout = datetime.timedelta(seconds=60)
    store = dist.TCPStore('127.0.0.1', req['port'], req['worldSize'], False, timeout)
    group = dist.ProcessGroupGloo(store, req['rank'], req['worldSize'], timeout)
    data = torch.load(os.path.join(req['dir'], req['file']))
    model = build(req['kind'], req['config'])
    model.load_state_dict(data['state_dict'], strict=True)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=req['lr'], momentum=req['momentum'], weight_decay=req['weightDecay'])
    x, y = data['x'][req['start']:req['end']], data['y'][req['start']:req['end']]
    opt.zero_grad()
    raw, _ = model(x)
    total, _ = design_terms(raw, y, req['weights'])
    total.backward()
    params = list(model.parameters())[::-1]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    has = torch.tensor([0.0 if p.grad is None else 1.0 for p in params])
    flat = torch.cat([g.reshape(-1) for g in grads] + [has])
    group.allreduce([flat]).wait()
    flat /= req['worldSize']
    offset = 0
    for p in params:
        p.grad = flat[offset:offset + p.numel()].view_as(p).clone()
        offset += p.numel()
    norm = float(torch.nn.utils.clip_grad_norm_(params, req['clipNorm']))
    opt.step()
    torch.save({'state_dict': model.state_dict()}, os.path.join(req['dir'], req['out']))
    json.dump({'loss': float(total), 'norm': norm}, sys.stdout)


if __name__ == '__main__':
    main()
