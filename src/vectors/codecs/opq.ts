/**
 * Optimized product quantization (Ge, He, Ke & Sun, "Optimized Product Quantization", TPAMI 2013;
 * the non-parametric variant), following Faiss's OPQMatrix (faiss/VectorTransform.cpp): a learned
 * rotation R applied before a product quantizer, so that the sub-spaces carry balanced, weakly
 * correlated variance. Factory name "OPQ{M'},PQ{M}x{nbits}" (also "OPQ{M'},PQ{M}"): the codec
 * wraps the rotation and the PQ, as Faiss's IndexPreTransform(OPQMatrix, IndexPQ) does.
 *
 * Training, as OPQMatrix::train with its defaults:
 * 1. at most maxTrainPoints = 65,536 rows (Faiss's fvecs_maybe_subsample: seeded permutation);
 * 2. centre them (the mean is used only while training; R is applied to raw vectors);
 * 3. R starts as a random orthogonal matrix (QR of a seeded Gaussian matrix);
 * 4. niter = 50 times: train a PQ with M' sub-quantizers of 8 bits on X·Rᵀ (niter_pq_0 = 40
 *    k-means iterations the first time, then niter_pq = 4 from the previous centroids, with
 *    max_points_per_centroid = 1000), encode and decode to Y, and solve the orthogonal Procrustes
 *    problem min ‖X·Rᵀ − Y‖ over rotations: with Yᵀ·X = U·S·Vᵀ, R = U·Vᵀ;
 * then the codec's own PQ (M × nbits) trains on all rows rotated by R with PQ's defaults, as
 * IndexPreTransform trains the index behind its transforms. Faiss's OPQ always trains its inner
 * PQ with 8 bits whatever the index's PQ (the factory does not share them); so do we, which means
 * OPQ needs at least 256 training rows.
 *
 * Distances rotate the query once (R is orthogonal, so l2, ip and cos are unchanged) and use the
 * PQ's tables. Where Faiss differs: its random initial rotation comes from its own Gaussian
 * generator and LAPACK's QR, ours from src/vectors/rotation.ts (both Haar-distributed); its
 * products and SVD run in LAPACK/BLAS float32, ours through the WebAssembly distance kernel
 * (float32 sums) and a float64 SVD.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { ContainerBuilder, type Container, type JsonObject } from '../../core/container.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, householderQ, symmetricEigen } from '../linalg.js';
import { RandomOrthogonalRotation, writeTransform, f32Bytes } from '../rotation.js';
import { pairwiseDistances } from '../distances.js';
import {
  ProductQuantizer, checkTrainingSize, readPQFields, readPQCentroids, crossProduct, centreRows, subsampleFaiss, type CodecMetaReader,
} from './pq.js';

export interface OPQOptions {
  /** Sub-quantizers of the PQ used to learn the rotation (the M' of "OPQ{M'}"); default M. */
  opqM?: number;
  /** Sub-quantizers of the codec's PQ. */
  M: number;
  /** Bits per sub-quantizer index of the codec's PQ, 4..8 (default 8). */
  nbits?: number;
}

/** Parses Faiss's "OPQ{M'},PQ{M}" and "OPQ{M'},PQ{M}x{nbits}". */
export function opqOptionsFromName(name: string): OPQOptions | undefined {
  const m = /^OPQ([0-9]+),PQ([0-9]+)(?:x([0-9]+))?$/.exec(name);
  return m ? { opqM: Number(m[1]), M: Number(m[2]), nbits: m[3] === undefined ? 8 : Number(m[3]) } : undefined;
}

export interface OPQTrainOptions extends TrainOptions {
  /** Alternations of PQ training and rotation update (Faiss default 50). */
  niter?: number;
  /** k-means iterations of the first PQ training (Faiss default 40). */
  niterPQ0?: number;
  /** k-means iterations of each later PQ training, from the previous centroids (Faiss default 4). */
  niterPQ?: number;
  /** Rows used to learn the rotation, subsampled (Faiss default 256 × 256). */
  maxTrainPoints?: number;
}

/** The rotation learned by trainOPQRotation, with the PQ error of each iteration. */
export interface OPQRotationResult {
  /** d × d row-major orthogonal matrix R: the rotated vector is R·x. */
  matrix: Float32Array;
  /** Mean squared PQ reconstruction error (per vector) of the centred training rows at each
   * iteration, before that iteration's rotation update (Faiss's verbose "obj"). */
  objectives: number[];
}

/**
 * Learns the OPQ rotation for a PQ of M sub-quantizers on the n × d rows of x (steps 1-4 of the
 * file comment). The inner PQ has 8 bits as in Faiss, so x needs at least 256 rows.
 */
