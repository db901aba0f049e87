/**
 * Residual quantization, following Faiss's ResidualQuantizer and IndexResidualQuantizer
 * (faiss/impl/ResidualQuantizer.cpp, residual_quantizer_encode_steps.cpp, AdditiveQuantizer.cpp):
 * M stages of K = 2^nbits codewords in the full dimension d; a vector is reconstructed as the sum
 * of one codeword per stage, x̂ = Σ_m C_m[i_m].
 *
 * - Encoding is a beam search (Faiss's refine_beam): keep the maxBeamSize (default 5) best
 *   partial encodings; at stage m extend each by each of the K codewords of C_m, and keep the
 *   maxBeamSize with the smallest residual ‖x − Σ C‖². The best final candidate is stored.
 * - Training goes stage by stage on the residuals (Faiss's train): at stage m, k-means on the
 *   residuals of every beam entry of every training vector gives C_m, then the beam search step
 *   with C_m produces the next residuals. k-means is Faiss's default for RQ, progressive-dimension
 *   clustering (ProgressiveDimClustering: PCA of the residuals, then k-means on the first
 *   ⌊d^((s+1)/10)⌋ principal dimensions for s = 0..9, each step warm-started from the previous one
 *   padded with zeros, then the centroids rotated back), with 10 iterations per step and 256
 *   max points per centroid, seed 1234. `trainType: 'kmeans'` uses plain k-means (Faiss's
 *   Train_default). Fewer than K training vectors is an error, as in Faiss.
 * - Codes: Faiss's pack_codes, an LSB-first bit string of M fields of nbits bits, followed by the
 *   norm field: codeSize = ⌈(M·nbits + normBits)/8⌉ counts every stored bit.
 *
 * The norm (‖x̂‖², needed for l2 and cos without decoding) is stored as Faiss's search types do,
 * chosen by the factory suffix:
 *   "RQ{M}x{b}"         no norm (Faiss's ST_decompress): ip by tables; l2 and cos decode the codes
 *   "RQ{M}x{b}_Nfloat"  32-bit float norm (ST_norm_float): l2/cos equal decode-then-distance
 *   "RQ{M}x{b}_Nqint8"  8-bit norm, uniform on [min, max] of the training norms (ST_norm_qint8),
 *                       the default when the codec is built from options: 1 byte per vector
 *   "RQ{M}x{b}_Nqint4"  4-bit norm (ST_norm_qint4)
 * With a quantized norm, l2 and cos differ from decode-then-distance by the norm's quantization
 * error, at most half a step (max − min)/512 (qint8) or /32 (qint4) in ‖x̂‖². Compressed-domain
 * distances: a table of ⟨q, C_m[k]⟩ (M × K) and one lookup per stage (`lutScan`), then
 * l2 = ‖q‖² + ‖x̂‖² − 2·ip (clamped at 0), cos = ip / (‖q‖·‖x̂‖).
 *
 * Where Faiss differs: the stored norm is ‖Σ C_m[i_m]‖² computed from the chosen codewords (the
 * reconstruction decode() returns), where Faiss takes ‖x − residual‖², equal up to rounding.
 * Codebook refinement (Train_refine_codebook) and the LUT-based beam search (use_beam_LUT) are not
 * implemented (neither is on by default in Faiss); nor are the cqint / lsq / rq norm encodings.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { ContainerBuilder, type Container, type JsonObject } from '../../core/container.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, checkCodeBatch, codeCount, notTrained, normSq, symmetricEigen } from '../linalg.js';
import { f32Bytes } from '../rotation.js';
import { pairwiseDistances } from '../distances.js';
import { checkMetric, cosine } from './sq.js';
import {
  trainCentroids, checkTrainingSize, trainingWarnings, putBits, getBits, packFields, lutScan, crossProduct, centreRows,
  subsampleFaiss, type CodecMetaReader,
} from './pq.js';

export type RQNorm = 'none' | 'float' | 'qint8' | 'qint4';
export const RQ_NORMS: readonly RQNorm[] = ['none', 'float', 'qint8', 'qint4'];
const NORM_BITS: Record<RQNorm, number> = { none: 0, float: 32, qint8: 8, qint4: 4 };
const NORM_SUFFIX: Record<RQNorm, string> = { none: '', float: '_Nfloat', qint8: '_Nqint8', qint4: '_Nqint4' };

/** Bounds of the options (and of serialized codecs). */
export const RQ_MAX_STAGES = 256;
export const RQ_MAX_NBITS = 12;
export const RQ_MAX_BEAM = 1024;
/** Largest dimension a serialized codec may declare (serialize.ts's MAX_CODEC_DIM). */
const MAX_DIM = 1 << 16;
// Float norms travel as their 32 bits.
const NORM_VIEW = new DataView(new ArrayBuffer(4));

