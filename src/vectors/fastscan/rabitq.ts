/**
 * RaBitQ scanning in the fast-scan layout (the batch mode of Gao & Long, SIGMOD 2024, §3.3):
 * the sign bits of a RaBitQ code, read 4 dimensions at a time, are a 4-bit code with
 * M = ⌈d/4⌉ sub-quantizers in exactly PQ's nibble order (dimensions 8j..8j+3 in the low nibble of
 * sign byte j, 8j+4..8j+7 in the high one), so they pack with packFastScan. The query's table for
 * group g holds, for each 4-bit pattern v, Σ_{bit k of v set} 2·q'_{4g+k}/√d; quantized to uint8
 * and summed by the fast-scan kernel it gives ⟨q', ō⟩ + Σq'/√d, then RaBitQCodec's estimator:
 *   est = (|r|/⟨ō, r̂⟩) · (sum − Σq'/√d),  l2 = |q'|² + |r|² − 2·est,  ip = ⟨q, c⟩ + ⟨c, o−c⟩ + est,
 * with an error bound per row: the codec's ε₀·|q'|·|r|·√((1−⟨ō,r̂⟩²)/⟨ō,r̂⟩²)/√(d−1) plus the
 * table quantization term (|r|/⟨ō,r̂⟩)·M/(2·scale), which is deterministic (×2 for l2).
 *
 * Search re-ranks as the paper does: rows are visited in order of their lower bound (estimate −
 * bound), and a row's exact distance is computed (extended RaBitQ bits, SQ8, or the vectors:
 * the caller's `exact`) only while its lower bound beats the current k-th exact distance.
 */
import { ZipmlError } from '../../core/errors.js';
import type { RaBitQCodec } from '../codecs/rabitq.js';
import { normSq } from '../linalg.js';
import { packFastScan, appendFastScan, fsBlocks, fsBlockBytes, type FastScanPacked } from './layout.js';
import { quantizeLut, lutErrorBound, type QuantizedLut } from './lut.js';
import { BlockScanner, FS_FACTORS_PER_BLOCK } from './kernels.js';
import { TopK } from '../search/topk.js';

/**
 * Per-row factors kept beside the packed sign bits, |r|², |r|/⟨ō,r̂⟩, ⟨c, o−c⟩ and the direction
 * error, laid out per block of 32 rows as four runs of 32 floats (what the fsBounds kernel loads):
 * factor f of row r at rabitqFactor(r, f).
 */
export const RABITQ_FACTORS = 4;

/** Index of factor f (0..3) of row r in RaBitQFastScan.factors. */
export function rabitqFactor(r: number, f: number): number {
  return (r >>> 5) * FS_FACTORS_PER_BLOCK + 32 * f + (r & 31);
}

export interface RaBitQFastScan {
  readonly d: number;
  /** ⌈d/4⌉ groups of 4 dimensions. */
  readonly M: number;
  n: number;
  packed: Uint8Array;
  /** FS_FACTORS_PER_BLOCK floats per block of 32 rows (capacity may exceed ⌈n/32⌉ blocks). */
  factors: Float32Array;
}

function signBytes(d: number): number {
  return (d + 7) >> 3;
}

/** The bound of ⟨q', r⟩ per unit |q'| and ε₀ for a code whose direction has cosine `cos` with r. */
function directionError(rn: number, cos: number, d: number): number {
  if (!(cos > 0)) return 0;
  const c2 = Math.min(1, cos * cos);
  return rn * Math.sqrt(1 / c2 - 1) / Math.sqrt(Math.max(1, d - 1));
}

function readFactors(codec: RaBitQCodec, codes: Uint8Array, n: number, out: Float32Array, at: number): void {
  const d = codec.d, cs = codec.codeSize, m = signBytes(d);
  if (codes.length < n * cs) throw new ZipmlError('E_ARG', `RaBitQ fast-scan: ${codes.length} bytes hold fewer than ${n} codes of ${cs} bytes`);
  const dv = new DataView(codes.buffer, codes.byteOffset, codes.byteLength);
  for (let i = 0; i < n; i++) {
    const o = i * cs + m, f = rabitqFactor(at + i, 0);
    const rn2 = dv.getFloat32(o, true), dp = dv.getFloat32(o + 4, true);
    const rn = Math.sqrt(rn2);
    out[f] = rn2;
    out[f + 32] = dp;
    out[f + 64] = dv.getFloat32(o + 8, true);
    out[f + 96] = dp > 0 ? directionError(rn, rn / dp, d) : 0;
  }
}

