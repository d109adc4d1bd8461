"""torch.save files for test/io-torch.test.ts, and PyTorch's reading of the files lvmtorch writes.

stdin: {"mode": ...}; stdout: JSON.
  write:  {dir} -> writes the fixtures below into dir; returns {name: {path, value: describe(obj), ...}}
  read:   {path, weights_only} -> describe(torch.load(path))  (or {"error": message})
  adamw:  {path} -> loads a checkpoint lvmtorch wrote into a model and torch.optim.AdamW, steps, reports
  large, zipinfo, evil, module, legacy_small: see their functions.
With --serve, reads one request a line and answers each with a line (test/helpers/python-server.ts).
Values are described in a tagged JSON form (see `describe`): tensors by dtype, shape, stride, storage offset,
requires_grad and their exact bytes (hex), so that comparisons are exact.
"""
import argparse
import collections
import json
import math
import os
import sys

import numpy as np
import torch


def finite(x):
    return x if math.isfinite(x) else repr(x)


def storage_groups(obj):
    """Paths of the tensors that share a storage, grouped: [[path, path], ...] (paths as lists of keys)."""
    by_ptr = {}

    def walk(v, path):
        if isinstance(v, torch.Tensor):
            by_ptr.setdefault(v.storage().data_ptr(), []).append(path)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + [describe(k)])
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, path + [i])
        elif isinstance(v, argparse.Namespace):
            walk(vars(v), path)

    walk(obj, [])
    return [g for g in by_ptr.values() if len(g) > 1]


