/**
 * Product quantization, following Faiss's ProductQuantizer and IndexPQ
 * (faiss/impl/ProductQuantizer.cpp, faiss/IndexPQ.cpp): the d dimensions are cut into M
 * contiguous sub-spaces of dsub = d/M dimensions, each with its own codebook of ksub = 2^nbits
 * centroids learned by k-means, and a vector is stored as the M indices of its nearest centroids.
 *
 * - Factory names "PQ{M}x{nbits}" and "PQ{M}" (nbits 8); nbits 4..8; d must be a multiple of M.
 * - Training: one k-means per sub-space with Faiss's ClusteringParameters defaults (niter 25,
 *   max_points_per_centroid 256 with Faiss's seeded subsampling, seed 1234, random init), through
 *   src/vectors/kmeans.ts, which follows Faiss's Clustering.cpp. Fewer than ksub training points is
 *   an error (Faiss throws); fewer than 39·ksub gives a warning in `warnings` (Faiss prints it).
 * - Codes: Faiss's layout, an LSB-first bit string of M fields of nbits bits (PQEncoderGeneric;
 *   nbits 8 is one byte per sub-quantizer, nbits 4 puts sub-quantizer 2t in the low nibble of
 *   byte t). codeSize = ⌈M·nbits/8⌉.
 * - Compressed-domain distances: per query, a table of M × ksub entries (l2: ‖q_m − c‖², ip:
 *   ⟨q_m, c⟩), then one table lookup per sub-quantizer and code (`lutScan`: the WebAssembly
 *   lut8 kernel for 8-bit codes, pq4Scan for 4-bit codes, pqBitsScan for other widths). cos
 *   divides ip by ‖q‖·‖x̂‖, where ‖x̂‖² is a second scan over a query-independent table of
 *   centroid norms.
 *
 * This file also holds what OPQ and RQ share with PQ: k-means with a hot start (Faiss's
 * Train_hot_start, which kmeans.ts does not offer), LSB-first bit fields, and the table scan.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { ContainerBuilder, type Container, type JsonObject } from '../../core/container.js';
import { simdSupported, wasmKernel } from '../../kernels/loader.js';
import * as pqscanWasm from '../../kernels/generated/pqscan.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import type { VectorTransform } from '../rotation.js';
import { checkRows, checkDim, checkQuery, checkCodeBatch, codeCount, notTrained, normSq } from '../linalg.js';
import { f32Bytes } from '../rotation.js';
import { kmeans, faissRandPerm, FaissRng } from '../kmeans.js';
import { nearestCentroids, pairwiseDistances, ResidentRows } from '../distances.js';
import { lut8 } from './vcodes.js';
import { checkMetric, cosine } from './sq.js';

/** Faiss's Clustering warns below this many training points per centroid (min_points_per_centroid). */
export const MIN_POINTS_PER_CENTROID = 39;
/** Largest dimension a serialized codec may declare (serialize.ts's MAX_CODEC_DIM). */
const MAX_DIM = 1 << 16;

export interface PQOptions {
  /** Number of sub-quantizers; d must be a multiple of M. */
  M: number;
  /** Bits per sub-quantizer index, 4..8 (default 8, as Faiss's "PQ{M}"). */
  nbits?: number;
}

/** Parses Faiss's "PQ{M}" and "PQ{M}x{nbits}". */
export function pqOptionsFromName(name: string): PQOptions | undefined {
  const m = /^PQ([0-9]+)(?:x([0-9]+))?$/.exec(name);
  return m ? { M: Number(m[1]), nbits: m[2] === undefined ? 8 : Number(m[2]) } : undefined;
}

export interface PQTrainOptions extends TrainOptions {
  /** k-means iterations per sub-space (Faiss's cp.niter, default 25). */
  niter?: number;
  /** Subsample to ksub × this many points per sub-space (Faiss default 256). */
  maxPointsPerCentroid?: number;
  /** Start k-means from the current centroids instead of random points (Faiss's
   * Train_hot_start; the codec must be trained). */
  hotStart?: boolean;
}

