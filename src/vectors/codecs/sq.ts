/**
 * Scalar quantization, following Faiss's ScalarQuantizer (faiss/impl/ScalarQuantizer.cpp and
 * impl/scalar_quantizer/): each dimension is mapped to [0, 1] by a trained range and stored on
 * 8, 6 or 4 bits, or stored as fp16 / bf16.
 *
 * Faiss's formulas, reproduced in f32 arithmetic so codes match Faiss's bit for bit:
 *   encode: t = clamp((x − vmin) / vdiff, 0, 1); code = ⌊t · (2^b − 1)⌋   (t = 0 when vdiff = 0)
 *   decode: x̂ = vmin + ((code + 0.5) / (2^b − 1)) · vdiff
 * Note that decode puts code c at the centre of [c, c+1)/(2^b − 1), so the top code reconstructs
 * half a step above vmax; this is Faiss's behaviour and we keep it for equal MSE.
 *
 * Ranges ("RangeStat"): per dimension (QT_8bit, QT_6bit, QT_4bit) or one for all dimensions
 * (QT_8bit_uniform, QT_4bit_uniform; the 6-bit uniform variant is our addition), trained by
 * min-max with rangeStatArg = 0 by default (Faiss's RS_minmax default), or mean ± arg·std,
 * or the arg-quantiles.
 *
 * Bit layouts are Faiss's: 4-bit puts value 2t in the low nibble of byte t; 6-bit packs 4 values
 * in 3 bytes, LSB first.
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerBuilder } from '../../core/container.js';
import { f16BitsToF32, f32ToF16, f32ToBf16 } from '../../core/dtypes.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, checkCodeBatch, codeCount, notTrained, normSq } from '../linalg.js';
import { f32Bytes } from '../rotation.js';
import { sq8L2, sq8Dot, sq4L2, sq4Dot } from './vcodes.js';

export type SQType = '8bit' | '6bit' | '4bit' | '8bit_uniform' | '6bit_uniform' | '4bit_uniform' | 'fp16' | 'bf16';
export type RangeStat = 'minmax' | 'meanstd' | 'quantiles';

export const SQ_TYPES: readonly SQType[] = ['8bit', '6bit', '4bit', '8bit_uniform', '6bit_uniform', '4bit_uniform', 'fp16', 'bf16'];

const FACTORY: Record<SQType, string> = {
  '8bit': 'SQ8',
  '6bit': 'SQ6',
  '4bit': 'SQ4',
  '8bit_uniform': 'SQ8_uniform',
  '6bit_uniform': 'SQ6_uniform',
  '4bit_uniform': 'SQ4_uniform',
  fp16: 'SQfp16',
  bf16: 'SQbf16',
};

/** The SQ type of a factory name ("SQ8", "SQ4_uniform", "SQfp16", ...), or undefined. */
export function sqTypeFromName(name: string): SQType | undefined {
  for (const t of SQ_TYPES) if (FACTORY[t] === name) return t;
  return undefined;
}

export interface SQOptions {
  /** How ranges are trained (default 'minmax', as Faiss). */
  rangeStat?: RangeStat;
  /** minmax: widen the range by arg·(max−min) on each side (default 0); meanstd: mean ± arg·std;
   * quantiles: the arg and 1−arg quantiles. */
  rangeStatArg?: number;
}

function bitsOf(t: SQType): number {
  return t.startsWith('8') ? 8 : t.startsWith('6') ? 6 : t.startsWith('4') ? 4 : 16;
}

function codeSizeOf(t: SQType, d: number): number {
  const b = bitsOf(t);
  return b === 16 ? 2 * d : Math.ceil((d * b) / 8);
}