export interface RQOptions {
  /** Number of stages. */
  M: number;
  /** Bits per stage, 1..12 (default 8). */
  nbits?: number;
  /** How ‖x̂‖² is stored (default 'qint8'; see the file comment). */
  norm?: RQNorm;
  /** Beam size of training and encoding (Faiss's max_beam_size, default 5). */
  maxBeamSize?: number;
}

/** Parses Faiss's "RQ{M}x{nbits}" with an optional "_Nfloat", "_Nqint8" or "_Nqint4". */
export function rqOptionsFromName(name: string): RQOptions | undefined {
  const m = /^RQ([0-9]+)x([0-9]+)(?:_N(float|qint8|qint4))?$/.exec(name);
  return m ? { M: Number(m[1]), nbits: Number(m[2]), norm: (m[3] as RQNorm | undefined) ?? 'none' } : undefined;
}

export interface RQTrainOptions extends TrainOptions {
  /** 'progressive' (Faiss's default Train_progressive_dim) or 'kmeans' (Train_default). */
  trainType?: 'progressive' | 'kmeans';
  /** k-means iterations (per progressive step); Faiss's RQ default 10. */
  niter?: number;
  /** k-means subsamples to K × this many residuals (default 256). */
  maxPointsPerCentroid?: number;
  /** Progressive-dimension steps (default 10). */
  progressiveDimSteps?: number;
  /** PCA before progressive-dimension clustering (default true). */
  applyPCA?: boolean;
}

/** Partial encodings of n vectors: `size` per vector, each with its codes so far and residual. */
interface Beam {
  n: number;
  size: number;
  /** Stages encoded so far. */
  m: number;
  /** n × size × m codeword indices. */
  codes: Int32Array;
  /** n × size × d residuals. */
  residuals: Float32Array;
}

export class ResidualQuantizer implements VectorCodec {
  readonly d: number;
  readonly M: number;
  readonly nbits: number;
  /** Codewords per stage, 2^nbits. */
  readonly K: number;
  readonly norm: RQNorm;
  readonly maxBeamSize: number;
  readonly codeSize: number;
  readonly name: string;
  /** M × K × d floats: codeword k of stage m at (m·K + k)·d (Faiss's codebooks layout). */
  codebooks: Float32Array = new Float32Array(0);
  /** Range of the training vectors' ‖x̂‖² (Faiss's norm_min / norm_max), used by qint norms. */
  normMin = 0;
  normMax = 0;
  /** Warnings of the last train() (Faiss prints them). */
  warnings: string[] = [];
  private trained = false;

  constructor(d: number, opts: RQOptions | string) {
    checkDim(d, 'ResidualQuantizer');
    const o = typeof opts === 'string' ? rqOptionsFromName(opts) : opts;
    if (!o) throw new ZipmlError('E_ARG', `ResidualQuantizer: unknown name "${String(opts)}" (expected RQ{M}x{nbits} with an optional _Nfloat, _Nqint8 or _Nqint4)`);
    const { M } = o;
    const nbits = o.nbits ?? 8, norm = o.norm ?? 'qint8', beam = o.maxBeamSize ?? 5;
    if (!Number.isInteger(M) || M < 1 || M > RQ_MAX_STAGES) throw new ZipmlError('E_ARG', `ResidualQuantizer: M = ${M} must be an integer in 1..${RQ_MAX_STAGES}`);
    if (!Number.isInteger(nbits) || nbits < 1 || nbits > RQ_MAX_NBITS) throw new ZipmlError('E_ARG', `ResidualQuantizer: nbits = ${nbits} must be an integer in 1..${RQ_MAX_NBITS}`);
    if (!RQ_NORMS.includes(norm)) throw new ZipmlError('E_ARG', `ResidualQuantizer: unknown norm "${String(norm)}" (expected ${RQ_NORMS.join(', ')})`);
    if (!Number.isInteger(beam) || beam < 1 || beam > RQ_MAX_BEAM) throw new ZipmlError('E_ARG', `ResidualQuantizer: maxBeamSize = ${beam} must be an integer in 1..${RQ_MAX_BEAM}`);
    this.d = d;
    this.M = M;
    this.nbits = nbits;
    this.K = 1 << nbits;
    this.norm = norm;
    this.maxBeamSize = beam;
    this.codeSize = Math.ceil((M * nbits + NORM_BITS[norm]) / 8);
    this.name = `RQ${M}x${nbits}${NORM_SUFFIX[norm]}`;
  }

