/**
 * Per-query quantization of 4-bit lookup tables to uint8 (Faiss's quantize_lut: a common scale and
 * a per-sub-quantizer bias), and the maps between float distances and integer sums.
 *
 * For tables T_m (m < M, 16 entries each; 'l2' distances, or 'ip' inner products which are negated
 * so that smaller is closer), with min_m = min_j T_m[j] and span = max_m (max_j T_m[j] − min_m):
 *   scale = 255 / span,  Q_m[j] = round(scale·(T_m[j] − min_m)) ∈ [0, 255],  bias = Σ_m min_m,
 * and the approximation of Σ_m T_m[code_m] is bias + sum/scale where sum = Σ_m Q_m[code_m], an
 * integer ≤ 255·M ≤ 65,280 for M ≤ 256, so uint16 never overflows. Rounding moves each term by at
 * most 0.5/scale, so |approx − exact| ≤ M/(2·scale) (`errorBound`), which makes exact re-ranking
 * possible: the exact top-k rows all have sums ≤ (the k-th smallest sum) + M.
 */
import { ZipmlError } from '../../core/errors.js';
import { FS_MAX_M, fsM2 } from './layout.js';

export type LutMetric = 'l2' | 'ip';

export interface QuantizedLut {
  /** M2 × 16 uint8 entries, table m at 16m (a padding table of an odd M is 0). */
  readonly lut: Uint8Array;
  readonly M: number;
  /** 'ip' tables were negated: approximations are inner products, larger is closer. */
  readonly metric: LutMetric;
  /** Σ of the per-table minima, in the min-search domain (negated inner products for 'ip'). */
  readonly bias: number;
  /** Integer sum units per distance unit. */
  readonly scale: number;
}

function checkTable(t: Float32Array, M: number, what: string): void {
  if (!Number.isInteger(M) || M < 1 || M > FS_MAX_M) throw new ZipmlError('E_ARG', `${what}: M = ${M} must be an integer in 1..${FS_MAX_M}`);
  if (t.length < M * 16) throw new ZipmlError('E_ARG', `${what}: the table has ${t.length} values, expected M·16 = ${M * 16}`);
  for (let i = 0; i < M * 16; i++) if (!Number.isFinite(t[i]!)) throw new ZipmlError('E_ARG', `${what}: table value ${i} is not finite`);
}

/** Minimum of each table (min-search domain) and the largest span. */
function tableStats(t: Float32Array, M: number, sign: number, mins: Float64Array): number {
  let span = 0;
  for (let m = 0; m < M; m++) {
    let lo = Infinity, hi = -Infinity;
    for (let j = 0; j < 16; j++) {
      const v = sign * t[m * 16 + j]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    mins[m] = lo;
    span = Math.max(span, hi - lo);
  }
  return span;
}

function quantizeWith(t: Float32Array, M: number, metric: LutMetric, scale: number, mins: Float64Array): QuantizedLut {
  const sign = metric === 'ip' ? -1 : 1;
  const lut = new Uint8Array(fsM2(M) * 16);
  let bias = 0;
  for (let m = 0; m < M; m++) {
    bias += mins[m]!;
    for (let j = 0; j < 16; j++) {
      const q = Math.round(scale * (sign * t[m * 16 + j]! - mins[m]!));
      lut[m * 16 + j] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return { lut, M, metric, bias, scale };
}

/** Quantizes one query's M × 16 float table ('l2' distances or 'ip' inner products). */
export function quantizeLut(t: Float32Array, M: number, metric: LutMetric = 'l2'): QuantizedLut {
  checkTable(t, M, 'quantizeLut');
  const mins = new Float64Array(M);
  const span = tableStats(t, M, metric === 'ip' ? -1 : 1, mins);
  return quantizeWith(t, M, metric, span > 0 ? 255 / span : 1, mins);
}

/**
 * Quantizes several tables of one query with one common scale (each keeps its own bias), as an
 * IVF search needs when each probed list has its own table (residual encoding): sums of different
 * lists are then in the same units, and one float threshold maps to each list's integer limit.
 */
export function quantizeLuts(tables: readonly Float32Array[], M: number, metric: LutMetric = 'l2'): QuantizedLut[] {
  const sign = metric === 'ip' ? -1 : 1;
  const mins = tables.map(() => new Float64Array(M));
  let span = 0;
  tables.forEach((t, i) => {
    checkTable(t, M, 'quantizeLuts');
    span = Math.max(span, tableStats(t, M, sign, mins[i]!));
  });
  const scale = span > 0 ? 255 / span : 1;
  return tables.map((t, i) => quantizeWith(t, M, metric, scale, mins[i]!));
}

/** The approximate distance (l2) or inner product (ip) of an integer sum. */
export function lutApprox(q: QuantizedLut, sum: number): number {
  const v = q.bias + sum / q.scale;
  return q.metric === 'ip' ? -v : v;
}

/** The min-search key of an integer sum: the distance, or the negated inner product. */
export function lutKey(q: QuantizedLut, sum: number): number {
  return q.bias + sum / q.scale;
}

/**
 * The largest integer sum (−1: none, 65535: all) whose key could be below `key` (a min-search
 * key: a distance, or a negated inner product). Conservative by one unit so that float rounding
 * in the caller's own comparison of keys never loses a row.
 */
export function lutLimit(q: QuantizedLut, key: number): number {
  if (key === Infinity) return 65535;
  if (!(key > -Infinity)) return -1;
  const x = Math.floor((key - q.bias) * q.scale) + 1;
  return x < -1 ? -1 : x > 65535 ? 65535 : x;
}

/** |approximation − exact table sum| ≤ this (plus float rounding of the exact sum). */
export function lutErrorBound(q: QuantizedLut): number {
  return q.M / (2 * q.scale);
}

/** The plain-TS integer sums of rows [0, n) of row-major 4-bit codes (cs bytes per row). */
export function lutSums(q: QuantizedLut, codes: Uint8Array, n: number, cs: number, out: Uint16Array | Uint32Array): void {
  const M = q.M, lut = q.lut;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let m = 0; m < M; m++) {
      const b = codes[i * cs + (m >> 1)]!;
      s += lut[m * 16 + (m & 1 ? b >> 4 : b & 15)]!;
    }
    out[i] = s;
  }
}
