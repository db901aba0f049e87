# Faiss's side of bench/vectors-codecs: for one dataset, trains, encodes and searches every codec
# of the job on one thread, on the raw little-endian float32 files written by run.mjs, and prints
# one JSON line per codec (then nothing else on stdout).
#
#   /usr/bin/python3 faiss_codecs.py JOB.json
#
# JOB.json: {"dir": tmp, "d": d, "nb": nb, "nq": nq, "k": 10, "metric": "l2" | "ip",
#            "codecs": [{"key": ..., "factory": "PQ16x8" | null, "lsh": {"nbits", "rotate",
#                        "thresholds"} | null, "train": "train.f32", "ntrain": n, "niter"?: OPQ's,
#                        "trainType"?: RQ's, "seed"?: k-means'}]}
# Files in dir: base.f32 (nb x d), queries.f32 (nq x d) and each codec's training file. For each
# codec it writes <key>.ids.i32 (nq x k ids of index.search) and, when the index can decode,
# <key>.recon.f32 (nb x d, sa_decode of the codes add() stored), for run.mjs to score with
# zipml's metrics.
import json
import os
import sys
import time

import faiss
import numpy as np

faiss.omp_set_num_threads(1)
job = json.load(open(sys.argv[1]))
d, nb, nq, k = job["d"], job["nb"], job["nq"], job["k"]
path = lambda name: os.path.join(job["dir"], name)
read = lambda name, n: np.fromfile(path(name), dtype="float32", count=n * d).reshape(n, d)
base = read("base.f32", nb)
queries = read("queries.f32", nq)
metric = faiss.METRIC_L2 if job["metric"] == "l2" else faiss.METRIC_INNER_PRODUCT


def parameters(index):
    """The training parameters Faiss used (its defaults), for the record."""
    inner = index
    out = {}
    if isinstance(index, faiss.IndexPreTransform):
        opq = faiss.downcast_VectorTransform(index.chain.at(0))
        out["opq"] = {"M": opq.M, "niter": opq.niter, "niter_pq": opq.niter_pq, "niter_pq_0": opq.niter_pq_0,
                      "max_train_points": opq.max_train_points}
        inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexPQ):
        cp = inner.pq.cp
        out["pq"] = {"M": inner.pq.M, "nbits": inner.pq.nbits, "niter": cp.niter, "seed": cp.seed,
                     "max_points_per_centroid": cp.max_points_per_centroid,
                     "do_polysemous_training": inner.do_polysemous_training, "search_type": inner.search_type}
    if isinstance(inner, faiss.IndexResidualQuantizer):
        rq = inner.rq
        out["rq"] = {"M": rq.M, "max_beam_size": rq.max_beam_size, "train_type": rq.train_type,
                     "niter": rq.cp.niter, "seed": rq.cp.seed, "search_type": rq.search_type,
                     "max_points_per_centroid": rq.cp.max_points_per_centroid}
    if isinstance(inner, faiss.IndexScalarQuantizer):
        out["sq"] = {"qtype": inner.sq.qtype, "rangestat": inner.sq.rangestat}
    if isinstance(inner, faiss.IndexLSH):
        out["lsh"] = {"nbits": inner.nbits, "rotate_data": inner.rotate_data, "train_thresholds": inner.train_thresholds}
    return out


def set_seed(index, seed, keep):
    if isinstance(index, faiss.IndexPreTransform):
        opq = faiss.downcast_VectorTransform(index.chain.at(0))
        pq = faiss.ProductQuantizer(opq.d_out, opq.M, 8)
        pq.cp.seed = seed
        opq.pq = pq
        keep.append(pq)
        index = faiss.downcast_index(index.index)
    if isinstance(index, faiss.IndexPQ):
        index.pq.cp.seed = seed
    elif isinstance(index, faiss.IndexResidualQuantizer):
        index.rq.cp.seed = seed
    else:
        raise ValueError(f"no seed to set in {type(index).__name__}")


def run(c):
    if c.get("lsh"):
        p = c["lsh"]
        index = faiss.IndexLSH(d, p["nbits"], p["rotate"], p["thresholds"])
    else:
        # IndexLSH searches by Hamming distance whatever the metric; the factory takes it only with L2.
        index = faiss.index_factory(d, c["factory"], faiss.METRIC_L2 if c["factory"].startswith("LSH") else metric)
    keep = []  # python objects Faiss points to, kept alive until the index is gone
    if "niter" in c:  # OPQ's alternations
        faiss.downcast_VectorTransform(index.chain.at(0)).niter = c["niter"]
    if "trainType" in c:  # RQ's train_type (0: Train_default, plain k-means per stage)
        index.rq.train_type = c["trainType"]
    if "seed" in c:  # spread.mjs: another k-means seed (OPQMatrix's initial rotation has a fixed one)
        set_seed(index, c["seed"], keep)
    train = read(c["train"], c["ntrain"])
    t0 = time.perf_counter()
    index.train(train)
    train_s = time.perf_counter() - t0
    del train

    # add() encodes the base (timed as encoding); its stored codes are what sa_encode returns.
    t0 = time.perf_counter()
    index.add(base)
    encode_s = time.perf_counter() - t0
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexPreTransform) else index
    decodes = not isinstance(index, faiss.IndexLSH)  # IndexLSH's sa_decode is not a reconstruction
    if decodes:
        codes = faiss.vector_to_array(inner.codes).reshape(nb, -1)
        index.sa_decode(codes).astype("float32").tofile(path(c["key"] + ".recon.f32"))
        del codes

    t0 = time.perf_counter()
    _, ids = index.search(queries, k)
    search_s = time.perf_counter() - t0
    ids.astype("int32").tofile(path(c["key"] + ".ids.i32"))

    return {
        "key": c["key"],
        "index": type(index).__name__,
        "codeSize": int(index.sa_code_size()),
        "trainSeconds": train_s,
        "encodeSeconds": encode_s,
        "searchSeconds": search_s,
        "decodes": decodes,
        "parameters": parameters(index),
        "version": faiss.__version__,
    }


for c in job["codecs"]:
    try:
        out = run(c)
    except Exception as e:  # one failing codec must not hide the others
        out = {"key": c["key"], "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out), flush=True)