let f16Table: Float32Array | undefined;
function f16Values(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

export class ScalarQuantizer implements VectorCodec {
  readonly d: number;
  readonly qtype: SQType;
  readonly codeSize: number;
  readonly name: string;
  readonly rangeStat: RangeStat;
  readonly rangeStatArg: number;
  /** Range starts: d values, or 1 for uniform types; empty for fp16/bf16. */
  vmin: Float32Array = new Float32Array(0);
  /** Range widths (vmax − vmin), same shape as vmin. */
  vdiff: Float32Array = new Float32Array(0);
  private trained: boolean;
  /** Per-dimension step and first level centre (dPad entries), derived from the ranges once. */
  private steps: { s: Float32Array; b0: Float32Array; negB0: Float32Array } | null = null;

  constructor(d: number, qtype: SQType | string, opts: SQOptions = {}) {
    checkDim(d, 'ScalarQuantizer');
    const t = (SQ_TYPES as readonly string[]).includes(qtype) ? (qtype as SQType) : sqTypeFromName(qtype);
    if (!t) throw new ZipmlError('E_ARG', `ScalarQuantizer: unknown type "${qtype}" (expected one of ${SQ_TYPES.join(', ')} or SQ8, SQ6, SQ4, SQfp16, SQbf16, SQ8_uniform, ...)`);
    const rs = opts.rangeStat ?? 'minmax';
    if (rs !== 'minmax' && rs !== 'meanstd' && rs !== 'quantiles') throw new ZipmlError('E_ARG', `ScalarQuantizer: unknown rangeStat "${String(rs)}"`);
    const arg = opts.rangeStatArg ?? (rs === 'meanstd' ? 3 : rs === 'quantiles' ? 0.001 : 0);
    if (!Number.isFinite(arg) || arg < 0 || (rs === 'quantiles' && arg >= 0.5)) throw new ZipmlError('E_ARG', `ScalarQuantizer: invalid rangeStatArg ${arg}`);
    this.d = d;
    this.qtype = t;
    this.codeSize = codeSizeOf(t, d);
    this.name = FACTORY[t];
    this.rangeStat = rs;
    this.rangeStatArg = arg;
    this.trained = bitsOf(t) === 16; // fp16/bf16 need no training, as in Faiss
  }

  get isTrained(): boolean {
    return this.trained;
  }

  get bits(): number {
    return bitsOf(this.qtype);
  }

  get uniform(): boolean {
    return this.qtype.endsWith('_uniform');
  }

  /** Installs trained ranges (used by deserialization). */
  setRanges(vmin: Float32Array, vdiff: Float32Array): void {
    const want = this.uniform ? 1 : this.d;
    if (this.bits === 16) throw new ZipmlError('E_ARG', `${this.name} has no ranges`);
    if (vmin.length !== want || vdiff.length !== want) throw new ZipmlError('E_ARG', `${this.name}: ranges must have ${want} values`);
    for (let i = 0; i < want; i++) {
      if (!Number.isFinite(vmin[i]!) || !Number.isFinite(vdiff[i]!) || vdiff[i]! < 0) throw new ZipmlError('E_ARG', `${this.name}: range ${i} is invalid`);
    }
    this.vmin = vmin;
    this.vdiff = vdiff;
    this.steps = null;
    this.trained = true;
  }

  /** Step s_j and first-level centre b0_j per dimension (cached: every query needs them). */
  private levelSteps(): { s: Float32Array; b0: Float32Array; negB0: Float32Array } {
    if (this.steps) return this.steps;
    const d = this.d, dPad = (d + 31) & ~31;
    const s = new Float32Array(dPad), b0 = new Float32Array(dPad), negB0 = new Float32Array(dPad);
    const levels = (1 << this.bits) - 1;
    for (let j = 0; j < d; j++) {
      const lo = this.vmin[this.uniform ? 0 : j]!;
      const diff = this.vdiff[this.uniform ? 0 : j]!;
      s[j] = diff / levels;
      b0[j] = lo + (0.5 * diff) / levels;
      negB0[j] = -b0[j]!;
    }
    this.steps = { s, b0, negB0 };
    return this.steps;
  }

  train(x: Float32Array, opts: TrainOptions = {}): void {
    const n = checkRows(x, this.d, `${this.name} train`);
    if (n === 0) throw new ZipmlError('E_ARG', `${this.name} train: the training set is empty`);
    if (this.bits === 16) return;
    if (opts.signal?.aborted) throw new ZipmlError('E_ABORTED', `${this.name} train was aborted`, { cause: opts.signal.reason });
    const d = this.d;
    if (this.uniform) {
      const [lo, diff] = trainRange(x, 0, 1, x.length, this.rangeStat, this.rangeStatArg);
      this.setRanges(Float32Array.of(lo), Float32Array.of(diff));
    } else {
      const vmin = new Float32Array(d);
      const vdiff = new Float32Array(d);
      for (let j = 0; j < d; j++) {
        const [lo, diff] = trainRange(x, j, d, n, this.rangeStat, this.rangeStatArg);
        vmin[j] = lo;
        vdiff[j] = diff;
      }
      this.setRanges(vmin, vdiff);
    }
    opts.onProgress?.(n, n);
  }

  encode(x: Float32Array): Uint8Array {
    const n = checkRows(x, this.d, `${this.name} encode`);
    if (!this.trained) throw notTrained(this.name, 'encode');
    const d = this.d, cs = this.codeSize;
    const out = new Uint8Array(n * cs);
    if (this.bits === 16) {
      const h = this.qtype === 'fp16' ? f32ToF16(x) : f32ToBf16(x);
      for (let i = 0; i < h.length; i++) {
        out[2 * i] = h[i]! & 255;
        out[2 * i + 1] = h[i]! >>> 8;
      }
      return out;
    }
    const levels = (1 << this.bits) - 1;
    const u = this.uniform;
    const val = new Uint8Array(d);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < d; j++) {
        const lo = this.vmin[u ? 0 : j]!;
        const diff = this.vdiff[u ? 0 : j]!;
        let t = 0;
        if (diff !== 0) {
          t = Math.fround(Math.fround(x[r * d + j]! - lo) / diff);
          if (t < 0) t = 0;
          if (t > 1) t = 1;
        }
        // Faiss multiplies by the int 255 in f32 for 8 bits, by the doubles 63.0 / 15.0 otherwise.
        val[j] = this.bits === 8 ? Math.trunc(Math.fround(255 * t)) : Math.trunc(t * levels);
      }
      packValues(val, d, this.bits, out, r * cs);
    }
    return out;
  }

  decode(codes: Uint8Array): Float32Array {
    const n = codeCount(codes, this.codeSize, `${this.name} decode`);
    if (!this.trained) throw notTrained(this.name, 'decode');
    const d = this.d, cs = this.codeSize;
    const out = new Float32Array(n * d);
    if (this.bits === 16) {
      this.decode16(codes, n, out);
      return out;
    }
    const levels = (1 << this.bits) - 1;
    const u = this.uniform;
    const val = new Uint8Array(d);
    for (let r = 0; r < n; r++) {
      unpackValues(codes, r * cs, d, this.bits, val);
      for (let j = 0; j < d; j++) {
        const t = Math.fround((val[j]! + 0.5) / levels);
        out[r * d + j] = Math.fround(this.vmin[u ? 0 : j]! + Math.fround(t * this.vdiff[u ? 0 : j]!));
      }
    }
    return out;
  }

  private decode16(codes: Uint8Array, n: number, out: Float32Array, from = 0): void {
    const m = n * this.d;
    const o = from * this.codeSize;
    if (this.qtype === 'fp16') {
      const t = f16Values();
      for (let i = 0; i < m; i++) out[i] = t[codes[o + 2 * i]! | (codes[o + 2 * i + 1]! << 8)]!;
    } else {
      const bits = new Uint32Array(out.buffer, out.byteOffset, m);
      for (let i = 0; i < m; i++) bits[i] = (codes[o + 2 * i]! << 16) | (codes[o + 2 * i + 1]! << 24);
    }
  }

  /**
   * Distances without decoding. With s = vdiff/(2^b − 1) and b₀ = vmin + s/2, x̂ = b₀ + s·code, so
   * L2 = Σ ((q − b₀) − s·code)², IP = q·b₀ + Σ (q·s)·code, and cos divides IP by |q|·|x̂| with
   * |x̂|² = Σ (−b₀ − s·code)²: all kernels over the raw codes.
   */
  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    checkQuery(query, this.d, `${this.name} distances`);
    if (!this.trained) throw notTrained(this.name, 'distances');
    checkMetric(metric, this.name);
    const d = this.d, cs = this.codeSize;
    if (this.bits === 16) return this.distances16(query, metric);
    const dPad = (d + 31) & ~31;
    const { s, b0, negB0 } = this.levelSteps();
    const l2 = this.bits === 8 ? sq8L2 : this.bits === 4 ? sq4L2 : sq6L2;
    const dotk = this.bits === 8 ? sq8Dot : this.bits === 4 ? sq4Dot : sq6Dot;
    if (metric === 'l2') {
      const { a } = this.l2Params(query);
      return (codes, n, out) => {
        checkCodeBatch(codes, n, cs, out, `${this.name} distances`);
        l2(a, s, codes, n, cs, d, out);
      };
    }
    const { w, base } = this.ipParams(query);
    const qn = Math.sqrt(normSq(query));
    return (codes, n, out) => {
      checkCodeBatch(codes, n, cs, out, `${this.name} distances`);
      dotk(w, codes, n, cs, d, out);
      for (let i = 0; i < n; i++) out[i] = out[i]! + base;
      if (metric === 'cos') {
        const norms = new Float32Array(n);
        l2(negB0, s, codes, n, cs, d, norms);
        for (let i = 0; i < n; i++) out[i] = cosine(out[i]!, qn, Math.sqrt(norms[i]!));
      }
    };
  }

  /**
   * Per-query parameters of the integer-code kernels: L2 = Σ (a_j − s_j·code_j)² with a = q − b₀
   * (a and s zero past d, roundUp(d, 32) long). Also for callers that keep codes resident in
   * kernel memory (the index's refinement store).
   */
  l2Params(query: Float32Array): { a: Float32Array; s: Float32Array } {
    const { s, b0 } = this.levelSteps();
    const a = new Float32Array(s.length);
    for (let j = 0; j < this.d; j++) a[j] = query[j]! - b0[j]!;
    return { a, s };
  }

  /** IP = base + Σ w_j·code_j with w = q·s and base = ⟨q, b₀⟩ (w zero past d). */
  ipParams(query: Float32Array): { w: Float32Array; base: number } {
    const { s, b0 } = this.levelSteps();
    const w = new Float32Array(s.length);
    let base = 0;
    for (let j = 0; j < this.d; j++) {
      w[j] = query[j]! * s[j]!;
      base += query[j]! * b0[j]!;
    }
    return { w, base };
  }

  // fp16/bf16: decode in blocks of rows into a scratch buffer, then exact float distances.
  private distances16(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    const d = this.d, cs = this.codeSize;
    const qn = Math.sqrt(normSq(query));
    const block = Math.max(1, Math.floor(65536 / d));
    const buf = new Float32Array(block * d);
    return (codes, n, out) => {
      checkCodeBatch(codes, n, cs, out, `${this.name} distances`);
      for (let r = 0; r < n; r += block) {
        const rows = Math.min(block, n - r);
        this.decode16(codes, rows, buf, r);
        for (let i = 0; i < rows; i++) out[r + i] = rowDistance(query, buf, i * d, d, metric, qn);
      }
    };
  }

  serialize(): Uint8Array {
    const b = new ContainerBuilder();
    if (this.trained && this.bits !== 16) {
      const p = new Float32Array(2 * this.vmin.length);
      p.set(this.vmin, 0);
      p.set(this.vdiff, this.vmin.length);
      b.addSection('ranges', f32Bytes(p));
    }
    return b.finish('vectors.codec', {
      codec: 'sq',
      version: 1,
      d: this.d,
      qtype: this.qtype,
      rangeStat: this.rangeStat,
      rangeStatArg: this.rangeStatArg,
      trained: this.trained,
    });
  }
}