export class ProductQuantizer implements VectorCodec {
  readonly d: number;
  readonly M: number;
  readonly nbits: number;
  readonly dsub: number;
  readonly ksub: number;
  readonly codeSize: number;
  readonly name: string;
  /** M × ksub × dsub floats: centroid j of sub-quantizer m at (m·ksub + j)·dsub (Faiss's layout). */
  centroids: Float32Array = new Float32Array(0);
  /** Warnings of the last train() (Faiss prints them), e.g. too few training points. */
  warnings: string[] = [];
  private trained = false;
  private norms: Float32Array | null = null;
  /** The centroids in kernel memory for query tables (rebuilt when the centroids change). */
  private resident: { src: Float32Array; rows: ResidentRows } | null = null;

  constructor(d: number, opts: PQOptions | string) {
    checkDim(d, 'ProductQuantizer');
    const o = typeof opts === 'string' ? pqOptionsFromName(opts) : opts;
    if (!o) throw new ZipmlError('E_ARG', `ProductQuantizer: unknown name "${String(opts)}" (expected PQ{M} or PQ{M}x{nbits})`);
    const M = o.M, nbits = o.nbits ?? 8;
    if (!Number.isInteger(M) || M < 1 || M > d) throw new ZipmlError('E_ARG', `ProductQuantizer: M = ${M} must be an integer in 1..${d}`);
    if (d % M !== 0) throw new ZipmlError('E_ARG', `ProductQuantizer: the dimension ${d} is not a multiple of M = ${M}`);
    if (!Number.isInteger(nbits) || nbits < 4 || nbits > 8) throw new ZipmlError('E_ARG', `ProductQuantizer: nbits = ${nbits} must be an integer in 4..8`);
    this.d = d;
    this.M = M;
    this.nbits = nbits;
    this.dsub = d / M;
    this.ksub = 1 << nbits;
    this.codeSize = Math.ceil((M * nbits) / 8);
    this.name = `PQ${M}x${nbits}`;
  }

  get isTrained(): boolean {
    return this.trained;
  }

  /** Installs trained centroids, M × ksub × dsub finite floats (used by deserialization). */
  setCentroids(c: Float32Array): void {
    const want = this.M * this.ksub * this.dsub;
    if (!(c instanceof Float32Array) || c.length !== want) throw new ZipmlError('E_ARG', `${this.name}: centroids must be a Float32Array of ${want} values`);
    checkRows(c, this.dsub, `${this.name} centroids`);
    this.centroids = c;
    this.norms = null;
    this.trained = true;
  }

  /**
   * Trains the M codebooks on the rows of x: k-means on each sub-space (see the file comment).
   * Throws E_ARG with fewer than ksub rows.
   */
  train(x: Float32Array, opts: PQTrainOptions = {}): void {
    const { d, M, dsub, ksub } = this;
    const n = checkRows(x, d, `${this.name} train`);
    checkTrainingSize(n, ksub, `${this.name} train`);
    if (opts.hotStart && !this.trained) throw notTrained(this.name, 'hot-start train');
    const warnings = trainingWarnings(n, ksub, `${this.name} train`);
    const c = new Float32Array(M * ksub * dsub);
    const slice = new Float32Array(n * dsub);
    for (let m = 0; m < M; m++) {
      throwIfAborted(opts.signal, `${this.name} train`);
      for (let i = 0; i < n; i++) slice.set(x.subarray(i * d + m * dsub, i * d + (m + 1) * dsub), i * dsub);
      const cm = trainCentroids(slice, dsub, ksub, {
        niter: opts.niter ?? 25,
        maxPointsPerCentroid: opts.maxPointsPerCentroid ?? 256,
        seed: opts.seed ?? 1234,
        init: opts.hotStart ? this.centroids.subarray(m * ksub * dsub, (m + 1) * ksub * dsub) : undefined,
        signal: opts.signal,
      });
      c.set(cm, m * ksub * dsub);
      opts.onProgress?.(m + 1, M);
    }
    this.setCentroids(c);
    this.warnings = warnings;
  }

