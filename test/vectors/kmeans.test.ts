import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kmeans, kmeansAsync, FaissRng, faissRandPerm, type KMeansOptions } from '../../src/vectors/kmeans.js';
import { assignStep } from '../../src/vectors/kmeans-tasks.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { isZipmlError } from '../../src/core/errors.js';
import { WorkerPool } from '../../src/core/workers/pool.js';
import { Rng } from '../util/rng.js';

/** n points around `centers` blobs (centers spaced `spread` apart per axis), with labels. */
function blobs(seed: number, n: number, d: number, centers: number, spread: number, sigma: number): { x: Float32Array; label: Int32Array } {
  const rng = new Rng(seed);
  const mu = new Float32Array(centers * d);
  for (let i = 0; i < mu.length; i++) mu[i] = rng.normal() * spread;
  const x = new Float32Array(n * d);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % centers;
    label[i] = c;
    for (let t = 0; t < d; t++) x[i * d + t] = mu[c * d + t]! + sigma * rng.normal();
  }
  return { x, label };
}

test('FaissRng and faissRandPerm reproduce Faiss 1.7.3 (values printed by faiss.RandomGenerator / faiss.rand_perm)', () => {
  const r = new FaissRng(1234);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => r.randInt(1000)), [775, 171, 806, 365, 316]);
  const f = new FaissRng(1234);
  assert.deepEqual([0, 1, 2].map(() => f.randFloat()), [0.19151945412158966, 0.497663676738739, 0.6221087574958801]);
  assert.deepEqual(Array.from(faissRandPerm(10, 1235)), [3, 2, 4, 9, 0, 7, 1, 5, 6, 8]);
  assert.deepEqual(Array.from(faissRandPerm(100000, 42).subarray(0, 5)), [37542, 60279, 68544, 70051, 15790]);
  // std::mt19937's own check: the 10000th output from the default seed.
  const m = new FaissRng(5489);
  let v = 0;
  for (let i = 0; i < 10000; i++) v = m.u32();
  assert.equal(v, 4123659995);
});

test('kmeans is deterministic for a seed, and the seed matters', () => {
  const { x } = blobs(31, 2000, 16, 12, 1, 0.5);
  const a = kmeans(x, 16, 10, { seed: 7, niter: 8 });
  const b = kmeans(x, 16, 10, { seed: 7, niter: 8 });
  assert.deepEqual(a, b);
  const c = kmeans(x, 16, 10, { seed: 8, niter: 8 });
  assert.notDeepEqual(a.centroids, c.centroids);
});

test('kmeans objective does not increase over iterations and matches the final assignment', () => {
  const { x } = blobs(32, 3000, 24, 40, 1, 0.8);
  const n = 3000, d = 24, k = 32;
  const objs: number[] = [];
  const r = kmeans(x, d, k, { niter: 20, onProgress: (done, total, obj) => { assert.equal(total, 20); assert.equal(done, objs.length + 1); objs.push(obj!); } });
  assert.equal(r.iterations, 20);
  assert.deepEqual(objs, r.stats.map((s) => s.objective));
  for (let i = 1; i < objs.length; i++) assert.ok(objs[i]! <= objs[i - 1]! * (1 + 1e-6), `iteration ${i}: ${objs[i]} > ${objs[i - 1]}`);
  // objective is the sum of squared distances to the assigned final centroid, computed exactly here.
  let obj = 0;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < d; t++) obj += (x[i * d + t]! - r.centroids[r.assign[i]! * d + t]!) ** 2;
  }
  assert.ok(Math.abs(obj - r.objective) <= 1e-4 * obj, `${obj} vs ${r.objective}`);
  assert.ok(r.objective <= objs.at(-1)! * (1 + 1e-6));
});

test('kmeans (k-means++ init) recovers well-separated Gaussian blobs exactly', () => {
  const d = 32, centers = 20, n = 4000;
  const { x, label } = blobs(33, n, d, centers, 10, 0.1);
  const r = kmeans(x, d, centers, { init: 'kmeans++', niter: 10, seed: 5 });
  // The partition is the labels' up to renaming: a bijection label <-> cluster.
  const map = new Map<number, number>();
  const used = new Set<number>();
  for (let i = 0; i < n; i++) {
    const c = r.assign[i]!;
    const m = map.get(label[i]!);
    if (m === undefined) {
      assert.ok(!used.has(c), `cluster ${c} holds two blobs`);
      map.set(label[i]!, c);
      used.add(c);
    } else {
      assert.equal(c, m, `blob ${label[i]} is split`);
    }
  }
  assert.equal(map.size, centers);
});

