"""Reference side of test/io-*.test.ts: writes zip, .npy, .npz and .safetensors files with Python's zipfile,
numpy and a by-hand safetensors writer (the safetensors package is not installed), and reads back what lvmtorch
writes. JSON in on stdin ({"mode": ..., ...}), JSON out on stdout. Array bytes travel as hex of the C-order,
little-endian bytes, so that the tests compare exact bytes."""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np


def le_bytes(a):
    a = np.asarray(a)
    if a.dtype.byteorder == '>':
        a = a.astype(a.dtype.newbyteorder('<'))
    return np.ascontiguousarray(a).tobytes().hex()


def describe(a):
    return {'dtype': a.dtype.name, 'shape': list(a.shape), 'fortran': bool(a.flags.f_contiguous and not a.flags.c_contiguous),
            'hex': le_bytes(a)}


# ---- zip ----

def write_zips(d):
    out = {}
    contents = {'a.txt': b'hello zip', 'dir/b.bin': bytes(range(256)) * 40, 'empty': b'', 'ünïcode.txt': 'é'.encode()}
    for kind, method in [('stored', zipfile.ZIP_STORED), ('deflated', zipfile.ZIP_DEFLATED)]:
        with zipfile.ZipFile(os.path.join(d, kind + '.zip'), 'w', compression=method) as z:
            for name, data in contents.items():
                z.writestr(name, data)
        out[kind] = {k: v.hex() for k, v in contents.items()}
    with zipfile.ZipFile(os.path.join(d, 'zip64.zip'), 'w') as z:
        for name, data in contents.items():
            with z.open(name, 'w', force_zip64=True) as f:
                f.write(data)
        with z.open('deflated64', 'w', force_zip64=True) as f:
            pass
    out['zip64'] = {k: v.hex() for k, v in contents.items()}
    with zipfile.ZipFile(os.path.join(d, 'comment.zip'), 'w') as z:
        z.writestr('x', b'PK\x05\x06 looks like an end record')
        z.comment = b'PK\x05\x06 a comment with a signature in it'
    # More than 65535 entries: the count only fits the ZIP64 end of central directory record.
    # (Built in memory, with fixed dates: twice as fast as zipfile writing to a file entry by entry.)
    many = io.BytesIO()
    with zipfile.ZipFile(many, 'w') as z:
        for i in range(65540):
            z.writestr(zipfile.ZipInfo('e%d' % i, (1980, 1, 1, 0, 0, 0)), b'')
        z.writestr('last', b'the end')
    with open(os.path.join(d, 'many.zip'), 'wb') as f:
        f.write(many.getvalue())
    return out


def read_zips(paths):
    out = {}
    for p in paths:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
            # testzip reads every entry: too slow for the 65541 of the many-entries test, which reads only 'last'.
            out[p] = {'testzip': z.testzip() if len(infos) < 100 else None, 'count': len(infos),
                      'last': z.read(infos[-1]).hex(),
                      'entries': {i.filename: {'size': i.file_size, 'method': i.compress_type,
                                               'hex': z.read(i).hex() if len(infos) < 100 else None}
                                  for i in infos[:100]}}
    return out


def torch_repack():
    """torch.save a checkpoint, let the test repack it with ZipWriter(align 64), then torch.load the repack."""
    import torch
    d = sys.stdin.readline().strip()
    sd = {'w': torch.arange(12, dtype=torch.float32).reshape(3, 4), 'n': torch.tensor([1, 2, 3]), 'h': torch.ones(5).half()}
    torch.save(sd, os.path.join(d, 'orig.pt'))
    print('saved', flush=True)
    sys.stdin.readline()
    back = torch.load(os.path.join(d, 'repacked.pt'))
    same = sorted(back) == sorted(sd) and all(torch.equal(back[k], sd[k]) and back[k].dtype == sd[k].dtype for k in sd)
    print(json.dumps({'equal': same}), flush=True)


# ---- npy / npz ----

def arrays():
    rng = np.random.default_rng(0)
    base = {
        'float16': rng.standard_normal((3, 4)).astype(np.float16),
        'float32': rng.standard_normal((2, 3, 4)).astype(np.float32),
        'float64': rng.standard_normal((5,)),
        'int8': np.array([-128, -1, 0, 1, 127], np.int8),
        'int16': np.array([[-32768, 7], [32767, 0]], np.int16),
        'int32': np.arange(-6, 6, dtype=np.int32).reshape(3, 4),
        'int64': np.array([-2**63, -1, 0, 2**53 + 1, 2**63 - 1], np.int64),
        'uint8': np.arange(256, dtype=np.uint8),
        'bool': np.array([[True, False, True], [False, False, True]]),
    }
    special = {
        'fortran_f32': np.asfortranarray(rng.standard_normal((3, 5)).astype(np.float32)),
        'fortran_i64_3d': np.asfortranarray(np.arange(24, dtype=np.int64).reshape(2, 3, 4)),
        'scalar_f64': np.array(3.25),
        'scalar_bool': np.array(True),
        'empty_f32': np.zeros((0, 3), np.float32),
        'empty_1d_i64': np.zeros((0,), np.int64),
        'big_endian_f4': np.arange(6, dtype='>f4').reshape(2, 3) / 7,
        'big_endian_i8': np.array([1, -2, 2**40], '>i8'),
        'big_endian_f2': np.array([1.5, -2.25], '>f2'),
    }
    return base, special


