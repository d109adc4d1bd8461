"""Python counterpart of bench/op-overhead.js: the same small ops as a user writes them (`a + b`, `a @ b`,
`a.sum()`), grad mode on (no torch.no_grad()); `--threads=N` (bench_threads.py) sets the intra-op threads, torch's
default without it.

Protocol (shared with the other workers): one greeting line of JSON, then per request line
{"op": "add", "seconds": 0.3, "warmup": 0.02, "batch": 1000} one answer line {"iters", "seconds", "us"}.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402

bench_threads.apply(bench_threads.parse_args())
a = torch.randn(16)
b = torch.randn(16)
m1 = torch.randn(8, 8)
m2 = torch.randn(8, 8)


def op_add(n):
    for _ in range(n):
        r = a + b


def op_matmul(n):
    for _ in range(n):
        r = m1 @ m2


def op_sum(n):
    for _ in range(n):
        r = a.sum()


OPS = {"add": op_add, "matmul": op_matmul, "sum": op_sum}


def main():
    print(json.dumps({
        "impl": "python",
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "executable": sys.executable,
        "libtorch": bench_threads.mapped_library("libtorch_cpu"),
        **bench_threads.describe(),
    }), flush=True)
    clock = time.perf_counter
    for line in sys.stdin:
        req = json.loads(line)
        fn = OPS.get(req["op"])
        if fn is None:
            print(json.dumps({"error": f"unknown op {req['op']!r}"}), flush=True)
            continue
        seconds, warmup, batch = req["seconds"], req["warmup"], req["batch"]
        w0 = clock()
        while clock() - w0 < warmup:
            fn(batch)
        iters = 0
        t0 = clock()
        while True:
            fn(batch)
            iters += batch
            elapsed = clock() - t0
            if elapsed >= seconds:
                break
        print(json.dumps({"iters": iters, "seconds": elapsed, "us": elapsed / iters * 1e6}), flush=True)


if __name__ == "__main__":
    main()
