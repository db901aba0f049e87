/**
 * Small dense linear algebra for the quantizers (matrices here are at most a few hundred wide):
 * Cholesky, SPD inverse, and a truncated SVD built on the library's one symmetric eigensolver
 * (Householder + QL, src/vectors/linalg.ts). Row-major Float64Array throughout.
 */
import { ZipmlError } from '../../core/errors.js';
import { symmetricEigen } from '../../vectors/linalg.js';

/** Lower Cholesky factor L of a symmetric positive definite n × n matrix (A = L Lᵀ). */
export function cholesky(a: Float64Array, n: number, what = 'cholesky'): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! * l[j * n + k]!;
    if (!(d > 0)) throw new ZipmlError('E_ARG', `${what}: matrix is not positive definite at column ${j} (raise damping)`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** L⁻¹ of a lower triangular L (lower triangular). */
export function lowerInverse(l: Float64Array, n: number): Float64Array {
  const li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    li[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * li[k * n + j]!;
      li[i * n + j] = -s / l[i * n + i]!;
    }
  }
  return li;
}

/** Inverse of SPD A from its lower Cholesky factor L: A⁻¹ = L⁻ᵀ L⁻¹. */
export function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  const li = lowerInverse(l, n);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

export interface TruncatedSvd {
  rank: number;
  /** Singular values, descending (rank of them). */
  sigma: Float64Array;
  /** rows × rank, orthonormal columns. */
  u: Float64Array;
  /** rank × cols, orthonormal rows (Vᵀ). */
  vt: Float64Array;
}

/**
 * The rank-r truncated SVD A ≈ U Σ Vᵀ of a rows × cols matrix, from the eigenvectors of the
 * smaller Gram matrix (AᵀA or AAᵀ). Squaring the matrix halves the relative accuracy of tiny
 * singular values, which a low-rank correction (keeping the largest ones) does not use.
 */
export function truncatedSvd(a: Float64Array, rows: number, cols: number, rank: number): TruncatedSvd {
  if (!Number.isInteger(rank) || rank < 0) throw new ZipmlError('E_ARG', `svd: rank ${rank} must be a non-negative integer`);
  const r = Math.min(rank, rows, cols);
  const wide = cols > rows; // eigen-decompose the smaller Gram matrix
  const n = wide ? rows : cols;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      if (wide) for (let k = 0; k < cols; k++) s += a[i * cols + k]! * a[j * cols + k]!;
      else for (let k = 0; k < rows; k++) s += a[k * cols + i]! * a[k * cols + j]!;
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  const e = symmetricEigen(g, n);
  const sigma = new Float64Array(r), u = new Float64Array(rows * r), vt = new Float64Array(r * cols);
  for (let k = 0; k < r; k++) {
    const sv = Math.sqrt(Math.max(0, e.values[k]!));
    sigma[k] = sv;
    if (wide) {
      // u_k is the eigenvector; v_k = Aᵀ u_k / σ_k.
      for (let i = 0; i < rows; i++) u[i * r + k] = e.vectors[k * n + i]!;
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += a[i * cols + c]! * e.vectors[k * n + i]!;
        vt[k * cols + c] = sv > 0 ? s / sv : 0;
      }
    } else {
      for (let c = 0; c < cols; c++) vt[k * cols + c] = e.vectors[k * n + c]!;
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += a[i * cols + c]! * e.vectors[k * n + c]!;
        u[i * r + k] = sv > 0 ? s / sv : 0;
      }
    }
  }
  return { rank: r, sigma, u, vt };
}
