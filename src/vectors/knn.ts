/**
 * Exact brute-force k-nearest neighbours: the ground truth that recall is measured against.
 *
 * The blocked kernel (distances.ts) computes every (query, base) value in float32, which is fast
 * but not exact: L2 through ||q||^2 + ||b||^2 - 2<q, b> cancels, and any float32 sum rounds. So
 * the float32 pass only selects candidates, and the answer is decided in double precision:
 *
 *   1. With B a bound on |float32 value - exact value| for this query (from d, ||q|| and the
 *      largest base norm), keep every base row whose float32 value is within tau + 2B, where tau
 *      is the k-th smallest float32 value. Every true top-k row is kept: k rows have float32
 *      values <= tau, so the exact k-th value is <= tau + B, and a true top-k row's float32 value
 *      is at most that plus B.
 *   2. Recompute the candidates' distances in double and sort by (distance, id).
 *
 * The result therefore equals a naive double-precision scan, ties included (smaller id first),
 * at the cost of a few extra candidates per query. Metrics: 'l2' squared Euclidean (ascending),
 * 'ip' inner product and 'cos' cosine similarity (descending). Missing neighbours (k > number of
 * base rows) are id -1 with distance +Infinity ('l2') or -Infinity ('ip', 'cos'), as in Faiss.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../core/errors.js';
import { defaultPool } from '../core/workers/pool.js';
import type { ParallelOptions } from '../core/entropy/frame-parallel.js';
import type { Metric } from './types.js';
import { pairBlocks, rowCount, checkFinite, squaredNorms, pairErrorBound } from './distances.js';

export interface KnnResult {
  /** nq x k base row ids, nearest first; -1 where the base has fewer than k rows. */
  ids: Int32Array;
  /** nq x k distances: squared L2 ascending, or inner product / cosine descending. */
  distances: Float32Array;
}

/**
 * Options of the parallel variant: `threads` (default: the pool's size) and `pool` (default:
 * defaultPool()). Without an explicit `threads`, small inputs stay on the calling thread.
 */
export type KnnParallelOptions = LongOpOptions & ParallelOptions;

/** @internal knn with double-precision distances, as worker parts return it for merging. */
export interface KnnExact {
  ids: Int32Array;
  distances: Float64Array;
}

const U = 2 ** -24;

function checkMetric(metric: Metric): void {
  if (metric !== 'l2' && metric !== 'ip' && metric !== 'cos') {
    throw new ZipmlError('E_ARG', `metric must be 'l2', 'ip' or 'cos', got ${String(metric)}`);
  }
}

/** Validates the arguments shared by knn and knnAsync; returns [nb, nq]. */
function checkArgs(base: Float32Array, queries: Float32Array, d: number, k: number, metric: Metric): [number, number] {
  const nb = rowCount(base, d, 'base');
  const nq = rowCount(queries, d, 'queries');
  if (!Number.isInteger(k) || k < 1) throw new ZipmlError('E_ARG', `k must be an integer >= 1, got ${String(k)}`);
  checkMetric(metric);
  checkFinite(base, d, 'base');
  checkFinite(queries, d, 'queries');
  return [nb, nq];
}

/** The exact distance in the "smaller is closer" space: squared L2, or minus the similarity. */
function exactValue(q: Float32Array, qo: number, b: Float32Array, bo: number, d: number, metric: Metric): number {
  if (metric === 'l2') {
    let s = 0;
    for (let t = 0; t < d; t++) {
      const e = q[qo + t]! - b[bo + t]!;
      s += e * e;
    }
    return s;
  }
  let s = 0;
  for (let t = 0; t < d; t++) s += q[qo + t]! * b[bo + t]!;
  if (metric === 'ip') return -s;
  let qq = 0, bb = 0;
  for (let t = 0; t < d; t++) {
    qq += q[qo + t]! * q[qo + t]!;
    bb += b[bo + t]! * b[bo + t]!;
  }
  return qq === 0 || bb === 0 ? -0 : -(s / (Math.sqrt(qq) * Math.sqrt(bb)));
}

/**
 * Per-query candidate sets: a max-heap of the k smallest float32 values (its top is tau) and a
 * list of every row seen within tau + 2B, pruned when it fills up.
 */
class Candidates {
  private readonly heap: Float32Array;
  private readonly heapN: Int32Array;
  private readonly vals: Float32Array[];
  private readonly ids: Int32Array[];
  private readonly count: Int32Array;

