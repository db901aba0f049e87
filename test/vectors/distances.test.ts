import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  l2sqrDistances, innerProducts, squaredNorms, normalizeRows, pairwiseDistances, nearestCentroids, assignedDistances,
  l2sqrReference, ipReference, normsReference, normalizeReference, nearestReference,
} from '../../src/vectors/distances.js';
import { setKernelPath, simdSupported, wasmKernel } from '../../src/kernels/loader.js';
import * as distancesWasm from '../../src/kernels/generated/distances.js';
import { isZipmlError } from '../../src/core/errors.js';
import { Rng } from '../util/rng.js';

// Float32 sums of d products differ from the double references by at most about d * 2^-24 times
// the sum of the magnitudes of the terms; the tests allow 4 * d * 2^-24 of that scale (plus a
// few ulps for d = 1).
const tol = (d: number, scale: number): number => (4 * d + 8) * 2 ** -24 * scale;

function randomRows(rng: Rng, n: number, d: number, offset = 0): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() + offset;
  return x;
}

function norm2(x: Float32Array, i: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += x[i * d + t]! ** 2;
  return s;
}

const PATHS = ['reference', 'wasm-simd'] as const;
function withPath(path: (typeof PATHS)[number], fn: () => void): void {
  setKernelPath(path);
  try {
    fn();
  } finally {
    setKernelPath(undefined);
  }
}

// Sizes around every unrolling and panel boundary: d against 4 and 16, rows against 4 and 8.
const DIMS = [1, 3, 4, 7, 16, 17, 37, 128, 130];

for (const path of PATHS) {
  const skip = path === 'wasm-simd' && !simdSupported();

  test(`one query against n rows: l2, ip, norms equal the references (${path})`, { skip }, () => {
    withPath(path, () => {
      const rng = new Rng(11);
      for (const d of DIMS) {
        const n = 29;
        const x = randomRows(rng, n, d, 0.5);
        const q = randomRows(rng, 1, d, -0.25);
        const l2 = l2sqrDistances(q, x, d), ip = innerProducts(q, x, d), nr = squaredNorms(x, d);
        const rl2 = new Float32Array(n), rip = new Float32Array(n), rnr = new Float32Array(n);
        l2sqrReference(q, x, n, d, rl2);
        ipReference(q, x, n, d, rip);
        normsReference(x, n, d, rnr);
        for (let i = 0; i < n; i++) {
          const scale = 2 * (norm2(q, 0, d) + norm2(x, i, d));
          assert.ok(Math.abs(l2[i]! - rl2[i]!) <= tol(d, scale), `l2 d=${d} i=${i}: ${l2[i]} vs ${rl2[i]}`);
          assert.ok(Math.abs(ip[i]! - rip[i]!) <= tol(d, scale), `ip d=${d} i=${i}`);
          assert.ok(Math.abs(nr[i]! - rnr[i]!) <= tol(d, norm2(x, i, d)), `norm d=${d} i=${i}`);
        }
      }
    });
  });

  test(`normalizeRows gives unit rows and keeps zero rows (${path})`, { skip }, () => {
    withPath(path, () => {
      const rng = new Rng(12);
      const d = 37, n = 10;
      const x = randomRows(rng, n, d);
      x.fill(0, 3 * d, 4 * d);
      const y = normalizeRows(x, d);
      const ref = x.slice();
      normalizeReference(ref, n, d);
      for (let i = 0; i < n * d; i++) assert.ok(Math.abs(y[i]! - ref[i]!) <= 1e-6, `value ${i}`);
      for (let i = 0; i < n; i++) {
        const want = i === 3 ? 0 : 1;
        assert.ok(Math.abs(norm2(y, i, d) - want) <= 1e-5, `row ${i}`);
      }
    });
  });

  test(`pairwiseDistances (blocked kernel) equals a double reference (${path})`, { skip }, () => {
    withPath(path, () => {
      const rng = new Rng(13);
      // d = 128 makes a base chunk 1024 rows, so 1100 rows cross a chunk boundary; 19 queries
      // leave a remainder after the 4-row tiles.
      for (const [d, nq, nb] of [[3, 5, 13], [37, 19, 61], [128, 19, 1100]] as const) {
        const q = randomRows(rng, nq, d, 0.3), b = randomRows(rng, nb, d, 0.3);
        for (const metric of ['l2', 'ip', 'cos'] as const) {
          const got = pairwiseDistances(q, b, d, metric);
          for (let i = 0; i < nq; i++) {
            for (let j = 0; j < nb; j++) {
              let s = 0, qq = 0, bb = 0;
              for (let t = 0; t < d; t++) {
                const x = q[i * d + t]!, y = b[j * d + t]!;
                s += metric === 'l2' ? (x - y) ** 2 : x * y;
                qq += x * x;
                bb += y * y;
              }
              const want = metric === 'cos' ? s / Math.sqrt(qq * bb) : s;
              const scale = metric === 'cos' ? 4 : 2 * (qq + bb);
              const v = got[i * nb + j]!;
              assert.ok(Math.abs(v - want) <= tol(d, scale), `${metric} d=${d} (${i},${j}): ${v} vs ${want}`);
            }
          }
        }
      }
    });
  });

  test(`nearestCentroids equals the reference, ties to the smaller id (${path})`, { skip }, () => {
    withPath(path, () => {
      const rng = new Rng(14);
      // d = 512 makes a centroid chunk 256 rows: k = 601 runs three chunks with a partial panel.
      for (const [d, n, k] of [[2, 50, 3], [17, 203, 45], [512, 37, 601]] as const) {
        const x = randomRows(rng, n, d), c = randomRows(rng, k, d);
        // Duplicate centroids: the later copy must never win.
        c.copyWithin(1 * d, 0, d);
        if (k > 3) c.copyWithin((k - 1) * d, 2 * d, 3 * d);
        for (const kind of ['l2', 'ip'] as const) {
          const idx = new Int32Array(n), dist = new Float32Array(n), second = new Float32Array(n);
          const rIdx = new Int32Array(n), rDist = new Float32Array(n), rSecond = new Float32Array(n);
          nearestCentroids(x, d, 0, n, c, k, kind, idx, dist, second);
          nearestReference(x, d, 0, n, c, k, kind, rIdx, rDist, rSecond);
          if (kind === 'l2') {
            // Pruned k-means relies on this: the distance to a given centroid, bit for bit.
            const again = new Float32Array(n);
            assignedDistances(x, d, 0, n, c, k, idx, again);
            assert.deepEqual(again, dist, `assignedDistances d=${d}`);
          }
          for (let i = 0; i < n; i++) {
            // The runner-up is the second of the sorted distances (a tie with the winner counts).
            const all = Array.from({ length: k }, (_, j) => {
              let s = 0;
              for (let t = 0; t < d; t++) s += kind === 'l2' ? (x[i * d + t]! - c[j * d + t]!) ** 2 : -x[i * d + t]! * c[j * d + t]!;
              return s;
            }).sort((a, b) => a - b);
            const want2 = kind === 'l2' ? all[1]! : -all[1]!;
            const scale2 = 2 * (norm2(x, i, d) + Math.max(...Array.from({ length: k }, (_, j) => norm2(c, j, d))));
            assert.ok(Math.abs(second[i]! - want2) <= tol(d, scale2), `${kind} second d=${d} row ${i}: ${second[i]} vs ${want2}`);
            assert.ok(Math.abs(rSecond[i]! - want2) <= tol(d, scale2), `${kind} reference second d=${d} row ${i}`);
            assert.notEqual(idx[i], 1, 'a duplicate centroid won over its smaller id');
            if (k > 3) assert.notEqual(idx[i], k - 1, 'a duplicate centroid won over its smaller id');
            const scale = 2 * (norm2(x, i, d) + norm2(c, idx[i]!, d));
            if (idx[i] !== rIdx[i]) {
              // Only a near tie may differ between float32 and double sums.
              assert.ok(Math.abs(dist[i]! - rDist[i]!) <= tol(d, scale), `${kind} d=${d} row ${i}: ${idx[i]} vs ${rIdx[i]}`);
            }
            assert.ok(Math.abs(dist[i]! - rDist[i]!) <= tol(d, scale), `${kind} distance d=${d} row ${i}`);
          }
        }
      }
    });
  });
}