def describe(v):
    if isinstance(v, torch.Tensor):
        c = v.detach().contiguous()
        return {"t": "tensor", "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                "stride": list(v.stride()), "offset": v.storage_offset(), "requires_grad": v.requires_grad,
                "hex": c.reshape(-1).view(torch.uint8).numpy().tobytes().hex() if c.numel() else "",
                "sum": finite(float(c.double().sum())) if c.dtype != torch.bool else int(c.sum())}
    if isinstance(v, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(v))
        return describe(t) | {"stride": [s // v.itemsize for s in np.ascontiguousarray(v).strides], "offset": 0}
    if isinstance(v, np.generic):
        return describe(v.item())
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {"t": "int", "v": str(v)}
    if isinstance(v, float):
        return v if math.isfinite(v) else {"t": "float", "v": repr(v)}
    if isinstance(v, torch.Size):
        return {"t": "tuple", "v": list(v)}
    if isinstance(v, tuple):
        return {"t": "tuple", "v": [describe(x) for x in v]}
    if isinstance(v, list):
        return [describe(x) for x in v]
    if isinstance(v, dict):
        return {"t": "dict", "items": [[describe(k), describe(x)] for k, x in v.items()]}
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    if isinstance(v, torch.device):
        return str(v)
    if isinstance(v, argparse.Namespace):
        return {"t": "object", "cls": "argparse.Namespace", "state": describe(vars(v))}
    raise TypeError(f"cannot describe {type(v)}")


def seed_checkpoint():
    """What the seed's trainer saves: {epoch, model_state_dict, optimizer_state_dict, val_loss, val_cosine, args}."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.LayerNorm(8), torch.nn.Linear(8, 4))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(5, 6)).pow(2).mean().backward()
        opt.step()
    sd = model.state_dict()
    sd["extra.transposed"] = sd["0.weight"].t()  # non-contiguous, shares 0.weight's storage
    grid = torch.arange(40, dtype=torch.float32).view(5, 8)
    sd["extra.strided"] = grid[1:, 1::3]  # strided with an offset
    sd["extra.row"] = grid[2]  # shares grid's storage
    ckpt = {
        "epoch": 7,
        "model_state_dict": sd,
        "optimizer_state_dict": opt.state_dict(),
        "val_loss": 0.123456789,
        "val_cosine": np.float64(0.4567891234),
        "args": argparse.Namespace(lr=5e-4, batch_size=32, model_type="gru", device="cpu", tags=["a", "b"],
                                   ctx=(5, 768)),
    }
    return ckpt, {"shared": [["model_state_dict", "0.weight", "extra.transposed"],
                             ["model_state_dict", "extra.strided", "extra.row"]]}


def every_dtype():
    return {
        "float32": torch.tensor([1.5, -2.25, float("inf"), float("nan"), 1e-40], dtype=torch.float32),
        "float64": torch.tensor([math.pi, -1e300, 5e-324], dtype=torch.float64),
        "float16": torch.tensor([1.0, 65504.0, 6e-8, -0.5], dtype=torch.float16),
        "bfloat16": torch.tensor([1.0, 3.0e38, -7.5], dtype=torch.bfloat16),
        "int64": torch.tensor([2**62, -2**63, 0, 7], dtype=torch.int64),
        "int32": torch.tensor([2**31 - 1, -2**31], dtype=torch.int32),
        "int16": torch.tensor([32767, -32768], dtype=torch.int16),
        "int8": torch.tensor([127, -128], dtype=torch.int8),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
    }, {}


def views():
    base = torch.arange(60, dtype=torch.float64).view(3, 4, 5)
    return {
        "base": base,
        "permuted": base.permute(2, 0, 1),
        "sliced": base[1:, ::2, 1:4],
        "expanded": torch.tensor([1.0, 2.0]).view(2, 1).expand(2, 3),
        "diag": base[0].diagonal(),
        "offset_only": base.view(-1)[17:23],
    }, {"shared": [["base", "permuted", "sliced", "diag", "offset_only"]]}


def nested():
    t = torch.tensor([1, 2, 3])
    p = torch.nn.Parameter(torch.tensor([0.5, 0.25]))
    leaf = torch.tensor([1.0, 2.0], requires_grad=True)
    return {
        "list": [t, (t, {"x": torch.ones(2)}), [[], {}]],
        "int_keys": {0: torch.zeros(1), 1: "one", 2: None},
        "same_twice": [t, t],
        "param": p,
        "leaf": leaf,
        "numbers": {"int": 5, "big": 2**70, "float": 0.1, "bool": True, "none": None, "str": "héllo"},
        "size": torch.Size([2, 3]),
        "dtype": torch.float16,
        "device": torch.device("cpu"),
        "np_array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "np_int": np.int64(-3),
        "np_fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
    }, {"same": [["same_twice", 0], ["same_twice", 1]]}


def bare_state_dict():
    torch.manual_seed(1)
    return torch.nn.GRU(4, 3).state_dict(), {}


FIXTURES = {"checkpoint": seed_checkpoint, "dtypes": every_dtype, "views": views, "nested": nested,
            "state_dict": bare_state_dict}


def write(directory):
    out = {}
    for name, make in FIXTURES.items():
        obj, extra = make()
        for legacy in (False, True):
            key = name + ("_legacy" if legacy else "")
            path = os.path.join(directory, key + ".pt")
            torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
            out[key] = {"path": path, "value": describe(obj), "groups": storage_groups(obj), **extra}
    obj, _ = views()
    for protocol in (4, 5):
        path = os.path.join(directory, f"views_protocol{protocol}.pt")
        torch.save(obj, path, pickle_protocol=protocol)
        out[f"views_protocol{protocol}"] = {"path": path, "value": describe(obj), "groups": storage_groups(obj)}
    return out


def large(path, numel):
    """A state dict of float32 tensors holding `numel` elements in all, for the memory test."""
    torch.manual_seed(0)
    sd = collections.OrderedDict()
    rows = 1024
    for i in range(numel // (rows * 1024)):
        sd[f"layers.{i}.weight"] = torch.randn(rows, 1024)
    torch.save(sd, path)
    return {"bytes": os.path.getsize(path), "sum": float(sum(t.double().sum() for t in sd.values()))}


def zipinfo(path):
    import zipfile
    with zipfile.ZipFile(path) as z:
        out = []
        for i in z.infolist():
            with open(path, "rb") as f:
                f.seek(i.header_offset + 26)
                name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
            out.append({"name": i.filename, "compress_type": i.compress_type, "size": i.file_size,
                        "data_offset": i.header_offset + 30 + name_len + extra_len,
                        "text": z.read(i.filename).decode("latin1") if not "/data/" in i.filename and not
                        i.filename.endswith(".pkl") else None})
        return out


def evil(path, marker):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"weights": torch.ones(2), "payload": Evil()}, path)
    return True


def read(path, weights_only):
    try:
        obj = torch.load(path, weights_only=weights_only)
        out = {"value": describe(obj), "groups": storage_groups(obj)}
        if isinstance(obj, dict):
            # OrderedDicts (state dicts) and their _metadata, at the top and one level down
            out["ordered"] = [k for k, v in obj.items() if isinstance(v, collections.OrderedDict)]
            if isinstance(obj, collections.OrderedDict):
                out["ordered"].append(None)
            if hasattr(obj, "_metadata"):
                out["metadata"] = describe(obj._metadata)
        return out
    except Exception as e:  # noqa: BLE001 - the test wants the message
        return {"error": f"{type(e).__name__}: {e}"}


def adamw(path):
    ckpt = torch.load(path)
    sd = ckpt["model_state_dict"]
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.LayerNorm(8), torch.nn.Linear(8, 4))
    model.load_state_dict(sd)
    opt = torch.optim.AdamW(model.parameters(), lr=1.0)
    opt.load_state_dict(ckpt["optimizer_state_dict"])
    loaded = describe(opt.state_dict())
    torch.manual_seed(3)
    x = torch.randn(5, 6)
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()
    after = opt.state_dict()
    return {"loaded": loaded, "steps": [float(s["step"]) for s in after["state"].values()],
            "lr": after["param_groups"][0]["lr"], "betas": list(after["param_groups"][0]["betas"]),
            "finite": all(bool(torch.isfinite(p).all()) for p in model.parameters())}


def module(path):
    """A whole nn.Module pickled (not its state dict): classes no data allow-list knows."""
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(3, 2), path)
    return True


def legacy_small(path):
    torch.save({"w": torch.ones(100)}, path, _use_new_zipfile_serialization=False)
    return True


MODES = {
    "write": lambda r: write(r["dir"]),
    "read": lambda r: read(r["path"], r.get("weights_only", False)),
    "adamw": lambda r: adamw(r["path"]),
    "large": lambda r: large(r["path"], r["numel"]),
    "zipinfo": lambda r: zipinfo(r["path"]),
    "evil": lambda r: evil(r["path"], r["marker"]),
    "module": lambda r: module(r["path"]),
    "legacy_small": lambda r: legacy_small(r["path"]),
}


def serve():
    """--serve: one JSON request a line on stdin, one JSON answer a line on stdout ({ok} or {error})."""
    import traceback
    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer = {"ok": MODES[req["mode"]](req)}
        except Exception:  # noqa: BLE001 - the test shows the traceback
            answer = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main():
    if "--serve" in sys.argv:
        return serve()
    req = json.load(sys.stdin)
    json.dump(MODES[req["mode"]](req), sys.stdout)


main()