def write_npy(d):
    base, special = arrays()
    out = {}
    for name, a in {**base, **special}.items():
        np.save(os.path.join(d, name + '.npy'), a)
        out[name + '.npy'] = describe(a)
    # Format versions 2.0 and 3.0, which np.save picks only for huge or non-latin-1 headers.
    a = base['float32']
    for version in [(2, 0), (3, 0)]:
        p = os.path.join(d, 'v%d.npy' % version[0])
        with open(p, 'wb') as f:
            np.lib.format.write_array(f, a, version=version)
        out['v%d.npy' % version[0]] = describe(a)
    np.save(os.path.join(d, 'object.npy'), np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
    np.save(os.path.join(d, 'uint16.npy'), np.arange(3, dtype=np.uint16))
    np.save(os.path.join(d, 'complex.npy'), np.arange(3, dtype=np.complex64))
    np.save(os.path.join(d, 'structured.npy'), np.zeros(2, dtype=[('x', 'f4'), ('y', 'i4')]))
    np.savez(os.path.join(d, 'plain.npz'), **base)
    np.savez_compressed(os.path.join(d, 'compressed.npz'), **base, **special)
    np.savez(os.path.join(d, 'with_object.npz'), ok=base['int8'], texts=np.array(['a', None], dtype=object))
    out['plain.npz'] = {k: describe(v) for k, v in base.items()}
    out['compressed.npz'] = {k: describe(v) for k, v in {**base, **special}.items()}
    return out


def read_npy(paths):
    return {p: describe(np.load(p, allow_pickle=False)) for p in paths}


def read_npz(paths):
    out = {}
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            out[p] = {k: describe(z[k]) for k in z.files}
        with zipfile.ZipFile(p) as z:
            assert z.testzip() is None
    return out


# ---- safetensors, by hand from the format's spec ----

ST_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2', 'I8': 'i1',
             'U8': 'u1', 'BOOL': '?'}


def write_safetensors(path, tensors, metadata):
    """tensors: {name: {dtype (a safetensors code), shape, hex}} in the order to write them."""
    header, data, offset = {}, b'', 0
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, t in tensors.items():
        raw = bytes.fromhex(t['hex'])
        header[name] = {'dtype': t['dtype'], 'shape': t['shape'], 'data_offsets': [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + data)


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert n % 8 == 0, 'header not padded to 8 bytes'
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    metadata = header.pop('__metadata__', None)
    spans, tensors = [], {}
    for name, info in header.items():
        begin, end = info['data_offsets']
        spans.append((begin, end))
        a = np.frombuffer(data[begin:end], dtype=ST_DTYPES.get(info['dtype'], 'u1'))
        numel = int(np.prod(info['shape'])) if info['shape'] else 1
        itemsize = 2 if info['dtype'] == 'BF16' else a.itemsize
        assert numel * itemsize == end - begin, name
        tensors[name] = {'dtype': info['dtype'], 'shape': info['shape'], 'hex': data[begin:end].hex()}
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, 'gap or overlap'
        pos = e
    assert pos == len(data), 'data not covered'
    return {'metadata': metadata, 'tensors': tensors, 'order': list(header), 'header_length': n,
            'header_text': raw[8:8 + n].decode()}


def main():
    req = json.loads(sys.stdin.readline())
    mode = req['mode']
    if mode == 'torch_repack':
        return torch_repack()
    if mode == 'write_zips':
        out = write_zips(req['dir'])
    elif mode == 'read_zips':
        out = read_zips(req['paths'])
    elif mode == 'write_npy':
        out = write_npy(req['dir'])
    elif mode == 'read_numpy':
        out = {'npy': read_npy(req['npy']), 'npz': read_npz(req['npz'])}
    elif mode == 'write_safetensors':
        for f in req['files']:
            write_safetensors(f['path'], f['tensors'], f.get('metadata'))
        out = {}
    elif mode == 'read_safetensors':
        out = {p: read_safetensors(p) for p in req['paths']}
    else:
        raise SystemExit('unknown mode ' + mode)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
