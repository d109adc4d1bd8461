"""Python counterpart of bench/distributed.js: one rank of what a PyTorch user runs instead, torchrun's way
(init_process_group('gloo') from MASTER_ADDR / MASTER_PORT / RANK / WORLD_SIZE) with DistributedDataParallel around
the seed's GRU (test/python/models_reference.py) when WORLD_SIZE > 1, and the same loop as the lvmtorch worker: each
rank an equal share of the rows (DistributedSampler's), batches of B / WORLD_SIZE, the cosine-regression loss
(test/python/loss_reference.py: cosMse 1), backward, clip_grad_norm_(1.0), AdamW(5e-4, weight_decay 0.01).

argv[1] is JSON {"file", "B", "warmup", "allreduceBytes", "iters", "threads"}. Rank 0 prints one JSON line
{"rows", "seconds", "samplesPerSecond", "allreduce": {"bytes", "seconds"} | null}.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'python'))
from loss_reference import design_terms  # noqa: E402
from models_reference import build  # noqa: E402

SEED_GRU = {'inputDim': 768, 'dModel': 512, 'numLayers': 4, 'outputDim': 768}
WEIGHTS = {'tau': 0.07, 'info': 0, 'moment': 0, 'variance': 0, 'mse': 0, 'cosMse': 1}


def main():
    req = json.loads(sys.argv[1])
    torch.set_num_threads(req['threads'])
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    if world > 1:
        dist.init_process_group('gloo')
    z = np.load(req['file'])
    x_all, y_all = torch.from_numpy(z['context_sequences']), torch.from_numpy(z['target_vectors'])
    torch.manual_seed(0)
    model = build('gru', SEED_GRU)
    model.train()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    b = req['B'] // world
    mine = torch.arange(rank, x_all.shape[0], world)  # DistributedSampler's share
    steps = len(mine) // b

    def step(idx):
        opt.zero_grad(set_to_none=True)
        raw, _ = net(x_all[idx])
        loss = design_terms(raw, y_all[idx], WEIGHTS)[0]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for s in range(req['warmup']):
        step(mine[s * b:(s + 1) * b])
    if world > 1:
        dist.barrier()
    t0 = time.perf_counter()
    order = mine[torch.randperm(len(mine))]
    for s in range(steps):
        step(order[s * b:(s + 1) * b])
    if world > 1:
        dist.barrier()
    seconds = time.perf_counter() - t0
    allreduce = None
    if world > 1 and req['allreduceBytes']:
        t = torch.ones(req['allreduceBytes'] // 4)
        dist.all_reduce(t)
        times = []
        for _ in range(req['iters']):
            t1 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t1)
        allreduce = {'bytes': t.numel() * 4, 'seconds': float(np.median(times))}
    rows = steps * b * world
    if rank == 0:
        print(json.dumps({'rows': rows, 'seconds': seconds, 'samplesPerSecond': rows / seconds, 'allreduce': allreduce}),
              flush=True)
    if world > 1:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