  /** The nearest centroid of every sub-vector: n × M indices. */
  assign(x: Float32Array): Int32Array {
    const { d, M, dsub, ksub } = this;
    const n = checkRows(x, d, `${this.name} encode`);
    if (!this.trained) throw notTrained(this.name, 'encode');
    const idx = new Int32Array(n * M);
    const block = Math.min(n, 65536);
    const slice = new Float32Array(block * dsub);
    const a = new Int32Array(block), dist = new Float32Array(block);
    for (let r0 = 0; r0 < n; r0 += block) {
      const rows = Math.min(block, n - r0);
      for (let m = 0; m < M; m++) {
        for (let i = 0; i < rows; i++) {
          const o = (r0 + i) * d + m * dsub;
          slice.set(x.subarray(o, o + dsub), i * dsub);
        }
        nearestCentroids(slice, dsub, 0, rows, this.centroids.subarray(m * ksub * dsub, (m + 1) * ksub * dsub), ksub, 'l2', a, dist);
        for (let i = 0; i < rows; i++) idx[(r0 + i) * M + m] = a[i]!;
      }
    }
    return idx;
  }

  encode(x: Float32Array): Uint8Array {
    const idx = this.assign(x);
    const n = idx.length / this.M;
    const out = new Uint8Array(n * this.codeSize);
    packFields(idx, n, this.M, this.nbits, out, this.codeSize);
    return out;
  }

  decode(codes: Uint8Array): Float32Array {
    const { d, M, dsub, ksub, nbits, codeSize: cs } = this;
    const n = codeCount(codes, cs, `${this.name} decode`);
    if (!this.trained) throw notTrained(this.name, 'decode');
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let m = 0; m < M; m++) {
        const j = getBits(codes, i * cs, m * nbits, nbits);
        const c = (m * ksub + j) * dsub;
        out.set(this.centroids.subarray(c, c + dsub), i * d + m * dsub);
      }
    }
    return out;
  }

  /**
   * The query's lookup table, M × ksub floats: 'l2' ‖q_m − c_{m,j}‖² (Faiss's
   * compute_distance_table), 'ip' ⟨q_m, c_{m,j}⟩ (compute_inner_prod_table).
   */
  distanceTable(query: Float32Array, kind: 'l2' | 'ip'): Float32Array {
    checkQuery(query, this.d, `${this.name} distances`);
    if (!this.trained) throw notTrained(this.name, 'distances');
    const { M, ksub, dsub } = this;
    // Every search computes one (or one per probed list): with SIMD, one kernel call per
    // sub-space over resident centroids (float32 sums) instead of the double-precision loops.
    if (M * ksub * dsub < TABLE_KERNEL_MIN || !simdSupported()) return subspaceTables(query, this.centroids, M, ksub, dsub, kind);
    if (this.resident?.src !== this.centroids) this.resident = { src: this.centroids, rows: new ResidentRows(dsub, this.centroids) };
    const rows = this.resident.rows;
    const t = new Float32Array(M * ksub);
    for (let m = 0; m < M; m++) rows.range(query.subarray(m * dsub, (m + 1) * dsub), kind, m * ksub, ksub, t.subarray(m * ksub, (m + 1) * ksub));
    return t;
  }

  /** ‖c_{m,j}‖² for every centroid (M × ksub): summed over a code, ‖x̂‖². */
  centroidNorms(): Float32Array {
    if (!this.trained) throw notTrained(this.name, 'distances');
    if (!this.norms) this.norms = subspaceTables(null, this.centroids, this.M, this.ksub, this.dsub, 'ip');
    return this.norms;
  }

  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    checkMetric(metric, this.name);
    const t = this.distanceTable(query, metric === 'l2' ? 'l2' : 'ip');
    const { M, nbits, codeSize: cs } = this;
    const what = `${this.name} distances`;
    if (metric !== 'cos') {
      return (codes, n, out) => {
        checkCodeBatch(codes, n, cs, out, what);
        lutScan(t, codes, n, cs, M, nbits, out);
      };
    }
    const norms = this.centroidNorms();
    const qn = Math.sqrt(normSq(query));
    return (codes, n, out) => {
      checkCodeBatch(codes, n, cs, out, what);
      lutScan(t, codes, n, cs, M, nbits, out);
      const xn = new Float32Array(n);
      lutScan(norms, codes, n, cs, M, nbits, xn);
      for (let i = 0; i < n; i++) out[i] = cosine(out[i]!, qn, Math.sqrt(Math.max(0, xn[i]!)));
    };
  }

  serialize(): Uint8Array {
    const b = new ContainerBuilder();
    if (this.trained) b.addSection('centroids', f32Bytes(this.centroids));
    return b.finish('vectors.codec', { codec: 'pq', version: 1, d: this.d, M: this.M, nbits: this.nbits, trained: this.trained });
  }
}