  get isTrained(): boolean {
    return this.trained;
  }

  /** Installs trained codebooks (M × K × d finite floats) and the norm range (deserialization). */
  setParams(codebooks: Float32Array, normMin: number, normMax: number): void {
    const want = this.M * this.K * this.d;
    if (!(codebooks instanceof Float32Array) || codebooks.length !== want) throw new ZipmlError('E_ARG', `${this.name}: codebooks must be a Float32Array of ${want} values`);
    checkRows(codebooks, this.d, `${this.name} codebooks`);
    if (!Number.isFinite(normMin) || !Number.isFinite(normMax) || normMin < 0 || normMin > normMax) {
      throw new ZipmlError('E_ARG', `${this.name}: norm range [${normMin}, ${normMax}] is invalid`);
    }
    this.codebooks = codebooks;
    this.normMin = normMin;
    this.normMax = normMax;
    this.trained = true;
  }

  private codebook(m: number): Float32Array {
    const s = this.K * this.d;
    return this.codebooks.subarray(m * s, (m + 1) * s);
  }

  /** Trains the M codebooks stage by stage (see the file comment). E_ARG with fewer than K rows. */
  train(x: Float32Array, opts: RQTrainOptions = {}): void {
    const { d, M, K } = this;
    const n = checkRows(x, d, `${this.name} train`);
    checkTrainingSize(n, K, `${this.name} train`);
    const trainType = opts.trainType ?? 'progressive';
    if (trainType !== 'progressive' && trainType !== 'kmeans') throw new ZipmlError('E_ARG', `${this.name} train: unknown trainType "${String(trainType)}"`);
    const steps = opts.progressiveDimSteps ?? 10;
    if (!Number.isInteger(steps) || steps < 1) throw new ZipmlError('E_ARG', `${this.name} train: progressiveDimSteps must be an integer >= 1`);
    const stage: StageTraining = {
      niter: opts.niter ?? 10,
      maxPointsPerCentroid: opts.maxPointsPerCentroid ?? 256,
      seed: opts.seed ?? 1234,
      signal: opts.signal,
      progressive: trainType === 'progressive',
      steps,
      applyPCA: opts.applyPCA ?? true,
    };
    const warnings = trainingWarnings(n, K, `${this.name} train`);
    const codebooks = new Float32Array(M * K * d);
    let beam: Beam = { n, size: 1, m: 0, codes: new Int32Array(0), residuals: x.slice() };
    for (let m = 0; m < M; m++) {
      throwIfAborted(opts.signal, `${this.name} train`);
      const cb = trainStage(beam.residuals, d, K, stage);
      codebooks.set(cb, m * K * d);
      beam = beamStep(beam, cb, K, d, Math.min(beam.size * K, this.maxBeamSize));
      opts.onProgress?.(m + 1, M);
    }
    const norms = reconstructionNorms(codebooks, best(beam), n, M, K, d);
    let lo = Infinity, hi = -Infinity;
    for (const v of norms) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    this.setParams(codebooks, lo, hi);
    this.warnings = warnings;
  }

  /** The beam-search encoding as n × M codeword indices (before packing). */
  assign(x: Float32Array): Int32Array {
    const { d, M, K } = this;
    const n = checkRows(x, d, `${this.name} encode`);
    if (!this.trained) throw notTrained(this.name, 'encode');
    const idx = new Int32Array(n * M);
    const block = Math.max(1, Math.min(n, Math.floor((1 << 22) / (this.maxBeamSize * d))));
    for (let p0 = 0; p0 < n; p0 += block) {
      const pts = Math.min(block, n - p0);
      let beam: Beam = { n: pts, size: 1, m: 0, codes: new Int32Array(0), residuals: x.slice(p0 * d, (p0 + pts) * d) };
      for (let m = 0; m < M; m++) beam = beamStep(beam, this.codebook(m), K, d, Math.min(beam.size * K, this.maxBeamSize));
      idx.set(best(beam), p0 * M);
    }
    return idx;
  }