test('nearestCentroids gives the same ids for any sub-range (results do not depend on windows)', { skip: !simdSupported() }, () => {
  const rng = new Rng(15);
  const d = 24, n = 5000, k = 70;
  const x = randomRows(rng, n, d), c = randomRows(rng, k, d);
  const all = new Int32Array(n), allD = new Float32Array(n);
  nearestCentroids(x, d, 0, n, c, k, 'l2', all, allD);
  const part = new Int32Array(n - 1237), partD = new Float32Array(n - 1237);
  nearestCentroids(x, d, 1237, n, c, k, 'l2', part, partD);
  assert.deepEqual(part, all.subarray(1237));
  assert.deepEqual(partD, allD.subarray(1237));
});

test('large inputs stream through bounded kernel memory', { skip: !simdSupported() }, () => {
  const d = 256, n = 48_000; // 49 MB of rows
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) x[i * d + (i % d)] = 2;
  const q = new Float32Array(d);
  q[0] = 1;
  const dist = l2sqrDistances(q, x, d);
  for (let i = 0; i < n; i += 997) assert.equal(dist[i], i % d === 0 ? 1 : 5);
  const norms = squaredNorms(x, d);
  assert.equal(norms[n - 1], 4);
  const k = wasmKernel<unknown>('distances', distancesWasm.base64)!;
  assert.ok(k.memory.buffer.byteLength < 16 << 20, `kernel memory grew to ${k.memory.buffer.byteLength} bytes`);
});

test('argument errors are ZipmlError E_ARG', () => {
  const x = new Float32Array(10);
  assert.throws(() => l2sqrDistances(new Float32Array(3), x, 3), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => innerProducts(new Float32Array(4), x, 5), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => squaredNorms(x, 0), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => squaredNorms(x, 5, new Float32Array(3)), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => pairwiseDistances(x, x, 5, 'hamming' as 'l2'), (e) => isZipmlError(e, 'E_ARG'));
});
