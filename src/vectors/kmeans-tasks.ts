/**
 * The assignment step of k-means for one shard of the training set: run on the calling thread by
 * kmeans(), and in workers by kmeansAsync() (the shard's arrays arrive moved and go back moved, so
 * a shard makes the round trip every iteration without being copied).
 *
 * Pruning (mode 'l2-pruned') is Hamerly's bound (G. Hamerly, "Making k-means even faster", SDM
 * 2010), arranged so the result is bit-identical to the plain step: each point keeps L, a lower
 * bound on its true distance to every centroid but its own, lowered each step by how far the
 * centroids moved. Its distance V to its own centroid is recomputed every step with the blocked
 * kernel's exact arithmetic (assignedDistances). Every kernel value is within eps of the true
 * squared distance (pairErrorBound), so when V < L^2 - eps every other centroid's kernel value
 * exceeds V and the plain step would pick the same centroid with the same distance. Only the
 * other points go through the blocked argmin kernel, which also yields their runner-up distance,
 * the new L.
 */
import { setKernelPath, type KernelPath } from '../kernels/loader.js';
import { nearestCentroids, assignedDistances, squaredNorms, pairErrorBound } from './distances.js';

/** 'l2' / 'ip': the plain nearest-centroid step; 'l2-pruned': the same result for l2, pruned. */
export type AssignMode = 'l2' | 'ip' | 'l2-pruned';

/** What a shard carries between steps (all moved with it). */
export interface ShardState {
  x: Float32Array;
  /** The current assignment (any content before the first step). */
  assign: Int32Array;
  /** Pruning: per point, a lower bound on the Euclidean distance to the other centroids (empty until the first pruned step). */
  lower: Float64Array;
  /** Pruning: squared norms of the rows (empty until the first pruned step). */
  xn: Float32Array;
}

export interface ShardStep extends ShardState {
  /** Distance of each point to its (new) centroid: squared L2, or the inner product for 'ip'. */
  dist: Float32Array;
  /** Points that went through the blocked argmin kernel (all of them unless pruned). */
  recomputed: number;
}

/**
 * One assignment step. `drift[j]` is how far centroid j moved (Euclidean) since the previous step
 * on this state, or null when there was none (then every point is assigned from scratch).
 */
export function assignStep(
  s: ShardState, d: number, centroids: Float32Array, k: number, mode: AssignMode, drift: Float64Array | null,
): ShardStep {
  const n = s.x.length / d;
  const assign = s.assign.length === n ? s.assign : new Int32Array(n);
  const dist = new Float32Array(n);
  if (mode !== 'l2-pruned') {
    nearestCentroids(s.x, d, 0, n, centroids, k, mode, assign, dist);
    return { x: s.x, assign, lower: s.lower, xn: s.xn, dist, recomputed: n };
  }
  const xn = s.xn.length === n ? s.xn : squaredNorms(s.x, d);
  const fresh = drift === null || s.lower.length !== n;
  const lower = fresh ? new Float64Array(n) : s.lower;
  let maxCn = 0;
  for (let j = 0; j < k; j++) {
    let c = 0;
    for (let t = j * d; t < (j + 1) * d; t++) c += centroids[t]! * centroids[t]!;
    if (c > maxCn) maxCn = c;
  }
  const gamma = pairErrorBound(d);
  const todo = new Int32Array(n);
  let m = 0;
  if (fresh) {
    for (let i = 0; i < n; i++) todo[i] = i;
    m = n;
  } else {
    // Hamerly: the bound falls by the largest move of any centroid other than the point's own.
    let top = 0, d1 = 0, d2 = 0;
    for (let j = 0; j < k; j++) {
      const v = drift[j]!;
      if (v > d1) {
        d2 = d1;
        d1 = v;
        top = j;
      } else if (v > d2) {
        d2 = v;
      }
    }
    assignedDistances(s.x, d, 0, n, centroids, k, assign, dist);
    for (let i = 0; i < n; i++) {
      const l = lower[i]! - (assign[i] === top ? d2 : d1);
      lower[i] = l;
      if (!(l > 0 && l * l - gamma * (xn[i]! + maxCn) > dist[i]!)) todo[m++] = i;
    }
  }
  if (m > 0) {
    const rows = m === n ? s.x : new Float32Array(m * d);
    if (m < n) for (let r = 0; r < m; r++) rows.set(s.x.subarray(todo[r]! * d, (todo[r]! + 1) * d), r * d);
    const idx = new Int32Array(m), dd = new Float32Array(m), second = new Float32Array(m);
    nearestCentroids(rows, d, 0, m, centroids, k, 'l2', idx, dd, second);
    for (let r = 0; r < m; r++) {
      const i = todo[r]!;
      assign[i] = idx[r]!;
      dist[i] = dd[r]!;
      const l2 = second[r]! - gamma * (xn[i]! + maxCn);
      lower[i] = l2 > 0 ? Math.sqrt(l2) : 0;
    }
  }
  return { x: s.x, assign, lower, xn, dist, recomputed: m };
}

/**
 * The worker task: assignStep on a shard whose arrays arrived moved; everything returns moved.
 * `path` is the caller's kernel path, so a caller forced onto the reference path gets reference
 * results from every worker too.
 */
export function assignShard(
  x: Float32Array, assign: Int32Array, lower: Float64Array, xn: Float32Array, d: number, centroids: Float32Array,
  k: number, mode: AssignMode, drift: Float64Array | null, path: KernelPath,
): ShardStep {
  setKernelPath(path);
  return assignStep({ x, assign, lower, xn }, d, centroids, k, mode, drift);
}
