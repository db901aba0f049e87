import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomOrthogonalRotation, HadamardRotation, PCATransform, type VectorTransform } from '../../src/vectors/rotation.js';
import { symmetricEigen } from '../../src/vectors/linalg.js';
import { isZipmlError } from '../../src/core/errors.js';
import { gaussian } from './codec-util.js';

/** The transform's matrix, column j = apply(e_j). */
function matrixOf(t: VectorTransform): Float32Array {
  const eye = new Float32Array(t.dIn * t.dIn);
  for (let i = 0; i < t.dIn; i++) eye[i * t.dIn + i] = 1;
  return t.apply(eye); // row i = R e_i = column i of R
}

function assertOrthonormalColumns(t: VectorTransform, tol: number): void {
  const cols = matrixOf(t);
  const { dIn, dOut } = t;
  for (let a = 0; a < dIn; a++) {
    for (let b = a; b < dIn; b++) {
      let s = 0;
      for (let k = 0; k < dOut; k++) s += cols[a * dOut + k]! * cols[b * dOut + k]!;
      assert.ok(Math.abs(s - (a === b ? 1 : 0)) < tol, `${t.kind} columns ${a},${b}: ${s}`);
    }
  }
}

function assertNormsAndInverse(t: VectorTransform): void {
  const x = gaussian(5, 20, t.dIn, 3, 0.5);
  const y = t.apply(x);
  const back = t.applyTranspose(y);
  for (let r = 0; r < 20; r++) {
    let nx = 0, ny = 0;
    for (let j = 0; j < t.dIn; j++) nx += x[r * t.dIn + j]! ** 2;
    for (let j = 0; j < t.dOut; j++) ny += y[r * t.dOut + j]! ** 2;
    assert.ok(Math.abs(nx - ny) < 1e-5 * nx, `${t.kind} norm ${nx} vs ${ny}`);
  }
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i]! - x[i]!) < 1e-4, `${t.kind} inverse at ${i}`);
}

test('random orthogonal rotation: orthogonal to 1e-5, norm-preserving, seeded', () => {
  for (const d of [1, 7, 64, 100]) {
    const r = RandomOrthogonalRotation.create(d, 3);
    assertOrthonormalColumns(r, 1e-5);
    assertNormsAndInverse(r);
  }
  assert.deepEqual(RandomOrthogonalRotation.create(16, 9).matrix, RandomOrthogonalRotation.create(16, 9).matrix);
  assert.notDeepEqual(RandomOrthogonalRotation.create(16, 9).matrix, RandomOrthogonalRotation.create(16, 10).matrix);
});

test('Hadamard rotation: orthogonal for powers of two, other d, and padded', () => {
  for (const [d, pad] of [[64, false], [37, false], [37, true], [1, false], [3, true], [100, false]] as const) {
    const h = HadamardRotation.create(d, { seed: 11, pad });
    assert.equal(h.dOut, pad ? 2 ** Math.ceil(Math.log2(d)) : d);
    assertOrthonormalColumns(h, 1e-5);
    assertNormsAndInverse(h);
  }
});

test('Hadamard rotation spreads a spike over every coordinate', () => {
  const d = 48;
  const h = HadamardRotation.create(d, { seed: 2 });
  const e = new Float32Array(d);
  e[5] = 1;
  const y = h.apply(e);
  let maxAbs = 0;
  for (const v of y) maxAbs = Math.max(maxAbs, Math.abs(v));
  assert.ok(maxAbs < 0.5, `max coordinate ${maxAbs}`);
});

test('symmetricEigen: A v = λ v, orthonormal vectors, descending values', () => {
  const n = 12;
  const g = gaussian(8, n, n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = g[i * n + j]! + g[j * n + i]!;
  const { values, vectors } = symmetricEigen(a, n);
  for (let k = 0; k < n; k++) {
    if (k > 0) assert.ok(values[k - 1]! >= values[k]!);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * vectors[k * n + j]!;
      assert.ok(Math.abs(s - values[k]! * vectors[k * n + i]!) < 1e-9);
    }
    for (let l = 0; l < n; l++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += vectors[k * n + j]! * vectors[l * n + j]!;
      assert.ok(Math.abs(s - (k === l ? 1 : 0)) < 1e-9);
    }
  }
});

test('PCA recovers the eigenvalues and directions of a known covariance', () => {
  const d = 8, n = 20000;
  const lambdas = [9, 4, 2.25, 1, 0.5, 0.25, 0.1, 0.05];
  const q = RandomOrthogonalRotation.create(d, 77).matrix; // rows: the true eigenvectors
  const z = gaussian(13, n, d);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let s = 5; // a non-zero mean
      for (let k = 0; k < d; k++) s += q[k * d + j]! * Math.sqrt(lambdas[k]!) * z[i * d + k]!;
      x[i * d + j] = s;
    }
  }
  const pca = PCATransform.train(x, d);
  for (let k = 0; k < d; k++) {
    const rel = Math.abs(pca.eigenvalues[k]! - lambdas[k]!) / lambdas[k]!;
    assert.ok(rel < 0.05, `eigenvalue ${k}: ${pca.eigenvalues[k]} vs ${lambdas[k]}`);
  }
  for (let k = 0; k < 4; k++) {
    let c = 0;
    for (let j = 0; j < d; j++) c += pca.matrix[k * d + j]! * q[k * d + j]!;
    assert.ok(Math.abs(c) > 0.99, `direction ${k}: |cos| = ${Math.abs(c)}`);
  }
  for (let j = 0; j < d; j++) assert.ok(Math.abs(pca.mean[j]! - 5) < 0.1);
  assertNormsAndInverse(pcaCentered(pca));

  // d_out and whitening: 3 components with unit variance each. Trained on every point (not
  // Faiss's default subsample of 1000 per dimension) so the variance is 1 up to rounding, not
  // up to the sampling error of a subsample (~1.6% here).
  const w = PCATransform.train(x, d, { dOut: 3, eigenPower: -0.5, maxPointsPerD: n });
  const y = w.apply(x);
  for (let k = 0; k < 3; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += y[i * 3 + k]! ** 2;
    assert.ok(Math.abs(s / n - 1) < 0.01, `whitened variance ${s / n}`);
  }
});

// PCA applies x − mean first; with the mean at zero it is a plain rotation, which the shared
// norm/inverse check expects.
function pcaCentered(p: PCATransform): VectorTransform {
  return new PCATransform(p.dIn, p.dOut, new Float32Array(p.dIn), p.matrix, p.eigenvalues);
}

test('rotation bad input gives ZipmlError', () => {
  const r = RandomOrthogonalRotation.create(4);
  assert.throws(() => r.apply(new Float32Array(5)), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => r.apply(new Float32Array([1, NaN, 0, 0])), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => RandomOrthogonalRotation.create(0), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => PCATransform.train(new Float32Array(0), 4), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => PCATransform.train(new Float32Array(8), 4, { dOut: 5 }), (e) => isZipmlError(e, 'E_ARG'));
});
