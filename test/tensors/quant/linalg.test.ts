/** The shared symmetric eigensolver and the truncated SVD built on it, against matrices built from a known decomposition. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../../src/core/random.js';
import { cholesky, inverseFromCholesky, truncatedSvd } from '../../../src/tensors/quant/linalg.js';
import { symmetricEigen } from '../../../src/vectors/linalg.js';

/** n × k matrix with orthonormal columns (Gram–Schmidt of Gaussian columns), row-major. */
function orthonormal(rng: SeededRandom, n: number, k: number): Float64Array {
  const q = new Float64Array(n * k);
  for (let j = 0; j < k; j++) {
    const v = Float64Array.from({ length: n }, () => rng.normal());
    for (let t = 0; t < j; t++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += v[i]! * q[i * k + t]!;
      for (let i = 0; i < n; i++) v[i]! -= d * q[i * k + t]!;
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * k + j] = v[i]! / norm;
  }
  return q;
}

test('symmetricEigen recovers the eigenvalues and eigenvectors of Q diag(λ) Qᵀ', () => {
  const rng = new SeededRandom(3);
  const n = 40;
  const q = orthonormal(rng, n, n);
  const lambda = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1) * (1 + i * 0.37));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += q[i * n + k]! * lambda[k]! * q[j * n + k]!;
  const e = symmetricEigen(a, n);
  const sorted = [...lambda].sort((x, y) => y - x);
  for (let k = 0; k < n; k++) assert.ok(Math.abs(e.values[k]! - sorted[k]!) < 1e-9, `λ${k} ${e.values[k]} vs ${sorted[k]}`);
  for (let k = 0; k < n; k++) {
    // A v = λ v and ‖v‖ = 1.
    let norm = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * e.vectors[k * n + j]!;
      assert.ok(Math.abs(s - e.values[k]! * e.vectors[k * n + i]!) < 1e-9);
      norm += e.vectors[k * n + i]! ** 2;
    }
    assert.ok(Math.abs(norm - 1) < 1e-12);
  }
});

test('truncatedSvd: exact on a rank-5 matrix, Eckart–Young error on a full-rank one (tall and wide)', () => {
  const rng = new SeededRandom(8);
  for (const [rows, cols] of [[60, 24], [24, 60]] as const) {
    const k = Math.min(rows, cols);
    const u = orthonormal(rng, rows, k), v = orthonormal(rng, cols, k);
    const sigma = Array.from({ length: k }, (_, i) => 10 * 0.8 ** i);
    const build = (rank: number): Float64Array => {
      const a = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let t = 0; t < rank; t++) a[i * cols + j]! += u[i * k + t]! * sigma[t]! * v[j * k + t]!;
      return a;
    };
    const low = build(5);
    const s5 = truncatedSvd(low, rows, cols, 5);
    for (let t = 0; t < 5; t++) assert.ok(Math.abs(s5.sigma[t]! - sigma[t]!) < 1e-9, `σ${t}`);
    let maxErr = 0;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let t = 0; t < 5; t++) s += s5.u[i * 5 + t]! * s5.sigma[t]! * s5.vt[t * cols + j]!;
        maxErr = Math.max(maxErr, Math.abs(s - low[i * cols + j]!));
      }
    }
    assert.ok(maxErr < 1e-9, `rank-5 reconstruction error ${maxErr}`);
    const full = build(k);
    const s3 = truncatedSvd(full, rows, cols, 3);
    let err2 = 0;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let t = 0; t < 3; t++) s += s3.u[i * 3 + t]! * s3.sigma[t]! * s3.vt[t * cols + j]!;
        err2 += (s - full[i * cols + j]!) ** 2;
      }
    }
    const tail = sigma.slice(3).reduce((s, x) => s + x * x, 0);
    assert.ok(Math.abs(err2 - tail) < 1e-8 * tail, `rank-3 error² ${err2} vs Σ tail σ² ${tail}`);
  }
});

test('inverseFromCholesky inverts an SPD matrix', () => {
  const rng = new SeededRandom(1);
  const n = 30;
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += b[i * n + k]! * b[j * n + k]! + (i === j && k === 0 ? 1 : 0);
  const inv = inverseFromCholesky(cholesky(a, n), n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * inv[k * n + j]!;
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-8);
    }
  }
});
