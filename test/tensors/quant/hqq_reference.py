"""HQQ's proximal zero-point solver (Badri & Shaji 2023, as mobiusml/hqq's optimize_weights_proximal
runs it with axis=1), written independently in NumPy so the TypeScript port can be held to it.

Input (argv[1], JSON): w (row-major list), rows, cols, bits, group, round_zero, iters.
Groups are `group` consecutive entries of a row (axis=1 in the reference). Per group the inverse
scale and zero start from min/max; each iteration quantizes, takes the l_p prox of the error and
re-solves the zero in closed form; the mean |error| over the whole matrix decides the early stop,
and the last grid that lowered it is returned. Prints JSON {scale, zero} (scale = 1 / inverse).
"""
import json
import sys

import numpy as np

cfg = json.load(open(sys.argv[1]))
w = np.array(cfg["w"], dtype=np.float64).reshape(-1, cfg["group"])  # rows*cols/group x group
maxq = 2 ** cfg["bits"] - 1
lp, beta, kappa = 0.7, 10.0, 1.01

lo = w.min(axis=1, keepdims=True)
hi = w.max(axis=1, keepdims=True)
inv = np.where(hi - lo <= 1e-4, 1.0, np.minimum(maxq / (hi - lo), 2e4))
zero = -lo * inv
if cfg["round_zero"]:
    zero = np.floor(zero + 0.5)  # half up, as JS Math.round


def shrink(x, b):
    a = np.abs(x)
    return np.sign(x) * np.maximum(a - np.power(a + 1e-8, lp - 1) / b, 0.0)


best, best_zero = np.inf, zero.copy()
for _ in range(cfg["iters"] + 1):
    q = np.clip(np.floor(w * inv + zero + 0.5), 0, maxq)
    r = (q - zero) / inv
    err = np.abs(w - r).mean()
    if not err < best:
        break
    best, best_zero = err, zero.copy()
    we = shrink(w - r, beta)
    zero = np.mean(q - (w - we) * inv, axis=1, keepdims=True)
    beta *= kappa

print(json.dumps({"scale": (1.0 / inv).ravel().tolist(), "zero": best_zero.ravel().tolist()}))