// Below this many centroid values a query table is cheaper in plain JS than through kernel calls.
const TABLE_KERNEL_MIN = 4096;

/** Throws E_ARG when there are fewer training points than centroids (Faiss throws too). */
export function checkTrainingSize(n: number, k: number, what: string): void {
  if (n < k) throw new ZipmlError('E_ARG', `${what}: ${n} training vectors are fewer than the ${k} centroids to learn`);
}

/** Faiss's warning for fewer than 39 points per centroid, as a list of 0 or 1 message. */
export function trainingWarnings(n: number, k: number, what: string): string[] {
  const want = k * MIN_POINTS_PER_CENTROID;
  return n < want ? [`${what}: clustering ${n} points to ${k} centroids; Faiss recommends at least ${want} training points`] : [];
}

/**
 * Per sub-space tables of M × ksub values: with a query, ‖q_m − c‖² ('l2') or ⟨q_m, c⟩ ('ip');
 * without one (null), ‖c‖². Accumulated in double, stored as f32.
 */
function subspaceTables(q: Float32Array | null, c: Float32Array, M: number, ksub: number, dsub: number, kind: 'l2' | 'ip'): Float32Array {
  const t = new Float32Array(M * ksub);
  // One loop per case, so the hot loop has no branch (a per-query cost of every PQ search).
  for (let m = 0; m < M; m++) {
    const qo = m * dsub;
    for (let j = 0; j < ksub; j++) {
      const co = (m * ksub + j) * dsub;
      let s = 0;
      if (q === null) {
        for (let k = 0; k < dsub; k++) s += c[co + k]! * c[co + k]!;
      } else if (kind === 'ip') {
        for (let k = 0; k < dsub; k++) s += q[qo + k]! * c[co + k]!;
      } else {
        for (let k = 0; k < dsub; k++) {
          const e = q[qo + k]! - c[co + k]!;
          s += e * e;
        }
      }
      t[m * ksub + j] = s;
    }
  }
  return t;
}

/** The cols × rows transpose of a rows × cols row-major matrix. */
export function transposeRows(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/**
 * aᵀ·b = Σ_r a_r·b_rᵀ over n rows (a: n × da, b: n × db, row-major), as a da × db float64 matrix.
 * Slabs of 256 rows go through the WebAssembly all-pairs kernel transposed (float32 sums within a
 * slab, float64 across slabs): one long product would make the kernel copy its query windows once
 * per column chunk.
 */
export function crossProduct(a: Float32Array, b: Float32Array, n: number, da: number, db: number): Float64Array {
  const out = new Float64Array(da * db);
  const block = new Float32Array(da * db);
  for (let r0 = 0; r0 < n; r0 += 256) {
    const rows = Math.min(256, n - r0);
    const at = transposeRows(a.subarray(r0 * da, (r0 + rows) * da), rows, da);
    const bt = a === b ? at : transposeRows(b.subarray(r0 * db, (r0 + rows) * db), rows, db);
    pairwiseDistances(at, bt, rows, 'ip', block);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + block[i]!;
  }
  return out;
}

/** The rows of x (n × d) minus their mean (accumulated in double): the centred rows and the mean. */
export function centreRows(x: Float32Array, n: number, d: number): { centred: Float32Array; mean: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
  const centred = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) centred[i * d + j] = x[i * d + j]! - mean[j]!;
  return { centred, mean };
}

