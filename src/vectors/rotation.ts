/**
 * Linear transforms applied to row batches before quantization: a random orthogonal rotation
 * (Faiss's RandomRotationMatrix), a fast Walsh–Hadamard rotation with random sign flips, and PCA
 * (Faiss's PCAMatrix). Each maps n×dIn rows to n×dOut rows with `apply` and back with
 * `applyTranspose`, which is the exact inverse wherever the transform is orthogonal.
 *
 * Transforms serialize into a codec's container as one section plus a JSON description; see
 * writeTransform / readTransform.
 */
import { ZipmlError } from '../core/errors.js';
import type { ContainerBuilder, Container, JsonObject } from '../core/container.js';
import type { TrainOptions } from './types.js';
import { SeededRandom, householderQ, symmetricEigen, mulRowsByMatrix, mulRowsByMatrixT, checkRows, checkDim } from './linalg.js';

export type TransformKind = 'orthogonal' | 'hadamard' | 'pca';

export interface VectorTransform {
  readonly kind: TransformKind;
  readonly dIn: number;
  readonly dOut: number;
  /** n rows of dIn values -> n rows of dOut values. */
  apply(x: Float32Array): Float32Array;
  /** n rows of dOut values -> n rows of dIn values, by the transpose (the inverse when orthogonal). */
  applyTranspose(y: Float32Array): Float32Array;
}

/** Faiss's default seed for random rotations (RandomRotationMatrix::init(seed = 12345)). */
export const DEFAULT_ROTATION_SEED = 12345;

/**
 * A uniformly random orthogonal d×d rotation: Householder QR of a seeded Gaussian matrix with
 * the sign fix that makes it Haar-distributed. O(d²) per vector, O(d³) to build.
 */
export class RandomOrthogonalRotation implements VectorTransform {
  readonly kind = 'orthogonal';
  readonly dIn: number;
  readonly dOut: number;
  /** Row-major d×d matrix R; apply computes y = R x. */
  readonly matrix: Float32Array;

  constructor(d: number, matrix: Float32Array) {
    checkDim(d, 'RandomOrthogonalRotation');
    if (matrix.length !== d * d) throw new ZipmlError('E_ARG', `RandomOrthogonalRotation: matrix has ${matrix.length} values, expected ${d * d}`);
    this.dIn = this.dOut = d;
    this.matrix = matrix;
  }

  static create(d: number, seed = DEFAULT_ROTATION_SEED): RandomOrthogonalRotation {
    checkDim(d, 'RandomOrthogonalRotation');
    const rng = new SeededRandom(seed);
    const g = new Float64Array(d * d);
    for (let i = 0; i < g.length; i++) g[i] = rng.normal();
    return new RandomOrthogonalRotation(d, Float32Array.from(householderQ(g, d, d)));
  }

  apply(x: Float32Array): Float32Array {
    const n = checkRows(x, this.dIn, 'rotation apply');
    return mulRowsByMatrix(x, n, this.matrix, this.dOut, this.dIn);
  }

  applyTranspose(y: Float32Array): Float32Array {
    const n = checkRows(y, this.dOut, 'rotation applyTranspose');
    return mulRowsByMatrixT(y, n, this.matrix, this.dOut, this.dIn);
  }
}

/** In-place unnormalized Walsh–Hadamard transform of buf[off .. off+len), len a power of two. */
export function fwht(buf: Float64Array, off: number, len: number): void {
  for (let h = 1; h < len; h <<= 1) {
    for (let i = off; i < off + len; i += h << 1) {
      for (let j = i; j < i + h; j++) {
        const a = buf[j]!;
        const b = buf[j + h]!;
        buf[j] = a + b;
        buf[j + h] = a - b;
      }
    }
  }
}

const HADAMARD_ROUNDS = 4;