export function trainOPQRotation(x: Float32Array, d: number, M: number, opts: OPQTrainOptions = {}): OPQRotationResult {
  checkDim(d, 'OPQ train');
  let n = checkRows(x, d, 'OPQ train');
  const inner = new ProductQuantizer(d, { M, nbits: 8 });
  checkTrainingSize(n, inner.ksub, 'OPQ train');
  const niter = intOpt(opts.niter, 50, 0, 'niter');
  const niterPQ0 = intOpt(opts.niterPQ0, 40, 0, 'niterPQ0');
  const niterPQ = intOpt(opts.niterPQ, 4, 0, 'niterPQ');
  const maxTrain = intOpt(opts.maxTrainPoints, 256 * 256, 1, 'maxTrainPoints');
  const seed = opts.seed ?? 1234;
  x = subsampleFaiss(x, n, d, maxTrain, seed);
  n = Math.min(n, maxTrain);
  const xc = centreRows(x, n, d).centred;
  const rot = RandomOrthogonalRotation.create(d, seed).matrix.slice();
  const objectives: number[] = [];
  for (let it = 0; it < niter; it++) {
    throwIfAborted(opts.signal, 'OPQ train');
    const xproj = pairwiseDistances(xc, rot, d, 'ip');
    inner.train(xproj, {
      niter: it === 0 ? niterPQ0 : niterPQ,
      maxPointsPerCentroid: 1000,
      hotStart: it > 0,
      seed,
      signal: opts.signal,
    });
    const y = inner.decode(inner.encode(xproj));
    let err = 0;
    for (let i = 0; i < y.length; i++) err += (y[i]! - xproj[i]!) ** 2;
    objectives.push(err / n);
    // Procrustes: min ‖X·Rᵀ − Y‖ = max tr(Rᵀ·Yᵀ·X) over orthogonal R; Yᵀ·X = U·S·Vᵀ gives R = U·Vᵀ.
    const { u, v } = svd(crossProduct(y, xc, n, d, d), d, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += u[i * d + k]! * v[j * d + k]!;
        rot[i * d + j] = s;
      }
    }
    opts.onProgress?.(it + 1, niter);
  }
  return { matrix: rot, objectives };
}

