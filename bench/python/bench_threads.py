"""Thread settings for the Python workers in bench/python/, the same knobs lvmtorch's workers have: intra-op threads
(OpenMP; MKL inside PyTorch 2.x follows them) and, where torch links an OpenBLAS (Debian's 1.13), OpenBLAS's own
pool. Only an OpenBLAS this process already has mapped is touched: loading another one (the system's, into a
PyTorch that does not use it) would only start idle threads.

Workers take `--threads=N` and `--blas=M` on their command line; without them they keep torch's defaults.
"""
import ctypes
import sys

import torch


def _mapped(fragment):
    out = []
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                if '/' in line:
                    path = line[line.index('/'):].strip()
                    if fragment in path.rsplit('/', 1)[-1] and path not in out:
                        out.append(path)
    except OSError:
        pass
    return out


def _openblas():
    for path in _mapped('blas'):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, 'openblas_set_num_threads'):
            return lib
    return None


def mapped_library(name):
    found = _mapped(name)
    return found[0] if found else ''


def set_blas_threads(n):
    lib = _openblas()
    if lib is not None:
        lib.openblas_set_num_threads(int(n))
    return lib is not None


def parse_args(argv=None):
    """{'threads': N or None, 'blas': M or None} from --threads=N --blas=M."""
    out = {'threads': None, 'blas': None}
    for a in (sys.argv[1:] if argv is None else argv):
        for key in out:
            if a.startswith(f'--{key}='):
                out[key] = int(a.split('=', 1)[1])
    return out


def apply(setting):
    if setting.get('threads') is not None:
        torch.set_num_threads(setting['threads'])
    if setting.get('blas') is not None:
        set_blas_threads(setting['blas'])


def describe():
    """What the greeting reports: torch's intra-op threads and the BLAS with its own thread count."""
    lib = _openblas()
    if lib is not None:
        lib.openblas_get_num_threads.restype = ctypes.c_int
        core = None
        if hasattr(lib, 'openblas_get_corename'):
            lib.openblas_get_corename.restype = ctypes.c_char_p
            core = lib.openblas_get_corename().decode()
        blas = {'kind': 'openblas', 'threads': lib.openblas_get_num_threads(), 'core': core}
    elif torch.backends.mkl.is_available():
        blas = {'kind': 'mkl', 'threads': torch.get_num_threads(), 'core': None}
    else:
        blas = {'kind': 'unknown', 'threads': None, 'core': None}
    return {'threads': torch.get_num_threads(), 'blas': blas}
