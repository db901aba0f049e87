# Faiss side of bench/vectors-fastscan: IndexPQFastScan (PQ{M}x4fs) and IndexPQ (PQ{M}x4, float
# tables) trained and searched on the same vectors as zipml, one thread. Reads raw float32 files
# written by run.mjs; prints one JSON object.
#   /usr/bin/python3 faiss_fastscan.py <dir> <d> <M> <n> <nt> <nq> <k>
import json
import sys
import time

import faiss
import numpy as np

folder, d, M, n, nt, nq, k = sys.argv[1], *map(int, sys.argv[2:8])
faiss.omp_set_num_threads(1)
base = np.fromfile(f"{folder}/base.f32", dtype="float32").reshape(n, d)
train = np.fromfile(f"{folder}/train.f32", dtype="float32").reshape(nt, d)
queries = np.fromfile(f"{folder}/queries.f32", dtype="float32").reshape(nq, d)

out = {}
for name, index, single_q in (
    ("PQfs", faiss.IndexPQFastScan(d, M, 4), nq),
    ("PQ", faiss.IndexPQ(d, M, 4), min(nq, 10)),
):
    t = time.perf_counter()
    index.train(train)
    index.add(base)
    build = time.perf_counter() - t
    index.search(queries[:1], k)
    # Best of three rounds (the machine is shared), as run.mjs does for zipml.
    single = batch = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for i in range(single_q):
            index.search(queries[i : i + 1], k)
        single = min(single, (time.perf_counter() - t) / single_q)
        t = time.perf_counter()
        _, I = index.search(queries[:single_q], k)
        batch = min(batch, (time.perf_counter() - t) / single_q)
    out[name] = {"build": build, "singleSeconds": single, "batchSeconds": batch, "ids": I.tolist(), "singleQueries": single_q}
print(json.dumps(out))