  encode(x: Float32Array): Uint8Array {
    const { M, nbits, codeSize: cs } = this;
    const idx = this.assign(x);
    const n = idx.length / M;
    const out = new Uint8Array(n * cs);
    packFields(idx, n, M, nbits, out, cs);
    if (this.norm !== 'none') {
      const norms = reconstructionNorms(this.codebooks, idx, n, M, this.K, this.d);
      for (let i = 0; i < n; i++) putBits(out, i * cs, M * nbits, this.encodeNorm(norms[i]!), NORM_BITS[this.norm]);
    }
    return out;
  }

  /** Faiss's encode_norm: the float's bits, or ⌊(v − min)/(max − min)·2^bits⌋ clamped (f32 arithmetic). */
  encodeNorm(v: number): number {
    if (this.norm === 'float') {
      NORM_VIEW.setFloat32(0, v, true);
      return NORM_VIEW.getUint32(0, true);
    }
    const levels = this.norm === 'qint8' ? 256 : 16;
    const range = Math.fround(this.normMax - this.normMin);
    if (!(range > 0)) return 0;
    const t = Math.floor(Math.fround(Math.fround(Math.fround(v - this.normMin) / range) * levels));
    return t < 0 ? 0 : t > levels - 1 ? levels - 1 : t;
  }

  /** Faiss's decode_norm: the float, or min + (code + 0.5)/2^bits · (max − min). */
  decodeNorm(code: number): number {
    if (this.norm === 'float') {
      NORM_VIEW.setUint32(0, code, true);
      return NORM_VIEW.getFloat32(0, true);
    }
    const levels = this.norm === 'qint8' ? 256 : 16;
    return Math.fround(((code + 0.5) / levels) * (this.normMax - this.normMin) + this.normMin);
  }

  decode(codes: Uint8Array): Float32Array {
    const { d, M, K, nbits, codeSize: cs } = this;
    const n = codeCount(codes, cs, `${this.name} decode`);
    if (!this.trained) throw notTrained(this.name, 'decode');
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let m = 0; m < M; m++) {
        const c = (m * K + getBits(codes, i * cs, m * nbits, nbits)) * d;
        for (let t = 0; t < d; t++) out[o + t] = out[o + t]! + this.codebooks[c + t]!;
      }
    }
    return out;
  }

  /** ‖x̂‖² of n codes: the stored norm field, or (norm 'none') from the decoded vectors. */
  codeNorms(codes: Uint8Array, n: number): Float32Array {
    const { d, codeSize: cs } = this;
    const out = new Float32Array(n);
    if (this.norm === 'none') {
      const block = Math.max(1, Math.floor(65536 / d));
      for (let i0 = 0; i0 < n; i0 += block) {
        const rows = Math.min(block, n - i0);
        const x = this.decode(codes.subarray(i0 * cs, (i0 + rows) * cs));
        for (let i = 0; i < rows; i++) out[i0 + i] = normSq(x, i * d, d);
      }
      return out;
    }
    const at = this.M * this.nbits, bits = NORM_BITS[this.norm];
    for (let i = 0; i < n; i++) out[i] = this.decodeNorm(getBits(codes, i * cs, at, bits));
    return out;
  }

  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    const { d, M, K, nbits, codeSize: cs } = this;
    checkQuery(query, d, `${this.name} distances`);
    if (!this.trained) throw notTrained(this.name, 'distances');
    checkMetric(metric, this.name);
    const lut = new Float32Array(M * K);
    for (let j = 0; j < M * K; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += query[t]! * this.codebooks[j * d + t]!;
      lut[j] = s;
    }
    const q2 = normSq(query);
    const what = `${this.name} distances`;
    return (codes, n, out) => {
      checkCodeBatch(codes, n, cs, out, what);
      lutScan(lut, codes, n, cs, M, nbits, out);
      if (metric === 'ip') return;
      const norms = this.codeNorms(codes, n);
      for (let i = 0; i < n; i++) {
        out[i] = metric === 'l2' ? Math.max(0, q2 + norms[i]! - 2 * out[i]!) : cosine(out[i]!, Math.sqrt(q2), Math.sqrt(Math.max(0, norms[i]!)));
      }
    };
  }

  serialize(): Uint8Array {
    const b = new ContainerBuilder();
    const meta: JsonObject = {
      codec: 'rq',
      version: 1,
      d: this.d,
      M: this.M,
      nbits: this.nbits,
      norm: this.norm,
      maxBeamSize: this.maxBeamSize,
      trained: this.trained,
    };
    if (this.trained) {
      b.addSection('codebooks', f32Bytes(this.codebooks));
      meta.normMin = this.normMin;
      meta.normMax = this.normMax;
    }
    return b.finish('vectors.codec', meta);
  }
}

