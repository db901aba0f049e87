/**
 * Binary sign codes, following Faiss's IndexLSH: an optional random rotation, optional per-
 * dimension thresholds (the training medians, Faiss's "t"), then one bit per dimension,
 * bit = (x' − t ≥ 0), packed LSB first as Faiss's fvec2bitvec. codeSize = ceil(d/8).
 *
 * Factory names follow Faiss's "LSH(r?)(t?)": "LSH", "LSHr" (random orthogonal rotation), "LSHt"
 * (trained thresholds), "LSHrt"; "LSHh" / "LSHht" use the fast Hadamard rotation instead (ours).
 * nbits is always d here.
 *
 * Faiss's LSH only ranks by Hamming distance. To also decode, and to give the asymmetric float-
 * query distance the VectorCodec contract asks for, training learns two reconstruction levels per
 * (rotated) dimension: the mean of the training values on each side of the threshold, which is the
 * least-squares reconstruction given the bit. Both distance paths are here: `hamming` (popcount,
 * symmetric) and `distances` (float query against the levels, by 256-entry tables per code byte).
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerBuilder, type JsonObject } from '../../core/container.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, checkCodeBatch, codeCount, notTrained } from '../linalg.js';
import { f32Bytes, makeRotation, writeTransform, checkCodecRotation, DEFAULT_ROTATION_SEED, type VectorTransform } from '../rotation.js';
import { bitTables, lut8, hamming } from './vcodes.js';
import { checkMetric, cosine } from './sq.js';

export type BinaryRotation = 'none' | 'orthogonal' | 'hadamard';

export interface BinaryOptions {
  /** Rotation applied before taking signs (default 'none', as Faiss's plain "LSH"). */
  rotation?: BinaryRotation;
  /** Subtract per-dimension training medians before taking signs (Faiss's "t"; default false). */
  thresholds?: boolean;
}

/** Parses "LSH", "LSHr", "LSHt", "LSHrt", "LSHh", "LSHht" (optionally with nbits = d after "LSH"). */
export function binaryOptionsFromName(name: string, d: number): BinaryOptions | undefined {
  const m = /^LSH([0-9]*)(r|h)?(t)?$/.exec(name);
  if (!m) return undefined;
  if (m[1] && Number(m[1]) !== d) throw new ZipmlError('E_ARG', `${name}: nbits other than d (${d}) is not supported`);
  return { rotation: m[2] === 'r' ? 'orthogonal' : m[2] === 'h' ? 'hadamard' : 'none', thresholds: m[3] === 't' };
}

export class BinaryCodec implements VectorCodec {
  readonly d: number;
  readonly codeSize: number;
  readonly name: string;
  readonly rotationKind: BinaryRotation;
  readonly useThresholds: boolean;
  rotation: VectorTransform | null = null;
  /** Per-dimension thresholds in the rotated space (zeros without "t"). */
  thresholds: Float32Array;
  /** Reconstruction levels in the rotated space for bit 0 and bit 1. */
  lo: Float32Array;
  hi: Float32Array;
  private trained = false;

  constructor(d: number, opts: BinaryOptions | string = {}) {
    checkDim(d, 'BinaryCodec');
    const o = typeof opts === 'string' ? binaryOptionsFromName(opts, d) : opts;
    if (!o) throw new ZipmlError('E_ARG', `BinaryCodec: unknown name "${String(opts)}"`);
    const rot = o.rotation ?? 'none';
    if (rot !== 'none' && rot !== 'orthogonal' && rot !== 'hadamard') throw new ZipmlError('E_ARG', `BinaryCodec: unknown rotation "${String(rot)}"`);
    this.d = d;
    this.codeSize = (d + 7) >> 3;
    this.rotationKind = rot;
    this.useThresholds = o.thresholds === true;
    this.name = 'LSH' + (rot === 'orthogonal' ? 'r' : rot === 'hadamard' ? 'h' : '') + (this.useThresholds ? 't' : '');
    this.thresholds = new Float32Array(d);
    this.lo = new Float32Array(d);
    this.hi = new Float32Array(d);
  }

  get isTrained(): boolean {
    return this.trained;
  }

