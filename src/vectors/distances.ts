/**
 * Float distances for zipml/vectors: one query against many rows (squared L2, inner product), row
 * norms, all-pairs blocks (the engine of exact k-NN) and nearest-centroid search (the assignment
 * step of k-means).
 *
 * The WebAssembly kernel (src/kernels/assembly/distances.ts) does the arithmetic; this module
 * copies rows into its memory through bounded windows, so memory grows by a few MiB whatever the
 * size of the data. Each kernel has a plain-TS reference here (the path taken when SIMD is missing
 * or ZIPML_KERNELS=reference), and test/vectors/distances.test.ts holds the two together.
 *
 * All-pairs values use ||x||^2 + ||c||^2 - 2<x, c> for L2, as Faiss does: the inner products are
 * a matrix product, which is what the kernel is good at. The cost is cancellation for near
 * duplicates (absolute error about d * 2^-24 * (||x||^2 + ||c||^2)); knn() re-ranks its candidates
 * exactly, so ground truth does not inherit it.
 */
import { ZipmlError } from '../core/errors.js';
import { wasmKernel, privateKernel, type WasmKernel } from '../kernels/loader.js';
import * as distancesWasm from '../kernels/generated/distances.js';

interface DistanceExports {
  l2sqrN(q: number, x: number, n: number, d: number, out: number): void;
  ipN(q: number, x: number, n: number, d: number, out: number): void;
  norms(x: number, n: number, d: number, out: number): void;
  normalize(x: number, n: number, d: number): void;
  pack(src: number, n: number, d: number, dst: number): void;
  values(
    x: number, nx: number, d: number, packed: number, nc: number, rowAdd: number, colAdd: number, alpha: number,
    out: number, ldo: number,
  ): void;
  argmin(
    x: number, nx: number, d: number, packed: number, nc: number, colAdd: number, alpha: number, j0: number,
    best: number, bestIdx: number, second: number,
  ): void;
  argminInit(n: number, best: number, bestIdx: number, second: number): void;
  argminFinish(n: number, best: number, bestIdx: number, second: number, outVal: number, outIdx: number, outSecond: number): void;
  assignedValues(x: number, n: number, d: number, c: number, colAdd: number, alpha: number, assign: number, out: number): void;
}

type Kernel = WasmKernel<DistanceExports>;

function kernel(): Kernel | null {
  return wasmKernel<DistanceExports>('distances', distancesWasm.base64);
}

// Window sizes. Streamed rows: 1 MiB per copy keeps the copy cost amortized and memory small.
const STREAM_BYTES = 1 << 20;
// Packed column rows per chunk: every 4-row tile of queries re-reads the whole chunk, so it should
// stay in L2. Measured on the bench Xeon (4 MiB L2) at d = 128 and 768: 64 KiB to 1 MiB within 3%
// of each other, 2-4 MiB 3-8% slower; 512 KiB leaves room for smaller L2s (d = 128: 1024 rows).
const CHUNK_BYTES = 512 << 10;
// Query rows per all-pairs block: the value block (rows x chunk floats) is at most 1 MiB, which the
// caller then scans while it is still in cache.
const BLOCK_VALUES = 1 << 18;

/** Rows per window of `budget` bytes, at least `min`, a multiple of `multiple`. */
function windowRows(d: number, budget: number, min: number, multiple: number): number {
  const rows = Math.max(min, Math.floor(budget / (4 * d)));
  return Math.max(multiple, rows - (rows % multiple));
}

/** Reserves consecutive 64-byte-aligned regions of kernel memory; returns their addresses. */
function regions(k: Kernel, sizes: readonly number[]): number[] {
  const offsets: number[] = [];
  let total = 0;
  for (const s of sizes) {
    offsets.push(total);
    total += (s + 63) & ~63;
  }
  const base = k.reserve(total);
  return offsets.map((o) => base + o);
}

function f32(k: Kernel, ptr: number, n: number): Float32Array {
  return new Float32Array(k.memory.buffer, ptr, n);
}

// ---------------------------------------------------------------------------------------------
// Argument checks shared with knn and kmeans.

