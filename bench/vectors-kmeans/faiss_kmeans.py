# Faiss's side of bench/vectors-kmeans: trains faiss.Kmeans on one thread on the raw float32 file
# written by run.mjs, and prints one JSON line with the timings and objectives.
#   /usr/bin/python3 faiss_kmeans.py FILE N D K NITER SEED MAX_POINTS_PER_CENTROID
import json
import sys
import time

import faiss
import numpy as np

path, n, d, k, niter, seed, mppc = sys.argv[1], *map(int, sys.argv[2:8])
faiss.omp_set_num_threads(1)
x = np.fromfile(path, dtype="float32", count=n * d).reshape(n, d)

km = faiss.Kmeans(d, k, niter=niter, seed=seed, max_points_per_centroid=mppc, verbose=False)
t0 = time.perf_counter()
km.train(x)
train = time.perf_counter() - t0
# The assignment of every point to the final centroids: what zipml's kmeans() also returns.
t0 = time.perf_counter()
D, _ = km.index.search(x, 1)
assign = time.perf_counter() - t0

print(json.dumps({
    "version": faiss.__version__,
    "trainSeconds": train,
    "assignSeconds": assign,
    "objectives": [float(o) for o in km.obj],
    "finalObjective": float(D.astype("float64").sum()),
}))