test('kmeans splits empty clusters (k close to n, duplicated points)', () => {
  // 24 distinct points, each 4 times: random init picks duplicates, whose later copies get no
  // point (ties go to the smaller id) and must be split from populated clusters.
  const d = 5, distinct = 24, n = 96, k = 40;
  const rng = new Rng(34);
  const x = new Float32Array(n * d);
  for (let p = 0; p < distinct; p++) {
    const row = Array.from({ length: d }, () => rng.normal() * 3);
    for (let c = 0; c < 4; c++) x.set(row, (p * 4 + c) * d);
  }
  const r = kmeans(x, d, k, { niter: 10 });
  assert.ok(r.stats.some((s) => s.nsplit > 0), 'no split happened');
  assert.ok(r.centroids.every((v) => Number.isFinite(v)));
  assert.ok(r.assign.every((a) => a >= 0 && a < k));
  // 40 centroids for 24 distinct points: every point ends next to a centroid of its own. Not on
  // it: 16 clusters are empty in every iteration, so the last split leaves its 1 +- 1/1024
  // perturbation, far below the data's scatter.
  let scatter = 0;
  for (const v of x) scatter += v * v;
  assert.ok(r.objective < 1e-5 * scatter, `objective ${r.objective}`);
  assert.equal(r.stats.at(-1)!.nsplit, k - distinct);
});

test('kmeans with k = n returns the points; k = 1 returns the mean', () => {
  const { x } = blobs(35, 30, 4, 3, 1, 1);
  const r = kmeans(x, 4, 30);
  assert.deepEqual(r.centroids, x);
  assert.equal(r.iterations, 0);
  const m = kmeans(x, 4, 1, { niter: 3 });
  for (let t = 0; t < 4; t++) {
    let s = 0;
    for (let i = 0; i < 30; i++) s += x[i * 4 + t]!;
    assert.ok(Math.abs(m.centroids[t]! - s / 30) < 1e-5);
  }
  assert.ok(m.assign.every((a) => a === 0));
});

test('kmeans subsamples k * maxPointsPerCentroid points with the seed, as Faiss', () => {
  const { x } = blobs(36, 1000, 8, 10, 1, 0.7);
  const d = 8, k = 10, mppc = 4, seed = 99;
  const r = kmeans(x, d, k, { maxPointsPerCentroid: mppc, seed, niter: 5 });
  const perm = faissRandPerm(1000, seed);
  const sub = new Float32Array(k * mppc * d);
  for (let i = 0; i < k * mppc; i++) sub.set(x.subarray(perm[i]! * d, (perm[i]! + 1) * d), i * d);
  const s = kmeans(sub, d, k, { maxPointsPerCentroid: mppc, seed, niter: 5 });
  assert.deepEqual(r.centroids, s.centroids);
  assert.deepEqual(r.stats, s.stats);
  assert.equal(r.assign.length, 1000, 'the final assignment covers every input point');
});

test('nredo keeps the best run; spherical gives unit centroids and a non-decreasing objective', () => {
  const { x } = blobs(37, 1500, 12, 15, 1, 0.6);
  const one = kmeans(x, 12, 15, { niter: 6 });
  const three = kmeans(x, 12, 15, { niter: 6, nredo: 3 });
  assert.ok(three.stats.at(-1)!.objective <= one.stats.at(-1)!.objective);
  const sp = kmeans(x, 12, 8, { niter: 10, spherical: true });
  for (let j = 0; j < 8; j++) {
    let s = 0;
    for (let t = 0; t < 12; t++) s += sp.centroids[j * 12 + t]! ** 2;
    assert.ok(Math.abs(s - 1) < 1e-5, `centroid ${j} norm^2 ${s}`);
  }
  const o = sp.stats.map((s) => s.objective);
  for (let i = 1; i < o.length; i++) assert.ok(o[i]! >= o[i - 1]! * (1 - 1e-6), `iteration ${i}`);
});

test('pruned kmeans (the default) is bit-identical to plain Lloyd', () => {
  const cases: Array<[Float32Array, number, number, KMeansOptions]> = [
    [blobs(41, 4000, 32, 60, 1, 0.7).x, 32, 64, { niter: 15 }],
    [blobs(42, 3000, 7, 20, 2, 0.3).x, 7, 100, { niter: 12, nredo: 2 }],
    [blobs(43, 2000, 16, 10, 1, 1).x, 16, 12, { niter: 10, maxPointsPerCentroid: 50 }],
  ];
  // Duplicated points with k close to n: empty clusters and splits every iteration.
  const dup = new Float32Array(96 * 5);
  const rng = new Rng(44);
  for (let p = 0; p < 24; p++) {
    const row = Array.from({ length: 5 }, () => rng.normal());
    for (let c = 0; c < 4; c++) dup.set(row, (p * 4 + c) * 5);
  }
  cases.push([dup, 5, 40, { niter: 10 }]);
  for (const path of simdSupported() ? (['wasm-simd', 'reference'] as const) : (['reference'] as const)) {
    setKernelPath(path);
    try {
      for (const [x, d, k, opts] of cases) {
        assert.deepEqual(kmeans(x, d, k, opts), kmeans(x, d, k, { ...opts, prune: false }), `${path} d=${d} k=${k}`);
      }
    } finally {
      setKernelPath(undefined);
    }
  }
});