/**
 * A structured random rotation in O(d log d): HADAMARD_ROUNDS rounds of (random ±1 signs,
 * normalized Walsh–Hadamard transform, butterfly mixing of the two halves). One Hadamard round
 * alone maps a sparse input to a very regular output; several rounds with independent signs make
 * coordinates behave like those of a random rotation (the "HD3" construction).
 *
 * Two ways to handle d that is not a power of two:
 * - `pad: true` zero-pads to the next power of two p, so dOut = p and applyTranspose is the
 *   inverse on the image (Rᵀ R = I_d);
 * - `pad: false` (default) stays in R^d: with p the largest power of two ≤ d, even rounds
 *   transform the first p coordinates and odd rounds the last p, and the butterfly mixes
 *   coordinate i with i + ⌊d/2⌋. Every step is orthogonal on R^d, so R is an exact d×d rotation
 *   and codes keep d bits (the RaBitQ library's FHT-Kac rotator works the same way).
 */
export class HadamardRotation implements VectorTransform {
  readonly kind = 'hadamard';
  readonly dIn: number;
  readonly dOut: number;
  /** HADAMARD_ROUNDS × dOut sign bits, 1 = negate (bit k of byte k>>3, LSB first). */
  readonly signs: Uint8Array;
  private readonly block: number;

  constructor(d: number, dOut: number, signs: Uint8Array) {
    checkDim(d, 'HadamardRotation');
    const p = nextPow2(d);
    if (dOut !== d && dOut !== p) throw new ZipmlError('E_ARG', `HadamardRotation: dOut ${dOut} must be ${d} or ${p}`);
    const want = Math.ceil((HADAMARD_ROUNDS * dOut) / 8);
    if (signs.length !== want) throw new ZipmlError('E_ARG', `HadamardRotation: ${signs.length} sign bytes, expected ${want}`);
    this.dIn = d;
    this.dOut = dOut;
    this.signs = signs;
    this.block = prevPow2(dOut);
  }

  static create(d: number, opts: { seed?: number; pad?: boolean } = {}): HadamardRotation {
    checkDim(d, 'HadamardRotation');
    const dOut = opts.pad ? nextPow2(d) : d;
    const rng = new SeededRandom(opts.seed ?? DEFAULT_ROTATION_SEED);
    const signs = new Uint8Array(Math.ceil((HADAMARD_ROUNDS * dOut) / 8));
    for (let i = 0; i < signs.length; i++) signs[i] = rng.u32() & 255;
    return new HadamardRotation(d, dOut, signs);
  }

  private flip(buf: Float64Array, round: number): void {
    const base = round * this.dOut;
    for (let i = 0; i < this.dOut; i++) {
      const bit = base + i;
      if ((this.signs[bit >> 3]! >> (bit & 7)) & 1) buf[i] = -buf[i]!;
    }
  }

  private hadamard(buf: Float64Array, round: number): void {
    const p = this.block;
    const off = round & 1 ? this.dOut - p : 0;
    fwht(buf, off, p);
    const s = 1 / Math.sqrt(p);
    for (let i = off; i < off + p; i++) buf[i] = buf[i]! * s;
  }

  // The butterfly is its own inverse: [a, b] -> [(a+b), (a-b)]/√2.
  private butterfly(buf: Float64Array): void {
    const h = this.dOut >> 1;
    if (this.block === this.dOut) return; // a full-length Hadamard already mixes everything
    for (let i = 0; i < h; i++) {
      const a = buf[i]!;
      const b = buf[i + h]!;
      buf[i] = (a + b) * Math.SQRT1_2;
      buf[i + h] = (a - b) * Math.SQRT1_2;
    }
  }

  apply(x: Float32Array): Float32Array {
    const n = checkRows(x, this.dIn, 'rotation apply');
    const out = new Float32Array(n * this.dOut);
    const buf = new Float64Array(this.dOut);
    for (let r = 0; r < n; r++) {
      buf.fill(0);
      for (let i = 0; i < this.dIn; i++) buf[i] = x[r * this.dIn + i]!;
      for (let k = 0; k < HADAMARD_ROUNDS; k++) {
        this.flip(buf, k);
        this.hadamard(buf, k);
        this.butterfly(buf);
      }
      out.set(buf, r * this.dOut);
    }
    return out;
  }

  applyTranspose(y: Float32Array): Float32Array {
    const n = checkRows(y, this.dOut, 'rotation applyTranspose');
    const out = new Float32Array(n * this.dIn);
    const buf = new Float64Array(this.dOut);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < this.dOut; i++) buf[i] = y[r * this.dOut + i]!;
      // Each step is symmetric (H, the butterfly and the sign flips), so the transpose is the
      // same steps in reverse order.
      for (let k = HADAMARD_ROUNDS - 1; k >= 0; k--) {
        this.butterfly(buf);
        this.hadamard(buf, k);
        this.flip(buf, k);
      }
      for (let i = 0; i < this.dIn; i++) out[r * this.dIn + i] = buf[i]!;
    }
    return out;
  }
}