/** Packs n RaBitQ codes (any nbBits: the sign bits and the 1-bit factors are read). */
export function packRaBitQ(codec: RaBitQCodec, codes: Uint8Array, n: number): RaBitQFastScan {
  const d = codec.d, M = Math.ceil(d / 4);
  const factors = new Float32Array(fsBlocks(n) * FS_FACTORS_PER_BLOCK);
  readFactors(codec, codes, n, factors, 0);
  const { packed } = packFastScan(codes, n, M, codec.codeSize);
  return { d, M, n, packed, factors };
}

/** Appends nNew codes (amortized O(nNew): packed blocks and factors grow by doubling). */
export function appendRaBitQ(fs: RaBitQFastScan, codec: RaBitQCodec, codes: Uint8Array, nNew: number): void {
  if (codec.d !== fs.d) throw new ZipmlError('E_ARG', `RaBitQ fast-scan: codec d = ${codec.d}, list d = ${fs.d}`);
  const p: FastScanPacked = appendFastScan(fs.packed, fs.n, codes, nNew, fs.M, codec.codeSize);
  // Same capacity in blocks as the packed codes.
  const blocks = p.packed.length / fsBlockBytes(fs.M);
  if (fs.factors.length < blocks * FS_FACTORS_PER_BLOCK) {
    const f = new Float32Array(blocks * FS_FACTORS_PER_BLOCK);
    f.set(fs.factors.subarray(0, fsBlocks(fs.n) * FS_FACTORS_PER_BLOCK));
    fs.factors = f;
  }
  readFactors(codec, codes, nNew, fs.factors, fs.n);
  fs.packed = p.packed;
  fs.n += nNew;
}

export type RaBitQMetric = 'l2' | 'ip';

/** Rows per call of the exact re-ranker. */
const RERANK_CHUNK = 32;

/** One query's constants and tables. */
export interface RaBitQQuery {
  readonly metric: RaBitQMetric;
  /** The float table: M × 16. */
  readonly table: Float32Array;
  readonly lut: QuantizedLut;
  /** |q'|², |q'|, Σq'/√d, ⟨q, c⟩, ε₀·|q'|. */
  readonly qr2: number;
  readonly qrNorm: number;
  readonly sumTerm: number;
  readonly qDotC: number;
  readonly epsQ: number;
}

/** Builds the query's 4-dimension tables (float and quantized) for a trained RaBitQ codec. */
export function rabitqQuery(codec: RaBitQCodec, query: Float32Array, metric: RaBitQMetric): RaBitQQuery {
  const d = codec.d, M = Math.ceil(d / 4);
  if (!codec.isTrained) throw new ZipmlError('E_ARG', `${codec.name} fast-scan: the codec is not trained`);
  if (metric !== 'l2' && metric !== 'ip') throw new ZipmlError('E_ARG', `${codec.name} fast-scan: metric must be l2 or ip, got ${String(metric)}`);
  if (query.length !== d) throw new ZipmlError('E_ARG', `${codec.name} fast-scan: the query has ${query.length} values, expected ${d}`);
  const r = new Float32Array(d);
  for (let j = 0; j < d; j++) r[j] = query[j]! - codec.center[j]!;
  const q = codec.rotation ? codec.rotation.apply(r) : r;
  const inv = 1 / Math.sqrt(d);
  let sumQ = 0, qDotC = 0;
  for (let j = 0; j < d; j++) {
    sumQ += q[j]!;
    qDotC += query[j]! * codec.center[j]!;
  }
  const qr2 = normSq(q.subarray(0, d));
  const table = new Float32Array(M * 16);
  for (let g = 0; g < M; g++) {
    for (let v = 1; v < 16; v++) {
      const k = 31 - Math.clz32(v & -v); // lowest set bit: T[v] = T[v without it] + its weight
      const dim = 4 * g + k;
      table[g * 16 + v] = table[g * 16 + (v & (v - 1))]! + (dim < d ? 2 * q[dim]! * inv : 0);
    }
  }
  const qrNorm = Math.sqrt(qr2);
  return { metric, table, lut: quantizeLut(table, M, 'l2'), qr2, qrNorm, sumTerm: sumQ * inv, qDotC, epsQ: codec.epsilon0 * qrNorm };
}

/**
 * Estimates (distances for l2, inner products for ip) and their error bounds for rows [0, n)
 * from table sums `sums`: quantized integer sums when `quantized` (adds the table quantization
 * term to the bound), or float sums.
 */
