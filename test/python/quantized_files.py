"""Quantized tensors in torch.save files, for test/io-quantized.test.ts: real PyTorch writes the fixtures and
says what they hold; it also reads the files lvmtorch writes.

stdin: {"mode": ...}; stdout: JSON.
  write: {dir} -> writes the fixtures into dir with torch.save;
         returns {"torch": version, "files": {name: {path, value: describe(obj), shared: storage_groups(obj)}},
                  "skipped": {name: why}}
  read:  {path, weights_only} -> {value, shared} of torch.load(path), or {"error": message}
Quantized tensors are described by dtype, shape, stride, storage offset, qscheme, scale and zero point (or the
per-channel scales, zero points and axis), their integers (int_repr) and their dequantized values, in C order.
"""
import collections
import json
import os
import sys
import warnings

import torch

# PyTorch 2.13 warns that its quantized dtypes are deprecated; that is not what these tests are about.
warnings.filterwarnings("ignore")


def storage_ptr(t):
    s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
    return s.data_ptr()


def describe(v):
    if isinstance(v, torch.Tensor):
        d = {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "stride": list(v.stride()),
             "offset": v.storage_offset()}
        if v.is_quantized:
            d["t"] = "qtensor"
            d["qscheme"] = str(v.qscheme()).replace("torch.", "")
            if v.qscheme() == torch.per_tensor_affine:
                d["scale"] = v.q_scale()
                d["zero_point"] = v.q_zero_point()
            else:
                d["scales"] = v.q_per_channel_scales().tolist()
                d["zero_points"] = v.q_per_channel_zero_points().tolist()
                d["axis"] = v.q_per_channel_axis()
            d["int_repr"] = v.int_repr().flatten().tolist()
            d["dequantized"] = v.dequantize().flatten().tolist()
        else:
            d["t"] = "tensor"
            d["requires_grad"] = v.requires_grad
            d["values"] = v.detach().flatten().tolist()
        return d
    if isinstance(v, dict):
        return {"t": "dict", "items": [[describe(k), describe(x)] for k, x in v.items()]}
    if isinstance(v, tuple):
        return {"t": "tuple", "v": [describe(x) for x in v]}
    if isinstance(v, list):
        return [describe(x) for x in v]
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return {"t": "other", "repr": repr(v)}


def storage_groups(obj):
    """Paths of the tensors that share a storage, grouped (paths as lists of keys)."""
    by_ptr = {}

    def walk(v, path):
        if isinstance(v, torch.Tensor):
            by_ptr.setdefault(storage_ptr(v), []).append(path)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + [k])
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, path + [i])

    walk(obj, [])
    return [g for g in by_ptr.values() if len(g) > 1]


ZERO_POINTS = {torch.qint8: -3, torch.quint8: 120, torch.qint32: 17}
RANGES = {torch.qint8: (-128, 127), torch.quint8: (0, 255), torch.qint32: (-1000, 1000)}


def per_tensor(dtype):
    x = torch.randn(3, 4) * 2
    return torch.quantize_per_tensor(x, 0.0625 if dtype != torch.qint32 else 0.001, ZERO_POINTS[dtype], dtype)


def per_channel(dtype, axis=1, shape=(3, 4, 2)):
    x = torch.randn(*shape)
    channels = x.shape[axis]
    scales = torch.rand(channels, dtype=torch.float64) * 0.1 + 0.01
    lo, hi = RANGES[dtype]
    zero_points = torch.randint(lo // 4, hi // 4 + 1, (channels,), dtype=torch.int64)
    return torch.quantize_per_channel(x, scales, zero_points, axis, dtype)


def fixtures():
    """(name, builder, save kwargs): each builder makes the object torch.save writes."""
    out = []
    for dtype in (torch.qint8, torch.quint8, torch.qint32):
        name = str(dtype).replace("torch.", "")
        out.append((f"{name}-per-tensor", lambda d=dtype: {"q": per_tensor(d)}, {}))
        out.append((f"{name}-per-channel", lambda d=dtype: {"q": per_channel(d)}, {}))

    def views():
        q = per_tensor(torch.qint8)
        # A transposed view, a view from an offset and the tensor itself: one storage in the file.
        return {"q": q, "t": q.t(), "rows": q[1:], "col": q[:, 2]}

    out.append(("views", views, {}))

    def channel_views():
        q = per_channel(torch.quint8, axis=0)
        return {"q": q, "rows": q[1:]}

    out.append(("per-channel-view", channel_views, {}))

    def float_qparams():
        x = torch.randn(4, 3)
        scales = torch.rand(4) * 0.1 + 0.01
        zero_points = torch.randn(4)
        return {"q": torch.quantize_per_channel(x, scales, zero_points, 0, torch.quint8)}

    out.append(("float-qparams", float_qparams, {}))

    def state_dict():
        weight = per_channel(torch.qint8, axis=0, shape=(3, 4))
        return collections.OrderedDict([
            ("fc.weight", weight),
            ("fc.bias", torch.randn(3)),
            ("fc.scale", torch.tensor(0.125)),
            ("fc.zero_point", torch.tensor(64)),
            ("act", per_tensor(torch.quint8)),
        ])

    out.append(("state-dict", lambda: {"epoch": 3, "model_state_dict": state_dict()}, {}))

    def quantized_module():
        try:
            import torch.ao.nn.quantized as nnq
        except ImportError:
            import torch.nn.quantized as nnq
        lin = nnq.Linear(4, 3)
        w = torch.quantize_per_channel(torch.randn(3, 4), torch.rand(3, dtype=torch.float64) * 0.1 + 0.01,
                                       torch.zeros(3, dtype=torch.int64), 0, torch.qint8)
        lin.set_weight_bias(w, torch.randn(3))
        lin.scale = 0.05
        lin.zero_point = 10
        return lin.state_dict()

    out.append(("nnq-linear", quantized_module, {}))
    out.append(("legacy", lambda: {"q": per_tensor(torch.quint8), "c": per_channel(torch.qint8)},
                {"_use_new_zipfile_serialization": False}))
    return out


def write(req):
    torch.manual_seed(0)
    files, skipped = {}, {}
    for name, build, kwargs in fixtures():
        try:
            obj = build()
            value = describe(obj)
        except Exception as e:  # a kind this torch cannot make (e.g. a strided per-channel view)
            skipped[name] = f"{type(e).__name__}: {e}"
            continue
        path = os.path.join(req["dir"], f"{name}.pt")
        torch.save(obj, path, **kwargs)
        files[name] = {"path": path, "value": value, "shared": storage_groups(obj)}
    return {"torch": torch.__version__, "files": files, "skipped": skipped}


def read(req):
    try:
        kwargs = {"weights_only": True} if req.get("weights_only") else {}
        obj = torch.load(req["path"], **kwargs)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}
    return {"value": describe(obj), "shared": storage_groups(obj)}


def main():
    req = json.load(sys.stdin)
    out = {"write": write, "read": read}[req["mode"]](req)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