function nextPow2(d: number): number {
  let p = 1;
  while (p < d) p <<= 1;
  return p;
}

function prevPow2(d: number): number {
  let p = 1;
  while (p * 2 <= d) p <<= 1;
  return p;
}

export interface PCAOptions extends TrainOptions {
  /** Output dimension (default dIn). */
  dOut?: number;
  /**
   * Components are multiplied by eigenvalue^eigenPower, as in Faiss: 0 (default) keeps the
   * rotation orthonormal, -0.5 whitens.
   */
  eigenPower?: number;
  /** Added to the eigenvalues before the power, to avoid dividing by zero when whitening. */
  epsilon?: number;
  /** Training subsamples to this many points per input dimension (Faiss default 1000). */
  maxPointsPerD?: number;
}

/**
 * PCA: y = A (x − mean), where the rows of A are the covariance eigenvectors with the largest
 * eigenvalues, scaled by eigenvalue^eigenPower. `eigenvalues` are those of the covariance
 * Σ (x−μ)(x−μ)ᵀ / n, sorted descending. (Faiss stores the eigenvalues of the unnormalized scatter
 * matrix, n times ours; with whitening that changes only a global scale.)
 */
export class PCATransform implements VectorTransform {
  readonly kind = 'pca';
  readonly dIn: number;
  readonly dOut: number;
  readonly mean: Float32Array;
  /** dOut×dIn row-major. */
  readonly matrix: Float32Array;
  /** All dIn covariance eigenvalues, descending. */
  readonly eigenvalues: Float32Array;

  constructor(dIn: number, dOut: number, mean: Float32Array, matrix: Float32Array, eigenvalues: Float32Array) {
    checkDim(dIn, 'PCATransform');
    if (!Number.isInteger(dOut) || dOut < 1 || dOut > dIn) throw new ZipmlError('E_ARG', `PCATransform: dOut ${dOut} must be in 1..${dIn}`);
    if (mean.length !== dIn || matrix.length !== dOut * dIn || eigenvalues.length !== dIn) {
      throw new ZipmlError('E_ARG', 'PCATransform: mean, matrix or eigenvalues have the wrong length');
    }
    this.dIn = dIn;
    this.dOut = dOut;
    this.mean = mean;
    this.matrix = matrix;
    this.eigenvalues = eigenvalues;
  }

