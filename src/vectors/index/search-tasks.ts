/**
 * Worker side of searchParallel: loads the shared index once per (key) and searches a part of
 * the queries. Only the newest index per key prefix is kept, so memory stays bounded.
 */
import { loadIndex } from './file.js';
import { IdSet } from '../search/filter.js';
import type { VectorIndex, SearchResult } from './vector-index.js';
import type { WireParams } from './parallel.js';

let cachedKey = '';
let cached: VectorIndex | null = null;

export function searchPart(buf: SharedArrayBuffer, key: string, queries: Float32Array, k: number, wire: WireParams): SearchResult {
  if (cachedKey !== key || cached === null) {
    cached = loadIndex(new Uint8Array(buf));
    cachedKey = key;
  }
  const filter = wire.filter ? new IdSet(wire.filter.ids, { exclude: wire.filter.exclude }) : undefined;
  return cached.search(queries, k, { nprobe: wire.nprobe, kFactor: wire.kFactor, rerank: wire.rerank, filter });
}