/** `count` rows of x picked by Faiss's seeded permutation (fvecs_maybe_subsample), or x itself. */
export function subsampleFaiss(x: Float32Array, n: number, d: number, count: number, seed: number): Float32Array {
  if (n <= count) return x;
  const perm = faissRandPerm(n, seed);
  const out = new Float32Array(count * d);
  for (let i = 0; i < count; i++) out.set(x.subarray(perm[i]! * d, (perm[i]! + 1) * d), i * d);
  return out;
}

// ---------------------------------------------------------------------------------------------
// k-means with Faiss's hot start
// ---------------------------------------------------------------------------------------------

export interface CentroidTraining {
  niter: number;
  maxPointsPerCentroid: number;
  seed: number;
  /** k × d starting centroids (Faiss's hot start: Clustering::train with centroids given). */
  init?: Float32Array | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * k centroids of the rows of x. Without `init` this is kmeans() (Faiss's Clustering). With
 * `init`, Faiss's hot start: the same subsampling (k × maxPointsPerCentroid rows by Faiss's
 * seeded permutation), then Lloyd iterations from the given centroids, with Faiss's update (means)
 * and empty-cluster splitting.
 */
export function trainCentroids(x: Float32Array, d: number, k: number, o: CentroidTraining): Float32Array {
  if (!o.init) {
    return kmeans(x, d, k, { niter: o.niter, maxPointsPerCentroid: o.maxPointsPerCentroid, seed: o.seed, signal: o.signal }).centroids;
  }
  const n = x.length / d;
  checkTrainingSize(n, k, 'kmeans');
  if (!Number.isInteger(o.niter) || o.niter < 0) throw new ZipmlError('E_ARG', `kmeans: niter must be an integer >= 0, got ${o.niter}`);
  if (!Number.isInteger(o.maxPointsPerCentroid) || o.maxPointsPerCentroid < 1) {
    throw new ZipmlError('E_ARG', `kmeans: maxPointsPerCentroid must be an integer >= 1, got ${o.maxPointsPerCentroid}`);
  }
  if (o.init.length !== k * d) throw new ZipmlError('E_ARG', `kmeans: ${o.init.length} initial centroid values, expected ${k * d}`);
  const nt = Math.min(n, k * o.maxPointsPerCentroid);
  const train = subsampleFaiss(x, n, d, nt, o.seed);
  if (nt === k) return train.slice();
  const c = Float32Array.from(o.init);
  const assign = new Int32Array(nt), dist = new Float32Array(nt);
  const sums = new Float64Array(k * d), counts = new Float64Array(k);
  for (let it = 0; it < o.niter; it++) {
    throwIfAborted(o.signal, 'kmeans');
    nearestCentroids(train, d, 0, nt, c, k, 'l2', assign, dist);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < nt; i++) {
      const j = assign[i]!;
      counts[j]! += 1;
      for (let t = 0, so = j * d, xo = i * d; t < d; t++) sums[so + t]! += train[xo + t]!;
    }
    for (let j = 0; j < k; j++) {
      if (counts[j]! > 0) for (let t = 0, o2 = j * d; t < d; t++) c[o2 + t] = sums[o2 + t]! / counts[j]!;
    }
    fillEmptyClusters(c, counts, k, d, nt);
  }
  return c;
}

/**
 * Faiss's split_clusters: an empty cluster takes a copy of a cluster drawn with probability
 * (size − 1)/(n − k), the two copies are pushed apart by a factor 1 ± 1/1024 in alternating
 * dimensions, and each is assumed to keep half of the points.
 */
function fillEmptyClusters(c: Float32Array, size: Float64Array, k: number, d: number, n: number): void {
  const rng = new FaissRng(1234);
  const up = Math.fround(1 + 1 / 1024), down = Math.fround(1 - 1 / 1024);
  for (let e = 0; e < k; e++) {
    if (size[e]! !== 0) continue;
    let big = 0;
    while (!(rng.randFloat() < (size[big]! - 1) / Math.fround(n - k))) big = (big + 1) % k;
    for (let t = 0; t < d; t++) {
      const v = c[big * d + t]!;
      c[e * d + t] = v * (t % 2 === 0 ? up : down);
      c[big * d + t] = v * (t % 2 === 0 ? down : up);
    }
    size[e] = size[big]! / 2;
    size[big] = size[big]! - size[e]!;
  }
}

