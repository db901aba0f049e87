/**
 * Small dense linear algebra for the vector codecs: Householder QR,
 * the symmetric eigen-decomposition (Householder tridiagonalization + implicit QL), products of
 * row batches with a matrix, and the input checks every codec shares.
 *
 * Matrices are row-major. Factorizations run in Float64Array: they happen once per training, and
 * f32 accumulation over d ~ 1000 loses the 1e-5 orthogonality the rotations promise.
 */
import { ZipmlError } from '../core/errors.js';

export { SeededRandom } from '../core/random.js';

/**
 * Number of rows in `x` as a batch of `d`-dimensional vectors; rejects a length that is not a
 * multiple of d and any NaN or infinite value (they would poison ranges, means and norms
 * silently).
 */
export function checkRows(x: Float32Array, d: number, what: string): number {
  const n = checkRowShape(x, d, what);
  checkFinite(x, d, what);
  return n;
}

/** checkRows without the scan for non-finite values: the row count of a row-major array. */
export function checkRowShape(x: Float32Array, d: number, what: string): number {
  if (!(x instanceof Float32Array)) throw new ZipmlError('E_ARG', `${what}: vectors must be a Float32Array`);
  if (x.length % d !== 0) {
    throw new ZipmlError('E_ARG', `${what}: ${x.length} values are not a whole number of ${d}-dimensional vectors`);
  }
  return x.length / d;
}

/** Rejects NaN and ±Infinity; `firstRow` numbers the rows of a slice as in the whole array. */
export function checkFinite(x: Float32Array, d: number, what: string, firstRow = 0): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v - v !== 0) {
      throw new ZipmlError('E_ARG', `${what}: vector ${firstRow + Math.floor(i / d)} has a non-finite value (${v}) at dimension ${i % d}`);
    }
  }
}

/** Rejects a positive dimension that is not a safe integer in 1..max. */
export function checkDim(d: number, what: string, max = 1 << 16): void {
  if (!Number.isInteger(d) || d < 1 || d > max) throw new ZipmlError('E_ARG', `${what}: dimension ${d} must be an integer in 1..${max}`);
}

/**
 * Orthonormal basis of the span of n vectors of length m (m ≥ n), by Householder QR. The input
 * holds the vectors contiguously (`a[j*m + i]` is entry i of vector j, i.e. the columns of an
 * m×n matrix in column-major order, so every inner loop runs over contiguous memory) and is
 * overwritten. Each output vector is multiplied by the sign of the matching diagonal entry of R,
 * so that Gaussian input yields a Haar-distributed (uniformly random) orthogonal matrix.
 * Returns the n orthonormal vectors in the same layout.
 */
export function householderQ(a: Float64Array, m: number, n: number): Float64Array {
  if (m < n) throw new ZipmlError('E_ARG', `householderQ: needs m >= n, got ${m}x${n}`);
  const vs: Float64Array[] = [];
  const rdiag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const ck = k * m;
    let norm = 0;
    for (let i = k; i < m; i++) norm += a[ck + i]! * a[ck + i]!;
    norm = Math.sqrt(norm);
    const akk = a[ck + k]!;
    // Reflect onto -sign(akk)·norm·e_k: adding the magnitudes avoids cancellation.
    const alpha = akk > 0 ? -norm : norm;
    const v = a.slice(ck + k, ck + m);
    v[0] = akk - alpha;
    let vn = 0;
    for (let i = 0; i < v.length; i++) vn += v[i]! * v[i]!;
    rdiag[k] = alpha;
    if (vn > 0) {
      for (let j = k; j < n; j++) {
        const cj = j * m + k;
        let s = 0;
        for (let i = 0; i < v.length; i++) s += v[i]! * a[cj + i]!;
        s = (2 * s) / vn;
        for (let i = 0; i < v.length; i++) a[cj + i] = a[cj + i]! - s * v[i]!;
      }
      const inv = 1 / Math.sqrt(vn);
      for (let i = 0; i < v.length; i++) v[i] = v[i]! * inv;
    }
    vs.push(v);
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n unit vectors, last reflector first.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k]!;
    for (let j = k; j < n; j++) {
      const cj = j * m + k;
      let s = 0;
      for (let i = 0; i < v.length; i++) s += v[i]! * q[cj + i]!;
      s *= 2;
      if (s !== 0) for (let i = 0; i < v.length; i++) q[cj + i] = q[cj + i]! - s * v[i]!;
    }
  }
  for (let j = 0; j < n; j++) {
    if (rdiag[j]! < 0) for (let i = 0; i < m; i++) q[j * m + i] = -q[j * m + i]!;
  }
  return q;
}