  constructor(
    private readonly nq: number,
    private readonly k: number,
    private readonly slack: Float64Array, // 2B per query
  ) {
    this.heap = new Float32Array(nq * k);
    this.heapN = new Int32Array(nq);
    const cap = 2 * k + 32;
    this.vals = Array.from({ length: nq }, () => new Float32Array(cap));
    this.ids = Array.from({ length: nq }, () => new Int32Array(cap));
    this.count = new Int32Array(nq);
  }

  /** The current admission threshold of query q: tau + 2B, or +Infinity before k rows. */
  threshold(q: number): number {
    return this.heapN[q]! < this.k ? Infinity : this.heap[q * this.k]! + this.slack[q]!;
  }

  /** Adds row `id` with float32 value v (the caller checked v <= threshold). Returns the new threshold. */
  add(q: number, v: number, id: number): number {
    let n = this.count[q]!;
    if (n === this.vals[q]!.length) n = this.prune(q);
    this.vals[q]![n] = v;
    this.ids[q]![n] = id;
    this.count[q] = n + 1;
    const k = this.k, h = this.heap, o = q * k;
    const hn = this.heapN[q]!;
    if (hn < k) {
      // Sift up.
      let i = hn;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[o + p]! >= v) break;
        h[o + i] = h[o + p]!;
        i = p;
      }
      h[o + i] = v;
      this.heapN[q] = hn + 1;
    } else if (v < h[o]!) {
      // Replace the top and sift down.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= k) break;
        const c = l + 1 < k && h[o + l + 1]! > h[o + l]! ? l + 1 : l;
        if (h[o + c]! <= v) break;
        h[o + i] = h[o + c]!;
        i = c;
      }
      h[o + i] = v;
    }
    return this.threshold(q);
  }

  /** Drops candidates above the threshold; grows the list when near-ties keep it full. */
  private prune(q: number): number {
    const thr = this.threshold(q);
    const v = this.vals[q]!, id = this.ids[q]!;
    const have = this.count[q]!;
    let n = 0;
    for (let i = 0; i < have; i++) {
      if (v[i]! <= thr) {
        v[n] = v[i]!;
        id[n++] = id[i]!;
      }
    }
    this.count[q] = n;
    if (n > v.length / 2) {
      const nv = new Float32Array(v.length * 2);
      const ni = new Int32Array(v.length * 2);
      nv.set(v.subarray(0, n));
      ni.set(id.subarray(0, n));
      this.vals[q] = nv;
      this.ids[q] = ni;
    }
    return n;
  }

  /** The surviving candidate ids of query q (unordered). */
  final(q: number): Int32Array {
    const n = this.prune(q);
    return this.ids[q]!.subarray(0, n);
  }

  get queries(): number {
    return this.nq;
  }
}

/**
 * @internal Exact k-NN of all queries against base rows [0, nb), with ids offset by idOffset and
 * double distances (smaller-is-closer space turned back to similarities for 'ip'/'cos').
 * Arguments are already validated. Also the worker task of knnAsync.
 */
export function knnExact(
  base: Float32Array, queries: Float32Array, d: number, k: number, metric: Metric, idOffset: number,
  opts: LongOpOptions = {},
): KnnExact {
  const nb = base.length / d;
  const nq = queries.length / d;
  // Error bounds per query (see the file comment); the constants are twice the textbook
  // float32 summation bound, so the band is safe without being wide.
  const slack = new Float64Array(nq);
  const bn = squaredNorms(base, d);
  let maxBn = 0;
  for (let j = 0; j < nb; j++) if (bn[j]! > maxBn) maxBn = bn[j]!;
  const qn = squaredNorms(queries, d);
  const gamma = pairErrorBound(d);
  for (let i = 0; i < nq; i++) {
    let b: number;
    if (metric === 'l2') b = gamma * (qn[i]! + maxBn);
    else if (metric === 'ip') b = (d + 4) * 2 * U * Math.sqrt(qn[i]! * maxBn);
    else b = (2 * d + 16) * 2 * U;
    // Norms are float32 sums themselves; a relative margin covers their rounding.
    slack[i] = 2 * b * (1 + 1e-3);
  }
  const cand = new Candidates(nq, k, slack);
  const thr = new Float64Array(nq).fill(Infinity);
  throwIfAborted(opts.signal, 'knn');
  pairBlocks(
    queries, nq, base, nb, d, metric,
    (q0, r, b0, m, v, ld) => {
      for (let i = 0; i < r; i++) {
        const q = q0 + i;
        let t = thr[q]!;
        const row = i * ld;
        for (let j = 0; j < m; j++) {
          const x = v[row + j]!;
          if (x <= t) t = cand.add(q, x, b0 + j);
        }
        thr[q] = t;
      }
    },
    (done) => {
      opts.onProgress?.(done, nb);
      throwIfAborted(opts.signal, 'knn');
    },
  );

  const ids = new Int32Array(nq * k).fill(-1);
  const dist = new Float64Array(nq * k).fill(metric === 'l2' ? Infinity : -Infinity);
  const sign = metric === 'l2' ? 1 : -1;
  for (let q = 0; q < cand.queries; q++) {
    const c = cand.final(q);
    const ex = new Float64Array(c.length);
    for (let i = 0; i < c.length; i++) ex[i] = exactValue(queries, q * d, base, c[i]! * d, d, metric);
    const order = Array.from({ length: c.length }, (_, i) => i);
    order.sort((a, b) => ex[a]! - ex[b]! || c[a]! - c[b]!);
    const m = Math.min(k, c.length);
    for (let r = 0; r < m; r++) {
      ids[q * k + r] = c[order[r]!]! + idOffset;
      dist[q * k + r] = sign * ex[order[r]!]! + 0; // + 0 turns -0 into 0
    }
  }
  return { ids, distances: dist };
}

