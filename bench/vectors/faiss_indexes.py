# Faiss's side of bench/vectors: for one dataset, builds each index of the job from its factory
# string (train + add, on one thread), measures its serialized size, and walks the job's sweep of
# search parameters (nprobe, k_factor), timing one-query-at-a-time and batch search at each point.
# Prints one JSON line per index (then nothing else on stdout).
#
#   /usr/bin/python3 faiss_indexes.py JOB.json
#
# JOB.json: {"dir": tmp, "d", "nb", "nq", "k", "metric": "l2" | "ip", "timing": {"minSeconds",
#            "maxPasses", "warmup"}, "stop": {"recall", "plateau", "patience"},
#            "indexes": [{"key", "factory", "ntrain", "opqNiter"?, "rows": [[{"nprobe"?, "kFactor"?}, ...], ...]}]}
# Files in dir: base.f32 (nb x d), queries.f32 (nq x d), gt.i32 (nq x k exact ids) and
# train<n>.f32 when an index trains on fewer rows than the base. For every sweep point it writes
# <key>.<row>.<i>.ids.i32 (nq x k ids of the batch search) for run.mjs to score with zipml's
# recallAtK; the recall computed here (same definition) only decides where a row of the sweep stops,
# by the rule sweep.mjs applies to the other libraries.
import json
import math
import os
import sys
import time

import faiss
import numpy as np

faiss.omp_set_num_threads(1)
job = json.load(open(sys.argv[1]))
d, nb, nq, k = job["d"], job["nb"], job["nq"], job["k"]
timing, stop = job["timing"], job["stop"]
path = lambda name: os.path.join(job["dir"], name)
read = lambda name, n: np.fromfile(path(name), dtype="float32", count=n * d).reshape(n, d)
base = read("base.f32", nb)
queries = read("queries.f32", nq)
gt = np.fromfile(path("gt.i32"), dtype="int32").reshape(nq, k)
truth = [set(int(i) for i in row if i >= 0) for row in gt]
metric = faiss.METRIC_L2 if job["metric"] == "l2" else faiss.METRIC_INNER_PRODUCT
rows_of_queries = [np.ascontiguousarray(queries[i : i + 1]) for i in range(nq)]


def recall(ids):
    hits = 0
    for q in range(nq):
        hits += len(truth[q].intersection(int(i) for i in ids[q]))
    return hits / (nq * k)


def best_time(fn, n_warm, shorten=False):
    """Best wall and best process CPU time of repeated passes of fn(n) (at least one; more while
    under minSeconds in total), n = nq or fewer for a long loop: sweep.mjs's bestTime."""
    w0 = time.perf_counter()
    fn(n_warm)
    per_query = (time.perf_counter() - w0) / n_warm
    n = nq
    if shorten and per_query * nq > timing["longPass"]:
        n = min(nq, max(n_warm, math.ceil(timing["shortPass"] / per_query)))
    best, best_cpu, total, passes = float("inf"), float("inf"), 0.0, 0
    while passes < timing["maxPasses"] and (passes == 0 or total < timing["minSeconds"]):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn(n)
        t = time.perf_counter() - t0
        best_cpu = min(best_cpu, time.process_time() - c0)
        best, total, passes = min(best, t), total + t, passes + 1
    return best, best_cpu, passes, n


def parts(index):
    """(refine, ivf) parts of a factory-built index, for setting k_factor and nprobe."""
    refine, ix = None, index
    if isinstance(ix, faiss.IndexRefine):
        refine, ix = ix, faiss.downcast_index(ix.base_index)
    if isinstance(ix, faiss.IndexPreTransform):
        ix = faiss.downcast_index(ix.index)
    return refine, ix if isinstance(ix, faiss.IndexIVF) else None


def choose_implem(index, ivf, refine):
    """IVF fast-scan: Faiss 1.7.3 picks implem 12 (13, its reservoir variant, when k > 20, i.e.
    k_factor > 2 under a refine). 13 aborts on ties (partitioning.cpp compress_array, n_eq == 0)
    on our synthetic set, so we choose between the heap implementations 10 and 12, whichever
    searches faster (CPU time) one query at a time at a middle sweep point (200 queries, best of 3)."""
    if not isinstance(ivf, faiss.IndexIVFFastScan):
        return None
    ivf.nprobe = min(16, ivf.nlist)
    if refine is not None:
        refine.k_factor = 4.0
    timed = {}
    for implem in (10, 12):
        ivf.implem = implem
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            for x in rows_of_queries[:200]:
                index.search(x, k)
            best = min(best, time.process_time() - t0)
        timed[implem] = best
    ivf.implem = min(timed, key=timed.get)
    return {"implem": ivf.implem, "calibrationSeconds": timed}


def build(c):
    index = faiss.index_factory(d, c["factory"], metric)
    if "opqNiter" in c:
        inner = faiss.downcast_index(index.base_index) if isinstance(index, faiss.IndexRefine) else index
        faiss.downcast_VectorTransform(inner.chain.at(0)).niter = c["opqNiter"]
    train = base if c["ntrain"] == nb else read(f"train{c['ntrain']}.f32", c["ntrain"])
    c0 = time.process_time()
    t0 = time.perf_counter()
    index.train(train)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(base)
    add_s = time.perf_counter() - t0
    return index, train_s, add_s, time.process_time() - c0


def run(c):
    index, train_s, add_s, build_cpu = build(c)
    refine, ivf = parts(index)
    size = len(faiss.serialize_index(index))
    implem = choose_implem(index, ivf, refine)
    points = []
    for r, row in enumerate(c["rows"]):
        best_recall, stale = -1.0, 0
        for i, p in enumerate(row):
            if refine is not None and "kFactor" in p:
                refine.k_factor = float(p["kFactor"])
            if ivf is not None and "nprobe" in p:
                ivf.nprobe = int(p["nprobe"])

            def loop(n):
                for x in rows_of_queries[:n]:
                    index.search(x, k)

            out = {}

            def batch(n):
                out["ids"] = index.search(queries[:n], k)[1]

            loop_s, loop_cpu, loop_passes, loop_n = best_time(loop, min(timing["warmup"], nq), True)
            batch_s, batch_cpu, batch_passes, batch_n = best_time(batch, min(timing["warmup"], nq))
            ids = out["ids"]
            fname = f"{c['key']}.{r}.{i}.ids.i32"
            ids.astype("int32").tofile(path(fname))
            rc = recall(ids)
            points.append({**p, "row": r, "ids": fname, "loopSeconds": loop_s, "loopCpuSeconds": loop_cpu,
                           "loopPasses": loop_passes, "loopQueries": loop_n, "batchSeconds": batch_s,
                           "batchCpuSeconds": batch_cpu, "batchPasses": batch_passes, "batchQueries": batch_n, "recallHere": rc})
            # The sweep's stopping rule (sweep.mjs: shouldStop).
            stale = stale + 1 if rc < best_recall + stop["plateau"] else 0
            best_recall = max(best_recall, rc)
            if rc >= stop["recall"] or stale >= stop["patience"]:
                break
    return {
        "key": c["key"], "factory": c["factory"], "index": type(index).__name__,
        "trainSeconds": train_s, "addSeconds": add_s, "buildCpuSeconds": build_cpu, "serializedBytes": size,
        "ntotal": int(index.ntotal), "fastScan": implem, "points": points, "version": faiss.__version__,
    }


for c in job["indexes"]:
    try:
        res = run(c)
    except Exception as e:  # one failing index must not hide the others
        res = {"key": c["key"], "factory": c["factory"], "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(res), flush=True)
