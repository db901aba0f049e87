/**
 * Batch search over the worker pool. The index is saved once into a SharedArrayBuffer (again
 * only after it changes); each worker loads it from there without copying the code arrays (the
 * loaded lists are views into the shared bytes) and keeps it for later calls. The queries and the
 * result arrays are shared too, and each lane (one task per thread) takes the next few queries
 * from a shared counter until none are left: OpenMP's dynamic schedule. Lanes finish within one
 * step of each other whatever the queries cost, and a call posts one message per thread. The
 * result equals search() on the calling thread.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { defaultPool } from '../../core/workers/pool.js';
import type { ParallelOptions } from '../../core/entropy/frame-parallel.js';
import { IdSet, type VectorId } from '../search/filter.js';
import { checkRowShape } from '../linalg.js';
import type { VectorIndex, SearchParams, SearchResult } from './vector-index.js';
import { saveIndex } from './file.js';
import type { LaneKeys } from './search-tasks.js';

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
// Steps per thread: enough that lanes finish close together (a lane overshoots the others by at
// most one step), few enough that the shared counter is touched rarely. Searching 8 queries per
// call costs the same per query as 1,000 per call (MNIST IVF32,PQ28x4fs: within 5%).
const STEPS_PER_THREAD = 64;
const MAX_STEP = 64;

// One query buffer kept between calls: a fresh SharedArrayBuffer's first writes fault its pages
// in, which made copying MNIST's 1,000 queries (3 MB) take 1.4 ms instead of 0.25 ms, about 2% of
// a two-thread batch. Calls running at once take fresh buffers.
const MAX_SPARE_BYTES = 64 << 20;
let spare: SharedArrayBuffer | null = null;

function takeScratch(bytes: number): SharedArrayBuffer {
  const s = spare;
  if (s !== null && s.byteLength >= bytes) {
    spare = null;
    return s;
  }
  return new SharedArrayBuffer(bytes);
}

function keepScratch(buf: SharedArrayBuffer): void {
  if (buf.byteLength <= MAX_SPARE_BYTES && buf.byteLength > (spare?.byteLength ?? 0)) spare = buf;
}

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
  // The lanes check their own queries for non-finite values, in parallel (a serial scan of
  // MNIST's 1,000 queries took ~4% of a two-thread call).
  const nq = checkRowShape(queries, index.d, 'searchAsync');
  const pool = params.pool ?? defaultPool();
  const threads = params.threads ?? pool.size;
  if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
  throwIfAborted(params.signal, 'searchAsync');
  const lanes = Math.min(threads, Math.floor(nq / MIN_QUERIES_PER_THREAD));
  // Predicates cannot cross to workers, and pages without cross-origin isolation have no shared
  // memory: such searches run here.
  const canShare = typeof SharedArrayBuffer === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
  if (lanes <= 1 || typeof params.filter === 'function' || !canShare) return index.search(queries, k, params);
  const wire: WireParams = { nprobe: params.nprobe, kFactor: params.kFactor, rerank: params.rerank };
  if (params.filter instanceof IdSet) wire.filter = params.filter.toJSON();
  const { key, buf } = sharedBytes(index);
  const qbuf = takeScratch(nq * index.d * 4);
  const q = new Float32Array(qbuf, 0, nq * index.d);
  q.set(queries.subarray(0, nq * index.d));
  const distances = new Float32Array(new SharedArrayBuffer(nq * k * 4));
  const ids = new Float64Array(new SharedArrayBuffer(nq * k * 8));
  const next = new Int32Array(new SharedArrayBuffer(4));
  // No step of a single query: Flat searches one query by a direct scan and several through the
  // blocked kernel, whose float32 sums round differently, and the result must equal search()'s.
  let step = Math.max(2, Math.min(MAX_STEP, Math.ceil(nq / (lanes * STEPS_PER_THREAD))));
  while (nq % step === 1) step++;
  const laneKeys = await Promise.all(Array.from({ length: lanes }, () =>
    pool.run<LaneKeys>({ module: TASKS, fn: 'searchLane' }, [buf, key, q, k, wire, distances, ids, next, step], { signal: params.signal })));
  // Only after every lane returned (a failed call drops its buffer: a lane may still read it).
  keepScratch(qbuf);
  // Results leave in ordinary (unshared) arrays, like search()'s.
  const out: SearchResult = { nq, k, distances: distances.slice(), ids: ids.slice() };
  if (laneKeys.some((l) => l.length > 0)) {
    const keys = new Array<string | null>(nq * k).fill(null);
    for (const lane of laneKeys) for (const [a, ks] of lane) for (let i = 0; i < ks.length; i++) keys[a * k + i] = ks[i]!;
    out.keys = keys;
  }
  return out;
}
