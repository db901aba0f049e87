/**
 * RaBitQ (Gao & Long, SIGMOD 2024) and extended RaBitQ (Gao et al., "Practical and Asymptotically
 * Optimal Quantization of High-Dimensional Vectors in Euclidean Space", SIGMOD 2025), with
 * Faiss's naming and code contents (faiss/impl/RaBitQuantizer*.cpp, RaBitQUtils.cpp):
 * "RaBitQ" is 1 bit per dimension, "RaBitQ{B}" (B = 2..9) is 1 sign bit + B−1 extra bits.
 *
 * Each vector o is taken relative to a centroid c (the training mean for this flat codec),
 * rotated by a random orthogonal P (the papers' step; Faiss leaves it to a preceding "RR"
 * transform, so our "RaBitQ" is Faiss's "RR{d},RaBitQ"), and r = P(o − c) is quantized:
 * - 1 bit: ō = sign(r)/√d, the nearest vertex of the hypercube to r/|r|;
 * - B bits: ȳ with ȳ_i = ±(k_i + 0.5), k_i ∈ [0, 2^(B−1)), the grid point whose direction best
 *   matches r/|r| (found by Faiss's scan over rescaling factors t, as in the paper).
 * The estimator of ⟨q−c, o−c⟩ = ⟨q', r⟩ (q' = P(q−c)) is |r|·⟨q', ȳ⟩ / ⟨ȳ, r/|r|⟩: unbiased
 * over the random rotation, with error bounded by
 *   |est − ⟨q', r⟩| ≤ ε₀ · |q'| · |r| · √((1 − ⟨ŷ,ô⟩²)/⟨ŷ,ô⟩²) / √(d−1)
 * (ŷ, ô the unit directions), with probability about 1 − 2(1 − Φ(ε₀)) when d is large (the
 * paper's Theorem 3.2 form; ε₀ = 1.9 in the paper and in Faiss). The same argument applies to
 * the extended codes, whose direction error is simply smaller.
 *
 * Per-vector layout (little-endian f32 factors):
 *   [sign bits ceil(d/8)][|r|², |r|/⟨ŷ,ô⟩, ⟨c, o−c⟩]                    (1 bit)
 *   ... then [extra bits ceil(d(B−1)/8)][|r|/⟨ȳ,ô⟩, error factor]      (B bits)
 * Faiss stores metric-specific factors (8 bytes for 1 bit); we store ⟨c, o−c⟩ as a third factor
 * so that one set of codes answers l2, ip and cos queries, which the VectorCodec contract asks.
 * The multi-bit size equals Faiss's.
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerBuilder, type JsonObject } from '../../core/container.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, checkCodeBatch, codeCount, notTrained } from '../linalg.js';
import { f32Bytes, makeRotation, writeTransform, checkCodecRotation, DEFAULT_ROTATION_SEED, type VectorTransform } from '../rotation.js';
import { bitTables, lut8, rabitqEx, readBits } from './vcodes.js';
import { checkMetric, cosine } from './sq.js';

export type RaBitQRotation = 'orthogonal' | 'hadamard' | 'none';

export interface RaBitQOptions {
  /** Bits per dimension including the sign bit, 1..9 (Faiss's nb_bits; default 1). */
  nbBits?: number;
  /** Random rotation before quantizing (default 'orthogonal', as the paper). */
  rotation?: RaBitQRotation;
  /** ε₀ of the error bound (default 1.9, as the paper and Faiss). */
  epsilon0?: number;
}

/** Parses "RaBitQ" / "RaBitQ{B}" (Faiss's factory names). */
export function rabitqOptionsFromName(name: string): RaBitQOptions | undefined {
  const m = /^RaBitQ([1-9])?$/.exec(name);
  return m ? { nbBits: m[1] ? Number(m[1]) : 1 } : undefined;
}

const FACTOR_BYTES = 12;
const EX_FACTOR_BYTES = 8;
// Faiss's search window for the rescaling factor, per number of extra bits (kTightStart).
const TIGHT_START = [0, 0.15, 0.2, 0.52, 0.59, 0.71, 0.75, 0.77, 0.81];
const K_EPS = 1e-5;
const K_ENUM = 10;

/** Distance and error-bound writer returned by distancesWithBound. */
export type BoundedDistances = (codes: Uint8Array, n: number, out: Float32Array, bound: Float32Array | null) => void;