export function rabitqEstimates(fs: RaBitQFastScan, rq: RaBitQQuery, sums: ArrayLike<number>, quantized: boolean, est: Float32Array, bound: Float32Array | null): void {
  const f = fs.factors, { lut } = rq;
  const inv = quantized ? 1 / lut.scale : 1, bias = quantized ? lut.bias : 0;
  const qerr = quantized ? lutErrorBound(lut) : 0;
  const l2 = rq.metric === 'l2';
  for (let i = 0; i < fs.n; i++) {
    const o = rabitqFactor(i, 0);
    const dp = f[o + 32]!;
    const e = dp * (bias + sums[i]! * inv - rq.sumTerm);
    est[i] = l2 ? Math.max(0, rq.qr2 + f[o]! - 2 * e) : rq.qDotC + f[o + 64]! + e;
    if (bound) bound[i] = (l2 ? 2 : 1) * (rq.epsQ * f[o + 96]! + dp * qerr);
  }
}

export interface RaBitQSearchOptions {
  filter?: ((label: number) => boolean) | undefined;
  labels?: Int32Array | undefined;
}

export interface RaBitQSearchResult {
  rows: Int32Array;
  /** Exact values from `exact` (distances for l2, inner products for ip), best first. */
  dist: Float32Array;
  /** Rows whose exact value was computed. */
  reranked: number;
}

/**
 * k nearest rows: fast-scan estimates with bounds for all rows, then exact values (the caller's
 * `exact(rows, out)`: distances for l2, inner products for ip) for rows in increasing order of
 * lower bound while the lower bound beats the k-th exact value found so far.
 */
export function rabitqSearch(fs: RaBitQFastScan, rq: RaBitQQuery, k: number, exact: (rows: Int32Array, out: Float32Array) => void, opts: RaBitQSearchOptions = {}): RaBitQSearchResult {
  const n = fs.n;
  // Keys (smaller is better) and their bounds from the fsBounds kernel: key = distance (l2) or
  // −inner product (ip), lower/upper = key ∓ bound.
  const l2 = rq.metric === 'l2', mult = l2 ? 2 : 1;
  const consts = Float32Array.of(
    l2 ? rq.qr2 : -rq.qDotC, l2 ? 1 : 0, l2 ? 0 : -1, l2 ? -2 : -1,
    rq.lut.bias - rq.sumTerm, 1 / rq.lut.scale, mult * rq.epsQ, mult * lutErrorBound(rq.lut),
  );
  const lower = new Float32Array(n), upper = new Float32Array(n);
  new BlockScanner(rq.lut.lut, fs.packed, n, fs.M).bounds(fs.factors, consts, lower, upper);
  const sign = l2 ? 1 : -1;
  // The k-th smallest upper bound caps which lower bounds can matter.
  const { filter, labels } = opts;
  const ub = new TopK(k);
  for (let r = 0; r < n; r++) {
    if (filter && !filter(labels ? labels[r]! : r)) {
      lower[r] = Infinity;
      continue;
    }
    if (upper[r]! <= ub.threshold) ub.push(upper[r]!, r);
  }
  const cap = ub.threshold;
  const cand: number[] = [];
  for (let r = 0; r < n; r++) if (lower[r]! <= cap) cand.push(r);
  cand.sort((a, b) => lower[a]! - lower[b]! || a - b);
  // Exact values in chunks (a batch call amortizes the re-ranker's setup and reaches its kernel).
  const heap = new TopK(k);
  const chunk = RERANK_CHUNK;
  const rows = new Int32Array(chunk), out = new Float32Array(chunk);
  let reranked = 0;
  for (let i = 0; i < cand.length && lower[cand[i]!]! < heap.threshold; i += chunk) {
    let c = 0;
    for (let j = i; j < Math.min(cand.length, i + chunk) && lower[cand[j]!]! < heap.threshold; j++) rows[c++] = cand[j]!;
    exact(rows.subarray(0, c), out.subarray(0, c));
    reranked += c;
    for (let j = 0; j < c; j++) heap.push(sign * out[j]!, labels ? labels[rows[j]!]! : rows[j]!);
  }
  const best = heap.sorted();
  return { rows: Int32Array.from(best.labels), dist: Float32Array.from(best.values, (v) => sign * v), reranked };
}

/** An `exact` for rabitqSearch from codes of a (multi-bit) codec: its estimator on the rows' codes. */
export function codecReranker(codec: RaBitQCodec, query: Float32Array, metric: RaBitQMetric, codes: Uint8Array): (rows: Int32Array, out: Float32Array) => void {
  const dist = codec.distances(query, metric);
  const cs = codec.codeSize;
  return (rows, out) => {
    const g = new Uint8Array(rows.length * cs);
    rows.forEach((r, i) => g.set(codes.subarray(r * cs, (r + 1) * cs), i * cs));
    dist(g, rows.length, out);
  };
}