// ---------------------------------------------------------------------------------------------
// LSB-first bit fields (Faiss's PQEncoderGeneric / BitstringWriter layout)
// ---------------------------------------------------------------------------------------------

/** ORs the low `n` bits of v (n ≤ 32) into the row at byte o, starting at bit `bit` of the row. */
export function putBits(out: Uint8Array, o: number, bit: number, v: number, n: number): void {
  let val = v >>> 0;
  while (n > 0) {
    const at = o + (bit >> 3), sh = bit & 7;
    const take = Math.min(8 - sh, n);
    out[at] = out[at]! | ((val & ((1 << take) - 1)) << sh);
    val >>>= take;
    bit += take;
    n -= take;
  }
}

/** The `n`-bit field (n ≤ 32) starting at bit `bit` of the row at byte o. */
export function getBits(codes: Uint8Array, o: number, bit: number, n: number): number {
  let v = 0, got = 0;
  while (got < n) {
    const sh = bit & 7;
    const take = Math.min(8 - sh, n - got);
    v += ((codes[o + (bit >> 3)]! >> sh) & ((1 << take) - 1)) * 2 ** got;
    bit += take;
    got += take;
  }
  return v;
}

/** Packs n rows of M indices (row-major) as M fields of nbits bits per cs-byte row of out. */
export function packFields(idx: Int32Array, n: number, M: number, nbits: number, out: Uint8Array, cs: number): void {
  for (let i = 0; i < n; i++) {
    if (nbits === 8) for (let m = 0; m < M; m++) out[i * cs + m] = idx[i * M + m]!;
    else for (let m = 0; m < M; m++) putBits(out, i * cs, m * nbits, idx[i * M + m]!, nbits);
  }
}

// ---------------------------------------------------------------------------------------------
// Table scans (kernels in src/kernels/assembly/pqscan.ts; lut8 in vcodes.ts for 8-bit codes)
// ---------------------------------------------------------------------------------------------

export interface PqscanExports {
  pq4Scan(planes: number, codes: number, n: number, cs: number, M: number, scratch: number, out: number): void;
  pqBitsScan(t: number, codes: number, n: number, cs: number, M: number, nbits: number, out: number): void;
}

// Below this many code bytes, copying into kernel memory costs more than the kernel saves.
const SCAN_MIN_BYTES = 2048;
// Codes go through kernel memory in windows of about this many bytes.
const SCAN_WINDOW_BYTES = 1 << 20;
// The kernels read up to 15 bytes past a row's last code byte.
const SCAN_SLACK = 16;

/**
 * The plain-TS scan: out[i] = Σ_m T[m·2^nbits + field m of row i], added in order m = 0, 1, ...
 * in f32 (what pq4Scan and pqBitsScan compute, bit for bit).
 */
export function lutScanReference(t: Float32Array, codes: Uint8Array, n: number, cs: number, M: number, nbits: number, out: Float32Array): void {
  const ksub = 1 << nbits;
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let m = 0; m < M; m++) acc = Math.fround(acc + t[m * ksub + getBits(codes, i * cs, m * nbits, nbits)]!);
    out[i] = acc;
  }
}

/** Byte planes of M 16-entry tables: byte b of entry k of table m at 64m + 16b + k (pq4Scan's layout). */
export function nibblePlanes(t: Float32Array, M: number): Uint8Array {
  const src = new Uint8Array(t.buffer, t.byteOffset, M * 64);
  const p = new Uint8Array(M * 64);
  for (let m = 0; m < M; m++) for (let k = 0; k < 16; k++) for (let b = 0; b < 4; b++) p[m * 64 + b * 16 + k] = src[(m * 16 + k) * 4 + b]!;
  return p;
}

/**
 * out[i] = Σ_{m<M} T[m·2^nbits + field m of row i] over n rows of cs bytes whose first M·nbits
 * bits are the fields (bytes past them, such as RQ's norm, are ignored). WebAssembly where
 * available: lut8 for nbits 8 (four partial sums, so equal to the reference within float
 * rounding), pq4Scan for nbits 4 and pqBitsScan otherwise (both equal to lutScanReference bit for
 * bit).
 */