/** Faiss's train_Uniform on a strided column: returns [vmin, vdiff]. */
function trainRange(x: Float32Array, start: number, stride: number, n: number, rs: RangeStat, arg: number): [number, number] {
  let lo: number, hi: number;
  if (rs === 'minmax') {
    lo = Infinity;
    hi = -Infinity;
    for (let i = 0, p = start; i < n; i++, p += stride) {
      const v = x[p]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const exp = Math.fround((hi - lo) * arg);
    lo = Math.fround(lo - exp);
    hi = Math.fround(hi + exp);
  } else if (rs === 'meanstd') {
    let sum = 0, sum2 = 0;
    for (let i = 0, p = start; i < n; i++, p += stride) {
      sum += x[p]!;
      sum2 += x[p]! * x[p]!;
    }
    const mean = sum / n;
    const v = sum2 / n - mean * mean;
    const std = v <= 0 ? 1 : Math.sqrt(v);
    lo = Math.fround(mean - std * arg);
    hi = Math.fround(mean + std * arg);
  } else {
    const col = new Float32Array(n);
    for (let i = 0, p = start; i < n; i++, p += stride) col[i] = x[p]!;
    col.sort();
    let o = Math.floor(arg * n);
    if (o > n - o) o = n >> 1;
    lo = col[o]!;
    hi = col[n - 1 - o]!;
  }
  return [lo, Math.fround(hi - lo)];
}

/** Packs d values of `bits` bits (8, 6 or 4) into out[o ...] with Faiss's layouts. */
function packValues(val: Uint8Array, d: number, bits: number, out: Uint8Array, o: number): void {
  if (bits === 8) {
    out.set(val.subarray(0, d), o);
  } else if (bits === 4) {
    for (let j = 0; j < d; j++) out[o + (j >> 1)] = out[o + (j >> 1)]! | (val[j]! << ((j & 1) << 2));
  } else {
    // 6 bits: LSB-first bit stream, 4 values in 3 bytes (Faiss's Codec6bit).
    for (let j = 0; j < d; j++) {
      const pos = 6 * j;
      const v = val[j]! << (pos & 7);
      out[o + (pos >> 3)] = out[o + (pos >> 3)]! | (v & 255);
      if ((pos & 7) > 2) out[o + (pos >> 3) + 1] = out[o + (pos >> 3) + 1]! | (v >> 8);
    }
  }
}

function unpackValues(codes: Uint8Array, o: number, d: number, bits: number, val: Uint8Array): void {
  if (bits === 8) {
    val.set(codes.subarray(o, o + d));
  } else if (bits === 4) {
    for (let j = 0; j < d; j++) val[j] = (codes[o + (j >> 1)]! >> ((j & 1) << 2)) & 15;
  } else {
    for (let j = 0; j < d; j++) {
      const pos = 6 * j;
      const b = o + (pos >> 3);
      const w = (pos & 7) > 2 ? codes[b]! | (codes[b + 1]! << 8) : codes[b]!;
      val[j] = (w >> (pos & 7)) & 63;
    }
  }
}

// 6-bit codes have no kernel: unpack each row, then the SQ8 arithmetic.
function sq6L2(a: Float32Array, s: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  const val = new Uint8Array(d);
  for (let i = 0; i < n; i++) {
    unpackValues(codes, i * cs, d, 6, val);
    let acc = 0;
    for (let j = 0; j < d; j++) {
      const t = a[j]! - s[j]! * val[j]!;
      acc += t * t;
    }
    out[i] = acc;
  }
}

function sq6Dot(w: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  const val = new Uint8Array(d);
  for (let i = 0; i < n; i++) {
    unpackValues(codes, i * cs, d, 6, val);
    let acc = 0;
    for (let j = 0; j < d; j++) acc += w[j]! * val[j]!;
    out[i] = acc;
  }
}

/** Rejects a metric outside 'l2' | 'ip' | 'cos'. */
export function checkMetric(metric: string, name: string): void {
  if (metric !== 'l2' && metric !== 'ip' && metric !== 'cos') throw new ZipmlError('E_ARG', `${name} distances: unknown metric "${metric}"`);
}

/** ip / (|q|·|x|), with 0 for a zero vector (the limit Faiss's normalized IP would not define). */
export function cosine(ip: number, qn: number, xn: number): number {
  const den = qn * xn;
  return den > 0 ? ip / den : 0;
}

/** Exact float distance between a query and the row of `x` starting at o. */
export function rowDistance(q: Float32Array, x: Float32Array, o: number, d: number, metric: Metric, qn: number): number {
  if (metric === 'l2') {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = q[j]! - x[o + j]!;
      s += t * t;
    }
    return s;
  }
  let ip = 0, nx = 0;
  for (let j = 0; j < d; j++) {
    ip += q[j]! * x[o + j]!;
    nx += x[o + j]! * x[o + j]!;
  }
  return metric === 'ip' ? ip : cosine(ip, qn, Math.sqrt(nx));
}
