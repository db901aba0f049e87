import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setKernelPath } from '../../../src/kernels/loader.js';
import { ProductQuantizer, lutScan } from '../../../src/vectors/codecs/pq.js';
import { packFastScan, appendFastScan, type FastScanPacked } from '../../../src/vectors/fastscan/layout.js';
import { quantizeLut, quantizeLuts, lutKey, lutApprox } from '../../../src/vectors/fastscan/lut.js';
import { fastScanAccumulate } from '../../../src/vectors/fastscan/kernels.js';
import { fastScanKnn, fastScanCandidates, fastScanExact, fastScanInto } from '../../../src/vectors/fastscan/search.js';
import { TopK } from '../../../src/vectors/search/topk.js';
import { mixture } from '../codec-util.js';

const d = 32, n = 6000, k = 10;
const base = mixture(21, n, d, 20);
const queries = mixture(22, 8, d, 20);
const pq = new ProductQuantizer(d, 'PQ16x4');
pq.train(base.subarray(0, 3000 * d));
const codes = pq.encode(base);
const M = 16, cs = 8;
const { packed } = packFastScan(codes, n, M);

/** Top-k of (value, row) pairs, smaller first (values negated for 'ip'), ties by row. */
function topk(values: ArrayLike<number>, sign: number, kk: number, keep: (r: number) => boolean = () => true): number[] {
  const idx: number[] = [];
  for (let r = 0; r < values.length; r++) if (keep(r)) idx.push(r);
  idx.sort((a, b) => sign * values[a]! - sign * values[b]! || a - b);
  return idx.slice(0, kk);
}

for (const path of ['wasm-simd', 'reference'] as const) {
  test(`fast-scan top-k equals the top-k of exact integer sums, and the exact float-table scan (${path})`, () => {
    setKernelPath(path === 'reference' ? 'reference' : undefined);
    try {
      for (let qi = 0; qi < 8; qi++) {
        const query = queries.subarray(qi * d, (qi + 1) * d);
        for (const metric of ['l2', 'ip'] as const) {
          const sign = metric === 'ip' ? -1 : 1;
          const t = pq.distanceTable(query, metric);
          const q = quantizeLut(t, M, metric);
          const sums = new Uint16Array(n);
          fastScanAccumulate(q.lut, packed, n, M, sums);
          // Approximate top-k = the top-k of the integer sums, ties by row.
          const got = fastScanKnn(packed, n, M, q, k);
          const want = topk(sums, 1, k);
          assert.deepEqual(Array.from(got.rows), want, `q${qi} ${metric}`);
          assert.deepEqual(Array.from(got.approx), want.map((r) => Math.fround(lutApprox(q, sums[r]!))));
          // Exact: the same rows and values as the float scan (pq4Scan) of the row-major codes.
          const float = new Float32Array(n);
          lutScan(t, codes, n, cs, M, 4, float);
          const exact = fastScanExact(packed, n, M, q, t, k);
          const wantExact = topk(float, sign, k);
          assert.deepEqual(Array.from(exact.rows), wantExact, `exact q${qi} ${metric}`);
          assert.deepEqual(Array.from(exact.dist), wantExact.map((r) => float[r]!));
          assert.ok(exact.candidates >= k && exact.candidates < n / 4, `${exact.candidates} candidates`);
          // k·kFactor candidates cover the float top-k once they include every row within the bound.
          const kth = sums[want[k - 1]!]!;
          let within = 0;
          for (let r = 0; r < n; r++) if (sums[r]! <= kth + M + 1) within++;
          const cand = fastScanCandidates(packed, n, M, q, k, Math.ceil(within / k));
          const set = new Set(cand.rows);
          for (const r of wantExact) assert.ok(set.has(r), `candidate set misses row ${r}`);
        }
      }
    } finally {
      setKernelPath(undefined);
    }
  });
}

test('filters never return a filtered-out row, fewer than k when fewer match, thresholds', () => {
  const query = queries.subarray(0, d);
  const t = pq.distanceTable(query, 'l2');
  const q = quantizeLut(t, M, 'l2');
  const sums = new Uint16Array(n);
  fastScanAccumulate(q.lut, packed, n, M, sums);
  const odd = (r: number): boolean => r % 7 === 3;
  const got = fastScanKnn(packed, n, M, q, k, { filter: odd });
  assert.deepEqual(Array.from(got.rows), topk(sums, 1, k, odd));
  const few = fastScanKnn(packed, n, M, q, k, { filter: (r) => r < 4 });
  assert.deepEqual(Array.from(few.rows).sort((a, b) => a - b), [0, 1, 2, 3]);
  const exact = fastScanExact(packed, n, M, q, t, k, { filter: odd });
  const float = new Float32Array(n);
  lutScan(t, codes, n, cs, M, 4, float);
  assert.deepEqual(Array.from(exact.rows), topk(float, 1, k, odd));
  // A threshold keeps only keys below it.
  const th = lutKey(q, sums[topk(sums, 1, 5)[4]!]!);
  const below = fastScanKnn(packed, n, M, q, k, { threshold: th });
  assert.ok(below.rows.length < 5 && below.rows.length >= 1);
  for (const v of below.approx) assert.ok(v < th + 1e-6);
  // Labels: rows map to ids, and the filter sees ids.
  const labels = Int32Array.from({ length: n }, (_, r) => 1000 + r);
  const lab = fastScanKnn(packed, n, M, q, k, { labels, filter: (id) => odd(id - 1000) });
  assert.deepEqual(Array.from(lab.rows), Array.from(got.rows, (r) => r + 1000));
});

test('one collector over several lists with a common scale (IVF shape) and appended lists', () => {
  // Three lists with their own tables (as residual IVF lists have), one query.
  const bounds = [0, 1500, 1501, n];
  const tables = [0, 1, 2].map((i) => pq.distanceTable(queries.subarray(i * d, (i + 1) * d), 'l2'));
  const qs = quantizeLuts(tables, M, 'l2');
  const heap = new TopK(k);
  const all: { key: number; label: number }[] = [];
  for (let l = 0; l < 3; l++) {
    const lo = bounds[l]!, hi = bounds[l + 1]!;
    // Build each list by appends, as an index grows.
    let list: FastScanPacked = { packed: new Uint8Array(0), nblocks: 0 };
    for (let r = lo; r < hi; r += 700) {
      const take = Math.min(700, hi - r);
      list = appendFastScan(list.packed, r - lo, codes.subarray(r * cs), take, M);
    }
    const labels = Int32Array.from({ length: hi - lo }, (_, i) => lo + i);
    fastScanInto(heap, list.packed, hi - lo, M, qs[l]!, { labels });
    const sums = new Uint16Array(hi - lo);
    fastScanAccumulate(qs[l]!.lut, list.packed, hi - lo, M, sums);
    sums.forEach((s, i) => all.push({ key: lutKey(qs[l]!, s), label: lo + i }));
  }
  all.sort((a, b) => a.key - b.key || a.label - b.label);
  const { labels } = heap.sorted();
  assert.deepEqual(Array.from(labels), all.slice(0, k).map((e) => e.label));
});