export function lutScan(t: Float32Array, codes: Uint8Array, n: number, cs: number, M: number, nbits: number, out: Float32Array): void {
  if (nbits === 8) {
    lut8(t, codes, n, cs, M, out);
    return;
  }
  const k = n * cs >= SCAN_MIN_BYTES ? wasmKernel<PqscanExports>('pqscan', pqscanWasm.base64) : null;
  if (!k) {
    lutScanReference(t, codes, n, cs, M, nbits, out);
    return;
  }
  const four = nbits === 4;
  const table = four ? nibblePlanes(t, M) : new Uint8Array(t.buffer, t.byteOffset, (M << nbits) * 4);
  const rowsPer = Math.max(16, Math.floor(SCAN_WINDOW_BYTES / cs) & ~15);
  const tableBytes = (table.length + 15) & ~15;
  const codeBytes = (rowsPer * cs + SCAN_SLACK + 15) & ~15;
  const base = k.reserve(tableBytes + 256 + codeBytes + rowsPer * 4);
  const scratch = base + tableBytes, codesPtr = scratch + 256, outPtr = codesPtr + codeBytes;
  k.u8.set(table, base);
  for (let r = 0; r < n; r += rowsPer) {
    const rows = Math.min(rowsPer, n - r);
    const padded = four ? (rows + 15) & ~15 : rows;
    const u8 = k.u8;
    u8.set(codes.subarray(r * cs, (r + rows) * cs), codesPtr);
    u8.fill(0, codesPtr + rows * cs, codesPtr + padded * cs + SCAN_SLACK);
    if (four) k.exports.pq4Scan(base, codesPtr, padded, cs, M, scratch, outPtr);
    else k.exports.pqBitsScan(base, codesPtr, rows, cs, M, nbits, outPtr);
    out.set(new Float32Array(k.memory.buffer, outPtr, rows), r);
  }
}

// ---------------------------------------------------------------------------------------------
// Deserialization (called by deserializeCodec in serialize.ts)
// ---------------------------------------------------------------------------------------------

/** What the codec readers use of deserializeCodec's checked access to a container's meta. */
export interface CodecMetaReader {
  readonly meta: JsonObject;
  corrupt(msg: string): ZipmlError;
  version(supported: number): void;
  int(key: string, min: number, max: number): number;
  num(key: string): number;
  bool(key: string): boolean;
  oneOf<T extends string>(key: string, values: readonly T[]): T;
  floats(c: Container, name: string, count: number): Float32Array;
  onlySections(c: Container, names: string[]): void;
  build<T>(f: () => T): T;
  transform(c: Container, d: number, trained: boolean, kind: string): VectorTransform | null;
}

/** The d, M, nbits and trained fields shared by the PQ and OPQ formats, checked. */
export function readPQFields(r: CodecMetaReader): { d: number; M: number; nbits: number; trained: boolean } {
  const d = r.int('d', 1, MAX_DIM);
  const M = r.int('M', 1, d);
  const nbits = r.int('nbits', 4, 8);
  if (d % M !== 0) throw r.corrupt(`d = ${d} is not a multiple of M = ${M}`);
  return { d, M, nbits, trained: r.bool('trained') };
}

/** Reads the 'centroids' section of a trained PQ into pq. */
export function readPQCentroids(c: Container, r: CodecMetaReader, pq: ProductQuantizer): void {
  const cent = r.floats(c, 'centroids', pq.M * pq.ksub * pq.dsub);
  r.build(() => pq.setCentroids(cent));
}

export function readPQ(c: Container, r: CodecMetaReader): ProductQuantizer {
  r.version(1);
  const { d, M, nbits, trained } = readPQFields(r);
  const pq = r.build(() => new ProductQuantizer(d, { M, nbits }));
  r.onlySections(c, trained ? ['centroids'] : []);
  if (trained) readPQCentroids(c, r, pq);
  return pq;
}