/**
 * The k nearest base rows of each query, exactly (see the file comment). `base` is nb x d,
 * `queries` nq x d, row-major. Progress is reported in base rows.
 */
export function knn(
  base: Float32Array, queries: Float32Array, d: number, k: number, metric: Metric = 'l2', opts: LongOpOptions = {},
): KnnResult {
  checkArgs(base, queries, d, k, metric);
  const r = knnExact(base, queries, d, k, metric, 0, opts);
  return { ids: r.ids, distances: Float32Array.from(r.distances) };
}

// Workers run knnExact from this very module: no separate task file needed.
const TASKS = import.meta.url;
// Below this many multiply-adds (~50 ms on one core), worker start-up and copies cost more than
// they save.
const MIN_PARALLEL_WORK = 2 ** 31;

/**
 * knn on the worker pool: the base is cut into one contiguous part per thread, each worker finds
 * the exact top-k of every query in its part (in double precision), and the parts are merged by
 * (distance, id), so the result equals knn()'s. Costs one copy of the base (the parts are
 * transferred) and one copy of the queries per thread.
 */
export async function knnAsync(
  base: Float32Array, queries: Float32Array, d: number, k: number, metric: Metric = 'l2',
  opts: KnnParallelOptions = {},
): Promise<KnnResult> {
  const [nb, nq] = checkArgs(base, queries, d, k, metric);
  const pool = opts.pool ?? defaultPool();
  const threads = opts.threads ?? pool.size;
  if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
  throwIfAborted(opts.signal, 'knn');
  const small = opts.threads === undefined && nb * nq * d < MIN_PARALLEL_WORK;
  if (threads === 1 || nb < 2 * threads || small) return knn(base, queries, d, k, metric, opts);
  const parts: Array<[number, number]> = [];
  for (let t = 0; t < threads; t++) parts.push([Math.floor((t * nb) / threads), Math.floor(((t + 1) * nb) / threads)]);
  let done = 0;
  const results = await Promise.all(
    parts.map(async ([b0, b1]) => {
      const slice = base.slice(b0 * d, b1 * d);
      const r = await pool.run<KnnExact>(
        { module: TASKS, fn: 'knnExact' },
        [slice, queries, d, k, metric, b0],
        { transfer: [slice], signal: opts.signal },
      );
      done += b1 - b0;
      opts.onProgress?.(done, nb);
      return r;
    }),
  );
  return mergeParts(results, nq, k, metric);
}

/** Merges per-part top-k lists (each sorted) into the global top-k, by (distance, id). */
function mergeParts(parts: readonly KnnExact[], nq: number, k: number, metric: Metric): KnnResult {
  const ids = new Int32Array(nq * k).fill(-1);
  const distances = new Float32Array(nq * k).fill(metric === 'l2' ? Infinity : -Infinity);
  const sign = metric === 'l2' ? 1 : -1;
  const pos = new Int32Array(parts.length);
  for (let q = 0; q < nq; q++) {
    pos.fill(0);
    for (let r = 0; r < k; r++) {
      let best = -1, bv = Infinity, bid = 0;
      for (let p = 0; p < parts.length; p++) {
        const at = pos[p]!;
        if (at >= k) continue;
        const id = parts[p]!.ids[q * k + at]!;
        if (id < 0) continue;
        const v = sign * parts[p]!.distances[q * k + at]!;
        if (v < bv || (v === bv && id < bid)) {
          best = p;
          bv = v;
          bid = id;
        }
      }
      if (best < 0) break;
      ids[q * k + r] = bid;
      distances[q * k + r] = sign * bv;
      pos[best] = pos[best]! + 1;
    }
  }
  return { ids, distances };
}