export class RaBitQCodec implements VectorCodec {
  readonly d: number;
  readonly nbBits: number;
  readonly exBits: number;
  readonly codeSize: number;
  readonly name: string;
  readonly rotationKind: RaBitQRotation;
  readonly epsilon0: number;
  rotation: VectorTransform | null = null;
  center: Float32Array;
  private trained = false;
  private readonly signBytes: number;
  private readonly exBytes: number;

  constructor(d: number, opts: RaBitQOptions | string = {}) {
    checkDim(d, 'RaBitQCodec');
    const o = typeof opts === 'string' ? rabitqOptionsFromName(opts) : opts;
    if (!o) throw new ZipmlError('E_ARG', `RaBitQCodec: unknown name "${String(opts)}"`);
    const nb = o.nbBits ?? 1;
    if (!Number.isInteger(nb) || nb < 1 || nb > 9) throw new ZipmlError('E_ARG', `RaBitQCodec: nbBits ${nb} must be an integer in 1..9`);
    const rot = o.rotation ?? 'orthogonal';
    if (rot !== 'none' && rot !== 'orthogonal' && rot !== 'hadamard') throw new ZipmlError('E_ARG', `RaBitQCodec: unknown rotation "${String(rot)}"`);
    const eps = o.epsilon0 ?? 1.9;
    if (!Number.isFinite(eps) || eps <= 0) throw new ZipmlError('E_ARG', `RaBitQCodec: epsilon0 ${eps} must be positive`);
    this.d = d;
    this.nbBits = nb;
    this.exBits = nb - 1;
    this.rotationKind = rot;
    this.epsilon0 = eps;
    this.signBytes = (d + 7) >> 3;
    this.exBytes = this.exBits > 0 ? Math.ceil((d * this.exBits) / 8) : 0;
    this.codeSize = this.signBytes + FACTOR_BYTES + (this.exBits > 0 ? this.exBytes + EX_FACTOR_BYTES : 0);
    this.name = nb === 1 ? 'RaBitQ' : `RaBitQ${nb}`;
    this.center = new Float32Array(d);
  }

  get isTrained(): boolean {
    return this.trained;
  }

  /** Installs trained parameters (used by deserialization). */
  setParams(rotation: VectorTransform | null, center: Float32Array): void {
    const d = this.d;
    checkCodecRotation(rotation, this.rotationKind, d, this.name);
    if (center.length !== d) throw new ZipmlError('E_ARG', `${this.name}: center must have ${d} values`);
    for (let j = 0; j < d; j++) if (!Number.isFinite(center[j]!)) throw new ZipmlError('E_ARG', `${this.name}: center ${j} is not finite`);
    this.rotation = rotation;
    this.center = center;
    this.trained = true;
  }

  train(x: Float32Array, opts: TrainOptions = {}): void {
    const d = this.d;
    const n = checkRows(x, d, `${this.name} train`);
    if (n === 0) throw new ZipmlError('E_ARG', `${this.name} train: the training set is empty`);
    const sum = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sum[j] = sum[j]! + x[i * d + j]!;
    const center = new Float32Array(d);
    for (let j = 0; j < d; j++) center[j] = sum[j]! / n;
    const rotation = this.rotationKind === 'none' ? null : makeRotation(this.rotationKind, d, opts.seed ?? DEFAULT_ROTATION_SEED);
    this.setParams(rotation, center);
    opts.onProgress?.(n, n);
  }

