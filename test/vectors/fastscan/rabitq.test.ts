import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaBitQCodec } from '../../../src/vectors/codecs/rabitq.js';
import { packRaBitQ, appendRaBitQ, rabitqQuery, rabitqEstimates, rabitqSearch, codecReranker, rabitqFactor } from '../../../src/vectors/fastscan/rabitq.js';
import { fastScanAccumulate } from '../../../src/vectors/fastscan/kernels.js';
import { floatTableSum } from '../../../src/vectors/fastscan/search.js';
import { lutErrorBound } from '../../../src/vectors/fastscan/lut.js';
import { mixture } from '../codec-util.js';
import { assertClose } from '../codec-util.js';

function exactValues(x: Float32Array, q: Float32Array, d: number, metric: 'l2' | 'ip', rows: ArrayLike<number>, out: Float32Array): void {
  for (let i = 0; i < rows.length; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const a = x[rows[i]! * d + j]!, b = q[j]!;
      s += metric === 'l2' ? (a - b) * (a - b) : a * b;
    }
    out[i] = s;
  }
}

test('fast-scan RaBitQ estimator equals RaBitQCodec distances; quantized within its term; bound holds', () => {
  for (const d of [100, 37, 128]) {
    const n = 1500;
    const x = mixture(31, n, d, 10);
    const codec = new RaBitQCodec(d);
    codec.train(x);
    const codes = codec.encode(x);
    const fs = packRaBitQ(codec, codes, n);
    let viol = 0, count = 0;
    for (let qi = 0; qi < 4; qi++) {
      const query = mixture(40 + qi, 1, d, 10);
      for (const metric of ['l2', 'ip'] as const) {
        const rq = rabitqQuery(codec, query, metric);
        const want = new Float32Array(n);
        codec.distances(query, metric)(codes, n, want);
        // Float table sums: the codec's estimator.
        const fsum = Float64Array.from({ length: n }, (_, r) => floatTableSum(rq.table, fs.packed, fs.M, r));
        const estF = new Float32Array(n);
        rabitqEstimates(fs, rq, fsum, false, estF, null);
        assertClose(estF, want, 1e-4, `d=${d} ${metric}`);
        // Quantized sums: within the table-quantization term of the float estimator.
        const sums = new Uint16Array(n);
        fastScanAccumulate(rq.lut.lut, fs.packed, n, fs.M, sums);
        const est = new Float32Array(n), bound = new Float32Array(n);
        rabitqEstimates(fs, rq, sums, true, est, bound);
        const qerr = lutErrorBound(rq.lut) * (metric === 'l2' ? 2 : 1);
        const truth = new Float32Array(n);
        exactValues(x, query, d, metric, Array.from({ length: n }, (_, i) => i), truth);
        for (let i = 0; i < n; i++) {
          const dp = fs.factors[rabitqFactor(i, 1)]!;
          const tol = 1e-4 * (Math.abs(want[i]!) + 1);
          if (!(metric === 'l2' && estF[i] === 0)) assert.ok(Math.abs(est[i]! - estF[i]!) <= dp * qerr + tol, `row ${i}: ${est[i]} vs ${estF[i]}`);
          if (Math.abs(est[i]! - truth[i]!) > bound[i]! + tol) viol++;
          count++;
        }
      }
    }
    // ε₀ = 1.9: the bound holds for ≥ 1 − 2(1 − Φ(1.9)) ≈ 94.3% of pairs (1.5 points of slack).
    assert.ok(viol / count <= 0.0574 + 0.015, `d=${d}: bound violated in ${((100 * viol) / count).toFixed(2)}% of pairs`);
  }
});

test('RaBitQ fast-scan search re-ranks few rows and finds the exact and the RaBitQ4 top-k', () => {
  const d = 64, n = 5000, k = 10;
  const x = mixture(51, n, d, 20);
  const codec = new RaBitQCodec(d, { nbBits: 4 });
  codec.train(x);
  const codes = codec.encode(x);
  // Built by appends, as an index grows: equal to packing at once.
  const fs = packRaBitQ(codec, codes.subarray(0, 1000 * codec.codeSize), 1000);
  appendRaBitQ(fs, codec, codes.subarray(1000 * codec.codeSize), n - 1000);
  const whole = packRaBitQ(codec, codes, n);
  assert.deepEqual(fs.packed.subarray(0, whole.packed.length), whole.packed);
  assert.deepEqual(fs.factors.subarray(0, whole.factors.length), whole.factors);
  let hitExact = 0, hitCodec = 0, total = 0, reranked = 0;
  for (let qi = 0; qi < 10; qi++) {
    const query = mixture(60 + qi, 1, d, 20);
    for (const metric of ['l2', 'ip'] as const) {
      const sign = metric === 'ip' ? -1 : 1;
      const rq = rabitqQuery(codec, query, metric);
      const all = new Float32Array(n);
      const ids = Array.from({ length: n }, (_, i) => i);
      exactValues(x, query, d, metric, ids, all);
      const best = ids.slice().sort((a, b) => sign * (all[a]! - all[b]!) || a - b).slice(0, k);
      const r1 = rabitqSearch(fs, rq, k, (rows, out) => exactValues(x, query, d, metric, rows, out));
      hitExact += r1.rows.filter((r) => best.includes(r)).length;
      reranked += r1.reranked;
      total += k;
      // Exact re-ranking returns exact values, sorted.
      for (let i = 0; i < k; i++) assert.ok(Math.abs(r1.dist[i]! - all[r1.rows[i]!]!) <= 1e-3 * (1 + Math.abs(all[r1.rows[i]!]!)));
      // With RaBitQ4 codes as the re-ranking stage: the top-k of the RaBitQ4 estimator.
      const c4 = new Float32Array(n);
      codec.distances(query, metric)(codes, n, c4);
      const best4 = ids.slice().sort((a, b) => sign * (c4[a]! - c4[b]!) || a - b).slice(0, k);
      const r4 = rabitqSearch(fs, rq, k, codecReranker(codec, query, metric, codes));
      hitCodec += r4.rows.filter((r) => best4.includes(r)).length;
      // Filters hold inside the scan.
      const rf = rabitqSearch(fs, rq, k, (rows, out) => exactValues(x, query, d, metric, rows, out), { filter: (r) => r % 3 === 0 });
      assert.equal(rf.rows.length, k);
      assert.ok(rf.rows.every((r) => r % 3 === 0));
    }
  }
  assert.ok(hitExact / total >= 0.97, `recall vs exact ${hitExact / total}`);
  assert.ok(hitCodec / total >= 0.97, `recall vs RaBitQ4 ${hitCodec / total}`);
  assert.ok(reranked / (20 * n) < 0.1, `re-ranked ${reranked} of ${20 * n} rows`);
});
