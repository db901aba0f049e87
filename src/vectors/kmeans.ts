/**
 * k-means as Faiss does it (faiss/Clustering.cpp, 1.7.x), so that PQ, OPQ, RQ and IVF trained
 * here match Faiss's, and a Faiss recipe gives the same clustering for the same seed:
 *
 * - Subsampling: with more than k * maxPointsPerCentroid points, train on that many, picked by a
 *   random permutation seeded with `seed` (Faiss's subsample_training_set).
 * - Init: k distinct training points picked by a permutation seeded with seed + 1 + redo *
 *   15486557 (Faiss's), or k-means++ when asked.
 * - Lloyd iterations: assign every point to its nearest centroid (the blocked WebAssembly kernel,
 *   ||x||^2 + ||c||^2 - 2<x, c>, as Faiss's BLAS path; by default pruned with Hamerly's bounds,
 *   which changes no bit of the result, see kmeans-tasks.ts), then centroids = means (accumulated in
 *   double, where Faiss uses float), then empty clusters are split the Faiss way: pick a cluster
 *   with probability (size - 1) / (n - k), copy its centroid, scale the two copies by 1 +- 1/1024
 *   in alternating dimensions, and assume each keeps half the points.
 * - nredo restarts keep the run with the best final objective; `spherical` renormalizes centroids
 *   after each update and assigns by largest inner product (Faiss's spherical k-means).
 *
 * The random generator is std::mt19937 used exactly as Faiss's RandomGenerator, so the sampled
 * training set, the initial centroids and the split choices are Faiss's own for the same seed.
 */
import { ZipmlError, throwIfAborted } from '../core/errors.js';
import { defaultPool, type WorkerPool } from '../core/workers/pool.js';
import type { ParallelOptions } from '../core/entropy/frame-parallel.js';
import { kernelPath } from '../kernels/loader.js';
import type { TrainOptions } from './types.js';
import { rowCount, checkFinite, l2sqrDistances, ASSIGNED_MAX_CENTROID_BYTES } from './distances.js';
import { assignStep, type AssignMode, type ShardState, type ShardStep } from './kmeans-tasks.js';

export interface KMeansOptions extends TrainOptions {
  /** Lloyd iterations per run (Faiss default 25). */
  niter?: number;
  /** Independent runs with different inits; the one with the best objective wins (default 1). */
  nredo?: number;
  /** Train on at most k * this many points, subsampled with `seed` (Faiss default 256). */
  maxPointsPerCentroid?: number;
  /** 'random' (Faiss: k distinct training points) or 'kmeans++' (D^2 sampling; costs about one
   * pass over the training set per centroid). Default 'random'. */
  init?: 'random' | 'kmeans++';
  /** Normalize centroids to unit norm after each update and assign by inner product. */
  spherical?: boolean;
  /** Seed of every random choice (Faiss default 1234). */
  seed?: number;
  /**
   * Skip distance computations that triangle-inequality bounds prove unnecessary (Hamerly's
   * algorithm, arranged so that the result is bit-identical to plain Lloyd; see
   * kmeans-tasks.ts). Default true; applies to L2 (not spherical) with k x d x 4 <= 64 MiB.
   * false runs every distance, as Faiss does.
   */
  prune?: boolean;
  /**
   * Called after each iteration with the iterations done so far (over all redos), the total, and
   * that iteration's objective (see KMeansIterationStats.objective).
   */
  onProgress?: (done: number, total: number, objective?: number) => void;
}

export interface KMeansIterationStats {
  /**
   * Faiss's objective: the sum over training points of the squared distance to the nearest
   * centroid at the start of the iteration (spherical: the sum of inner products, larger is
   * better). The last one equals Faiss's `obj[-1]`.
   */
  objective: number;
  /** k * sum(size^2) / n^2: 1 for equal cluster sizes. */
  imbalance: number;
  /** Empty clusters that were split in this iteration. */
  nsplit: number;
}

export interface KMeansResult {
  /** k x d. */
  centroids: Float32Array;
  /** For every input point (not only the training subsample), its nearest final centroid. */
  assign: Int32Array;
  /**
   * The sum over every input point of the squared distance to its assigned final centroid
   * (spherical: of the inner product): the objective of the returned clustering.
   */
  objective: number;
  /** Lloyd iterations run in the winning redo. */
  iterations: number;
  /** Per-iteration statistics of the winning redo. */
  stats: KMeansIterationStats[];
}

/**
 * Options of the parallel variant: `threads` (default: the pool's size) and `pool` (default:
 * defaultPool()). Without an explicit `threads`, small inputs stay on the calling thread.
 */