/**
 * Eigen-decomposition of the symmetric n×n matrix `a` (only read, never written): Householder
 * reduction to tridiagonal form, then the implicit QL algorithm with Wilkinson shifts (the
 * classic tred2/tql2 pair). O(n³), stable, and far faster than Jacobi sweeps for n in the
 * hundreds. Eigenvalues come out sorted descending; `vectors` row i is the unit eigenvector of
 * `values[i]`.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const V = Float64Array.from(a.subarray(0, n * n));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(V, d, e, n);
  tql(V, d, e, n);
  // Sort descending; V holds eigenvectors as columns.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    const c = order[r]!;
    values[r] = d[c]!;
    for (let i = 0; i < n; i++) vectors[r * n + i] = V[i * n + c]!;
  }
  return { values, vectors };
}

// Householder tridiagonalization (after EISPACK tred2): on return V holds the orthogonal
// transformation, d the diagonal and e the subdiagonal (e[0] = 0).
function tridiagonalize(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j]!;
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[j * n + i] = f;
        g = e[j]! + V[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j]! * d[k]!;
          e[k] = e[k]! + V[k * n + j]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[k * n + j] = V[k * n + j]! - (f * e[k]! + g * d[k]!);
        d[j] = V[(i - 1) * n + j]!;
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i]!;
    V[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1]! * V[k * n + j]!;
        for (let k = 0; k <= i; k++) V[k * n + j] = V[k * n + j]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j]!;
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

// Implicit QL with shifts on the tridiagonal (d, e) (after EISPACK tql2), rotating V along.
function tql(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new ZipmlError('E_ARG', 'symmetricEigen: QL iteration did not converge (matrix has non-finite entries?)');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1, c2 = c, c3 = c;
        const el1 = e[l + 1]!;
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            const vk = k * n;
            h = V[vk + i + 1]!;
            V[vk + i + 1] = s * V[vk + i]! + c * h;
            V[vk + i] = c * V[vk + i]! - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

/**
 * y_i = M x_i for each of the n rows of x: M is dOut×dIn row-major, x is n×dIn, y is n×dOut.
 * Four rows of M at a time, so each x row is read once per four outputs.
 */
export function mulRowsByMatrix(x: Float32Array, n: number, m: Float32Array, dOut: number, dIn: number, y = new Float32Array(n * dOut)): Float32Array {
  for (let r = 0; r < n; r++) {
    const xo = r * dIn;
    const yo = r * dOut;
    let o = 0;
    for (; o + 4 <= dOut; o += 4) {
      const m0 = o * dIn, m1 = m0 + dIn, m2 = m1 + dIn, m3 = m2 + dIn;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0; i < dIn; i++) {
        const xi = x[xo + i]!;
        s0 += m[m0 + i]! * xi;
        s1 += m[m1 + i]! * xi;
        s2 += m[m2 + i]! * xi;
        s3 += m[m3 + i]! * xi;
      }
      y[yo + o] = s0;
      y[yo + o + 1] = s1;
      y[yo + o + 2] = s2;
      y[yo + o + 3] = s3;
    }
    for (; o < dOut; o++) {
      let s = 0;
      const mo = o * dIn;
      for (let i = 0; i < dIn; i++) s += m[mo + i]! * x[xo + i]!;
      y[yo + o] = s;
    }
  }
  return y;
}

/** x_i = Mᵀ y_i for each of the n rows of y: M is dOut×dIn, y is n×dOut, x is n×dIn. */
export function mulRowsByMatrixT(y: Float32Array, n: number, m: Float32Array, dOut: number, dIn: number, x = new Float32Array(n * dIn)): Float32Array {
  const acc = new Float64Array(dIn);
  for (let r = 0; r < n; r++) {
    acc.fill(0);
    const yo = r * dOut;
    for (let o = 0; o < dOut; o++) {
      const yv = y[yo + o]!;
      if (yv === 0) continue;
      const mo = o * dIn;
      for (let i = 0; i < dIn; i++) acc[i] = acc[i]! + m[mo + i]! * yv;
    }
    const xo = r * dIn;
    for (let i = 0; i < dIn; i++) x[xo + i] = acc[i]!;
  }
  return x;
}

/** Σ a_i b_i over `len` values starting at the given offsets. */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[ao + i]! * b[bo + i]!;
  return s;
}

/** Checks one query vector of dimension d (length and finiteness). */
export function checkQuery(q: Float32Array, d: number, what: string): void {
  if (!(q instanceof Float32Array) || q.length !== d) {
    throw new ZipmlError('E_ARG', `${what}: the query must be a Float32Array of ${d} values, got ${q instanceof Float32Array ? q.length : typeof q}`);
  }
  checkRows(q, d, what);
}

/** Checks a batch of n codes of cs bytes and its output array; returns nothing, throws E_ARG. */
export function checkCodeBatch(codes: Uint8Array, n: number, cs: number, out: { length: number }, what: string): void {
  if (!(codes instanceof Uint8Array)) throw new ZipmlError('E_ARG', `${what}: codes must be a Uint8Array`);
  if (!Number.isInteger(n) || n < 0) throw new ZipmlError('E_ARG', `${what}: n must be a non-negative integer, got ${n}`);
  if (codes.length < n * cs) throw new ZipmlError('E_ARG', `${what}: ${codes.length} code bytes are fewer than ${n} codes of ${cs} bytes`);
  if (out.length < n) throw new ZipmlError('E_ARG', `${what}: the output holds ${out.length} values, fewer than ${n}`);
}

/** Number of codes in a whole batch of cs-byte codes (for decode). */
export function codeCount(codes: Uint8Array, cs: number, what: string): number {
  if (!(codes instanceof Uint8Array)) throw new ZipmlError('E_ARG', `${what}: codes must be a Uint8Array`);
  if (cs === 0 ? codes.length !== 0 : codes.length % cs !== 0) {
    throw new ZipmlError('E_ARG', `${what}: ${codes.length} bytes are not a whole number of ${cs}-byte codes`);
  }
  return cs === 0 ? 0 : codes.length / cs;
}

/** The E_ARG error for using a codec before train(). */
export function notTrained(name: string, what: string): ZipmlError {
  return new ZipmlError('E_ARG', `${name} ${what}: the codec is not trained; call train() first`);
}

/** Σ v_i² over a row. */
export function normSq(a: Float32Array, o = 0, len = a.length): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[o + i]! * a[o + i]!;
  return s;
}
