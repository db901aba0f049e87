/**
 * Fast-scan search drivers, called per query (and per IVF list): the threshold-scan kernel
 * returns only rows whose uint16 sum is within the collector's current limit; the collector
 * tightens the limit as it fills, so after the first few blocks almost no row leaves the kernel
 * (Faiss's SIMD result handlers, with the heap on the JS side between kernel calls).
 *
 * - `fastScanInto`: one list into any collector (an IVF search passes one collector over its
 *   probed lists, each with its own table quantized by quantizeLuts to a common scale);
 * - `fastScanKnn`: the k best rows by approximate distance; `fastScanCandidates` the k·kFactor
 *   best, for a re-ranking stage (Refine);
 * - `fastScanExact`: the exact top-k of the float table scan (pq4Scan / lutScan on the same
 *   codes): a second threshold pass keeps every row within the quantization error bound of the
 *   k-th sum, and those are re-ranked with the float table, added in lutScan's order.
 */
import { ZipmlError } from '../../core/errors.js';
import { BlockScanner } from './kernels.js';
import { TopK, type Collector } from '../search/topk.js';
import { lutKey, lutLimit, type QuantizedLut } from './lut.js';
import { fsCode } from './layout.js';

export interface FastScanOptions {
  /** Keeps a row only if true; receives the row's label (its row number unless `labels`). */
  filter?: ((label: number) => boolean) | undefined;
  /** Label of each row of the list (e.g. ids in an IVF list); default the row number. */
  labels?: Int32Array | undefined;
  /** Only rows whose key (distance, or negated inner product) is below this are considered. */
  threshold?: number | undefined;
}

export interface FastScanResult {
  /** Labels (row numbers unless `labels` was given), best first; fewer than k if fewer rows match. */
  rows: Int32Array;
  /** Approximate distances ('l2') or inner products ('ip') of the quantized tables. */
  approx: Float32Array;
}

function checkQuantized(q: QuantizedLut, M: number): void {
  if (q.M !== M) throw new ZipmlError('E_ARG', `fast-scan: the table is for M = ${q.M}, the codes have M = ${M}`);
}

/**
 * Scans one packed list of n rows into `collector`, keys lutKey(q, sum). The integer limit is
 * recomputed from collector.threshold (and opts.threshold) after every kernel call.
 */
export function fastScanInto(collector: Collector, packed: Uint8Array, n: number, M: number, q: QuantizedLut, opts: FastScanOptions = {}): void {
  checkQuantized(q, M);
  const { filter, labels } = opts;
  if (labels && labels.length < n) throw new ZipmlError('E_ARG', `fast-scan: ${labels.length} labels for ${n} rows`);
  const cap = opts.threshold ?? Infinity;
  const s = new BlockScanner(q.lut, packed, n, M);
  for (let b = 0; b < s.nblocks; b = s.next) {
    const worst = Math.min(cap, collector.threshold);
    const cnt = s.scan(b, s.nblocks, lutLimit(q, worst));
    for (let i = 0; i < cnt; i++) {
      const key = lutKey(q, s.sums[i]!);
      // Equal keys may still enter on a smaller label: the collector decides.
      if (!(key < cap) || key > collector.threshold) continue;
      const label = labels ? labels[s.rows[i]!]! : s.rows[i]!;
      if (filter && !filter(label)) continue;
      collector.push(key, label);
    }
  }
}

/** Approximate values in metric units from min-search keys. */
function toApprox(q: QuantizedLut, keys: Float64Array): Float32Array {
  return Float32Array.from(keys, (k) => (q.metric === 'ip' ? -k : k));
}

/** The k best rows of one packed list by approximate distance (quantized tables). */
export function fastScanKnn(packed: Uint8Array, n: number, M: number, q: QuantizedLut, k: number, opts: FastScanOptions = {}): FastScanResult {
  const heap = new TopK(k);
  fastScanInto(heap, packed, n, M, q, opts);
  const { labels, values } = heap.sorted();
  return { rows: Int32Array.from(labels), approx: toApprox(q, values) };
}

/** The k·kFactor best rows by approximate distance: candidates for an exact re-ranking stage. */
export function fastScanCandidates(packed: Uint8Array, n: number, M: number, q: QuantizedLut, k: number, kFactor: number, opts: FastScanOptions = {}): FastScanResult {
  if (!(kFactor >= 1)) throw new ZipmlError('E_ARG', `fast-scan: kFactor ${kFactor} must be >= 1`);
  return fastScanKnn(packed, n, M, q, Math.ceil(k * kFactor), opts);
}

/**
 * Σ_m t[16m + code m of row r], added in f32 in order m = 0, 1, … — lutScanReference's (and
 * pq4Scan's) value for the row, bit for bit.
 */
export function floatTableSum(t: Float32Array, packed: Uint8Array, M: number, r: number): number {
  let acc = 0;
  for (let m = 0; m < M; m++) acc = Math.fround(acc + t[m * 16 + fsCode(packed, M, r, m)]!);
  return acc;
}

/**
 * The exact top-k of the float table scan: fast-scan finds the k-th smallest sum A; every row of
 * the float top-k has a sum ≤ A + M (each quantized term is within half a unit of the scaled
 * float term), so a second threshold pass at A + M + 1 (one unit for float rounding of the float
 * sums) collects a candidate set that contains it, re-ranked with `t` (the float table q was
 * quantized from). Equal float values are ordered by row. Returns labels and float values
 * (distances for 'l2', inner products for 'ip'), best first.
 */
export function fastScanExact(packed: Uint8Array, n: number, M: number, q: QuantizedLut, t: Float32Array, k: number, opts: FastScanOptions = {}): { rows: Int32Array; dist: Float32Array; candidates: number } {
  checkQuantized(q, M);
  if (t.length < M * 16) throw new ZipmlError('E_ARG', `fast-scan: the float table has ${t.length} values, expected ${M * 16}`);
  const first = new TopK(k);
  fastScanInto(first, packed, n, M, q, opts);
  const heap = new TopK(k);
  const kept = first.sorted().values;
  if (kept.length === 0) return { rows: new Int32Array(0), dist: new Float32Array(0), candidates: 0 };
  // The largest sum kept (keys are monotone in sums).
  const kthSum = Math.round((kept[kept.length - 1]! - q.bias) * q.scale);
  const limit = Math.min(65535, kthSum + M + 1);
  const sign = q.metric === 'ip' ? -1 : 1;
  const s = new BlockScanner(q.lut, packed, n, M);
  let candidates = 0;
  for (let b = 0; b < s.nblocks; b = s.next) {
    const cnt = s.scan(b, s.nblocks, limit);
    for (let i = 0; i < cnt; i++) {
      const r = s.rows[i]!;
      const label = opts.labels ? opts.labels[r]! : r;
      if (opts.filter && !opts.filter(label)) continue;
      const key = sign * floatTableSum(t, packed, M, r);
      if (opts.threshold !== undefined && !(key < opts.threshold)) continue;
      candidates++;
      heap.push(key, label);
    }
  }
  const { labels, values } = heap.sorted();
  return { rows: Int32Array.from(labels), dist: Float32Array.from(values, (v) => sign * v), candidates };
}
