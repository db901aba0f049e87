#!/usr/bin/env python3
"""Runs ZipNN (built from source under bench/.peers/zipnn; see docs/tensors.md) on one file as a
byte array of the given dtype, the way its zipnn_compress_file script does, one thread. Prints
JSON: packed size, best compress/decompress seconds, and whether the round trip is exact.

ZipNN's Python module imports torch and safetensors at load time for its torch paths; the byte
path used here needs neither, so both are replaced by inert stand-ins (torch is not installed)."""
import json, os, sys, time, types

peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '.peers', 'zipnn')
sys.path.insert(0, peer)

class _Inert(types.ModuleType):
    def __getattr__(self, name):
        if name == 'jit':
            return types.SimpleNamespace(script=lambda f: f)
        value = type(name, (), {})
        setattr(self, name, value)
        return value

sys.modules['torch'] = _Inert('torch')
st = types.ModuleType('safetensors'); stt = types.ModuleType('safetensors.torch')
stt.safe_open = None; stt.save_file = None; st.torch = stt
sys.modules['safetensors'] = st; sys.modules['safetensors.torch'] = stt

from zipnn import ZipNN  # noqa: E402

path, dtype = sys.argv[1], sys.argv[2]
min_time = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
data = open(path, 'rb').read()
z = ZipNN(input_format='byte', bytearray_dtype=dtype, threads=1)

def best(fn, setup):
    fn(setup())
    b, total, reps = float('inf'), 0.0, 0
    while total < min_time or reps < 3:
        arg = setup()
        t = time.perf_counter(); out = fn(arg); dt = time.perf_counter() - t
        b = min(b, dt); total += dt; reps += 1
    return b, out

# ZipNN's C core reorders the float bits of its input in place, so each run gets a fresh copy
# (made outside the timed region).
tc, packed = best(z.compress, lambda: bytes(bytearray(data)))
packed = bytes(packed)
td, back = best(z.decompress, lambda: packed)
print(json.dumps({'size': len(data), 'packed': len(packed), 'compress_s': tc, 'decompress_s': td, 'exact': bytes(back) == data}))