function intOpt(v: number | undefined, def: number, min: number, name: string): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min) throw new ZipmlError('E_ARG', `OPQ train: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/**
 * Thin singular value decomposition of the m × n row-major matrix a (m ≥ n): a = U·diag(s)·Vᵀ
 * with U m × n (orthonormal columns), s descending and ≥ 0, V n × n orthogonal; all row-major.
 *
 * Method: V from the symmetric eigen-decomposition of aᵀa (Householder + implicit QL, float64),
 * then U from a Householder QR of B = a·V, whose columns are σ_j·u_j: Q's columns (signs fixed
 * so that diag(R) ≥ 0) are the u_j, and σ_j = ⟨u_j, b_j⟩. Dividing b_j by σ_j would lose every
 * digit for tiny σ_j; the QR instead completes U with an orthonormal basis of what is left, so
 * rank-deficient (even zero) matrices get exactly orthogonal U and V. U and V are orthogonal to
 * float64 rounding; the reconstruction error is O(√ε·‖a‖) in the worst case (the squared
 * condition of aᵀa only affects singular vectors of the smallest singular values), about 1e-8
 * relative — far below the float32 data it serves.
 */
export function svd(a: Float64Array, m: number, n: number): { u: Float64Array; s: Float64Array; v: Float64Array } {
  if (!Number.isInteger(m) || !Number.isInteger(n) || n < 1 || m < n) throw new ZipmlError('E_ARG', `svd: needs m >= n >= 1, got ${m}x${n}`);
  if (a.length !== m * n) throw new ZipmlError('E_ARG', `svd: ${a.length} values for a ${m}x${n} matrix`);
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new ZipmlError('E_ARG', `svd: entry ${i} is not finite`);
  // aᵀa, scaled by the largest entry so that squares neither overflow nor underflow.
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  const inv = scale > 0 ? 1 / scale : 1;
  const ata = new Float64Array(n * n);
  const row = new Float64Array(n);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < n; j++) row[j] = a[r * n + j]! * inv;
    for (let i = 0; i < n; i++) {
      const ri = row[i]!;
      if (ri === 0) continue;
      for (let j = i; j < n; j++) ata[i * n + j] = ata[i * n + j]! + ri * row[j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) ata[i * n + j] = ata[j * n + i]!;
  const { vectors } = symmetricEigen(ata, n); // row k = eigenvector k, eigenvalues descending
  // B = a·V stored column by column (column j contiguous), as householderQ wants.
  const b = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    for (let r = 0; r < m; r++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[r * n + k]! * vectors[j * n + k]!;
      b[j * m + r] = s;
    }
  }
  const q = householderQ(b.slice(), m, n);
  const u = new Float64Array(m * n), s = new Float64Array(n), v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let sj = 0;
    for (let r = 0; r < m; r++) sj += q[j * m + r]! * b[j * m + r]!;
    s[j] = Math.max(0, sj);
    for (let r = 0; r < m; r++) u[r * n + j] = q[j * m + r]!;
    for (let k = 0; k < n; k++) v[k * n + j] = vectors[j * n + k]!;
  }
  return { u, s, v };
}

export class OPQCodec implements VectorCodec {
  readonly d: number;
  readonly opqM: number;
  /** The product quantizer applied after the rotation. */
  readonly pq: ProductQuantizer;
  /** The learned rotation (null until trained). */
  rotation: RandomOrthogonalRotation | null = null;
  /** PQ error per iteration of the last rotation training (see OPQRotationResult). */
  objectives: number[] = [];

  constructor(d: number, opts: OPQOptions | string) {
    checkDim(d, 'OPQCodec');
    const o = typeof opts === 'string' ? opqOptionsFromName(opts) : opts;
    if (!o) throw new ZipmlError('E_ARG', `OPQCodec: unknown name "${String(opts)}" (expected OPQ{M},PQ{M}x{nbits})`);
    const opqM = o.opqM ?? o.M;
    if (!Number.isInteger(opqM) || opqM < 1 || opqM > d || d % opqM !== 0) {
      throw new ZipmlError('E_ARG', `OPQCodec: the dimension ${d} is not a multiple of OPQ's M = ${opqM}`);
    }
    this.d = d;
    this.opqM = opqM;
    this.pq = new ProductQuantizer(d, { M: o.M, nbits: o.nbits ?? 8 });
  }

  get codeSize(): number {
    return this.pq.codeSize;
  }
  get isTrained(): boolean {
    return this.rotation !== null && this.pq.isTrained;
  }
  get name(): string {
    return `OPQ${this.opqM},${this.pq.name}`;
  }
  /** Warnings of the last training of the codec's PQ. */
  get warnings(): string[] {
    return this.pq.warnings;
  }

  /** Installs a trained rotation and PQ centroids (used by deserialization). */
  setParams(rotation: RandomOrthogonalRotation, centroids: Float32Array): void {
    if (rotation.dIn !== this.d || rotation.dOut !== this.d) throw new ZipmlError('E_ARG', `${this.name}: rotation must be ${this.d}x${this.d}`);
    this.pq.setCentroids(centroids);
    this.rotation = rotation;
  }

  /**
   * Learns the rotation (trainOPQRotation with `opts`), then trains the PQ on all rows rotated
   * (PQ defaults; `seed` is shared). Progress counts the OPQ iterations and then the PQ's
   * sub-quantizers.
   */
  train(x: Float32Array, opts: OPQTrainOptions = {}): void {
    const niter = opts.niter ?? 50;
    const total = niter + this.pq.M;
    const { matrix, objectives } = trainOPQRotation(x, this.d, this.opqM, {
      ...opts,
      onProgress: opts.onProgress ? (done) => opts.onProgress!(done, total) : undefined,
    });
    const rotation = new RandomOrthogonalRotation(this.d, matrix);
    this.pq.train(rotation.apply(x), {
      seed: opts.seed,
      signal: opts.signal,
      onProgress: opts.onProgress ? (done) => opts.onProgress!(niter + done, total) : undefined,
    });
    this.rotation = rotation;
    this.objectives = objectives;
  }

  private rotate(x: Float32Array, what: string): Float32Array {
    checkRows(x, this.d, `${this.name} ${what}`);
    if (!this.rotation || !this.pq.isTrained) throw new ZipmlError('E_ARG', `${this.name} ${what}: the codec is not trained; call train() first`);
    return this.rotation.apply(x);
  }

  encode(x: Float32Array): Uint8Array {
    return this.pq.encode(this.rotate(x, 'encode'));
  }

  decode(codes: Uint8Array): Float32Array {
    if (!this.rotation) throw new ZipmlError('E_ARG', `${this.name} decode: the codec is not trained; call train() first`);
    return this.rotation.applyTranspose(this.pq.decode(codes));
  }

  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    checkQuery(query, this.d, `${this.name} distances`);
    return this.pq.distances(this.rotate(query, 'distances'), metric);
  }

  serialize(): Uint8Array {
    const b = new ContainerBuilder();
    const meta: JsonObject = { codec: 'opq', version: 1, d: this.d, opqM: this.opqM, M: this.pq.M, nbits: this.pq.nbits, trained: this.isTrained };
    if (this.rotation && this.pq.isTrained) {
      b.addSection('centroids', f32Bytes(this.pq.centroids));
      meta.transform = writeTransform(b, 'rotation', this.rotation);
    }
    return b.finish('vectors.codec', meta);
  }
}

export function readOPQ(c: Container, r: CodecMetaReader): OPQCodec {
  r.version(1);
  const { d, M, nbits, trained } = readPQFields(r);
  const opqM = r.int('opqM', 1, d);
  const codec = r.build(() => new OPQCodec(d, { opqM, M, nbits }));
  r.onlySections(c, trained ? ['centroids', 'rotation'] : []);
  const t = r.transform(c, d, trained, 'orthogonal');
  if (!trained) return codec;
  if (!(t instanceof RandomOrthogonalRotation)) throw r.corrupt('the rotation is not an orthogonal matrix');
  readPQCentroids(c, r, codec.pq);
  r.build(() => codec.setParams(t, codec.pq.centroids));
  return codec;
}