test('the pruned step skips points whose bound holds, and only those', () => {
  const d = 16, k = 20;
  const { x } = blobs(45, 2000, d, k, 3, 0.5);
  const c = kmeans(x, d, k, { niter: 5, init: 'kmeans++' }).centroids;
  const s0 = { x, assign: new Int32Array(0), lower: new Float64Array(0), xn: new Float32Array(0) };
  const first = assignStep(s0, d, c, k, 'l2-pruned', null);
  assert.equal(first.recomputed, 2000);
  // Centroids that did not move: every bound holds except near-ties.
  const still = assignStep(first, d, c, k, 'l2-pruned', new Float64Array(k));
  assert.ok(still.recomputed < 20, `${still.recomputed} recomputed`);
  // A centroid that moved far: its points and everyone's bounds fall; the answer stays exact.
  const moved = c.slice();
  for (let t = 0; t < d; t++) moved[3 * d + t] = moved[3 * d + t]! + 2;
  const drift = new Float64Array(k);
  drift[3] = Math.sqrt(4 * d);
  const after = assignStep(still, d, moved, k, 'l2-pruned', drift);
  const plain = assignStep({ ...s0, assign: new Int32Array(0) }, d, moved, k, 'l2', null);
  assert.deepEqual(after.assign, plain.assign);
  assert.deepEqual(after.dist, plain.dist);
  assert.ok(after.recomputed > still.recomputed);
});

test('kmeans on the reference path is close to the WebAssembly path', { skip: !simdSupported() }, () => {
  const { x } = blobs(38, 1200, 20, 10, 2, 0.5);
  const opts: KMeansOptions = { niter: 6, init: 'kmeans++' };
  const w = kmeans(x, 20, 10, opts);
  setKernelPath('reference');
  try {
    const r = kmeans(x, 20, 10, opts);
    assert.ok(Math.abs(r.objective - w.objective) <= 1e-4 * w.objective);
  } finally {
    setKernelPath(undefined);
  }
});

test('kmeans honours an aborted signal between iterations', () => {
  const { x } = blobs(39, 500, 8, 5, 1, 1);
  const ac = new AbortController();
  assert.throws(() => kmeans(x, 8, 5, { signal: ac.signal, onProgress: (done) => { if (done === 2) ac.abort(); } }), (e) => isZipmlError(e, 'E_ABORTED'));
});

test('kmeans argument errors are ZipmlError E_ARG', () => {
  const x = new Float32Array(40);
  const bad = (fn: () => unknown, what: RegExp) => assert.throws(fn, (e) => isZipmlError(e, 'E_ARG') && what.test((e as Error).message));
  bad(() => kmeans(new Float32Array(41), 4, 2), /multiple of d/);
  bad(() => kmeans(new Float32Array(0), 4, 1), /empty/);
  bad(() => kmeans(x, 4, 11), /at least as many points/);
  bad(() => kmeans(x, 4, 0), /k must be/);
  bad(() => kmeans(x, 4, 2.5), /k must be/);
  bad(() => kmeans(x, 0, 2), /dimension/);
  bad(() => kmeans(x, 4, 2, { niter: -1 }), /niter/);
  bad(() => kmeans(x, 4, 2, { init: 'greedy' as 'random' }), /init/);
  const nan = x.slice();
  nan[13] = NaN;
  bad(() => kmeans(nan, 4, 2), /NaN at row 3, dimension 1/);
  const inf = x.slice();
  inf[5] = -Infinity;
  bad(() => kmeans(inf, 4, 2), /-Infinity/);
});

const pool = new WorkerPool({ size: 2 });
after(() => pool.close());

test('kmeansAsync on two workers is identical to kmeans', async () => {
  const { x } = blobs(40, 3000, 16, 30, 1, 0.8);
  for (const opts of [{ niter: 5 }, { niter: 5, prune: false }, { niter: 4, maxPointsPerCentroid: 50, spherical: true }] as KMeansOptions[]) {
    const want = kmeans(x, 16, 24, opts);
    const seen: number[] = [];
    const got = await kmeansAsync(x, 16, 24, { ...opts, pool, threads: 2, onProgress: (done) => seen.push(done) });
    assert.deepEqual(got, want);
    assert.equal(seen.length, opts.niter);
  }
  await assert.rejects(kmeansAsync(new Float32Array(7), 2, 1, { pool }), (e) => isZipmlError(e, 'E_ARG'));
});
