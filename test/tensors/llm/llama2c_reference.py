"""Independent reference of the llama2.c forward pass (float64 NumPy), for llm.test.ts.

Usage: python3 llama2c_reference.py CHECKPOINT TOKENS_JSON
TOKENS_JSON is a list of token sequences; prints a JSON list with, per sequence, the logits at
every position (list of vocab_size floats per position). Reads the checkpoint itself, following
run.c's layout: 7 int32 header, then fp32 tensors in run.c's order.
"""
import json
import sys

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = np.frombuffer(raw[:28], dtype="<i4").tolist()
    shared = vocab > 0
    vocab = abs(vocab)
    w = np.frombuffer(raw[28:], dtype="<f4").astype(np.float64)
    hs = dim // n_heads
    kv = n_kv * hs
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        out = w[at:at + n].reshape(shape)
        at += n
        return out

    m = dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=vocab, seq_len=seq_len)
    m["emb"] = take(vocab, dim)
    m["rms_att"] = take(n_layers, dim)
    m["wq"] = take(n_layers, dim, dim)
    m["wk"] = take(n_layers, kv, dim)
    m["wv"] = take(n_layers, kv, dim)
    m["wo"] = take(n_layers, dim, dim)
    m["rms_ffn"] = take(n_layers, dim)
    m["w1"] = take(n_layers, hidden, dim)
    m["w2"] = take(n_layers, dim, hidden)
    m["w3"] = take(n_layers, hidden, dim)
    m["rms_final"] = take(dim)
    take(seq_len, hs // 2)
    take(seq_len, hs // 2)
    m["wcls"] = m["emb"] if shared else take(vocab, dim)
    assert at == w.size
    return m


def rms(x, g):
    return g * (x / np.sqrt(np.mean(x * x) + 1e-5))


def rope(x, pos, hs):
    # x: (n_heads_or_kv, hs); pairs (2i, 2i+1) rotated by pos * 10000^(-2i/hs).
    i = np.arange(0, hs, 2)
    ang = pos * (10000.0 ** (-i / hs))
    c, s = np.cos(ang), np.sin(ang)
    a, b = x[:, 0::2].copy(), x[:, 1::2].copy()
    out = np.empty_like(x)
    out[:, 0::2] = a * c - b * s
    out[:, 1::2] = a * s + b * c
    return out


def run(m, tokens):
    """Whole-sequence causal attention (no cache): an independent formulation of the same model."""
    T, dim, H, KV = len(tokens), m["dim"], m["n_heads"], m["n_kv"]
    hs = dim // H
    x = m["emb"][tokens]  # (T, dim)
    for l in range(m["n_layers"]):
        h = np.stack([rms(x[t], m["rms_att"][l]) for t in range(T)])
        q = (h @ m["wq"][l].T).reshape(T, H, hs)
        k = (h @ m["wk"][l].T).reshape(T, KV, hs)
        v = (h @ m["wv"][l].T).reshape(T, KV, hs)
        q = np.stack([rope(q[t], t, hs) for t in range(T)])
        k = np.stack([rope(k[t], t, hs) for t in range(T)])
        rep = H // KV
        k = np.repeat(k, rep, axis=1)  # query head h uses kv head h // rep
        v = np.repeat(v, rep, axis=1)
        scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(hs)
        mask = np.triu(np.ones((T, T), dtype=bool), 1)
        scores[:, mask] = -np.inf
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        att = np.einsum("hts,shd->thd", p, v).reshape(T, dim)
        x = x + att @ m["wo"][l].T
        h = np.stack([rms(x[t], m["rms_ffn"][l]) for t in range(T)])
        a = h @ m["w1"][l].T
        g = a / (1 + np.exp(-a)) * (h @ m["w3"][l].T)
        x = x + g @ m["w2"][l].T
    x = np.stack([rms(x[t], m["rms_final"]) for t in range(T)])
    return x @ m["wcls"].T


if __name__ == "__main__":
    model = load(sys.argv[1])
    seqs = json.loads(open(sys.argv[2]).read())
    print(json.dumps([run(model, s).tolist() for s in seqs]))