  static train(x: Float32Array, d: number, opts: PCAOptions = {}): PCATransform {
    checkDim(d, 'PCATransform');
    let n = checkRows(x, d, 'PCA train');
    if (n === 0) throw new ZipmlError('E_ARG', 'PCA train: the training set is empty');
    const dOut = opts.dOut ?? d;
    if (!Number.isInteger(dOut) || dOut < 1 || dOut > d) throw new ZipmlError('E_ARG', `PCA train: dOut ${dOut} must be in 1..${d}`);
    const maxN = (opts.maxPointsPerD ?? 1000) * d;
    if (n > maxN) {
      x = subsampleRows(x, d, n, maxN, opts.seed ?? 1234);
      n = maxN;
    }
    const mean = new Float64Array(d);
    for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) mean[i] = mean[i]! + x[r * d + i]!;
    for (let i = 0; i < d; i++) mean[i] = mean[i]! / n;
    const cov = new Float64Array(d * d);
    const row = new Float64Array(d);
    for (let r = 0; r < n; r++) {
      if (opts.signal?.aborted) throw new ZipmlError('E_ABORTED', 'PCA train was aborted', { cause: opts.signal.reason });
      for (let i = 0; i < d; i++) row[i] = x[r * d + i]! - mean[i]!;
      for (let i = 0; i < d; i++) {
        const ri = row[i]!;
        if (ri === 0) continue;
        const o = i * d;
        for (let j = i; j < d; j++) cov[o + j] = cov[o + j]! + ri * row[j]!;
      }
      if (opts.onProgress && (r & 1023) === 1023) opts.onProgress(r + 1, n);
    }
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = cov[i * d + j]! / n;
        cov[i * d + j] = v;
        cov[j * d + i] = v;
      }
    }
    const { values, vectors } = symmetricEigen(cov, d);
    const power = opts.eigenPower ?? 0;
    const eps = opts.epsilon ?? 0;
    const matrix = new Float32Array(dOut * d);
    for (let r = 0; r < dOut; r++) {
      const scale = power === 0 ? 1 : Math.pow(Math.max(values[r]!, 0) + eps, power);
      if (!Number.isFinite(scale)) {
        throw new ZipmlError('E_ARG', `PCA train: eigenvalue ${r} is ${values[r]}; whitening needs epsilon > 0`);
      }
      for (let i = 0; i < d; i++) matrix[r * d + i] = vectors[r * d + i]! * scale;
    }
    opts.onProgress?.(n, n);
    return new PCATransform(d, dOut, Float32Array.from(mean), matrix, Float32Array.from(values));
  }

  apply(x: Float32Array): Float32Array {
    const n = checkRows(x, this.dIn, 'PCA apply');
    const c = new Float32Array(x.length);
    for (let r = 0; r < n; r++) for (let i = 0; i < this.dIn; i++) c[r * this.dIn + i] = x[r * this.dIn + i]! - this.mean[i]!;
    return mulRowsByMatrix(c, n, this.matrix, this.dOut, this.dIn);
  }

  /** x = Aᵀ y + mean: the inverse on the kept components when eigenPower is 0. */
  applyTranspose(y: Float32Array): Float32Array {
    const n = checkRows(y, this.dOut, 'PCA applyTranspose');
    const x = mulRowsByMatrixT(y, n, this.matrix, this.dOut, this.dIn);
    for (let r = 0; r < n; r++) for (let i = 0; i < this.dIn; i++) x[r * this.dIn + i] = x[r * this.dIn + i]! + this.mean[i]!;
    return x;
  }
}

