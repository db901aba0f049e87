/**
 * Non-uniform (k-means) weight quantization in the manner of SqueezeLLM (Kim et al. 2023): for each
 * row of W (or each (row, group)) a 1-D weighted k-means with k = 2^bits clusters of the weights,
 * minimising Σ a_c (w_c − T[q_c])², and the centroids become the row's value table (table.ts).
 *
 * The weights a_c are the sensitivities. SqueezeLLM uses the Fisher diagonal (squared gradients of
 * the loss); this runtime has no backprop, so the default is the GPTQ/OBS proxy diag(H) = Σ x_c² over
 * the layer's calibration inputs (the diagonal of the Hessian of ‖(W − Ŵ)X‖², which weights every
 * weight of input column c alike), captured with gptq.ts's captureHessians. A per-weight
 * sensitivity (rows × cols, e.g. a Fisher diagonal computed elsewhere) is accepted too.
 *
 * 1-D k-means is solved exactly per Lloyd step on sorted values: clusters are contiguous runs
 * between centroid midpoints, and each centroid is the weighted mean of its run (prefix sums, so a
 * step costs O(k log n)). Three deterministic starts (weighted quantiles, plain quantiles, seeded
 * weighted k-means++), empty clusters relocated to the worst-fit value, iteration until the
 * assignment stops changing (then the centroids are exact fixed points of the update) or maxIter;
 * the start with the lowest weighted loss wins. Centroids are rounded to fp16 and every weight
 * takes its nearest fp16 entry.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import type { LinearName, LlamaModel } from '../llm/model.js';
import { DenseLinear } from '../llm/linear.js';
import { captureHessians } from './gptq.js';
import type { QuantizedModel } from './model.js';
import { type QuantGroup, QUANT_GROUPS, putCode, rowBytesFor } from './packed.js';
import { QuantArena } from './qmatvec.js';
import { type TableBits, type TableMatrix, TABLE_BITS, TableLinear, tableBitsPerWeight, tablesPerRow } from './table.js';

export interface KMeansOptions {
  bits: TableBits;
  /** One table per row ('row', SqueezeLLM's choice) or per (row, group). Default 'row'. */
  scope?: 'row' | QuantGroup;
  /** Lloyd iterations at most; default 100. */
  maxIter?: number;
}

export interface KMeans1D {
  /** Ascending centroids (k of them). */
  centroids: Float64Array;
  /** Cluster of each value (in the input order). */
  assign: Uint8Array;
  iterations: number;
  converged: boolean;
  /** Σ a (v − centroid)². */
  loss: number;
}

/** Sorted values with their weights and prefix sums (A = Σ a, B = Σ a·v), shared by every start. */
interface Sorted {
  n: number;
  order: number[];
  v: Float64Array;
  a: Float64Array;
  A: Float64Array;
  B: Float64Array;
}

function sortWeighted(values: ArrayLike<number>, weights: ArrayLike<number>, uniform: boolean): Sorted {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => values[x]! - values[y]!);
  const v = Float64Array.from(order, (i) => values[i]!);
  const a = Float64Array.from(order, (i) => (uniform ? 1 : weights[i]!));
  const A = new Float64Array(n + 1), B = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    A[i + 1] = A[i]! + a[i]!;
    B[i + 1] = B[i]! + a[i]! * v[i]!;
  }
  return { n, order, v, a, A, B };
}

/** Centroids at the (j + ½)/k points of the cumulative weights `cum` (prefix sums over sorted v). */
function quantileInit(s: Sorted, cum: Float64Array, k: number): Float64Array {
  const c = new Float64Array(k), total = cum[s.n]!;
  for (let j = 0, i = 0; j < k; j++) {
    const target = ((j + 0.5) / k) * total;
    while (i < s.n - 1 && cum[i + 1]! < target) i++;
    c[j] = s.v[i]!;
  }
  return c;
}

/** Weighted k-means++ seeding (Arthur & Vassilvitskii) with a seeded generator. */
function plusPlusInit(s: Sorted, k: number, seed: number): Float64Array {
  let x = seed >>> 0 || 1;
  const rand = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const pick = (mass: Float64Array, total: number): number => {
    let t = rand() * total, i = 0;
    while (i < s.n - 1 && (t -= mass[i]!) > 0) i++;
    return i;
  };
  const c = new Float64Array(k), d = new Float64Array(s.n).fill(Infinity), mass = new Float64Array(s.n);
  c[0] = s.v[pick(s.a, s.A[s.n]!)]!;
  for (let j = 1; j < k; j++) {
    let total = 0;
    for (let i = 0; i < s.n; i++) {
      d[i] = Math.min(d[i]!, (s.v[i]! - c[j - 1]!) ** 2);
      mass[i] = s.a[i]! * d[i]!;
      total += mass[i]!;
    }
    c[j] = total > 0 ? s.v[pick(mass, total)]! : c[j - 1]!;
  }
  return c.sort();
}

