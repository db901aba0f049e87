/**
 * Batch search over the worker pool. The index is saved once into a SharedArrayBuffer (again
 * only after it changes); each worker loads it from there without copying the code arrays (the
 * loaded lists are views into the shared bytes) and keeps it for later calls. The queries are cut
 * into contiguous parts, a few per thread, that the pool hands to whichever worker is free (queries
 * differ in cost, and equal halves leave one worker idle at the end); the parts' results are
 * concatenated, so the result equals search() on the calling thread.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { defaultPool } from '../../core/workers/pool.js';
import type { ParallelOptions } from '../../core/entropy/frame-parallel.js';
import { IdSet, type VectorId } from '../search/filter.js';
import { checkRows } from '../linalg.js';
import type { VectorIndex, SearchParams, SearchResult } from './vector-index.js';
import { saveIndex } from './file.js';

export type ParallelSearchParams = SearchParams & ParallelOptions;

/** What a worker receives instead of SearchParams (no functions, no AbortSignal). */
export interface WireParams {
  nprobe?: number;
  kFactor?: number;
  rerank?: 'kFactor' | 'bound';
  filter?: { ids: VectorId[]; exclude: boolean };
}

const TASKS = new URL('./search-tasks.js', import.meta.url);
// Below this many queries per thread, posting work costs more than it saves.
const MIN_QUERIES_PER_THREAD = 8;
// Parts per thread: enough to even out the workers' finishing times, few enough that posting
// them stays cheap.
const PARTS_PER_THREAD = 4;

/** The index's bytes in shared memory, cached per index version. */
const shared = new WeakMap<VectorIndex, { version: number; key: string; buf: SharedArrayBuffer }>();
let keys = 0;
// Distinguishes snapshots of different processes/pages sharing a pool's workers.
const SESSION = Math.random().toString(36).slice(2);

function sharedBytes(index: VectorIndex): { key: string; buf: SharedArrayBuffer } {
  const have = shared.get(index);
  if (have && have.version === index.version) return have;
  const bytes = saveIndex(index);
  const buf = new SharedArrayBuffer(bytes.length);
  new Uint8Array(buf).set(bytes);
  const entry = { version: index.version, key: `${SESSION}:${++keys}`, buf };
  shared.set(index, entry);
  return entry;
}

export async function searchParallel(index: VectorIndex, queries: Float32Array, k: number, params: ParallelSearchParams = {}): Promise<SearchResult> {
  const nq = checkRows(queries, index.d, 'searchAsync');
  const pool = params.pool ?? defaultPool();
  const threads = params.threads ?? pool.size;
  if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
  throwIfAborted(params.signal, 'searchAsync');
  const useful = Math.min(threads, Math.floor(nq / MIN_QUERIES_PER_THREAD));
  const parts = useful <= 1 ? useful : Math.min(useful * PARTS_PER_THREAD, Math.floor(nq / MIN_QUERIES_PER_THREAD));
  // Predicates cannot cross to workers, and pages without cross-origin isolation have no shared
  // memory: such searches run here.
  const canShare = typeof SharedArrayBuffer === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
  if (parts <= 1 || typeof params.filter === 'function' || !canShare) return index.search(queries, k, params);
  const wire: WireParams = { nprobe: params.nprobe, kFactor: params.kFactor, rerank: params.rerank };
  if (params.filter instanceof IdSet) wire.filter = params.filter.toJSON();
  const { key, buf } = sharedBytes(index);
  const ranges: Array<[number, number]> = [];
  for (let t = 0; t < parts; t++) ranges.push([Math.floor((t * nq) / parts), Math.floor(((t + 1) * nq) / parts)]);
  // `useful` lanes, each posting its next part when the last one returns: never more than
  // `threads` parts in flight, whatever the pool's size.
  const results: SearchResult[] = new Array(parts);
  let next = 0;
  await Promise.all(Array.from({ length: useful }, async () => {
    while (next < parts) {
      const t = next++;
      const [a, b] = ranges[t]!;
      const q = queries.slice(a * index.d, b * index.d);
      results[t] = await pool.run<SearchResult>({ module: TASKS, fn: 'searchPart' }, [buf, key, q, k, wire], { transfer: [q], signal: params.signal });
    }
  }));
  const out: SearchResult = { nq, k, distances: new Float32Array(nq * k), ids: new Float64Array(nq * k) };
  if (results.some((r) => r.keys)) out.keys = [];
  ranges.forEach(([a], t) => {
    const r = results[t]!;
    out.distances.set(r.distances, a * k);
    out.ids.set(r.ids, a * k);
    if (out.keys) out.keys.push(...r.keys!);
  });
  return out;
}