  /** Rows of x minus the center, rotated. */
  private residuals(x: Float32Array, n: number): Float32Array {
    const d = this.d;
    const r = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) r[i * d + j] = x[i * d + j]! - this.center[j]!;
    return this.rotation ? this.rotation.apply(r) : r;
  }

  encode(x: Float32Array): Uint8Array {
    const d = this.d, cs = this.codeSize, m = this.signBytes;
    const n = checkRows(x, d, `${this.name} encode`);
    if (!this.trained) throw notTrained(this.name, 'encode');
    const r = this.residuals(x, n);
    const out = new Uint8Array(n * cs);
    const dv = new DataView(out.buffer);
    const sqrtD = Math.sqrt(d);
    const kbuf = new Int32Array(d);
    for (let i = 0; i < n; i++) {
      const o = i * cs;
      let norm2 = 0, sumAbs = 0, cDot = 0;
      for (let j = 0; j < d; j++) {
        const v = r[i * d + j]!;
        norm2 += v * v;
        sumAbs += Math.abs(v);
        // Sign bit as Faiss: 1 when strictly positive.
        if (v > 0) out[o + (j >> 3)] = out[o + (j >> 3)]! | (1 << (j & 7));
        cDot += this.center[j]! * (x[i * d + j]! - this.center[j]!);
      }
      const norm = Math.sqrt(norm2);
      // ⟨ō, r/|r|⟩ = Σ|r_i| / (|r|·√d); degenerate vectors (r = 0) get factors that make E = 0.
      const cos1 = norm > 0 ? sumAbs / (norm * sqrtD) : 0;
      dv.setFloat32(o + m, norm2, true);
      dv.setFloat32(o + m + 4, cos1 > 1e-12 ? norm / cos1 : norm, true);
      dv.setFloat32(o + m + 8, cDot, true);
      if (this.exBits > 0) this.encodeEx(r, i * d, norm, out, o, dv, kbuf);
    }
    return out;
  }

  // Extended bits: magnitudes k_i with ȳ_i = ±(k_i + 0.5) maximizing ⟨ȳ/|ȳ|, |r|/|r|⟩, stored
  // Faiss-style as the B−1 low bits of the combined code u = (sign << B−1) + ex, so that
  // u − (2^B − 1)/2 = ȳ_i: for a non-positive coordinate the bits are the complement of k_i.
  private encodeEx(r: Float32Array, ro: number, norm: number, out: Uint8Array, o: number, dv: DataView, k: Int32Array): void {
    const d = this.d, B = this.exBits, m = this.signBytes;
    const exOff = o + m + FACTOR_BYTES;
    const fOff = exOff + this.exBytes;
    if (norm < 1e-10) {
      // r ≈ 0: ex bits that decode to ±0.5 would still add noise; factors of 0 cancel them.
      dv.setFloat32(fOff, 0, true);
      dv.setFloat32(fOff + 4, 0, true);
      return;
    }
    const oAbs = new Float64Array(d);
    for (let j = 0; j < d; j++) oAbs[j] = Math.abs(r[ro + j]!) / norm;
    const t = optimalScale(oAbs, d, B);
    const maxCode = (1 << B) - 1;
    let ip = 0, ybar2 = 0;
    for (let j = 0; j < d; j++) {
      const kj = Math.min(Math.floor(t * oAbs[j]! + K_EPS), maxCode);
      k[j] = kj;
      ip += (kj + 0.5) * oAbs[j]!;
      ybar2 += (kj + 0.5) * (kj + 0.5);
    }
    let pos = 0;
    for (let j = 0; j < d; j++, pos += B) {
      // Faiss flips only strictly negative coordinates; flipping every non-positive one keeps
      // exact zeros at ±0.5 instead of the most negative level (they carry no weight in ip).
      const v = r[ro + j]! > 0 ? k[j]! : ~k[j]! & maxCode;
      for (let b = 0; b < B; b++) {
        if ((v >> b) & 1) {
          const p = pos + b;
          out[exOff + (p >> 3)] = out[exOff + (p >> 3)]! | (1 << (p & 7));
        }
      }
    }
    const cosEx = ip / Math.sqrt(ybar2);
    dv.setFloat32(fOff, ip > 0 ? norm / ip : 0, true);
    dv.setFloat32(fOff + 4, directionError(norm, cosEx, d), true);
  }

  decode(codes: Uint8Array): Float32Array {
    const d = this.d, cs = this.codeSize, m = this.signBytes;
    const n = codeCount(codes, cs, `${this.name} decode`);
    if (!this.trained) throw notTrained(this.name, 'decode');
    const y = new Float32Array(n * d);
    const dv = new DataView(codes.buffer, codes.byteOffset, codes.byteLength);
    const inv = 1 / Math.sqrt(d);
    const B = this.exBits;
    const cb = -((1 << B) - 0.5);
    for (let i = 0; i < n; i++) {
      const o = i * cs;
      if (B === 0) {
        const scale = dv.getFloat32(o + m + 4, true) * inv;
        for (let j = 0; j < d; j++) y[i * d + j] = (codes[o + (j >> 3)]! >> (j & 7)) & 1 ? scale : -scale;
      } else {
        const exOff = o + m + FACTOR_BYTES;
        const scale = dv.getFloat32(exOff + this.exBytes, true);
        for (let j = 0; j < d; j++) {
          const sb = (codes[o + (j >> 3)]! >> (j & 7)) & 1;
          y[i * d + j] = scale * ((sb << B) + readBits(codes, exOff, j, B) + cb);
        }
      }
    }
    const x = this.rotation ? this.rotation.applyTranspose(y) : y;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = x[i * d + j]! + this.center[j]!;
    return x;
  }

  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    const f = this.distancesWithBound(query, metric);
    return (codes, n, out) => f(codes, n, out, null);
  }

  /** P(x − c): the rotated residual the estimator works on (one vector). */
  rotatedResidual(x: Float32Array): Float32Array {
    checkQuery(x, this.d, `${this.name} rotatedResidual`);
    return this.residuals(x, 1);
  }

  /**
   * 'l2' distances from a query given as its rotated residual P(q − c) (see rotatedResidual):
   * an IVF index rotates the query once and forms each list's residual P(q − c_l − c) as
   * P(q − c) − P·c_l, instead of a d×d rotation per probed list. Equal to distances() up to
   * float rounding.
   */
  distancesRotatedL2(rotated: Float32Array): (codes: Uint8Array, n: number, out: Float32Array) => void {
    const f = this.distancesWithBound(rotated, 'l2', rotated);
    return (codes, n, out) => f(codes, n, out, null);
  }

  /**
   * The estimator and, when `bound` is given, its error bound per code: |true − estimate| ≤
   * bound[i] with probability about 1 − 2(1 − Φ(ε₀)) per pair. For l2 the bound is twice the
   * inner-product bound; for cos it is divided by |q|·|o|.
   *
   * Unlike SQ or PQ, this estimator is not decode-then-distance: decode() reconstructs
   * c + Pᵀ(scale·ȳ), whose inner products with (q − c) equal the estimator's, but the estimator
   * uses the stored |o−c|² and ⟨c, o−c⟩ where decoding would use the reconstruction's own.
   */
  distancesWithBound(query: Float32Array, metric: Metric, rotated?: Float32Array): BoundedDistances {
    const d = this.d, cs = this.codeSize, m = this.signBytes, B = this.exBits;
    checkQuery(query, d, `${this.name} distances`);
    if (!this.trained) throw notTrained(this.name, 'distances');
    checkMetric(metric, this.name);
    if (rotated && (metric !== 'l2' || rotated.length !== d)) throw new ZipmlError('E_ARG', `${this.name} distances: a rotated residual needs 'l2' and ${d} values`);
    const q = rotated ?? this.residuals(query, 1);
    let qr2 = 0, sumQ = 0, qDotC = 0, qn2 = 0, cn2 = 0;
    for (let j = 0; j < d; j++) {
      qr2 += q[j]! * q[j]!;
      sumQ += q[j]!;
      qDotC += query[j]! * this.center[j]!;
      qn2 += query[j]! * query[j]!;
      cn2 += this.center[j]! * this.center[j]!;
    }
    const qrNorm = Math.sqrt(qr2), qn = Math.sqrt(qn2);
    const inv = 1 / Math.sqrt(d);
    // 1 bit: ⟨q', ō⟩ = (2·Σ_{bit=1} q'_i − Σ q'_i)/√d, the first term by 256-entry tables.
    const table = B === 0 ? bitTables(q.map((v) => 2 * v * inv), null, d) : null;
    const cb = -((1 << B) - 0.5);
    const exOff = m + FACTOR_BYTES;
    return (codes, n, out, bound) => {
      checkCodeBatch(codes, n, cs, out, `${this.name} distances`);
      if (bound) checkCodeBatch(codes, n, cs, bound, `${this.name} distances`);
      if (table) lut8(table, codes, n, cs, m, out);
      else rabitqEx(q, codes, n, cs, d, B, exOff, cb, out);
      const dv = new DataView(codes.buffer, codes.byteOffset, codes.byteLength);
      for (let i = 0; i < n; i++) {
        const o = i * cs;
        const rn2 = dv.getFloat32(o + m, true);
        const cDot = dv.getFloat32(o + m + 8, true);
        let est: number, err: number;
        if (table) {
          const dpMult = dv.getFloat32(o + m + 4, true);
          est = dpMult * (out[i]! - sumQ * inv);
          const rn = Math.sqrt(rn2);
          err = dpMult > 0 ? directionError(rn, rn / dpMult, d) : 0;
        } else {
          est = dv.getFloat32(o + exOff + this.exBytes, true) * out[i]!;
          err = dv.getFloat32(o + exOff + this.exBytes + 4, true);
        }
        let dist: number, scale: number;
        if (metric === 'l2') {
          dist = Math.max(0, qr2 + rn2 - 2 * est);
          scale = 2;
        } else {
          dist = qDotC + cDot + est;
          scale = 1;
          if (metric === 'cos') {
            const xn = Math.sqrt(Math.max(0, cn2 + 2 * cDot + rn2));
            dist = cosine(dist, qn, xn);
            scale = qn * xn > 0 ? 1 / (qn * xn) : 0;
          }
        }
        out[i] = dist;
        if (bound) bound[i] = this.epsilon0 * qrNorm * err * scale;
      }
    };
  }

  serialize(): Uint8Array {
    const b = new ContainerBuilder();
    const meta: JsonObject = {
      codec: 'rabitq',
      version: 1,
      d: this.d,
      nbBits: this.nbBits,
      rotation: this.rotationKind,
      epsilon0: this.epsilon0,
      trained: this.trained,
    };
    if (this.trained) {
      b.addSection('center', f32Bytes(this.center));
      if (this.rotation) meta.transform = writeTransform(b, 'rotation', this.rotation);
    }
    return b.finish('vectors.codec', meta);
  }
}