interface StageTraining {
  niter: number;
  maxPointsPerCentroid: number;
  seed: number;
  signal: AbortSignal | undefined;
  progressive: boolean;
  steps: number;
  applyPCA: boolean;
}

/** The codebook of one stage: K centroids of the residuals (all beam entries of all vectors). */
function trainStage(residuals: Float32Array, d: number, K: number, o: StageTraining): Float32Array {
  const base = { niter: o.niter, maxPointsPerCentroid: o.maxPointsPerCentroid, seed: o.seed, signal: o.signal };
  if (!o.progressive) return trainCentroids(residuals, d, K, base);
  // Faiss's ProgressiveDimClustering.
  const n = residuals.length / d;
  const pca = o.applyPCA ? principalAxes(residuals, n, d, o.seed) : null;
  const x = pca ? pairwiseDistances(centreRows(residuals, n, d).centred, pca.axes, d, 'ip') : residuals;
  let c: Float32Array | undefined;
  let dPrev = 0;
  for (let s = 0; s < o.steps; s++) {
    const di = Math.max(1, Math.floor(Math.pow(d, (1 + s) / o.steps)));
    const init = c ? copyColumns(c, K, dPrev, di) : undefined;
    c = trainCentroids(copyColumns(x, n, d, di), di, K, { ...base, init });
    dPrev = di;
  }
  const full = dPrev === d ? c! : copyColumns(c!, K, dPrev, d);
  if (!pca) return full;
  // Back from the principal axes: c = axesᵀ·y + mean.
  const out = new Float32Array(K * d);
  for (let k = 0; k < K; k++) {
    const acc = Float64Array.from(pca.mean);
    for (let a = 0; a < d; a++) {
      const y = full[k * d + a]!;
      for (let t = 0; t < d; t++) acc[t] = acc[t]! + y * pca.axes[a * d + t]!;
    }
    out.set(acc, k * d);
  }
  return out;
}

/**
 * Faiss's PCAMatrix(d, d) as ProgressiveDimClustering uses it: the mean of the rows and the
 * covariance eigenvectors (rows of `axes`, eigenvalues descending), from at most 1000·d rows
 * (Faiss's max_points_per_d, seeded subsampling). The covariance goes through the WebAssembly
 * kernel (crossProduct), the eigen-decomposition is in float64.
 */
function principalAxes(x: Float32Array, n: number, d: number, seed: number): { mean: Float64Array; axes: Float32Array } {
  const ns = Math.min(n, 1000 * d);
  const { centred, mean } = centreRows(subsampleFaiss(x, n, d, ns, seed), ns, d);
  const cov = crossProduct(centred, centred, ns, d, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) cov[i * d + j] = cov[j * d + i] = (cov[i * d + j]! + cov[j * d + i]!) / 2;
  return { mean, axes: Float32Array.from(symmetricEigen(cov, d).vectors) };
}

/** The first min(from, to) columns of n rows of `from` values, as rows of `to` (zero-padded). */
function copyColumns(x: Float32Array, n: number, from: number, to: number): Float32Array {
  const out = new Float32Array(n * to);
  const w = Math.min(from, to);
  for (let i = 0; i < n; i++) out.set(x.subarray(i * from, i * from + w), i * to);
  return out;
}

