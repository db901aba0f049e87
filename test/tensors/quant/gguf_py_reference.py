"""Independent reference for zipml's ggml block codecs and GGUF files: gguf-py (llama.cpp's Python
package, `pip install gguf`), whose gguf.quants are NumPy ports of ggml-quants.c (its Q8_0/Q4_0/
Q5_0 quantizers are documented as bit-exact with ggml's reference) and whose GGUFReader parses
GGUF files on its own.

Usage:
  python3 gguf_py_reference.py quant TYPE values.f32 out.bin      ggml blocks of float32 values
  python3 gguf_py_reference.py dequant TYPE blocks.bin N out.f32  N float32 values of the blocks
  python3 gguf_py_reference.py read FILE.gguf OUT_DIR             header as JSON on stdout, each
                                                                  tensor dequantized to OUT_DIR/<i>.f32
"""
import json
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, quants


def qtype(name):
    return GGMLQuantizationType[name]


def main():
    mode = sys.argv[1]
    if mode == "quant":
        x = np.fromfile(sys.argv[3], dtype=np.float32)
        quants.quantize(x.reshape(1, -1), qtype(sys.argv[2])).tofile(sys.argv[4])
    elif mode == "dequant":
        b = np.fromfile(sys.argv[3], dtype=np.uint8)
        y = quants.dequantize(b.reshape(1, -1), qtype(sys.argv[2])).astype(np.float32).reshape(-1)
        assert y.size == int(sys.argv[4]), (y.size, sys.argv[4])
        y.tofile(sys.argv[5])
    elif mode == "read":
        r = GGUFReader(sys.argv[2])
        kv = {}
        for f in r.fields.values():
            if f.name.startswith("tokenizer.ggml.") and f.name != "tokenizer.ggml.model":
                kv[f.name] = len(f.data)  # arrays: the item count
            elif f.types and f.types[0].name == "STRING":
                kv[f.name] = bytes(f.parts[f.data[0]]).decode("utf-8")
            elif f.data:
                kv[f.name] = f.parts[f.data[0]].tolist()[0]
        tok = r.fields["tokenizer.ggml.tokens"]
        tokens = [bytes(tok.parts[i]).decode("utf-8") for i in tok.data]
        types = r.fields["tokenizer.ggml.token_type"]
        token_types = [int(types.parts[i][0]) for i in types.data]
        tensors = []
        for i, t in enumerate(r.tensors):
            vals = quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            vals.tofile(f"{sys.argv[3]}/{i}.f32")
            tensors.append({"name": t.name, "type": t.tensor_type.name, "ne": [int(n) for n in t.shape], "n": int(vals.size)})
        json.dump({"kv": kv, "tokens": tokens, "token_types": token_types, "tensors": tensors}, sys.stdout)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