/**
 * |r|·√((1 − cos²)/cos²)/√(d−1): the error bound of ⟨q', r⟩ per unit |q'| and unit ε₀, for a
 * code whose direction has cosine `cos` with r.
 */
function directionError(norm: number, cos: number, d: number): number {
  if (!(cos > 0)) return 0;
  const c2 = Math.min(1, cos * cos);
  return (norm * Math.sqrt((1 - c2) / c2)) / Math.sqrt(Math.max(1, d - 1));
}

/**
 * Faiss's compute_optimal_scaling_factor: the t maximizing ⟨ȳ(t), |o|⟩/|ȳ(t)| where
 * ȳ_i(t) = ⌊t·|o_i|⌋ + 0.5, enumerating in increasing order every t at which some ⌊t·|o_i|⌋ steps
 * up (a min-heap of next steps), within [TIGHT_START[B]·t_end, t_end).
 */
function optimalScale(oAbs: Float64Array, d: number, B: number): number {
  const maxCode = (1 << B) - 1;
  let maxO = 0;
  for (let i = 0; i < d; i++) if (oAbs[i]! > maxO) maxO = oAbs[i]!;
  if (maxO === 0) return 0;
  const tEnd = (maxCode + K_ENUM) / maxO;
  const tStart = tEnd * TIGHT_START[B]!;
  const cur = new Int32Array(d);
  let sqrDen = d * 0.25;
  let num = 0;
  for (let i = 0; i < d; i++) {
    const c = Math.floor(tStart * oAbs[i]! + K_EPS);
    cur[i] = c;
    sqrDen += c * c + c;
    num += (c + 0.5) * oAbs[i]!;
  }
  const heap = new MinHeap(d);
  for (let i = 0; i < d; i++) {
    if (oAbs[i]! === 0) continue;
    const tn = (cur[i]! + 1) / oAbs[i]!;
    if (tn < tEnd) heap.push(tn, i);
  }
  let best = 0, bestT = 0;
  while (heap.size > 0) {
    const t = heap.topKey();
    const i = heap.pop();
    const c = ++cur[i]!;
    // (c + 0.5)² − (c − 0.5)² = 2c
    sqrDen += 2 * c;
    num += oAbs[i]!;
    const ip = num / Math.sqrt(sqrDen);
    if (ip > best) {
      best = ip;
      bestT = t;
    }
    if (c < maxCode) {
      const tn = (c + 1) / oAbs[i]!;
      if (tn < tEnd) heap.push(tn, i);
    }
  }
  return bestT;
}

/** Binary min-heap of (float key, int value) in typed arrays. */
class MinHeap {
  private keys: Float64Array;
  private vals: Int32Array;
  size = 0;
  constructor(cap: number) {
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap);
  }
  topKey(): number {
    return this.keys[0]!;
  }
  push(k: number, v: number): void {
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.keys[p]! <= k) break;
      this.keys[i] = this.keys[p]!;
      this.vals[i] = this.vals[p]!;
      i = p;
    }
    this.keys[i] = k;
    this.vals[i] = v;
  }
  pop(): number {
    const top = this.vals[0]!;
    const k = this.keys[--this.size]!;
    const v = this.vals[this.size]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && this.keys[c + 1]! < this.keys[c]!) c++;
      if (this.keys[c]! >= k) break;
      this.keys[i] = this.keys[c]!;
      this.vals[i] = this.vals[c]!;
      i = c;
    }
    this.keys[i] = k;
    this.vals[i] = v;
    return top;
  }
}