/**
 * Lloyd iterations from centroids c (changed in place, kept ascending). Clusters are runs of the
 * sorted values: ends[j] is one past cluster j's last value (values ≤ the midpoint of c_j and
 * c_j+1; a value exactly between goes to the lower). An empty cluster is moved to the value with
 * the largest weighted error, as Faiss and scikit-learn relocate empty clusters.
 */
function lloyd(s: Sorted, c: Float64Array, maxIter: number): { ends: Int32Array; iterations: number; converged: boolean; loss: number } {
  const k = c.length, { n, v, a, A, B } = s;
  const ends = new Int32Array(k), prev = new Int32Array(k).fill(-1);
  const split = (): void => {
    for (let j = 0; j < k - 1; j++) {
      const mid = (c[j]! + c[j + 1]!) / 2;
      let lo = j === 0 ? 0 : ends[j - 1]!, hi = n;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (v[m]! <= mid) lo = m + 1;
        else hi = m;
      }
      ends[j] = lo;
    }
    ends[k - 1] = n;
  };
  let it = 0, converged = false;
  for (;;) {
    split();
    if (ends.every((e, j) => e === prev[j])) {
      converged = true;
      break;
    }
    if (it === maxIter) break;
    prev.set(ends);
    const empty: number[] = [];
    for (let j = 0, st = 0; j < k; st = ends[j]!, j++) {
      const e = ends[j]!, m = A[e]! - A[st]!;
      if (m > 0) c[j] = (B[e]! - B[st]!) / m;
      else empty.push(j);
    }
    if (empty.length > 0) {
      const err = new Float64Array(n);
      for (let j = 0, st = 0; j < k; st = ends[j]!, j++) for (let i = st; i < ends[j]!; i++) err[i] = a[i]! * (v[i]! - c[j]!) ** 2;
      for (const j of empty) {
        let best = 0;
        for (let i = 1; i < n; i++) if (err[i]! > err[best]!) best = i;
        if (!(err[best]! > 0)) break; // every value is already exact
        c[j] = v[best]!;
        err[best] = 0;
      }
    }
    c.sort();
    it++;
  }
  let loss = 0;
  for (let j = 0, st = 0; j < k; st = ends[j]!, j++) for (let i = st; i < ends[j]!; i++) loss += a[i]! * (v[i]! - c[j]!) ** 2;
  return { ends, iterations: it, converged, loss };
}

/**
 * Weighted 1-D k-means of `values` (weights ≥ 0, same length; all-zero weights count as equal).
 * Three deterministic starts, the best loss kept: weighted quantiles, unweighted quantiles, and
 * weighted k-means++ (a heavy-tailed sensitivity piles the weighted quantiles onto a few values,
 * where a single start can stall). Returns ascending centroids and each value's cluster.
 */
export function weightedKMeans1D(values: ArrayLike<number>, weights: ArrayLike<number>, k: number, maxIter = 100): KMeans1D {
  const n = values.length;
  if (n < 1 || weights.length !== n || !Number.isInteger(k) || k < 1 || k > 256) throw new ZipmlError('E_ARG', `kmeans: ${n} values, ${weights.length} weights, k = ${k}`);
  let wsum = 0;
  for (let i = 0; i < n; i++) wsum += weights[i]!;
  const s = sortWeighted(values, weights, !(wsum > 0));
  const count = Float64Array.from({ length: n + 1 }, (_, i) => i);
  let best: (ReturnType<typeof lloyd> & { c: Float64Array }) | undefined;
  for (const c of [quantileInit(s, s.A, k), quantileInit(s, count, k), plusPlusInit(s, k, 0x9e3779b9 ^ n)]) {
    const r = lloyd(s, c, maxIter);
    if (!best || r.loss < best.loss) best = { ...r, c };
  }
  const assign = new Uint8Array(n);
  for (let j = 0, st = 0; j < k; st = best!.ends[j]!, j++) for (let i = st; i < best!.ends[j]!; i++) assign[s.order[i]!] = j;
  return { centroids: best!.c, assign, iterations: best!.iterations, converged: best!.converged, loss: best!.loss };
}

/** Index of the entry of `tab` (ascending) nearest to x; ties go to the lower entry. */
function nearest(tab: Float64Array, x: number): number {
  let best = 0;
  for (let e = 1; e < tab.length; e++) if (Math.abs(x - tab[e]!) < Math.abs(x - tab[best]!)) best = e;
  return best;
}

/**
 * k-means quantization of row-major W (rows × cols) into value-table codes. `sensitivity`: per
 * input column (cols values, e.g. diag H), per weight (rows × cols), or null for plain k-means.
 */