/** Checks that d is a positive integer and x holds whole rows; returns the row count. */
export function rowCount(x: Float32Array, d: number, what: string): number {
  if (!Number.isInteger(d) || d < 1) throw new ZipmlError('E_ARG', `dimension d must be an integer >= 1, got ${String(d)}`);
  if (!(x instanceof Float32Array)) throw new ZipmlError('E_ARG', `${what} must be a Float32Array`);
  if (x.length % d !== 0) {
    throw new ZipmlError('E_ARG', `${what} has ${x.length} values, not a multiple of d = ${d}`);
  }
  return x.length / d;
}

/** Throws E_ARG at the first NaN or infinite value of x. */
export function checkFinite(x: Float32Array, d: number, what: string): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // v - v is NaN exactly for NaN and +-Infinity; cheaper than Number.isFinite per element.
    if (v - v !== 0) {
      throw new ZipmlError('E_ARG', `${what} holds ${String(v)} at row ${Math.floor(i / d)}, dimension ${i % d}`);
    }
  }
}

function outArray(out: Float32Array | undefined, n: number, what: string): Float32Array {
  if (out === undefined) return new Float32Array(n);
  if (out.length !== n) throw new ZipmlError('E_ARG', `${what}: out has length ${out.length}, expected ${n}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// References: plain loops, accumulating in double. The WebAssembly path sums in float32 in a
// different order, so the two agree to a relative error of about d * 2^-24 (the tests state it).

/** out[i] = ||q - x_i||^2 for the n rows of x. */
export function l2sqrReference(q: Float32Array, x: Float32Array, n: number, d: number, out: Float32Array): void {
  for (let i = 0, o = 0; i < n; i++, o += d) {
    let s = 0;
    for (let t = 0; t < d; t++) {
      const e = q[t]! - x[o + t]!;
      s += e * e;
    }
    out[i] = s;
  }
}

/** out[i] = <q, x_i>. */
export function ipReference(q: Float32Array, x: Float32Array, n: number, d: number, out: Float32Array): void {
  for (let i = 0, o = 0; i < n; i++, o += d) {
    let s = 0;
    for (let t = 0; t < d; t++) s += q[t]! * x[o + t]!;
    out[i] = s;
  }
}

/** out[i] = ||x_i||^2. */
export function normsReference(x: Float32Array, n: number, d: number, out: Float32Array): void {
  for (let i = 0, o = 0; i < n; i++, o += d) {
    let s = 0;
    for (let t = 0; t < d; t++) s += x[o + t]! * x[o + t]!;
    out[i] = s;
  }
}

/**
 * The all-pairs block: out[i * ldo + j] = rowAdd[i] + colAdd[j] + alpha * <x_i, c_j> for nx rows
 * of x and nc rows of c (what the kernel's values() computes).
 */
export function pairValuesReference(
  x: Float32Array, nx: number, c: Float32Array, nc: number, d: number,
  rowAdd: Float32Array, colAdd: Float32Array, alpha: number, out: Float32Array, ldo: number,
): void {
  for (let i = 0; i < nx; i++) {
    const xo = i * d;
    for (let j = 0; j < nc; j++) {
      const co = j * d;
      let s = 0;
      for (let t = 0; t < d; t++) s += x[xo + t]! * c[co + t]!;
      out[i * ldo + j] = rowAdd[i]! + colAdd[j]! + alpha * s;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One query against many rows.

type RowOp = 'l2sqrN' | 'ipN' | 'norms';

/** Runs a one-query kernel over x in STREAM_BYTES windows. `q` is ignored by 'norms'. */
function streamRows(k: Kernel, op: RowOp, q: Float32Array | null, x: Float32Array, n: number, d: number, out: Float32Array): void {
  const rows = windowRows(d, STREAM_BYTES, 1, 1);
  const [qp, xp, op0] = regions(k, [4 * d, 4 * d * Math.min(rows, n), 4 * Math.min(rows, n)]) as [number, number, number];
  if (q) f32(k, qp, d).set(q);
  for (let i = 0; i < n; i += rows) {
    const m = Math.min(rows, n - i);
    f32(k, xp, m * d).set(x.subarray(i * d, (i + m) * d));
    if (op === 'norms') k.exports.norms(xp, m, d, op0);
    else k.exports[op](qp, xp, m, d, op0);
    out.set(f32(k, op0, m), i);
  }
}

function checkQuery(query: Float32Array, d: number): void {
  if (!(query instanceof Float32Array) || query.length !== d) {
    throw new ZipmlError('E_ARG', `query must be a Float32Array of length d = ${d}`);
  }
}

type QueryReference = (q: Float32Array, x: Float32Array, n: number, d: number, out: Float32Array) => void;

function oneQuery(op: 'l2sqrN' | 'ipN', ref: QueryReference, query: Float32Array, x: Float32Array, d: number, out: Float32Array | undefined, what: string): Float32Array {
  const n = rowCount(x, d, 'x');
  checkQuery(query, d);
  const res = outArray(out, n, what);
  const k = kernel();
  if (k) streamRows(k, op, query, x, n, d, res);
  else ref(query, x, n, d, res);
  return res;
}

/** Squared L2 distances from `query` (d floats) to each row of `x` (n x d). */
export function l2sqrDistances(query: Float32Array, x: Float32Array, d: number, out?: Float32Array): Float32Array {
  return oneQuery('l2sqrN', l2sqrReference, query, x, d, out, 'l2sqrDistances');
}

/** Inner products of `query` (d floats) with each row of `x` (n x d). */
export function innerProducts(query: Float32Array, x: Float32Array, d: number, out?: Float32Array): Float32Array {
  return oneQuery('ipN', ipReference, query, x, d, out, 'innerProducts');
}

/** Squared L2 norm of each row of `x` (n x d). */
export function squaredNorms(x: Float32Array, d: number, out?: Float32Array): Float32Array {
  const n = rowCount(x, d, 'x');
  const res = outArray(out, n, 'squaredNorms');
  const k = kernel();
  if (k) streamRows(k, 'norms', null, x, n, d, res);
  else normsReference(x, n, d, res);
  return res;
}

/** Scales the n rows of x to unit L2 norm in place (zero rows stay zero, as in Faiss). */
export function normalizeReference(x: Float32Array, n: number, d: number): void {
  for (let i = 0, o = 0; i < n; i++, o += d) {
    let s = 0;
    for (let t = 0; t < d; t++) s += x[o + t]! * x[o + t]!;
    if (s === 0) continue;
    const inv = Math.fround(1 / Math.sqrt(Math.fround(s)));
    for (let t = 0; t < d; t++) x[o + t] = x[o + t]! * inv;
  }
}

/** A copy of x (n x d) with rows scaled to unit L2 norm; zero rows stay zero. */
export function normalizeRows(x: Float32Array, d: number): Float32Array {
  const n = rowCount(x, d, 'x');
  const out = x.slice();
  const k = kernel();
  if (!k) {
    normalizeReference(out, n, d);
    return out;
  }
  const rows = windowRows(d, STREAM_BYTES, 1, 1);
  const [xp] = regions(k, [4 * d * Math.min(rows, n)]) as [number];
  for (let i = 0; i < n; i += rows) {
    const m = Math.min(rows, n - i);
    const win = f32(k, xp, m * d);
    win.set(x.subarray(i * d, (i + m) * d));
    k.exports.normalize(xp, m, d);
    out.set(win, i * d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// All pairs.

/**
 * What a block of values means. 'l2': the approximate squared distance ||q||^2 + ||b||^2 -
 * 2<q, b> (can dip slightly below 0); 'ip': minus the inner product; 'cos': minus the inner
 * product of the rows scaled to unit norm (scaled window by window, never as a whole copy).
 * Smaller is closer for all three.
 */
export type PairKind = 'l2' | 'ip' | 'cos';

/**
 * Receives one block of values: rows q0..q0+nq of the queries against rows b0..b0+nb of the base,
 * value (i, j) at values[i * ld + j]. The view is only valid during the call.
 */
export type PairVisitor = (q0: number, nq: number, b0: number, nb: number, values: Float32Array, ld: number) => void;

/**
 * Visits every (query, base) pair once, block by block: base chunks outermost (each copied and
 * packed once), query blocks inside. `between` runs after each base chunk (progress, abort).
 */
export function pairBlocks(
  queries: Float32Array, nq: number, base: Float32Array, nb: number, d: number, kind: PairKind,
  visit: PairVisitor, between?: (basesDone: number) => void,
): void {
  const alpha = kind === 'l2' ? -2 : -1;
  const chunk = Math.min(windowRows(d, CHUNK_BYTES, 8, 8), (nb + 7) & ~7);
  const perBlock = Math.max(4, Math.min(256, Math.floor(BLOCK_VALUES / chunk)));
  const qRows = Math.min(perBlock - (perBlock % 4), (nq + 3) & ~3);
  const k = kernel();
  if (!k) {
    pairBlocksReference(queries, nq, base, nb, d, kind, alpha, chunk, qRows, visit, between);
    return;
  }
  const [raw, packed, colAdd, qWin, rowAdd, out] = regions(k, [
    4 * d * chunk, 4 * d * chunk, 4 * chunk, 4 * d * qRows, 4 * qRows, 4 * qRows * chunk,
  ]) as [number, number, number, number, number, number];
  for (let b0 = 0; b0 < nb; b0 += chunk) {
    const m = Math.min(chunk, nb - b0);
    f32(k, raw, m * d).set(base.subarray(b0 * d, (b0 + m) * d));
    if (kind === 'cos') k.exports.normalize(raw, m, d);
    k.exports.pack(raw, m, d, packed);
    if (kind === 'l2') k.exports.norms(raw, m, d, colAdd);
    else f32(k, colAdd, m).fill(0);
    for (let q0 = 0; q0 < nq; q0 += qRows) {
      const r = Math.min(qRows, nq - q0);
      f32(k, qWin, r * d).set(queries.subarray(q0 * d, (q0 + r) * d));
      if (kind === 'cos') k.exports.normalize(qWin, r, d);
      if (kind === 'l2') k.exports.norms(qWin, r, d, rowAdd);
      else f32(k, rowAdd, r).fill(0);
      k.exports.values(qWin, r, d, packed, m, rowAdd, colAdd, alpha, out, m);
      visit(q0, r, b0, m, f32(k, out, r * m), m);
    }
    between?.(b0 + m);
  }
}

function pairBlocksReference(
  queries: Float32Array, nq: number, base: Float32Array, nb: number, d: number, kind: PairKind, alpha: number,
  chunk: number, qRows: number, visit: PairVisitor, between?: (basesDone: number) => void,
): void {
  const out = new Float32Array(qRows * chunk);
  const colAdd = new Float32Array(chunk);
  const rowAdd = new Float32Array(qRows);
  for (let b0 = 0; b0 < nb; b0 += chunk) {
    const m = Math.min(chunk, nb - b0);
    const c = kind === 'cos' ? base.slice(b0 * d, (b0 + m) * d) : base.subarray(b0 * d, (b0 + m) * d);
    if (kind === 'cos') normalizeReference(c, m, d);
    if (kind === 'l2') normsReference(c, m, d, colAdd);
    for (let q0 = 0; q0 < nq; q0 += qRows) {
      const r = Math.min(qRows, nq - q0);
      const x = kind === 'cos' ? queries.slice(q0 * d, (q0 + r) * d) : queries.subarray(q0 * d, (q0 + r) * d);
      if (kind === 'cos') normalizeReference(x, r, d);
      if (kind === 'l2') normsReference(x, r, d, rowAdd);
      pairValuesReference(x, r, c, m, d, rowAdd, colAdd, alpha, out, m);
      visit(q0, r, b0, m, out.subarray(0, r * m), m);
    }
    between?.(b0 + m);
  }
}

/**
 * The nq x nb matrix of distances between queries and base rows: squared L2 ('l2'), inner
 * product ('ip') or cosine similarity ('cos'), through the blocked kernel (so L2 carries the
 * cancellation error of the norm expansion, clamped at 0). The caller sizes the output.
 */
export function pairwiseDistances(
  queries: Float32Array, base: Float32Array, d: number, metric: 'l2' | 'ip' | 'cos', out?: Float32Array,
): Float32Array {
  const nq = rowCount(queries, d, 'queries');
  const nb = rowCount(base, d, 'base');
  if (metric !== 'l2' && metric !== 'ip' && metric !== 'cos') throw new ZipmlError('E_ARG', `unknown metric ${String(metric)}`);
  const res = outArray(out, nq * nb, 'pairwiseDistances');
  const kind: PairKind = metric;
  pairBlocks(queries, nq, base, nb, d, kind, (q0, r, b0, m, v, ld) => {
    for (let i = 0; i < r; i++) {
      const o = (q0 + i) * nb + b0;
      for (let j = 0; j < m; j++) {
        const x = v[i * ld + j]!;
        res[o + j] = kind === 'l2' ? (x > 0 ? x : 0) : -x;
      }
    }
  });
  return res;
}

// ---------------------------------------------------------------------------------------------
// Nearest centroid.

/** The largest kernel value error for one pair, relative to ||x||^2 + ||c||^2 (twice the
 * float32 bound of the norm expansion, d-term sums included). Used by knn and pruned k-means. */
export function pairErrorBound(d: number): number {
  return (2 * d + 8) * 2 ** -23;
}

/**
 * For rows [from, to) of x, the nearest of the nc centroids: outIdx[i - from] gets its id (ties to
 * the smaller id) and outDist[i - from] its distance — for 'l2' the squared distance computed as
 * ||x||^2 + ||c||^2 - 2<x, c> and clamped at 0 (Faiss's formula), for 'ip' the largest inner
 * product. outSecond, if given, gets the runner-up (the second smallest distance, or second
 * largest inner product; a centroid tied with the winner counts). No argument checks: callers
 * (kmeans, its worker tasks) validate once.
 */
export function nearestCentroids(
  x: Float32Array, d: number, from: number, to: number, centroids: Float32Array, nc: number, kind: 'l2' | 'ip',
  outIdx: Int32Array, outDist: Float32Array, outSecond?: Float32Array,
): void {
  const k = kernel();
  if (!k) {
    nearestReference(x, d, from, to, centroids, nc, kind, outIdx, outDist, outSecond);
    return;
  }
  const alpha = kind === 'l2' ? -2 : -1;
  const chunk = Math.min(windowRows(d, CHUNK_BYTES, 8, 8), (nc + 7) & ~7);
  const rows = Math.min(windowRows(d, STREAM_BYTES, 4, 4), to - from);
  const [raw, packed, colAdd, xWin, xn, best, bestIdx, second, outV, outI, outS] = regions(k, [
    4 * d * chunk, 4 * d * chunk, 4 * chunk, 4 * d * rows, 4 * rows, 16 * rows, 16 * rows, 16 * rows, 4 * rows, 4 * rows,
    4 * rows,
  ]) as [number, number, number, number, number, number, number, number, number, number, number];
  const loadChunk = (c0: number): number => {
    const m = Math.min(chunk, nc - c0);
    f32(k, raw, m * d).set(centroids.subarray(c0 * d, (c0 + m) * d));
    k.exports.pack(raw, m, d, packed);
    const add = f32(k, colAdd, (m + 7) & ~7);
    if (kind === 'l2') k.exports.norms(raw, m, d, colAdd);
    else add.fill(0, 0, m);
    add.fill(Infinity, m); // pad columns of the last panel never win
    return m;
  };
  const oneChunk = nc <= chunk;
  if (oneChunk) loadChunk(0);
  for (let i = from; i < to; i += rows) {
    const r = Math.min(rows, to - i);
    f32(k, xWin, r * d).set(x.subarray(i * d, (i + r) * d));
    k.exports.argminInit(r, best, bestIdx, second);
    for (let c0 = 0; c0 < nc; c0 += chunk) {
      const m = oneChunk ? nc : loadChunk(c0);
      k.exports.argmin(xWin, r, d, packed, m, colAdd, alpha, c0, best, bestIdx, second);
    }
    k.exports.argminFinish(r, best, bestIdx, second, outV, outI, outS);
    outIdx.set(new Int32Array(k.memory.buffer, outI, r), i - from);
    if (kind === 'l2') k.exports.norms(xWin, r, d, xn);
    toDistances(kind, f32(k, xn, r), f32(k, outV, r), outDist, i - from);
    if (outSecond) toDistances(kind, f32(k, xn, r), f32(k, outS, r), outSecond, i - from);
  }
}

/** Kernel values (smaller is closer) to distances: ||x||^2 + v clamped at 0, or -v. */
function toDistances(kind: 'l2' | 'ip', xn: Float32Array, vals: Float32Array, out: Float32Array, at: number): void {
  if (kind === 'l2') {
    for (let t = 0; t < vals.length; t++) {
      const v = xn[t]! + vals[t]!;
      out[at + t] = v > 0 ? v : 0;
    }
  } else {
    for (let t = 0; t < vals.length; t++) out[at + t] = -vals[t]!;
  }
}

/** nearestCentroids on the reference path: the same values, computed in double. */
export function nearestReference(
  x: Float32Array, d: number, from: number, to: number, centroids: Float32Array, nc: number, kind: 'l2' | 'ip',
  outIdx: Int32Array, outDist: Float32Array, outSecond?: Float32Array,
): void {
  const cn = new Float32Array(nc);
  if (kind === 'l2') normsReference(centroids, nc, d, cn);
  for (let i = from; i < to; i++) {
    const xo = i * d;
    let best = Infinity, second = Infinity, bi = -1;
    for (let j = 0; j < nc; j++) {
      const v = referenceValue(x, xo, centroids, j * d, d, kind, cn[j]!);
      if (v < best) {
        second = best;
        best = v;
        bi = j;
      } else if (v < second) {
        second = v;
      }
    }
    outIdx[i - from] = bi;
    const xn = kind === 'l2' ? referenceNorm(x, xo, d) : 0;
    outDist[i - from] = referenceDistance(kind, xn, best);
    if (outSecond) outSecond[i - from] = referenceDistance(kind, xn, second);
  }
}

function referenceValue(x: Float32Array, xo: number, c: Float32Array, co: number, d: number, kind: 'l2' | 'ip', cn: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += x[xo + t]! * c[co + t]!;
  return kind === 'l2' ? cn - 2 * s : -s;
}

function referenceNorm(x: Float32Array, xo: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += x[xo + t]! * x[xo + t]!;
  return s;
}

function referenceDistance(kind: 'l2' | 'ip', xn: number, v: number): number {
  if (kind === 'ip') return -v;
  const r = xn + v;
  return r > 0 ? r : 0;
}

/** Centroid matrices up to this size can be held whole in kernel memory by assignedDistances. */
export const ASSIGNED_MAX_CENTROID_BYTES = 64 << 20;

/**
 * For rows [from, to) of x, the squared L2 distance to the centroid assign[i - from], bit-identical
 * to what nearestCentroids computes for that pair on the same kernel path (same formula, same
 * summation order). This lets pruned k-means keep a point's assignment without re-running the
 * blocked kernel and still produce Lloyd's exact numbers. The WebAssembly path holds the whole
 * centroid matrix in kernel memory: at most ASSIGNED_MAX_CENTROID_BYTES (E_LIMIT above).
 */
export function assignedDistances(
  x: Float32Array, d: number, from: number, to: number, centroids: Float32Array, nc: number,
  assign: Int32Array, outDist: Float32Array,
): void {
  const k = kernel();
  if (!k) {
    const cn = new Float32Array(nc);
    normsReference(centroids, nc, d, cn);
    for (let i = from; i < to; i++) {
      const a = assign[i - from]!;
      const v = referenceValue(x, i * d, centroids, a * d, d, 'l2', cn[a]!);
      outDist[i - from] = referenceDistance('l2', referenceNorm(x, i * d, d), v);
    }
    return;
  }
  if (4 * nc * d > ASSIGNED_MAX_CENTROID_BYTES) {
    throw new ZipmlError('E_LIMIT', `assignedDistances: ${nc} x ${d} centroids exceed ${ASSIGNED_MAX_CENTROID_BYTES} bytes`);
  }
  const rows = Math.min(windowRows(d, STREAM_BYTES, 4, 4), to - from);
  const [cp, colAdd, xWin, xn, aWin, outV] = regions(k, [4 * nc * d, 4 * nc, 4 * d * rows, 4 * rows, 4 * rows, 4 * rows]) as [
    number, number, number, number, number, number,
  ];
  f32(k, cp, nc * d).set(centroids.subarray(0, nc * d));
  k.exports.norms(cp, nc, d, colAdd);
  for (let i = from; i < to; i += rows) {
    const r = Math.min(rows, to - i);
    f32(k, xWin, r * d).set(x.subarray(i * d, (i + r) * d));
    new Int32Array(k.memory.buffer, aWin, r).set(assign.subarray(i - from, i - from + r));
    k.exports.assignedValues(xWin, r, d, cp, colAdd, -2, aWin, outV);
    k.exports.norms(xWin, r, d, xn);
    toDistances('l2', f32(k, xn, r), f32(k, outV, r), outDist, i - from);
  }
}

// ---------------------------------------------------------------------------------------------
// Rows resident in kernel memory.

/**
 * Float rows kept in a private kernel instance's memory, so that searches compute distances to
 * them without copying them in for every query (an index's centroids, its exact vectors). The
 * values equal l2sqrDistances / innerProducts on the same rows bit for bit (same kernel). Rows can
 * be appended; capacity doubles. Without SIMD the rows stay in a JS array and the references run.
 */
export class ResidentRows {
  readonly d: number;
  private readonly k: Kernel | null;
  private n = 0;
  private cap = 0;
  private js = new Float32Array(0);
  // Kernel memory layout: [query d floats, padded][out: capacity floats][rows: capacity × d].
  private qPtr = 0;
  private outPtr = 0;
  private rowsPtr = 0;

  constructor(d: number, rows?: Float32Array) {
    this.d = d;
    this.k = privateKernel<DistanceExports>('distances', distancesWasm.base64);
    if (rows) this.append(rows);
  }

  get count(): number {
    return this.n;
  }

  /** Bytes held for the rows (capacity). */
  get memoryBytes(): number {
    return this.cap * this.d * 4;
  }

  append(rows: Float32Array): void {
    const m = rows.length / this.d;
    const need = this.n + m;
    if (need > this.cap) this.grow(Math.max(need, this.cap * 2, 16));
    if (this.k) f32(this.k, this.rowsPtr + this.n * this.d * 4, m * this.d).set(rows);
    else this.js.set(rows, this.n * this.d);
    this.n = need;
  }

  private grow(cap: number): void {
    const d = this.d;
    if (!this.k) {
      const js = new Float32Array(cap * d);
      js.set(this.js.subarray(0, this.n * d));
      this.js = js;
      this.cap = cap;
      return;
    }
    const qBytes = (4 * d + 63) & ~63;
    const outBytes = (4 * cap + 63) & ~63;
    const old = this.n > 0 ? f32(this.k, this.rowsPtr, this.n * d).slice() : null;
    const base = this.k.reserve(qBytes + outBytes + 4 * cap * d);
    this.qPtr = base;
    this.outPtr = base + qBytes;
    this.rowsPtr = this.outPtr + outBytes;
    if (old) f32(this.k, this.rowsPtr, old.length).set(old);
    this.cap = cap;
  }

  /** Distances from q to rows [from, from + count) into out (squared L2, or inner product). */
  range(q: Float32Array, kind: 'l2' | 'ip', from: number, count: number, out: Float32Array): void {
    const d = this.d;
    if (!this.k) {
      const x = this.js.subarray(from * d, (from + count) * d);
      if (kind === 'l2') l2sqrReference(q, x, count, d, out);
      else ipReference(q, x, count, d, out);
      return;
    }
    f32(this.k, this.qPtr, d).set(q);
    const fn = kind === 'l2' ? this.k.exports.l2sqrN : this.k.exports.ipN;
    fn(this.qPtr, this.rowsPtr + from * d * 4, count, d, this.outPtr);
    out.set(f32(this.k, this.outPtr, count));
  }

  /** Distances from q to the listed rows (out[j] for rows[j]). */
  pick(q: Float32Array, kind: 'l2' | 'ip', rows: ArrayLike<number>, out: Float32Array): void {
    const d = this.d, m = rows.length;
    if (!this.k) {
      const one = new Float32Array(1);
      for (let j = 0; j < m; j++) {
        const x = this.js.subarray(rows[j]! * d, (rows[j]! + 1) * d);
        if (kind === 'l2') l2sqrReference(q, x, 1, d, one);
        else ipReference(q, x, 1, d, one);
        out[j] = one[0]!;
      }
      return;
    }
    f32(this.k, this.qPtr, d).set(q);
    const fn = kind === 'l2' ? this.k.exports.l2sqrN : this.k.exports.ipN;
    const rp = this.rowsPtr, op = this.outPtr, qp = this.qPtr, stride = d * 4;
    for (let j = 0; j < m; j++) fn(qp, rp + rows[j]! * stride, 1, d, op + 4 * j);
    out.set(f32(this.k, op, m));
  }
}
