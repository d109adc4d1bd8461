"""Reference pickles for test/io-pickle.test.ts, and Python's reading of ours.

stdin: {"mode": ...}; stdout: JSON (with --serve: one request and one answer a line). Values are described in a tagged JSON form (see `tag`) so that tuples,
bytes, big ints, floats and dict key types compare exactly with what the TypeScript side decodes.
  protocols: pickles of CASES under protocols 0-5 -> [{name, protocol, b64, expected}]
  loads:     {pickles: [b64]} -> [tag(pickle.loads(p))]
  opcodes:   pickletools' opcode table -> [{name, code, arg, proto}]
  malicious: {marker} -> {name: b64} pickles that run code when Python loads them
  run:       {marker, pickles: {name: b64}} -> {name: whether loading it in Python made the marker file}
"""
import base64
import collections
import json
import math
import os
import pickle
import pickletools
import struct
import subprocess
import sys


def compact(x):
    return json.dumps(x, separators=(",", ":"))


def tag(v):
    if v is None or isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {"t": "int", "v": str(v)}
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v) or (v == 0 and math.copysign(1, v) < 0):
            return {"t": "float", "v": repr(v)}
        return v
    if isinstance(v, (bytes, bytearray)):
        return {"t": "bytes", "hex": bytes(v).hex()}
    if isinstance(v, tuple):
        return {"t": "tuple", "v": [tag(x) for x in v]}
    if isinstance(v, list):
        return [tag(x) for x in v]
    if isinstance(v, dict):
        return {"t": "dict", "items": [[tag(k), tag(x)] for k, x in v.items()]}
    if isinstance(v, frozenset):
        return {"t": "frozenset", "v": sorted((tag(x) for x in v), key=compact)}
    if isinstance(v, set):
        return {"t": "set", "v": sorted((tag(x) for x in v), key=compact)}
    if isinstance(v, complex):
        return {"t": "complex", "v": [v.real, v.imag]}
    raise TypeError(f"no tag for {type(v)}")


CASES = {
    "scalars": [None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -129, 2**31 - 1, -2**31, 2**31, 2**53 - 1,
                2**53, -2**53, 2**63, -2**63 - 1, 2**200, -2**200, 0.5, -0.0, 1e300, 5e-324, float("inf"),
                float("-inf"), 1.0, 3.0],
    "strings": ["", "a", "héllo wörld", "日本語", "emoji \U0001F600", "quote ' \" back \\ nl \n cr \r", "\x00\x1a",
                "x" * 300, "surrogate \ud800 lone"],
    "bytes": [b"", b"\x00\xff" * 3, bytes(range(256)), bytearray(b"ba"), bytearray()],
    "containers": [[], (), {}, [1, [2, [3]]], (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), {"a": 1, "b": [1, 2]},
                   {1: "int key", "s": "str key", (1, 2): "tuple key", None: 0, 2.5: "float key"},
                   {"0": "index-like str key", "x": 1}, set(), {1, 2, 3}, frozenset(), frozenset({"a"}),
                   [(i, str(i)) for i in range(1200)], {f"k{i}": i for i in range(1100)}],
    "shared": None,  # filled below: shared references and cycles
    "numbers": [complex(1, -2), collections.OrderedDict([("z", 1), ("a", 2)])],
}
shared_list = [1, 2]
cyclic = [0]
cyclic.append(cyclic)
CASES["shared"] = [{"a": shared_list, "b": shared_list}, cyclic]


def protocols():
    out = []
    for name, values in CASES.items():
        for protocol in range(6):
            data = pickle.dumps(values, protocol=protocol)
            expected = None if name == "shared" else tag(values)
            out.append({"name": name, "protocol": protocol, "b64": base64.b64encode(data).decode(),
                        "expected": expected})
    return out


def loads(pickles):
    return [tag(pickle.loads(base64.b64decode(p))) for p in pickles]


def opcodes():
    return [{"name": o.name, "code": ord(o.code), "arg": o.arg.name if o.arg else "none", "proto": o.proto}
            for o in pickletools.opcodes]


def u(s):
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def su(s):
    data = s.encode()
    return b"\x8c" + bytes([len(data)]) + data


def malicious(marker):
    class OsSystem:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    class Eval:
        def __reduce__(self):
            return (eval, (f"open({marker!r}, 'w').close()",))

    class Popen:
        def __reduce__(self):
            return (subprocess.Popen, (["touch", marker],))

    out = {}
    for protocol in (0, 2, 4):
        out[f"os.system/{protocol}"] = pickle.dumps(OsSystem(), protocol=protocol)
        out[f"eval/{protocol}"] = pickle.dumps(Eval(), protocol=protocol)
        out[f"Popen/{protocol}"] = pickle.dumps(Popen(), protocol=protocol)
    cmd = f"touch {marker}".encode()
    # Hand-written, one per opcode that calls: posix.system via GLOBAL + REDUCE; os.system via INST, OBJ and
    # STACK_GLOBAL + REDUCE; builtins.getattr to reach os.system; subprocess.Popen via NEWOBJ and NEWOBJ_EX
    # (Python only runs __new__ for those, so they run nothing even there: refused or inert all the same).
    out["posix.system"] = b"cposix\nsystem\n(V" + cmd + b"\ntR."
    out["INST"] = b"(V" + cmd + b"\nios\nsystem\n."
    out["OBJ"] = b"(cos\nsystem\nV" + cmd + b"\no."
    out["STACK_GLOBAL"] = b"\x80\x04" + su("os") + su("system") + b"\x93" + su(cmd.decode()) + b"\x85R."
    out["getattr"] = (b"\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\n" + u("os") + b"\x85R" + u("system")
                      + b"\x86R" + u(f"touch {marker}") + b"\x85R.")
    popen_args = b"]" + u("touch") + b"a" + u(marker) + b"a"
    out["NEWOBJ"] = b"\x80\x02csubprocess\nPopen\n" + popen_args + b"\x85\x81."
    out["NEWOBJ_EX"] = b"\x80\x04" + su("subprocess") + su("Popen") + b"\x93" + popen_args + b"\x85}\x92."
    return {k: base64.b64encode(v).decode() for k, v in out.items()}


def run(marker, pickles):
    """Proves the malicious pickles are real: which of them Python does run."""
    res = {}
    for name, b64 in pickles.items():
        if os.path.exists(marker):
            os.remove(marker)
        try:
            out = pickle.loads(base64.b64decode(b64))
            if isinstance(out, subprocess.Popen):
                out.wait()
        except Exception:  # noqa: BLE001 - we only care what ran
            pass
        res[name] = os.path.exists(marker)
    if os.path.exists(marker):
        os.remove(marker)
    return res


MODES = {
    "protocols": lambda r: protocols(),
    "loads": lambda r: loads(r["pickles"]),
    "opcodes": lambda r: opcodes(),
    "malicious": lambda r: malicious(r["marker"]),
    "run": lambda r: run(r["marker"], r["pickles"]),
}


def main():
    if "--serve" in sys.argv:  # one JSON request a line, one answer a line (test/helpers/python-server.ts)
        import traceback
        for line in sys.stdin:
            req = json.loads(line)
            try:
                answer = {"ok": MODES[req["mode"]](req)}
            except Exception:  # noqa: BLE001 - the test shows the traceback
                answer = {"error": traceback.format_exc()}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        return
    req = json.load(sys.stdin)
    json.dump(MODES[req["mode"]](req), sys.stdout)


main()