  /** Installs trained parameters (used by deserialization). */
  setParams(rotation: VectorTransform | null, thresholds: Float32Array, lo: Float32Array, hi: Float32Array): void {
    const d = this.d;
    checkCodecRotation(rotation, this.rotationKind, d, this.name);
    if (thresholds.length !== d || lo.length !== d || hi.length !== d) throw new ZipmlError('E_ARG', `${this.name}: parameters must have ${d} values`);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(thresholds[j]!) || !Number.isFinite(lo[j]!) || !Number.isFinite(hi[j]!)) throw new ZipmlError('E_ARG', `${this.name}: parameter ${j} is not finite`);
      if (!this.useThresholds && thresholds[j] !== 0) throw new ZipmlError('E_ARG', `${this.name}: thresholds must be 0 without "t"`);
    }
    this.rotation = rotation;
    this.thresholds = thresholds;
    this.lo = lo;
    this.hi = hi;
    this.trained = true;
  }

  private rotate(x: Float32Array): Float32Array {
    return this.rotation ? this.rotation.apply(x) : x;
  }

  train(x: Float32Array, opts: TrainOptions = {}): void {
    const d = this.d;
    const n = checkRows(x, d, `${this.name} train`);
    if (n === 0) throw new ZipmlError('E_ARG', `${this.name} train: the training set is empty`);
    const rotation = this.rotationKind === 'none' ? null : makeRotation(this.rotationKind, d, opts.seed ?? DEFAULT_ROTATION_SEED);
    const xr = rotation ? rotation.apply(x) : x;
    const thresholds = new Float32Array(d);
    const col = new Float32Array(n);
    const lo = new Float32Array(d), hi = new Float32Array(d);
    for (let j = 0; j < d; j++) {
      if (opts.signal?.aborted) throw new ZipmlError('E_ABORTED', `${this.name} train was aborted`, { cause: opts.signal.reason });
      for (let i = 0; i < n; i++) col[i] = xr[i * d + j]!;
      if (this.useThresholds) {
        // Faiss's median: the middle value, or the mean of the two middle values for even n.
        col.sort();
        const h = n >> 1;
        thresholds[j] = n % 2 === 0 ? (col[h]! + col[h - 1]!) / 2 : col[h]!;
      }
      const t = thresholds[j]!;
      let s1 = 0, n1 = 0, s0 = 0, n0 = 0, dev = 0;
      for (let i = 0; i < n; i++) {
        const v = col[i]!;
        dev += Math.abs(v - t);
        if (v - t >= 0) {
          s1 += v;
          n1++;
        } else {
          s0 += v;
          n0++;
        }
      }
      // A side no training value fell on reconstructs at the mirror of the mean deviation.
      const m = dev / n;
      hi[j] = n1 > 0 ? s1 / n1 : t + m;
      lo[j] = n0 > 0 ? s0 / n0 : t - m;
      opts.onProgress?.(j + 1, d);
    }
    this.setParams(rotation, thresholds, lo, hi);
  }

  encode(x: Float32Array): Uint8Array {
    const d = this.d, cs = this.codeSize;
    const n = checkRows(x, d, `${this.name} encode`);
    if (!this.trained) throw notTrained(this.name, 'encode');
    const xr = this.rotate(x);
    const out = new Uint8Array(n * cs);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < d; j++) {
        if (xr[r * d + j]! - this.thresholds[j]! >= 0) out[r * cs + (j >> 3)] = out[r * cs + (j >> 3)]! | (1 << (j & 7));
      }
    }
    return out;
  }

  decode(codes: Uint8Array): Float32Array {
    const d = this.d, cs = this.codeSize;
    const n = codeCount(codes, cs, `${this.name} decode`);
    if (!this.trained) throw notTrained(this.name, 'decode');
    const y = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < d; j++) y[r * d + j] = (codes[r * cs + (j >> 3)]! >> (j & 7)) & 1 ? this.hi[j]! : this.lo[j]!;
    }
    return this.rotation ? this.rotation.applyTranspose(y) : y;
  }

  /**
   * Float query against codes, equal to decode-then-distance. The rotation is orthogonal, so the
   * distances can be taken in the rotated space, where a code byte selects 8 levels: one 256-entry
   * table per byte gives Σ over those 8 dimensions of (q'−level)² or q'·level.
   */
  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    const d = this.d, cs = this.codeSize;
    checkQuery(query, d, `${this.name} distances`);
    if (!this.trained) throw notTrained(this.name, 'distances');
    checkMetric(metric, this.name);
    const q = this.rotate(query);
    const one = new Float32Array(d), zero = new Float32Array(d);
    let qn = 0;
    for (let j = 0; j < d; j++) {
      const v = q[j]!;
      qn += v * v;
      if (metric === 'l2') {
        one[j] = (v - this.hi[j]!) ** 2;
        zero[j] = (v - this.lo[j]!) ** 2;
      } else {
        one[j] = v * this.hi[j]!;
        zero[j] = v * this.lo[j]!;
      }
    }
    const table = bitTables(one, zero, d);
    let normTable: Float32Array | null = null;
    if (metric === 'cos') {
      const h2 = this.hi.map((v) => v * v), l2 = this.lo.map((v) => v * v);
      normTable = bitTables(h2, l2, d);
    }
    qn = Math.sqrt(qn);
    return (codes, n, out) => {
      checkCodeBatch(codes, n, cs, out, `${this.name} distances`);
      lut8(table, codes, n, cs, cs, out);
      if (normTable) {
        const norms = new Float32Array(n);
        lut8(normTable, codes, n, cs, cs, norms);
        for (let i = 0; i < n; i++) out[i] = cosine(out[i]!, qn, Math.sqrt(Math.max(0, norms[i]!)));
      }
    };
  }

  /** Hamming distances from the query's own code to each code (Faiss's LSH search distance). */
  hamming(query: Float32Array): (codes: Uint8Array, n: number, out: Uint32Array) => void {
    checkQuery(query, this.d, `${this.name} hamming`);
    const q = this.encode(query);
    const cs = this.codeSize;
    return (codes, n, out) => {
      checkCodeBatch(codes, n, cs, out, `${this.name} hamming`);
      hamming(q, codes, n, cs, cs, out);
    };
  }

  serialize(): Uint8Array {
    const b = new ContainerBuilder();
    const meta: JsonObject = {
      codec: 'binary',
      version: 1,
      d: this.d,
      rotation: this.rotationKind,
      thresholds: this.useThresholds,
      trained: this.trained,
    };
    if (this.trained) {
      const p = new Float32Array(3 * this.d);
      p.set(this.thresholds, 0);
      p.set(this.lo, this.d);
      p.set(this.hi, 2 * this.d);
      b.addSection('levels', f32Bytes(p));
      if (this.rotation) meta.transform = writeTransform(b, 'rotation', this.rotation);
    }
    return b.finish('vectors.codec', meta);
  }
}