/** `count` distinct rows of x chosen by a seeded partial Fisher–Yates shuffle, in input order. */
export function subsampleRows(x: Float32Array, d: number, n: number, count: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const pick = idx.subarray(0, count).sort();
  const out = new Float32Array(count * d);
  for (let i = 0; i < count; i++) out.set(x.subarray(pick[i]! * d, pick[i]! * d + d), i * d);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Serialization inside a codec container
// ---------------------------------------------------------------------------------------------

/** Adds the transform's parameters as section `name` and returns the JSON that describes it. */
export function writeTransform(b: ContainerBuilder, name: string, t: VectorTransform): JsonObject {
  if (t instanceof RandomOrthogonalRotation) {
    b.addSection(name, f32Bytes(t.matrix));
    return { kind: 'orthogonal', section: name, dIn: t.dIn, dOut: t.dOut };
  }
  if (t instanceof HadamardRotation) {
    b.addSection(name, t.signs);
    return { kind: 'hadamard', section: name, dIn: t.dIn, dOut: t.dOut, rounds: HADAMARD_ROUNDS };
  }
  if (t instanceof PCATransform) {
    const all = new Float32Array(t.dIn + t.dIn + t.dOut * t.dIn);
    all.set(t.mean, 0);
    all.set(t.eigenvalues, t.dIn);
    all.set(t.matrix, 2 * t.dIn);
    b.addSection(name, f32Bytes(all));
    return { kind: 'pca', section: name, dIn: t.dIn, dOut: t.dOut };
  }
  throw new ZipmlError('E_ARG', `writeTransform: unsupported transform ${(t as VectorTransform).kind}`);
}

/**
 * Rebuilds a transform from its description, checking every field against `dIn` and the
 * section's length. Orthogonality of a stored matrix is checked too (to 1e-3 per entry of RᵀR,
 * sampled), so a flipped bit in a rotation cannot silently distort every distance.
 */
export function readTransform(c: Container, desc: unknown, dIn: number, where: string): VectorTransform {
  if (typeof desc !== 'object' || desc === null || Array.isArray(desc)) throw corrupt(where, 'transform description is not an object');
  const o = desc as JsonObject;
  const kind = o.kind;
  const section = o.section;
  if (typeof section !== 'string' || !c.has(section)) throw corrupt(where, 'transform section is missing');
  if (o.dIn !== dIn) throw corrupt(where, `transform dIn ${String(o.dIn)} does not match ${dIn}`);
  const bytes = c.section(section);
  const dOut = o.dOut;
  if (typeof dOut !== 'number' || !Number.isInteger(dOut) || dOut < 1 || dOut > 4 * dIn) throw corrupt(where, `transform dOut ${String(dOut)} is invalid`);
  if (kind === 'orthogonal') {
    if (dOut !== dIn || bytes.length !== 4 * dIn * dIn) throw corrupt(where, 'orthogonal rotation has the wrong size');
    const m = bytesF32(bytes);
    checkFinite(m, where);
    checkOrthonormalRows(m, dIn, dIn, where);
    return new RandomOrthogonalRotation(dIn, m);
  }
  if (kind === 'hadamard') {
    if (o.rounds !== HADAMARD_ROUNDS) throw corrupt(where, `Hadamard rotation with ${String(o.rounds)} rounds is not supported`);
    if (dOut !== dIn && dOut !== nextPow2(dIn)) throw corrupt(where, `Hadamard dOut ${dOut} is neither ${dIn} nor ${nextPow2(dIn)}`);
    if (bytes.length !== Math.ceil((HADAMARD_ROUNDS * dOut) / 8)) throw corrupt(where, 'Hadamard sign section has the wrong size');
    return new HadamardRotation(dIn, dOut, bytes.slice());
  }
  if (kind === 'pca') {
    if (dOut > dIn || bytes.length !== 4 * (2 * dIn + dOut * dIn)) throw corrupt(where, 'PCA section has the wrong size');
    const all = bytesF32(bytes);
    checkFinite(all, where);
    return new PCATransform(dIn, dOut, all.slice(0, dIn), all.slice(2 * dIn), all.slice(dIn, 2 * dIn));
  }
  throw corrupt(where, `unknown transform kind ${JSON.stringify(kind)}`);
}

function corrupt(where: string, msg: string): ZipmlError {
  return new ZipmlError('E_CORRUPT', `${where}: ${msg}`);
}

function checkFinite(a: Float32Array, where: string): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw corrupt(where, `non-finite value at index ${i}`);
}

// Checks up to 64 pairs of rows; a damaged entry shows up in its row's norm, which every pair
// with that row checks.
function checkOrthonormalRows(m: Float32Array, rows: number, cols: number, where: string): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < cols; i++) s += m[r * cols + i]! * m[r * cols + i]!;
    if (Math.abs(s - 1) > 1e-3) throw corrupt(where, `rotation row ${r} has squared norm ${s}, not 1`);
  }
  const step = Math.max(1, Math.floor(rows / 8));
  for (let a = 0; a < rows; a += step) {
    for (let b = a + 1; b < rows; b += step) {
      let s = 0;
      for (let i = 0; i < cols; i++) s += m[a * cols + i]! * m[b * cols + i]!;
      if (Math.abs(s) > 1e-3) throw corrupt(where, `rotation rows ${a} and ${b} are not orthogonal (${s})`);
    }
  }
}

/** Little-endian bytes of a Float32Array (a copy; the platform is little-endian everywhere we run). */
export function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** A Float32Array copy of little-endian bytes (length must be a multiple of 4). */
export function bytesF32(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length >> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

/** Builds the rotation a codec asked for by name. */
export function makeRotation(kind: 'orthogonal' | 'hadamard', d: number, seed: number): VectorTransform {
  return kind === 'orthogonal' ? RandomOrthogonalRotation.create(d, seed) : HadamardRotation.create(d, { seed });
}

/** Checks that a codec's rotation is the square `kind` rotation it expects (null for 'none'). */
export function checkCodecRotation(rotation: VectorTransform | null, kind: string, d: number, name: string): void {
  if ((rotation === null) !== (kind === 'none')) throw new ZipmlError('E_ARG', `${name}: rotation does not match the codec`);
  if (rotation && (rotation.kind !== kind || rotation.dIn !== d || rotation.dOut !== d)) throw new ZipmlError('E_ARG', `${name}: rotation must be ${kind} ${d}x${d}`);
}
