/**
 * Small dense linear algebra for the quantizers (matrices here are at most a few hundred wide):
 * Cholesky, SPD inverse, the symmetric eigendecomposition by cyclic Jacobi rotations, and a
 * truncated SVD built on it. Row-major Float64Array throughout.
 */
import { ZipmlError } from '../../core/errors.js';

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

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** n × n, column k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric n × n matrix by cyclic Jacobi rotations (each rotation zeroes
 * one off-diagonal pair; sweeps until the off-diagonal mass is negligible). O(n³) per sweep,
 * typically under 10 sweeps; accurate to working precision for every eigenvalue.
 */
export function symmetricEigen(a: Float64Array, n: number, maxSweeps = 60): SymmetricEigen {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i]! * m[i]!;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! * m[p * n + q]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        // Rotation angle that zeroes m[p][q] (Golub & Van Loan's stable tangent).
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p]!, mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k]!, mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!, vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m[y * n + y]! - m[x * n + x]!);
  const values = Float64Array.from(order, (i) => m[i * n + i]!);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) vectors[i * n + k] = v[i * n + order[k]!]!;
  return { values, vectors };
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
      for (let i = 0; i < rows; i++) u[i * r + k] = e.vectors[i * n + k]!;
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += a[i * cols + c]! * e.vectors[i * n + k]!;
        vt[k * cols + c] = sv > 0 ? s / sv : 0;
      }
    } else {
      for (let c = 0; c < cols; c++) vt[k * cols + c] = e.vectors[c * n + k]!;
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += a[i * cols + c]! * e.vectors[c * n + k]!;
        u[i * r + k] = sv > 0 ? s / sv : 0;
      }
    }
  }
  return { rank: r, sigma, u, vt };
}