export type KMeansParallelOptions = KMeansOptions & ParallelOptions;

// ---------------------------------------------------------------------------------------------
// Faiss's RandomGenerator: std::mt19937, rand_int(max) = mt() % max, rand_float = mt() / 2^32.

/** @internal std::mt19937 as Faiss's RandomGenerator uses it (seeded with the seed mod 2^32). */
export class FaissRng {
  private readonly mt = new Uint32Array(624);
  private i = 624;

  constructor(seed: number) {
    const mt = this.mt;
    mt[0] = ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
    for (let i = 1; i < 624; i++) {
      const p = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = (Math.imul(1812433253, p) + i) >>> 0;
    }
  }

  /** The next 32-bit output of mt19937. */
  u32(): number {
    const mt = this.mt;
    if (this.i >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % 624]! & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.i = 0;
    }
    let y = mt[this.i++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** Uniform in [0, max), as Faiss: mt() % max. */
  randInt(max: number): number {
    return this.u32() % max;
  }

  /** Faiss's rand_float: mt() / float(mt.max()), in float32 arithmetic. */
  randFloat(): number {
    return Math.fround(Math.fround(this.u32()) / 4294967296);
  }
}

/** Faiss's rand_perm: Fisher-Yates over 0..n-1 with RandomGenerator(seed). */
export function faissRandPerm(n: number, seed: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const rng = new FaissRng(seed);
  for (let i = 0; i + 1 < n; i++) {
    const j = i + rng.randInt(n - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

// ---------------------------------------------------------------------------------------------
// Options and input checks.

interface Resolved {
  niter: number;
  nredo: number;
  maxPointsPerCentroid: number;
  init: 'random' | 'kmeans++';
  spherical: boolean;
  seed: number;
  mode: AssignMode;
}

function intOption(v: number | undefined, def: number, min: number, name: string): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min) throw new ZipmlError('E_ARG', `kmeans: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function resolve(o: KMeansOptions, k: number, d: number): Resolved {
  if (o.init !== undefined && o.init !== 'random' && o.init !== 'kmeans++') {
    throw new ZipmlError('E_ARG', `kmeans: init must be 'random' or 'kmeans++', got ${String(o.init)}`);
  }
  const seed = o.seed ?? 1234;
  if (!Number.isSafeInteger(seed)) throw new ZipmlError('E_ARG', `kmeans: seed must be an integer, got ${String(seed)}`);
  return {
    niter: intOption(o.niter, 25, 0, 'niter'),
    nredo: intOption(o.nredo, 1, 1, 'nredo'),
    maxPointsPerCentroid: intOption(o.maxPointsPerCentroid, 256, 1, 'maxPointsPerCentroid'),
    init: o.init ?? 'random',
    spherical: o.spherical ?? false,
    seed,
    mode: o.spherical ? 'ip' : o.prune !== false && 4 * k * d <= ASSIGNED_MAX_CENTROID_BYTES ? 'l2-pruned' : 'l2',
  };
}

/** Validates x, d and k; returns n. */
function checkInput(x: Float32Array, d: number, k: number): number {
  const n = rowCount(x, d, 'kmeans: x');
  if (n === 0) throw new ZipmlError('E_ARG', 'kmeans: the training set is empty');
  if (!Number.isInteger(k) || k < 1) throw new ZipmlError('E_ARG', `kmeans: k must be an integer >= 1, got ${String(k)}`);
  if (k > n) throw new ZipmlError('E_ARG', `kmeans: k = ${k} centroids need at least as many points, got ${n}`);
  checkFinite(x, d, 'kmeans: x');
  return n;
}

/** The training set: x itself, or Faiss's subsample of k * maxPointsPerCentroid rows. */
function trainingSet(x: Float32Array, n: number, d: number, k: number, o: Resolved): Float32Array {
  const cap = k * o.maxPointsPerCentroid;
  if (n <= cap) return x;
  const perm = faissRandPerm(n, o.seed);
  const out = new Float32Array(cap * d);
  for (let i = 0; i < cap; i++) out.set(x.subarray(perm[i]! * d, (perm[i]! + 1) * d), i * d);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The Lloyd loop, written once as a generator: it yields centroids whenever it needs the training
// set assigned to them, and the sync and async drivers answer with the assignment. The training
// rows are read through `rows()` each time, because the async driver's shards come back from the
// workers as new arrays.

interface Assignment {
  assign: Int32Array;
  dist: Float32Array;
}

interface TrainingParts {
  n: number;
  parts: Float32Array[];
}

interface LloydResult {
  centroids: Float32Array;
  iterations: number;
  stats: KMeansIterationStats[];
}

function renormalize(c: Float32Array, k: number, d: number): void {
  for (let j = 0, o = 0; j < k; j++, o += d) {
    let s = 0;
    for (let t = 0; t < d; t++) s += c[o + t]! * c[o + t]!;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let t = 0; t < d; t++) c[o + t] = c[o + t]! * inv;
  }
}

function rowOf(data: TrainingParts, d: number, i: number): Float32Array {
  let at = i;
  for (const p of data.parts) {
    const rows = p.length / d;
    if (at < rows) return p.subarray(at * d, (at + 1) * d);
    at -= rows;
  }
  throw new ZipmlError('E_ARG', `kmeans: row ${i} is out of range`);
}

function initRandom(data: TrainingParts, d: number, k: number, seed: number): Float32Array {
  const perm = faissRandPerm(data.n, seed);
  const c = new Float32Array(k * d);
  for (let j = 0; j < k; j++) c.set(rowOf(data, d, perm[j]!), j * d);
  return c;
}

/** k-means++ (Arthur & Vassilvitskii): each next centroid drawn with probability ~ D(x)^2. */
function initPlusPlus(data: TrainingParts, d: number, k: number, seed: number, signal?: AbortSignal): Float32Array {
  const rng = new FaissRng(seed);
  const n = data.n;
  const c = new Float32Array(k * d);
  const best = new Float64Array(n).fill(Infinity);
  let next = rng.randInt(n);
  const tmp: Float32Array[] = data.parts.map((p) => new Float32Array(p.length / d));
  for (let j = 0; j < k; j++) {
    if ((j & 63) === 0) throwIfAborted(signal, 'kmeans');
    const cj = rowOf(data, d, next);
    c.set(cj, j * d);
    if (j === k - 1) break;
    let total = 0;
    for (let p = 0, i0 = 0; p < data.parts.length; p++) {
      const part = data.parts[p]!, dist = tmp[p]!;
      l2sqrDistances(cj, part, d, dist);
      for (let i = 0; i < dist.length; i++) {
        const v = Math.min(best[i0 + i]!, dist[i]!);
        best[i0 + i] = v;
        total += v;
      }
      i0 += dist.length;
    }
    if (!(total > 0)) {
      // Every point coincides with a chosen centroid: any point will do.
      next = rng.randInt(n);
      continue;
    }
    const r = (rng.u32() / 4294967296) * total;
    let acc = 0;
    next = n - 1;
    for (let i = 0; i < n; i++) {
      acc += best[i]!;
      if (acc > r) {
        next = i;
        break;
      }
    }
    // Rounding can land on an already chosen point (D = 0); step to the next one with D > 0.
    while (best[next]! === 0 && next > 0) next--;
  }
  return c;
}

/** Means of the assigned points, accumulated in double in point order; returns the counts. */
function computeCentroids(data: TrainingParts, d: number, k: number, assign: Int32Array, c: Float32Array): Float64Array {
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  let i = 0;
  for (const p of data.parts) {
    const rows = p.length / d;
    for (let r = 0; r < rows; r++, i++) {
      const j = assign[i]!;
      counts[j]! += 1;
      const so = j * d, xo = r * d;
      for (let t = 0; t < d; t++) sums[so + t]! += p[xo + t]!;
    }
  }
  c.fill(0);
  for (let j = 0; j < k; j++) {
    const cnt = counts[j]!;
    if (cnt === 0) continue;
    for (let t = 0, o = j * d; t < d; t++) c[o + t] = sums[o + t]! / cnt;
  }
  return counts;
}

const SPLIT_EPS = 1 / 1024;

/** Faiss's split_clusters: gives each empty cluster half of a large one. Returns the splits. */
function splitClusters(d: number, k: number, n: number, hassign: Float64Array, c: Float32Array): number {
  const rng = new FaissRng(1234);
  let nsplit = 0;
  for (let ci = 0; ci < k; ci++) {
    if (hassign[ci]! !== 0) continue;
    let cj = 0;
    for (;;) {
      const p = (hassign[cj]! - 1) / Math.fround(n - k);
      if (rng.randFloat() < p) break;
      cj = (cj + 1) % k;
    }
    c.copyWithin(ci * d, cj * d, (cj + 1) * d);
    for (let t = 0; t < d; t++) {
      const up = Math.fround(1 + SPLIT_EPS), down = Math.fround(1 - SPLIT_EPS);
      if (t % 2 === 0) {
        c[ci * d + t] = c[ci * d + t]! * up;
        c[cj * d + t] = c[cj * d + t]! * down;
      } else {
        c[ci * d + t] = c[ci * d + t]! * down;
        c[cj * d + t] = c[cj * d + t]! * up;
      }
    }
    hassign[ci] = hassign[cj]! / 2;
    hassign[cj] = hassign[cj]! - hassign[ci]!;
    nsplit++;
  }
  return nsplit;
}

function imbalance(counts: Float64Array, n: number): number {
  let s = 0;
  for (const c of counts) s += c * c;
  return (s * counts.length) / (n * n);
}

function* lloyd(
  rows: () => TrainingParts, d: number, k: number, o: Resolved, opts: KMeansOptions,
): Generator<Float32Array, LloydResult, Assignment> {
  const n = rows().n;
  const better = (a: number, b: number): boolean => (o.spherical ? a > b : a < b);
  let best: LloydResult | undefined;
  let bestObj = o.spherical ? -Infinity : Infinity;
  const total = o.niter * o.nredo;
  for (let redo = 0; redo < o.nredo; redo++) {
    throwIfAborted(opts.signal, 'kmeans');
    const initSeed = o.seed + 1 + redo * 15486557;
    const c = o.init === 'kmeans++' ? initPlusPlus(rows(), d, k, initSeed, opts.signal) : initRandom(rows(), d, k, initSeed);
    if (o.spherical) renormalize(c, k, d);
    const stats: KMeansIterationStats[] = [];
    let obj = 0;
    for (let it = 0; it < o.niter; it++) {
      throwIfAborted(opts.signal, 'kmeans');
      const { assign, dist } = yield c;
      obj = 0;
      for (let i = 0; i < n; i++) obj += dist[i]!;
      const counts = computeCentroids(rows(), d, k, assign, c);
      const imb = imbalance(counts, n);
      const nsplit = splitClusters(d, k, n, counts, c);
      if (o.spherical) renormalize(c, k, d);
      stats.push({ objective: obj, imbalance: imb, nsplit });
      opts.onProgress?.(redo * o.niter + it + 1, total, obj);
    }
    if (!best || better(obj, bestObj)) {
      best = { centroids: c, iterations: o.niter, stats };
      bestObj = obj;
    }
  }
  return best!;
}

function checkAssigned(assign: Int32Array): void {
  if (assign.includes(-1)) {
    throw new ZipmlError('E_ARG', 'kmeans: distances overflow float32 (input values too large)');
  }
}

// ---------------------------------------------------------------------------------------------
// Drivers. An Assigner holds the rows to assign as shards (one on the calling thread, one per
// worker for kmeansAsync) with their per-point state, and remembers the centroids of its last
// step, from which the next step's centroid drift (for pruning) follows.

function emptyShard(x: Float32Array): ShardState {
  return { x, assign: new Int32Array(0), lower: new Float64Array(0), xn: new Float32Array(0) };
}

class Assigner {
  private prev: Float32Array | null = null;

  constructor(
    readonly shards: ShardState[],
    private readonly d: number,
    private readonly k: number,
    private readonly mode: AssignMode,
  ) {}

  /** The rows, in order, as they are now (shards come back from workers as new arrays). */
  get data(): TrainingParts {
    return { n: this.shards.reduce((a, s) => a + s.x.length / this.d, 0), parts: this.shards.map((s) => s.x) };
  }

  /** How far each centroid moved since the last step (Euclidean), or null on the first. */
  private drift(c: Float32Array): Float64Array | null {
    const prev = this.prev;
    this.prev = c.slice();
    if (this.mode !== 'l2-pruned' || !prev) return null;
    const { d, k } = this;
    const out = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = j * d; t < (j + 1) * d; t++) s += (c[t]! - prev[t]!) ** 2;
      out[j] = Math.sqrt(s);
    }
    return out;
  }

  stepSync(c: Float32Array): Assignment {
    const drift = this.drift(c);
    return this.merge(this.shards.map((s) => assignStep(s, this.d, c, this.k, this.mode, drift)));
  }

  /** The same step with each shard on a worker; the shards' arrays travel there and back. */
  async stepAsync(c: Float32Array, pool: WorkerPool, signal: AbortSignal | undefined): Promise<Assignment> {
    const drift = this.drift(c);
    const path = kernelPath();
    const results = await Promise.all(
      this.shards.map((s) =>
        pool.run<ShardStep>(
          { module: TASKS, fn: 'assignShard' },
          [s.x, s.assign, s.lower, s.xn, this.d, c, this.k, this.mode, drift, path],
          { transfer: [s.x, s.assign, s.lower, s.xn], signal },
        ),
      ),
    );
    return this.merge(results);
  }

  private merge(steps: ShardStep[]): Assignment {
    steps.forEach((r, i) => {
      this.shards[i] = { x: r.x, assign: r.assign, lower: r.lower, xn: r.xn };
    });
    if (steps.length === 1) {
      // One shard: hand out copies, since the shard's arrays are updated in place next step.
      return { assign: steps[0]!.assign.slice(), dist: steps[0]!.dist };
    }
    let n = 0;
    for (const r of steps) n += r.assign.length;
    const assign = new Int32Array(n);
    const dist = new Float32Array(n);
    let at = 0;
    for (const r of steps) {
      assign.set(r.assign, at);
      dist.set(r.dist, at);
      at += r.assign.length;
    }
    return { assign, dist };
  }
}

function finish(r: LloydResult, final: Assignment): KMeansResult {
  checkAssigned(final.assign);
  let objective = 0;
  for (const v of final.dist) objective += v;
  return { centroids: r.centroids, assign: final.assign, objective, iterations: r.iterations, stats: r.stats };
}

/**
 * Trains k centroids on the n x d rows of x (see the file comment for the algorithm). Throws
 * E_ARG for a length that is not a multiple of d, NaN or infinite values, an empty training set,
 * k < 1 or k > n; E_ABORTED when the signal fires (checked between iterations).
 */
export function kmeans(x: Float32Array, d: number, k: number, opts: KMeansOptions = {}): KMeansResult {
  const n = checkInput(x, d, k);
  const o = resolve(opts, k, d);
  const train = trainingSet(x, n, d, k, o);
  const assigner = new Assigner([emptyShard(train)], d, k, o.mode);
  let r: LloydResult;
  if (train.length / d === k) {
    // Faiss's corner case: the training points are the centroids.
    r = { centroids: train.slice(), iterations: 0, stats: [] };
  } else {
    const gen = lloyd(() => assigner.data, d, k, o, opts);
    let step = gen.next();
    while (!step.done) {
      const a = assigner.stepSync(step.value);
      checkAssigned(a.assign);
      step = gen.next(a);
    }
    r = step.value;
  }
  // The last pass covers every input point; without subsampling the assigner already holds x.
  const last = train === x ? assigner : new Assigner([emptyShard(x)], d, k, o.mode);
  return finish(r, last.stepSync(r.centroids));
}

const TASKS = new URL('./kmeans-tasks.js', import.meta.url);
// Below this many multiply-adds per iteration (~25 ms on one core), workers cost more than they save.
const MIN_PARALLEL_WORK = 2 ** 30;

/** Cuts rows into `count` contiguous copies (copies, because they are transferred). */
function shardRows(x: Float32Array, d: number, count: number): ShardState[] {
  const n = x.length / d;
  const out: ShardState[] = [];
  for (let s = 0; s < count; s++) {
    out.push(emptyShard(x.slice(Math.floor((s * n) / count) * d, Math.floor(((s + 1) * n) / count) * d)));
  }
  return out;
}

/**
 * kmeans with the assignment step split over the worker pool: the training set is cut into one
 * shard per thread, and each iteration sends every shard with the current centroids to a worker.
 * The update step runs here in point order, so the result is identical to kmeans() with the same
 * options. Small inputs run on the calling thread.
 */
export async function kmeansAsync(
  x: Float32Array, d: number, k: number, opts: KMeansParallelOptions = {},
): Promise<KMeansResult> {
  const n = checkInput(x, d, k);
  const o = resolve(opts, k, d);
  const pool = opts.pool ?? defaultPool();
  const threads = opts.threads ?? pool.size;
  if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
  const train = trainingSet(x, n, d, k, o);
  const nTrain = train.length / d;
  const small = opts.threads === undefined && nTrain * k * d < MIN_PARALLEL_WORK;
  if (threads === 1 || nTrain < 4 * threads || small || nTrain === k) {
    return kmeans(x, d, k, opts);
  }
  const assigner = new Assigner(shardRows(train, d, threads), d, k, o.mode);
  const gen = lloyd(() => assigner.data, d, k, o, opts);
  let step = gen.next();
  while (!step.done) {
    const a = await assigner.stepAsync(step.value, pool, opts.signal);
    checkAssigned(a.assign);
    step = gen.next(a);
  }
  const r = step.value;
  const last = train === x ? assigner : new Assigner(shardRows(x, d, threads), d, k, o.mode);
  return finish(r, await last.stepAsync(r.centroids, pool, opts.signal));
}