export function quantizeKMeans(w: Float32Array, rows: number, cols: number, sensitivity: ArrayLike<number> | null, opts: KMeansOptions): TableMatrix {
  const bits = opts.bits, scope = opts.scope ?? 'row', maxIter = opts.maxIter ?? 100;
  if (!TABLE_BITS.includes(bits)) throw new ZipmlError('E_ARG', `kmeans: bit width ${bits} is not one of ${TABLE_BITS.join(', ')}`);
  if (scope !== 'row' && !QUANT_GROUPS.includes(scope)) throw new ZipmlError('E_ARG', `kmeans: scope ${scope} is not 'row' or one of ${QUANT_GROUPS.join(', ')}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows * cols !== w.length) throw new ZipmlError('E_ARG', `kmeans: shape ${rows} x ${cols} does not match ${w.length} weights`);
  if (sensitivity && sensitivity.length !== cols && sensitivity.length !== rows * cols) throw new ZipmlError('E_ARG', `kmeans: ${sensitivity.length} sensitivities for ${rows} x ${cols} (give cols or rows x cols)`);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!) || Math.abs(w[i]!) > 65504) throw new ZipmlError('E_ARG', `kmeans: weight ${i} is ${w[i]} (not finite in fp16)`);
  if (sensitivity) for (let i = 0; i < sensitivity.length; i++) if (!(sensitivity[i]! >= 0) || !Number.isFinite(sensitivity[i]!)) throw new ZipmlError('E_ARG', `kmeans: sensitivity ${i} is ${sensitivity[i]}`);
  const group: QuantGroup | 0 = scope === 'row' ? 0 : scope;
  const span = group || cols, nT = tablesPerRow({ cols, group }), k = 1 << bits;
  const rowBytes = rowBytesFor(cols, bits);
  const t: TableMatrix = { rows, cols, bits, group, rowBytes, codes: new Uint8Array(rows * rowBytes), tables: new Uint16Array((rows * nT) << bits) };
  const perWeight = sensitivity?.length === rows * cols && rows * cols !== cols;
  const tab = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nT; g++) {
      const c0 = g * span, c1 = Math.min(cols, c0 + span);
      const vals = w.subarray(r * cols + c0, r * cols + c1);
      const wts = sensitivity ? Array.from({ length: c1 - c0 }, (_, i) => sensitivity[(perWeight ? r * cols : 0) + c0 + i]!) : new Float64Array(c1 - c0);
      const km = weightedKMeans1D(vals, wts, k, maxIter);
      const base = (r * nT + g) << bits;
      for (let e = 0; e < k; e++) {
        t.tables[base + e] = f32ToF16Bits(km.centroids[e]!);
        tab[e] = f16BitsToF32(t.tables[base + e]!);
      }
      for (let c = c0; c < c1; c++) putCode(t.codes, rowBytes, bits, r, c, nearest(tab, w[r * cols + c]!));
    }
  }
  return t;
}

// wq/wk/wv share their input, and w1/w3 theirs: captureHessians keeps one accumulator per input.
const inputKey = (l: number, name: LinearName): string => `${l}:${name === 'wk' || name === 'wv' ? 'wq' : name === 'w3' ? 'w1' : name}`;

/**
 * Every block linear layer of `model` k-means quantized, sensitivity-weighted by diag(H) from one
 * fp32 pass over `calibration` (token documents); with no documents, plain k-means. The token
 * embedding / classifier stay fp32, as in quantizeModelRTN.
 */
export function quantizeModelKMeans(model: LlamaModel, calibration: readonly (readonly number[])[], opts: KMeansOptions & LongOpOptions): QuantizedModel {
  const hs = calibration.length > 0 ? captureHessians(model, calibration, { signal: opts.signal }) : null;
  const arena = new QuantArena();
  let bits = 0, weights = 0, done = 0;
  const q = model.mapLinears((l, name, op) => {
    throwIfAborted(opts.signal, 'kmeans');
    if (!(op instanceof DenseLinear)) throw new ZipmlError('E_ARG', `kmeans: layer ${l} ${name} is not an fp32 layer`);
    let diag: Float64Array | null = null;
    if (hs) {
      const a = hs.get(inputKey(l, name));
      if (!a) throw new ZipmlError('E_ARG', `kmeans: no calibration inputs reached layer ${l} ${name}`);
      diag = Float64Array.from({ length: op.cols }, (_, c) => a.h[c * op.cols + c]!);
    }
    const t = quantizeKMeans(op.weights, op.rows, op.cols, diag, opts);
    bits += tableBitsPerWeight(t) * op.rows * op.cols;
    weights += op.rows * op.cols;
    opts.onProgress?.(++done, 7 * model.config.nLayers);
    return new TableLinear(t, arena);
  });
  return { model: q, bitsPerWeight: bits / weights, weights };
}
