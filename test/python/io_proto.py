"""Python side of test/io-proto.test.ts: files whose member, tensor, metadata and dict key names are the names of
JS's Object.prototype properties (`__proto__`, `constructor`, `toString`, `hasOwnProperty`), valid to Python.
Mode 'write' writes them with numpy (np.savez), a by-hand .safetensors writer following the format's spec (the
safetensors package is not installed here) and torch.save (zip and legacy), and says what each holds; mode 'read'
reads what lvmtorch wrote (np.load, the by-hand reader, torch.load with weights_only=True). JSON in on stdin, JSON
out on stdout; arrays as {dtype, shape, hex} of their C-order little-endian bytes, so the tests compare exact
bytes, and dict keys in their order."""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import io_formats  # noqa: E402  (its safetensors writer)

NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty']


def describe(a):
    a = np.ascontiguousarray(np.asarray(a))
    return {'dtype': a.dtype.name, 'shape': list(a.shape), 'hex': a.tobytes().hex()}


def arrays():
    rng = np.random.default_rng(23)
    return {
        '__proto__': rng.standard_normal((2, 3)).astype(np.float32),
        'constructor': np.arange(5, dtype=np.int64) - 2,
        'toString': np.array([True, False, True]),
        'hasOwnProperty': rng.standard_normal((4,)),
        'ok': np.arange(6, dtype=np.int32).reshape(3, 2),
    }


ST_CODES = {'float32': 'F32', 'float64': 'F64', 'int64': 'I64', 'int32': 'I32', 'bool': 'BOOL'}
ST_DTYPES = {'F64': '<f8', 'F32': '<f4', 'I64': '<i8', 'I32': '<i4', 'BOOL': '?'}


def write_safetensors(path, tensors, metadata):
    """tensors: {name: numpy array}, written by io_formats' writer (the format's spec, by hand)."""
    io_formats.write_safetensors(path, {
        name: {'dtype': ST_CODES[a.dtype.name], 'shape': list(a.shape), 'hex': np.ascontiguousarray(a).tobytes().hex()}
        for name, a in tensors.items()
    }, metadata)


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    # object_pairs_hook: keep every key as written, `__metadata__` included, in order.
    pairs = json.loads(raw[8:8 + n], object_pairs_hook=lambda kv: kv)
    data = raw[8 + n:]
    metadata, tensors = None, {}
    for name, info in pairs:
        if name == '__metadata__':
            metadata = dict(info)
            continue
        info = dict(info)
        begin, end = info['data_offsets']
        a = np.frombuffer(data[begin:end], dtype=ST_DTYPES[info['dtype']]).reshape(info['shape'])
        tensors[name] = describe(a)
    return {'metadata': metadata, 'metadata_order': list(metadata) if metadata else [], 'tensors': tensors,
            'order': list(tensors)}


def torch_value():
    import torch
    g = torch.Generator().manual_seed(23)
    return {
        '__proto__': torch.randn(2, 3, generator=g),
        'constructor': torch.arange(4, dtype=torch.int64),
        'toString': 7,
        'nested': {'__proto__': torch.randn(3, generator=g).double(), 'hasOwnProperty': 'a str', 'valueOf': [1, 2]},
    }


def torch_describe(v):
    import torch
    if isinstance(v, torch.Tensor):
        return {'tensor': describe(v.numpy())}
    if isinstance(v, dict):
        return {'dict': [[k, torch_describe(x)] for k, x in v.items()]}
    if isinstance(v, list):
        return {'list': [torch_describe(x) for x in v]}
    return {'scalar': v}


def write(d):
    import torch
    a = arrays()
    out = {'npz': {}, 'safetensors': {}, 'torch': {}}
    np.savez(os.path.join(d, 'proto.npz'), **a)
    np.savez_compressed(os.path.join(d, 'proto_compressed.npz'), **a)
    out['npz'] = {'order': list(a), 'arrays': {k: describe(x) for k, x in a.items()}}
    metadata = {'__proto__': 'not a prototype', 'constructor': 'c', 'toString': 't', 'format': 'pt'}
    write_safetensors(os.path.join(d, 'proto.safetensors'), a, metadata)
    out['safetensors'] = {'order': list(a), 'arrays': out['npz']['arrays'], 'metadata': metadata, 'metadata_order': list(metadata)}
    value = torch_value()
    torch.save(value, os.path.join(d, 'proto.pt'))
    torch.save(value, os.path.join(d, 'proto_legacy.pt'), _use_new_zipfile_serialization=False)
    out['torch'] = torch_describe(value)
    return out


def read(req):
    import torch
    out = {}
    with np.load(req['npz'], allow_pickle=False) as z:
        out['npz'] = {'order': list(z.files), 'arrays': {k: describe(z[k]) for k in z.files}}
    out['safetensors'] = read_safetensors(req['safetensors'])
    kwargs = {'weights_only': True} if 'weights_only' in torch.load.__code__.co_varnames else {}
    out['torch'] = torch_describe(torch.load(req['pt'], **kwargs))
    return out


def main():
    req = json.loads(sys.stdin.read())
    out = write(req['dir']) if req['mode'] == 'write' else read(req)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
