/**
 * Worker side of searchParallel: loads the shared index once per (key), then takes the next
 * `step` queries from a shared counter until none are left, writing their results straight into
 * the shared output arrays. Only the newest index is kept, so memory stays bounded.
 */
import { loadIndex } from './file.js';
import { IdSet } from '../search/filter.js';
import { checkFinite } from '../linalg.js';
import type { VectorIndex } from './vector-index.js';
import type { WireParams } from './parallel.js';

let cachedKey = '';
let cached: VectorIndex | null = null;

/** Queries taken by one lane that found string ids: [first query, its keys (k per query)]. */
export type LaneKeys = Array<[number, (string | null)[]]>;

export function searchLane(
  buf: SharedArrayBuffer, key: string, queries: Float32Array, k: number, wire: WireParams,
  distances: Float32Array, ids: Float64Array, next: Int32Array, step: number,
): LaneKeys {
  if (cachedKey !== key || cached === null) {
    cached = loadIndex(new Uint8Array(buf));
    cachedKey = key;
  }
  const index = cached, d = index.d, nq = queries.length / d;
  const filter = wire.filter ? new IdSet(wire.filter.ids, { exclude: wire.filter.exclude }) : undefined;
  const params = { nprobe: wire.nprobe, kFactor: wire.kFactor, rerank: wire.rerank, filter };
  const keys: LaneKeys = [];
  for (;;) {
    const a = Atomics.add(next, 0, step);
    if (a >= nq) return keys;
    const b = Math.min(nq, a + step);
    const part = queries.subarray(a * d, b * d);
    checkFinite(part, d, 'searchAsync', a);
    const r = index.search(part, k, params);
    distances.set(r.distances, a * k);
    ids.set(r.ids, a * k);
    if (r.keys) keys.push([a, r.keys]);
  }
}