/**
 * One stage of Faiss's beam search (beam_search_encode_step): every residual of the beam against
 * the K codewords of cb, keeping the `newSize` best (residual − codeword) per vector, smallest
 * squared norm first (ties: earlier beam entry, then smaller codeword). Distances come from the
 * blocked kernel (‖r‖² + ‖c‖² − 2⟨r, c⟩, as Faiss's pairwise_L2sqr).
 */
function beamStep(beam: Beam, cb: Float32Array, K: number, d: number, newSize: number): Beam {
  const { n, size, m } = beam;
  const m1 = m + 1;
  const codes = new Int32Array(n * newSize * m1);
  const residuals = new Float32Array(n * newSize * d);
  const bestD = new Float64Array(newSize), bestI = new Int32Array(newSize);
  const perBatch = Math.max(1, Math.floor((1 << 20) / (size * K)));
  for (let p0 = 0; p0 < n; p0 += perBatch) {
    const pts = Math.min(perBatch, n - p0);
    const dist = pairwiseDistances(beam.residuals.subarray(p0 * size * d, (p0 + pts) * size * d), cb, d, 'l2');
    for (let p = 0; p < pts; p++) {
      const i = p0 + p;
      let count = 0;
      for (let c = 0; c < size * K; c++) {
        const v = dist[p * size * K + c]!;
        if (count === newSize && !(v < bestD[newSize - 1]!)) continue;
        let at = count < newSize ? count++ : newSize - 1;
        while (at > 0 && v < bestD[at - 1]!) {
          bestD[at] = bestD[at - 1]!;
          bestI[at] = bestI[at - 1]!;
          at--;
        }
        bestD[at] = v;
        bestI[at] = c;
      }
      for (let j = 0; j < newSize; j++) {
        const b = Math.floor(bestI[j]! / K), k = bestI[j]! % K;
        const src = (i * size + b) * m, dst = (i * newSize + j) * m1;
        codes.set(beam.codes.subarray(src, src + m), dst);
        codes[dst + m] = k;
        const ro = (i * size + b) * d, no = (i * newSize + j) * d;
        for (let t = 0; t < d; t++) residuals[no + t] = beam.residuals[ro + t]! - cb[k * d + t]!;
      }
    }
  }
  return { n, size: newSize, m: m1, codes, residuals };
}

/** The codes of each vector's best beam entry (entry 0), n × m. */
function best(beam: Beam): Int32Array {
  const { n, size, m } = beam;
  if (size === 1) return beam.codes;
  const out = new Int32Array(n * m);
  for (let i = 0; i < n; i++) out.set(beam.codes.subarray(i * size * m, i * size * m + m), i * m);
  return out;
}

/** ‖Σ_m C_m[idx_m]‖² for n rows of M indices, the sum taken in f32 as decode() does. */
function reconstructionNorms(codebooks: Float32Array, idx: Int32Array, n: number, M: number, K: number, d: number): Float64Array {
  const out = new Float64Array(n);
  const x = new Float32Array(d);
  for (let i = 0; i < n; i++) {
    x.fill(0);
    for (let m = 0; m < M; m++) {
      const c = (m * K + idx[i * M + m]!) * d;
      for (let t = 0; t < d; t++) x[t] = x[t]! + codebooks[c + t]!;
    }
    out[i] = normSq(x);
  }
  return out;
}

export function readRQ(c: Container, r: CodecMetaReader): ResidualQuantizer {
  r.version(1);
  const d = r.int('d', 1, MAX_DIM);
  const M = r.int('M', 1, RQ_MAX_STAGES);
  const nbits = r.int('nbits', 1, RQ_MAX_NBITS);
  const norm = r.oneOf<RQNorm>('norm', RQ_NORMS);
  const maxBeamSize = r.int('maxBeamSize', 1, RQ_MAX_BEAM);
  const trained = r.bool('trained');
  const codec = r.build(() => new ResidualQuantizer(d, { M, nbits, norm, maxBeamSize }));
  r.onlySections(c, trained ? ['codebooks'] : []);
  if (!trained) {
    if (r.meta.normMin !== undefined || r.meta.normMax !== undefined) throw r.corrupt('an untrained codec has no norm range');
    return codec;
  }
  const normMin = r.num('normMin'), normMax = r.num('normMax');
  const cb = r.floats(c, 'codebooks', M * codec.K * d);
  r.build(() => codec.setParams(cb, normMin, normMax));
  return codec;
}
