import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { knn, knnAsync } from '../../src/vectors/knn.js';
import type { Metric } from '../../src/vectors/types.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { isZipmlError } from '../../src/core/errors.js';
import { WorkerPool } from '../../src/core/workers/pool.js';
import { Rng } from '../util/rng.js';

/** Naive k-NN in double precision: every pair, sorted by (distance, id). */
function naive(base: Float32Array, queries: Float32Array, d: number, k: number, metric: Metric): { ids: number[]; dist: number[] } {
  const nb = base.length / d, nq = queries.length / d;
  const ids: number[] = [], dist: number[] = [];
  for (let i = 0; i < nq; i++) {
    const all: Array<[number, number]> = [];
    for (let j = 0; j < nb; j++) {
      let s = 0, qq = 0, bb = 0;
      for (let t = 0; t < d; t++) {
        const a = queries[i * d + t]!, b = base[j * d + t]!;
        if (metric === 'l2') s += (a - b) * (a - b);
        else s += a * b;
        qq += a * a;
        bb += b * b;
      }
      const sim = metric === 'cos' ? (qq === 0 || bb === 0 ? 0 : s / (Math.sqrt(qq) * Math.sqrt(bb))) : s;
      all.push([metric === 'l2' ? s : -sim, j]);
    }
    all.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let r = 0; r < k; r++) {
      const e = all[r];
      ids.push(e ? e[1] : -1);
      dist.push(e ? (metric === 'l2' ? e[0] : -e[0] + 0) : metric === 'l2' ? Infinity : -Infinity);
    }
  }
  return { ids, dist };
}

function check(got: { ids: Int32Array; distances: Float32Array }, want: { ids: number[]; dist: number[] }, what: string): void {
  assert.deepEqual(Array.from(got.ids), want.ids, `${what}: ids`);
  assert.deepEqual(Array.from(got.distances), want.dist.map((v) => Math.fround(v)), `${what}: distances`);
}

function rows(rng: Rng, n: number, d: number, gen: (rng: Rng) => number): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = gen(rng);
  return x;
}

const METRICS: Metric[] = ['l2', 'ip', 'cos'];

for (const path of ['reference', 'wasm-simd'] as const) {
  const skip = path === 'wasm-simd' && !simdSupported();
  test(`knn equals a naive double-precision scan (${path})`, { skip }, () => {
    setKernelPath(path);
    try {
      const rng = new Rng(21);
      // 1300 rows of d = 128 cross a base chunk boundary (1024 rows).
      for (const [d, nb, nq, k] of [[5, 200, 9, 7], [33, 517, 13, 10], [128, 1300, 6, 20]] as const) {
        const base = rows(rng, nb, d, (r) => r.normal());
        const queries = rows(rng, nq, d, (r) => r.normal());
        for (const m of METRICS) check(knn(base, queries, d, k, m), naive(base, queries, d, k, m), `${m} d=${d}`);
      }
    } finally {
      setKernelPath(undefined);
    }
  });

  test(`knn breaks ties by the smaller id, with duplicates and integer data (${path})`, { skip }, () => {
    setKernelPath(path);
    try {
      const rng = new Rng(22);
      // Small integers: many exactly equal distances; plus blocks of identical rows, and a
      // query equal to a base row (distance 0, where the norm expansion cancels completely).
      const d = 6, nb = 400, nq = 12, k = 25;
      const base = rows(rng, nb, d, (r) => r.int(3) - 1);
      for (let j = 100; j < 160; j++) base.copyWithin(j * d, 50 * d, 51 * d);
      const queries = rows(rng, nq, d, (r) => r.int(3) - 1);
      queries.set(base.subarray(50 * d, 51 * d), 0);
      queries.fill(0, d, 2 * d); // a zero query: all cosines 0, order by id
      for (const m of METRICS) check(knn(base, queries, d, k, m), naive(base, queries, d, k, m), `${m} ties`);
    } finally {
      setKernelPath(undefined);
    }
  });
}

test('knn with k above the base size fills with id -1', () => {
  const d = 3;
  const base = new Float32Array([0, 0, 0, 1, 1, 1]);
  const q = new Float32Array([1, 1, 0.5]);
  const r = knn(base, q, d, 4, 'l2');
  assert.deepEqual(Array.from(r.ids), [1, 0, -1, -1]);
  assert.deepEqual(Array.from(r.distances), [0.25, 2.25, Infinity, Infinity]);
  const s = knn(base, q, d, 3, 'ip');
  assert.deepEqual(Array.from(s.ids), [1, 0, -1]);
  assert.deepEqual(Array.from(s.distances), [2.5, 0, -Infinity]);
});

test('knn reports progress in base rows and honours an aborted signal', () => {
  const rng = new Rng(23);
  const d = 64, nb = 5000;
  const base = rows(rng, nb, d, (r) => r.normal());
  const q = rows(rng, 3, d, (r) => r.normal());
  const seen: number[] = [];
  knn(base, q, d, 5, 'l2', { onProgress: (done, total) => { assert.equal(total, nb); seen.push(done); } });
  assert.equal(seen.at(-1), nb);
  assert.ok(seen.length > 1);
  const ac = new AbortController();
  assert.throws(
    () => knn(base, q, d, 5, 'l2', { signal: ac.signal, onProgress: () => ac.abort() }),
    (e) => isZipmlError(e, 'E_ABORTED'),
  );
});

const pool = new WorkerPool({ size: 2 });
after(() => pool.close());

test('knnAsync on two workers equals knn', async () => {
  const rng = new Rng(24);
  const d = 40, nb = 3001, nq = 17, k = 12;
  const base = rows(rng, nb, d, (r) => r.int(5));
  const queries = rows(rng, nq, d, (r) => r.int(5));
  for (const m of METRICS) {
    const want = knn(base, queries, d, k, m);
    const got = await knnAsync(base, queries, d, k, m, { pool, threads: 2 });
    assert.deepEqual(got, want, m);
  }
  assert.equal(base.length, nb * d, 'the caller keeps its base');
});

test('knn argument errors are ZipmlError E_ARG', async () => {
  const x = new Float32Array(12);
  const bad = (fn: () => unknown) => assert.throws(fn, (e) => isZipmlError(e, 'E_ARG'));
  bad(() => knn(new Float32Array(10), x, 4, 1));
  bad(() => knn(x, new Float32Array(5), 4, 1));
  bad(() => knn(x, x, 4, 0));
  bad(() => knn(x, x, 4, 1.5));
  bad(() => knn(x, x, 4, 1, 'hamming' as Metric));
  const nan = x.slice();
  nan[7] = NaN;
  bad(() => knn(nan, x, 4, 1));
  bad(() => knn(x, nan.map((v) => (Number.isNaN(v) ? Infinity : v)), 4, 1));
  await assert.rejects(knnAsync(x, x, 4, 0, 'l2', { pool }), (e) => isZipmlError(e, 'E_ARG'));
});
