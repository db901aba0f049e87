/**
 * VectorIndex: vectors stored compressed, with ids, searched in the compressed domain.
 *
 * One class composes the parts a factory string names (see factory.ts), as Faiss composes
 * IndexPreTransform, IndexIVF*, Index*FastScan and IndexRefine:
 *
 *   query ─▶ [OPQ rotation] ─▶ [coarse quantizer: nprobe nearest of nlist centroids]
 *         ─▶ scan of the probed inverted lists' codes (codec lookup tables, SQ kernels,
 *            fast-scan, RaBitQ) into a top-(k·kFactor) collector, with the filter and the
 *            tombstones checked for every candidate that would enter it
 *         ─▶ [refine: re-rank the candidates with exact (RFlat) or finer codes] ─▶ top k
 *
 * A flat index is a single list scanned whole. Lossy codecs under IVF encode the residual
 * x − centroid (Faiss's by_residual; for 'ip' the centroid term ⟨q, c⟩ is added per list).
 * Values inside are "smaller is closer" (squared L2, or minus the similarity); results report
 * squared L2 for 'l2' and the similarity for 'ip' / 'cos', as Faiss does. Cosine indexes store
 * normalized vectors and search by inner product.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { createCodec } from '../codecs/factory.js';
import { trainOPQRotation } from '../codecs/opq.js';
import { RandomOrthogonalRotation } from '../rotation.js';
import { kmeans, kmeansAsync, type KMeansOptions } from '../kmeans.js';
import type { ParallelOptions } from '../../core/entropy/frame-parallel.js';
import { normalizeRows, pairBlocks, nearestCentroids, ResidentRows } from '../distances.js';
import { ProductQuantizer, lutScan } from '../codecs/pq.js';
import { checkRows, checkDim } from '../linalg.js';
import { TopK, Reservoir, checkK, type Collector } from '../search/topk.js';
import { filterAllows, IdSet, type SearchFilter, type VectorId } from '../search/filter.js';
import { parseFactory, type IndexRecipe } from './factory.js';
import { FlatCodec, floatView } from './flat-codec.js';
import { InvertedLists } from './lists.js';
import { IdMap } from './ids.js';
import { searchParallel, type ParallelSearchParams } from './parallel.js';
import { ResidentSQ8 } from './resident-sq8.js';
import { ScalarQuantizer } from '../codecs/sq.js';
import { ResidentPQLists, combineTableReference } from './resident-pq.js';
import { quantizeLuts } from '../fastscan/lut.js';
import { packFastScan } from '../fastscan/layout.js';
import { fastScanInto } from '../fastscan/search.js';
import { packRaBitQ, rabitqQuery, rabitqSearch, codecReranker, type RaBitQFastScan } from '../fastscan/rabitq.js';
import { RaBitQCodec } from '../codecs/rabitq.js';

export interface IndexOptions {
  /** 'l2' (default), 'ip' or 'cos'. */
  metric?: Metric;
  /**
   * Encode residuals from the coarse centroid (IVF with a lossy codec). Defaults as Faiss's
   * index_factory builds each type: true, except for `PQ{M}x4fs` (IndexIVFPQFastScan sets
   * by_residual = false: one lookup table per query instead of one per probed list).
   */
  byResidual?: boolean;
}

export interface IndexTrainOptions extends TrainOptions {
  /** Coarse k-means iterations (Faiss's IVF default 10). */
  niter?: number;
}

/** Search parameters: every knob per call, never frozen at build time. */
export interface SearchParams {
  /** Inverted lists visited per query (IVF; default 1, as Faiss). */
  nprobe?: number;
  /** With refinement: re-rank k·kFactor candidates (default 1, as Faiss's IndexRefine). */
  kFactor?: number;
  /** Only ids the filter allows are returned (checked inside the scan). */
  filter?: SearchFilter;
  /**
   * RaBitQ indexes ('l2'): 'bound' re-ranks by the estimator's error bound (the RaBitQ paper's
   * search: fast-scan estimates, then exact values while a lower bound can still enter the
   * top-k; kFactor is ignored). Default 'kFactor': the best k·kFactor estimates are re-ranked.
   */
  rerank?: 'kFactor' | 'bound';
  signal?: AbortSignal;
}

export interface SearchResult {
  nq: number;
  k: number;
  /** nq × k: squared L2 ascending ('l2') or similarity descending ('ip', 'cos'); ±Infinity pads. */
  distances: Float32Array;
  /** nq × k numeric ids, −1 where fewer than k matched (and everywhere for string-id indexes). */
  ids: Float64Array;
  /** nq × k string ids (null pads); present for string-id indexes. */
  keys?: (string | null)[];
}

export interface RangeResult {
  nq: number;
  /** Query i's results are entries lims[i] .. lims[i+1]−1, best first. */
  lims: Int32Array;
  distances: Float32Array;
  ids: Float64Array;
  keys?: (string | null)[];
}

export interface AddOptions extends LongOpOptions {
  /** Replace vectors whose id is already present instead of refusing the add. */
  upsert?: boolean;
}

/** Rows scanned per call of a codec's distance function (bounds the scratch memory). */
const SCAN_CHUNK = 4096;
/**
 * PQ…x4fs: mean probed-list length from which the integer fast-scan kernel beats the float
 * nibble-table kernel on resident lists. Its per-list set-up (table quantization, kernel state)
 * dominates short lists: measured on 100k × 128 (this machine, one thread), lists of ~390 rows ran
 * 1.5× faster on the float kernel, a single 100k list 2.1× faster on fast-scan.
 */
const FAST_SCAN_MIN_ROWS = 1024;
/** Largest IVF-PQ precomputed table (nlist × M × ksub floats), as Faiss bounds its own. */
const PRECOMPUTED_MAX_BYTES = 256 << 20;

/** Values of n codes (rows from0.. of the list being scanned) into out. */
type ScanFn = (codes: Uint8Array, n: number, out: Float32Array, from: number) => void;

/** Per-list PQ tables of one query (see pqListTables). */
interface PQListTables {
  tableFor: (l: number) => Float32Array;
  bias: (l: number) => number;
  /** With precomputed tables: the query's inner-product table the list tables derive from. */
  queryTable?: Float32Array;
}

/** Search-time state derived from the index, rebuilt lazily after it changes. */
interface SearchCache {
  coarse?: ResidentRows;
  pqPre?: Float32Array | null;
  residentPQ?: ResidentPQLists | null;
  /** Fast-scan: each list's codes in the packed block layout. */
  packed?: Uint8Array[];
  /** RaBitQ under IVF: the codec's rotation applied to the coarse centroids. */
  rotatedCentroids?: Float32Array;
  /** RaBitQ: each list's sign bits in the fast-scan layout, with the per-row factors. */
  rabitq?: RaBitQFastScan[];
  exact?: ResidentRows;
  flat?: ResidentRows;
  /** IVF,Flat: every list's rows in kernel memory, list l at rows listStart[l]..listStart[l+1]. */
  ivfFlat?: { rows: ResidentRows; listStart: Int32Array };
  /** SQ8 refinement codes in kernel memory (null: no WebAssembly). */
  sq8?: ResidentSQ8 | null;
}

export class VectorIndex {
  readonly d: number;
  readonly metric: Metric;
  readonly recipe: IndexRecipe;
  readonly byResidual: boolean;
  /** Learned OPQ rotation, applied to everything before the rest (null without OPQ). */
  transform: RandomOrthogonalRotation | null = null;
  /** nlist × d coarse centroids (null for flat indexes or before training). */
  centroids: Float32Array | null = null;
  codec: VectorCodec;
  refineCodec: VectorCodec | null;
  /** Refinement codes in slot order. */
  refineCodes: Uint8Array = new Uint8Array(0);
  readonly lists: InvertedLists;
  ids = new IdMap();
  private trainedFlag: boolean;
  private cache: SearchCache = {};
  /** Bumped by every change, so derived copies (worker snapshots) know when they are stale. */
  version = 0;

  constructor(d: number, factory: string | IndexRecipe, opts: IndexOptions = {}) {
    checkDim(d, 'VectorIndex');
    this.d = d;
    const metric = opts.metric ?? 'l2';
    if (metric !== 'l2' && metric !== 'ip' && metric !== 'cos') throw new ZipmlError('E_ARG', `metric must be 'l2', 'ip' or 'cos', got ${String(metric)}`);
    this.metric = metric;
    this.recipe = typeof factory === 'string' ? parseFactory(factory, d) : factory;
    const r = this.recipe;
    this.codec = r.codec === 'Flat' ? new FlatCodec(d) : createCodec(r.codec, d);
    this.refineCodec = r.refine === '' ? null : r.refine === 'Flat' ? new FlatCodec(d) : createCodec(r.refine, d);
    this.byResidual = r.nlist > 0 && r.codec !== 'Flat' && (opts.byResidual ?? !r.fastScan);
    this.lists = new InvertedLists(Math.max(1, r.nlist), this.codec.codeSize);
    this.trainedFlag = r.nlist === 0 && r.opqM === 0 && this.codec.isTrained && (this.refineCodec?.isTrained ?? true);
  }

  /** @internal Installs loaded parts (see file.ts). */
  restore(parts: { codec: VectorCodec; refineCodec: VectorCodec | null; ids: IdMap; trained: boolean }): void {
    this.codec = parts.codec;
    this.refineCodec = parts.refineCodec;
    this.ids = parts.ids;
    this.trainedFlag = parts.trained;
    this.cache = {};
    this.version++;
  }

  get factory(): string {
    return this.recipe.factory;
  }

  get isTrained(): boolean {
    return this.trainedFlag;
  }

  /** Live vectors. */
  get ntotal(): number {
    return this.ids.count;
  }

  /** Stored bytes per vector: codes, refinement codes and a 4-byte slot in its list. */
  get bytesPerVector(): number {
    return this.codec.codeSize + (this.refineCodec?.codeSize ?? 0) + (this.recipe.nlist > 0 ? 4 : 0);
  }

  /** Bytes held now: lists (capacity), refinement codes, centroids, rotation, id map, and the
   * search-time copies (resident kernel memory, fast-scan layouts). */
  get memoryBytes(): number {
    // Alive flags, plus explicit ids and their hash map (an estimate of V8's cost per entry).
    const idBytes = this.ids.slots * (this.ids.implicit ? 1 : this.ids.kind === 'string' ? 80 : 60);
    return this.lists.memoryBytes + this.refineCodes.byteLength + (this.centroids?.byteLength ?? 0)
      + (this.transform?.matrix.byteLength ?? 0) + idBytes + this.searchCopyBytes();
  }

  private searchCopyBytes(): number {
    const c = this.cache;
    let b = (c.coarse?.memoryBytes ?? 0) + (c.exact?.memoryBytes ?? 0) + (c.flat?.memoryBytes ?? 0) + (c.residentPQ?.memoryBytes ?? 0)
      + (c.ivfFlat?.rows.memoryBytes ?? 0);
    b += (c.pqPre?.byteLength ?? 0);
    for (const p of c.packed ?? []) b += p.byteLength;
    for (const r of c.rabitq ?? []) b += r.packed.byteLength + r.factors.byteLength;
    return b;
  }

  // -------------------------------------------------------------------------------------------
  // Training and adding

  /** Rows prepared for storage or search: cos-normalized (a copy) and rotated; the caller validated them. */
  private prepareRows(x: Float32Array): Float32Array {
    let y = this.metric === 'cos' ? normalizeRows(x.slice(), this.d) : x;
    if (this.transform) y = this.transform.apply(y);
    return y;
  }

  /** The metric the codecs see ('cos' became 'ip' on normalized vectors). */
  private get codecMetric(): 'l2' | 'ip' {
    return this.metric === 'l2' ? 'l2' : 'ip';
  }

  /** Learns the OPQ rotation, the coarse centroids and the codecs from training vectors. */
  train(x: Float32Array, opts: IndexTrainOptions = {}): void {
    const t = this.trainStart(x, opts);
    const km = this.recipe.nlist > 0 ? kmeans(t.xt, this.d, this.recipe.nlist, t.km) : null;
    this.trainFinish(t.xt, km?.centroids ?? null, opts);
  }

  /**
   * train() with the coarse k-means (the largest part for big nlist) on the worker pool
   * (`threads`, `pool`); the result equals train()'s.
   */
  async trainAsync(x: Float32Array, opts: IndexTrainOptions & ParallelOptions = {}): Promise<void> {
    const t = this.trainStart(x, opts);
    const km = this.recipe.nlist > 0 ? await kmeansAsync(t.xt, this.d, this.recipe.nlist, { ...t.km, threads: opts.threads, pool: opts.pool }) : null;
    this.trainFinish(t.xt, km?.centroids ?? null, opts);
  }

  /** Checks, cos-normalizes and OPQ-rotates the training rows; the coarse k-means options. */
  private trainStart(x: Float32Array, opts: IndexTrainOptions): { xt: Float32Array; km: KMeansOptions } {
    const d = this.d, r = this.recipe;
    const n = checkRows(x, d, 'index train');
    if (n === 0) throw new ZipmlError('E_ARG', 'index train: no training vectors');
    if (r.nlist > 0 && n < r.nlist) throw new ZipmlError('E_ARG', `index train: ${n} vectors cannot train ${r.nlist} inverted lists`);
    const seed = opts.seed ?? 1234;
    this.trainStep(0, opts);
    let xt = this.metric === 'cos' ? normalizeRows(x.slice(), d) : x;
    if (r.opqM > 0) {
      const rot = trainOPQRotation(xt, d, r.opqM, { seed, signal: opts.signal });
      this.transform = new RandomOrthogonalRotation(d, rot.matrix);
      xt = this.transform.apply(xt);
    }
    this.trainStep(1, opts);
    return { xt, km: { niter: opts.niter ?? 10, seed, signal: opts.signal } };
  }

  private trainStep(s: number, opts: IndexTrainOptions): void {
    throwIfAborted(opts.signal, 'index train');
    opts.onProgress?.(s, 4);
  }

  /** Installs the coarse centroids and trains the codecs (on residuals when byResidual). */
  private trainFinish(xt: Float32Array, centroids: Float32Array | null, opts: IndexTrainOptions): void {
    const d = this.d, n = xt.length / d;
    const seed = opts.seed ?? 1234;
    let residual = xt;
    if (centroids) {
      this.centroids = centroids;
      if (this.byResidual) {
        const assign = this.assign(xt, n);
        residual = new Float32Array(xt.length);
        for (let i = 0; i < n; i++) {
          const c = assign[i]! * d;
          for (let j = 0; j < d; j++) residual[i * d + j] = xt[i * d + j]! - centroids[c + j]!;
        }
      }
    }
    this.trainStep(2, opts);
    if (this.codec.name !== 'Flat') this.codec.train(residual, { seed, signal: opts.signal });
    this.trainStep(3, opts);
    if (this.refineCodec && this.refineCodec.name !== 'Flat') this.refineCodec.train(xt, { seed, signal: opts.signal });
    this.trainedFlag = true;
    this.cache = {};
    this.version++;
    this.trainStep(4, opts);
  }

  /** Nearest coarse centroid of each row ('l2'; largest inner product for 'ip'/'cos'). */
  private assign(x: Float32Array, n: number): Int32Array {
    const out = new Int32Array(n);
    nearestCentroids(x, this.d, 0, n, this.centroids!, this.recipe.nlist, this.codecMetric, out, new Float32Array(n));
    return out;
  }

  /**
   * Adds n vectors with ids (numbers or strings; default: consecutive numbers after the largest
   * so far). Ids already present are refused, or replaced with `upsert`.
   */
  add(x: Float32Array, ids?: ArrayLike<number> | readonly string[], opts: AddOptions = {}): void {
    if (!this.trainedFlag) throw new ZipmlError('E_ARG', `index ${this.factory}: train() before add()`);
    const d = this.d;
    const n = checkRows(x, d, 'index add');
    const idList = this.ids.prepare(n, ids);
    for (const id of idList) {
      if (this.ids.slotOf(id) === undefined) continue;
      if (!opts.upsert) throw new ZipmlError('E_ARG', `id ${JSON.stringify(id)} is already in the index (remove it first, or add with { upsert: true })`);
      this.ids.remove(id);
    }
    const y = this.prepareRows(x);
    const assign = this.recipe.nlist > 0 ? this.assign(y, n) : new Int32Array(n);
    let enc = y;
    if (this.byResidual) {
      enc = new Float32Array(y.length);
      const c = this.centroids!;
      for (let i = 0; i < n; i++) {
        const o = assign[i]! * d;
        for (let j = 0; j < d; j++) enc[i * d + j] = y[i * d + j]! - c[o + j]!;
      }
    }
    const codes = this.codec.encode(enc);
    const rcodes = this.refineCodec ? this.refineCodec.encode(y) : null;
    const first = this.ids.push(idList);
    this.version++;
    const cs = this.codec.codeSize;
    for (let i = 0; i < n; i++) {
      this.lists.append(assign[i]!, codes.subarray(i * cs, (i + 1) * cs), first + i);
      if ((i & 4095) === 4095) {
        opts.onProgress?.(i + 1, n);
        throwIfAborted(opts.signal, 'index add');
      }
    }
    if (rcodes) this.appendRefine(rcodes, first);
    // Keep resident copies in step (they exist once a search built them); PQ lists are re-laid out.
    this.cache.residentPQ = undefined;
    this.cache.ivfFlat = undefined;
    this.cache.packed = undefined;
    this.cache.rabitq = undefined;
    if (this.cache.exact && rcodes) this.cache.exact.append(floatView(rcodes, n, d));
    if (this.cache.sq8 && rcodes) this.cache.sq8.append(rcodes, n);
    if (this.cache.flat && this.recipe.nlist === 0) this.cache.flat.append(floatView(codes, n, d));
    opts.onProgress?.(n, n);
    if (this.ids.removed > 1024 && this.ids.removed > this.ids.slots / 2) this.compact();
  }

  private appendRefine(rcodes: Uint8Array, first: number): void {
    const rcs = this.refineCodec!.codeSize;
    const need = (first * rcs) + rcodes.length;
    if (need > this.refineCodes.length || this.refineBorrowed) {
      const grown = new Uint8Array(Math.max(need, this.refineBorrowed ? need : this.refineCodes.length * 2));
      grown.set(this.refineCodes.subarray(0, first * rcs));
      this.refineCodes = grown;
      this.refineBorrowed = false;
    }
    this.refineCodes.set(rcodes, first * rcs);
  }

  /** @internal True while refineCodes is a view into loaded file bytes. */
  refineBorrowed = false;

  /**
   * Removes vectors by id (a list, an IdSet, or a predicate over ids). They stop appearing in
   * results at once (tombstones); their space is reclaimed by compact(), which runs by itself
   * when more than half of the slots are dead. Returns how many were removed.
   */
  remove(which: readonly VectorId[] | IdSet | ((id: VectorId) => boolean)): number {
    let removed = 0;
    this.version++;
    if (Array.isArray(which)) {
      for (const id of which as readonly VectorId[]) if (this.ids.remove(id)) removed++;
    } else {
      const f = which as SearchFilter;
      for (let s = 0; s < this.ids.slots; s++) {
        if (!this.ids.isAlive(s)) continue;
        const id = this.ids.idOf(s);
        if (filterAllows(f, id) && this.ids.remove(id)) removed++;
      }
    }
    return removed;
  }

  /** Drops removed vectors from the lists and refinement codes and renumbers slots. */
  compact(): void {
    const oldSlots = this.ids.slots;
    this.cache = {};
    this.version++;
    const remap = this.ids.compact();
    this.lists.compact(remap);
    if (this.refineCodec) {
      const rcs = this.refineCodec.codeSize;
      const out = new Uint8Array(this.ids.slots * rcs);
      for (let s = 0; s < oldSlots; s++) {
        const t = remap[s]!;
        if (t >= 0) out.set(this.refineCodes.subarray(s * rcs, (s + 1) * rcs), t * rcs);
      }
      this.refineCodes = out;
      this.refineBorrowed = false;
    }
  }

  /** Whether id is in the index. */
  has(id: VectorId): boolean {
    return this.ids.slotOf(id) !== undefined;
  }

  /**
   * The stored vector of `id` as the index holds it (decoded; normalized for 'cos', in the
   * original space even with OPQ), from the refinement codes when there are any; null if absent.
   */
  reconstruct(id: VectorId): Float32Array | null {
    const s = this.ids.slotOf(id);
    if (s === undefined) return null;
    let v: Float32Array;
    if (this.refineCodec) {
      const rcs = this.refineCodec.codeSize;
      v = this.refineCodec.decode(this.refineCodes.slice(s * rcs, (s + 1) * rcs));
    } else {
      v = this.decodeSlot(s);
    }
    return this.transform ? this.transform.applyTranspose(v) : v;
  }

  private decodeSlot(slot: number): Float32Array {
    const cs = this.codec.codeSize;
    for (let l = 0; l < this.lists.nlist; l++) {
      const { codes, slots, n } = this.lists.list(l);
      for (let i = 0; i < n; i++) {
        if (slots[i] !== slot) continue;
        const v = this.codec.decode(codes.slice(i * cs, (i + 1) * cs));
        if (this.byResidual) for (let j = 0; j < this.d; j++) v[j] = v[j]! + this.centroids![l * this.d + j]!;
        return v;
      }
    }
    throw new ZipmlError('E_CORRUPT', `slot ${slot} is in no list`);
  }

  // -------------------------------------------------------------------------------------------
  // Search

  private checkSearch(queries: Float32Array, k: number, p: SearchParams): { nq: number; nprobe: number; kFactor: number } {
    const nq = checkRows(queries, this.d, 'search');
    checkK(k);
    const nlist = Math.max(1, this.recipe.nlist);
    const nprobe = p.nprobe ?? 1;
    if (!Number.isInteger(nprobe) || nprobe < 1) throw new ZipmlError('E_ARG', `nprobe must be an integer >= 1, got ${String(p.nprobe)}`);
    const kFactor = p.kFactor ?? 1;
    if (!(typeof kFactor === 'number' && kFactor >= 1 && kFactor <= 1024)) throw new ZipmlError('E_ARG', `kFactor must be a number in 1..1024, got ${String(p.kFactor)}`);
    if (p.filter !== undefined && !(p.filter instanceof IdSet) && typeof p.filter !== 'function') throw new ZipmlError('E_ARG', 'filter must be an IdSet or a function of the id');
    if (p.rerank !== undefined && p.rerank !== 'kFactor' && p.rerank !== 'bound') throw new ZipmlError('E_ARG', `rerank must be 'kFactor' or 'bound', got ${String(p.rerank)}`);
    return { nq, nprobe: Math.min(nprobe, nlist), kFactor };
  }

  /** The k nearest stored vectors of each query (row-major nq × d). */
  search(queries: Float32Array, k: number, params: SearchParams = {}): SearchResult {
    const { nq, nprobe, kFactor } = this.checkSearch(queries, k, params);
    const res = this.emptyResult(nq, k);
    if (!this.trainedFlag || this.ids.count === 0) return res;
    const q = this.prepareRows(queries);
    const kc = this.refineCodec && params.rerank !== 'bound' ? Math.min(Math.ceil(k * kFactor), 1 << 20) : k;
    const accept = this.acceptor(params.filter);
    const colls: TopK[] = [];
    if (this.recipe.nlist === 0 && this.recipe.codec === 'Flat' && nq > 1) {
      for (let i = 0; i < nq; i++) colls.push(new TopK(kc));
      this.flatBatch(q, nq, colls, accept);
    } else {
      const scratch = new Float32Array(SCAN_CHUNK);
      for (let i = 0; i < nq; i++) {
        if ((i & 63) === 63) throwIfAborted(params.signal, 'search');
        const c = new TopK(kc);
        this.scanQuery(q.subarray(i * this.d, (i + 1) * this.d), nprobe, c, accept, scratch, params.rerank);
        colls.push(c);
      }
    }
    for (let i = 0; i < nq; i++) {
      const { values, labels } = this.refineCodec ? this.refine(q.subarray(i * this.d, (i + 1) * this.d), colls[i]!, k) : colls[i]!.sorted();
      this.writeRow(res, i, values, labels);
    }
    return res;
  }

  /**
   * search() over the worker pool (`threads`, `pool`): the queries are split between workers
   * that share the index's bytes. Equal to search(). Predicate filters run on this thread.
   */
  searchAsync(queries: Float32Array, k: number, params: ParallelSearchParams = {}): Promise<SearchResult> {
    return searchParallel(this, queries, k, params);
  }

  /**
   * Every stored vector within `radius` of each query: squared L2 < radius ('l2'), or
   * similarity > radius ('ip', 'cos'). Candidates come from the codes (IVF: the probed lists),
   * then are checked again with the refinement codes when the index has them.
   */
  rangeSearch(queries: Float32Array, radius: number, params: SearchParams = {}): RangeResult {
    if (typeof radius !== 'number' || Number.isNaN(radius)) throw new ZipmlError('E_ARG', 'radius must be a number');
    const { nq, nprobe } = this.checkSearch(queries, 1, params);
    const thr = this.metric === 'l2' ? radius : -radius;
    const lims = new Int32Array(nq + 1);
    const allV: number[] = [], allL: number[] = [];
    if (this.trainedFlag && this.ids.count > 0) {
      const q = this.prepareRows(queries);
      const accept = this.acceptor(params.filter);
      const scratch = new Float32Array(SCAN_CHUNK);
      for (let i = 0; i < nq; i++) {
        const qi = q.subarray(i * this.d, (i + 1) * this.d);
        const c = new RangeCollector(thr);
        this.scanQuery(qi, nprobe, c, accept, scratch);
        let vals = c.values, labs = c.labels;
        if (this.refineCodec && labs.length > 0) {
          const exact = this.refineValues(qi, Float64Array.from(labs));
          vals = [];
          const keep: number[] = [];
          for (let j = 0; j < labs.length; j++) {
            if (exact[j]! < thr) {
              vals.push(exact[j]!);
              keep.push(labs[j]!);
            }
          }
          labs = keep;
        }
        const order = Array.from({ length: labs.length }, (_, j) => j).sort((a, b) => vals[a]! - vals[b]! || labs[a]! - labs[b]!);
        for (const j of order) {
          allV.push(vals[j]!);
          allL.push(labs[j]!);
        }
        lims[i + 1] = allV.length;
      }
    }
    const m = allV.length;
    const out: RangeResult = { nq, lims, distances: new Float32Array(m), ids: new Float64Array(m).fill(-1) };
    if (this.ids.kind === 'string') out.keys = new Array<string | null>(m).fill(null);
    const sign = this.metric === 'l2' ? 1 : -1;
    for (let j = 0; j < m; j++) {
      out.distances[j] = sign * allV[j]!;
      const id = this.ids.idOf(allL[j]!);
      if (typeof id === 'string') out.keys![j] = id;
      else out.ids[j] = id;
    }
    return out;
  }

  private emptyResult(nq: number, k: number): SearchResult {
    const res: SearchResult = {
      nq, k,
      distances: new Float32Array(nq * k).fill(this.metric === 'l2' ? Infinity : -Infinity),
      ids: new Float64Array(nq * k).fill(-1),
    };
    if (this.ids.kind === 'string') res.keys = new Array<string | null>(nq * k).fill(null);
    return res;
  }

  private writeRow(res: SearchResult, i: number, values: Float64Array, labels: Float64Array): void {
    const k = res.k;
    const sign = this.metric === 'l2' ? 1 : -1;
    const m = Math.min(k, values.length);
    for (let r = 0; r < m; r++) {
      res.distances[i * k + r] = sign * values[r]!;
      const id = this.ids.idOf(labels[r]!);
      if (typeof id === 'string') res.keys![i * k + r] = id;
      else res.ids[i * k + r] = id;
    }
  }

  /** The per-candidate check: alive, and allowed by the filter. Null when everything passes. */
  private acceptor(filter: SearchFilter | undefined): ((slot: number) => boolean) | null {
    const ids = this.ids;
    if (filter === undefined && ids.removed === 0) return null;
    const alive = ids.aliveFlags();
    if (filter === undefined) return (s) => alive[s] === 1;
    return (s) => alive[s] === 1 && filterAllows(filter, ids.idOf(s));
  }

  /** Lists to visit for a (prepared) query, nearest centroid first, with the coarse values. */
  private probe(q: Float32Array, nprobe: number): { lists: number[]; coarse: Float32Array | null } {
    const nlist = this.recipe.nlist;
    if (nlist === 0) return { lists: [0], coarse: null };
    const v = new Float32Array(nlist);
    const ip = this.codecMetric === 'ip';
    this.cache.coarse ??= new ResidentRows(this.d, this.centroids!);
    this.cache.coarse.range(q, this.codecMetric, 0, nlist, v);
    const t = new TopK(nprobe);
    for (let l = 0; l < nlist; l++) {
      const x = ip ? -v[l]! : v[l]!;
      if (x <= t.threshold) t.push(x, l);
    }
    const lists = Array.from(t.sorted().labels);
    return { lists, coarse: v };
  }

  /**
   * Faiss's precomputed tables for IVF-PQ with L2 residuals: ‖q − c − r‖² = ‖q − c‖² +
   * (‖r‖² + 2⟨c, r⟩) − 2⟨q, r⟩. The middle term is a per-list table computed once; the last is
   * one table per query; so a probed list costs M·ksub additions instead of a new table.
   * Null when the codec is not PQ or the tables would exceed PRECOMPUTED_MAX_BYTES.
   */
  private pqPrecomputed(): Float32Array | null {
    if (this.cache.pqPre !== undefined) return this.cache.pqPre;
    const pq = this.codec;
    let pre: Float32Array | null = null;
    if (pq instanceof ProductQuantizer && this.byResidual && this.codecMetric === 'l2') {
      const per = pq.M * pq.ksub;
      const nlist = this.recipe.nlist;
      if (nlist * per * 4 <= PRECOMPUTED_MAX_BYTES) {
        pre = new Float32Array(nlist * per);
        const norms = pq.centroidNorms();
        const c = this.centroids!;
        for (let l = 0; l < nlist; l++) {
          const t = pq.distanceTable(c.subarray(l * this.d, (l + 1) * this.d), 'ip');
          for (let j = 0; j < per; j++) pre[l * per + j] = norms[j]! + 2 * t[j]!;
        }
      }
    }
    this.cache.pqPre = pre;
    return pre;
  }

  /** Scans the probed lists' codes for one prepared query into the collector. */
  private scanQuery(q: Float32Array, nprobe: number, coll: Collector, accept: ((slot: number) => boolean) | null, scratch: Float32Array, rerank: 'kFactor' | 'bound' = 'kFactor'): void {
    const d = this.d;
    const { lists, coarse } = this.probe(q, nprobe);
    const cm = this.codecMetric;
    if (this.recipe.nlist === 0 && this.codec.name === 'Flat') {
      this.scanFlat(q, coll, accept, scratch);
      return;
    }
    if (this.recipe.nlist > 0 && this.codec.name === 'Flat') {
      this.scanIvfFlat(q, lists, coll, accept, scratch);
      return;
    }
    let listFn: (l: number) => ScanFn;
    let bias: (l: number) => number = () => 0;
    if (this.codec instanceof RaBitQCodec && cm === 'l2' && coll instanceof TopK && rerank === 'bound') {
      this.scanRaBitQ(this.codec, q, lists, coll, accept);
      return;
    }
    if (this.codec instanceof ProductQuantizer) {
      const pq = this.codec;
      const { M, nbits, codeSize } = pq;
      const tables = this.pqListTables(pq, q, coarse);
      if (this.recipe.fastScan && nbits === 4 && this.meanProbedRows(lists) >= FAST_SCAN_MIN_ROWS) {
        this.scanFastScan(pq, lists, tables, coll, accept);
        return;
      }
      // PQ: one lookup table per list, scanned where the lists live (resident kernel memory).
      const pre = this.pqPrecomputed();
      this.cache.residentPQ ??= ResidentPQLists.create(this.lists, M, nbits, pre);
      const resident = this.cache.residentPQ;
      bias = tables.bias;
      if (resident && pre) {
        // The list tables are built in kernel memory from the query's table.
        resident.setQueryTable(tables.queryTable!);
        listFn = (l) => (_codes, n, out, from) => resident.scanPre(l, from, n, out);
      } else {
        listFn = (l) => {
          const t = tables.tableFor(l);
          if (resident) return (_codes, n, out, from) => resident.scan(l, t, from, n, out);
          return (codes, n, out) => lutScan(t, codes, n, codeSize, M, nbits, out);
        };
      }
    } else if (this.byResidual && cm === 'l2' && this.codec instanceof RaBitQCodec && (this.codec.rotation?.dOut ?? d) === d) {
      // Rotate the query once; each list's rotated residual is P(q − c) − P·c_l.
      const codec = this.codec;
      const rq = codec.rotatedResidual(q);
      const pc = this.cache.rotatedCentroids ??= codec.rotation ? codec.rotation.apply(this.centroids!) : this.centroids!;
      const resid = new Float32Array(d);
      listFn = (l) => {
        for (let j = 0; j < d; j++) resid[j] = rq[j]! - pc[l * d + j]!;
        return codec.distancesRotatedL2(resid);
      };
    } else if (this.byResidual && cm === 'l2') {
      const resid = new Float32Array(d);
      const c = this.centroids!;
      listFn = (l) => {
        for (let j = 0; j < d; j++) resid[j] = q[j]! - c[l * d + j]!;
        return this.codec.distances(resid, 'l2');
      };
    } else {
      const shared = this.codec.distances(q, cm);
      listFn = () => shared;
      if (cm === 'ip' && this.byResidual) bias = (l) => coarse![l]!;
    }
    const cs = this.codec.codeSize;
    const sign = cm === 'l2' ? 1 : -1;
    for (const l of lists) {
      const { codes, slots, n } = this.lists.list(l);
      if (n === 0) continue;
      const fn = listFn(l);
      const b = bias(l);
      for (let i0 = 0; i0 < n; i0 += SCAN_CHUNK) {
        const m = Math.min(SCAN_CHUNK, n - i0);
        const out = scratch.subarray(0, m);
        fn(codes.subarray(i0 * cs, (i0 + m) * cs), m, out, i0);
        for (let i = 0; i < m; i++) {
          const v = sign * (out[i]! + b);
          if (v <= coll.threshold) {
            const s = slots[i0 + i]!;
            if (accept === null || accept(s)) coll.push(v, s);
          }
        }
      }
    }
  }

  private meanProbedRows(lists: number[]): number {
    let rows = 0;
    for (const l of lists) rows += this.lists.sizes[l]!;
    return rows / Math.max(1, lists.length);
  }

  /**
   * The lookup table of each list for one query (in the codec's metric; the returned array may
   * be reused by the next call) and the constant each list adds: ‖q − c‖² with precomputed
   * tables, ⟨q, c⟩ for 'ip' residuals, else 0.
   */
  private pqListTables(pq: ProductQuantizer, q: Float32Array, coarse: Float32Array | null): PQListTables {
    const d = this.d, cm = this.codecMetric;
    const pre = this.pqPrecomputed();
    if (pre) {
      // L2 residuals with precomputed tables: ‖q − c‖² + pre_l − 2⟨q, r⟩.
      const qt = pq.distanceTable(q, 'ip');
      const per = qt.length;
      const t = new Float32Array(per);
      return {
        tableFor: (l) => {
          combineTableReference(qt, pre.subarray(l * per, (l + 1) * per), t);
          return t;
        },
        bias: (l) => coarse![l]!,
        queryTable: qt,
      };
    }
    if (this.byResidual && cm === 'l2') {
      const resid = new Float32Array(d);
      const c = this.centroids!;
      return {
        tableFor: (l) => {
          for (let j = 0; j < d; j++) resid[j] = q[j]! - c[l * d + j]!;
          return pq.distanceTable(resid, 'l2');
        },
        bias: () => 0,
      };
    }
    const shared = pq.distanceTable(q, cm);
    return { tableFor: () => shared, bias: cm === 'ip' && this.byResidual ? (l) => coarse![l]! : () => 0 };
  }

  /**
   * 4-bit PQ by fast-scan: the probed lists' tables (each list's constant folded into its first
   * sub-table) are quantized to uint8 with one common scale, and each list's packed blocks are
   * scanned by the integer SIMD kernel straight into the collector (src/vectors/fastscan).
   */
  private scanFastScan(
    pq: ProductQuantizer, lists: number[], tables: PQListTables,
    coll: Collector, accept: ((slot: number) => boolean) | null,
  ): void {
    const M = pq.M;
    const probed = lists.filter((l) => this.lists.sizes[l]! > 0);
    if (probed.length === 0) return;
    const floats = probed.map((l) => {
      const t = tables.tableFor(l).slice();
      const b = tables.bias(l);
      for (let j = 0; j < 16; j++) t[j] = t[j]! + b;
      return t;
    });
    const quantized = quantizeLuts(floats, M, this.codecMetric);
    if (!this.cache.packed) {
      this.cache.packed = [];
      for (let l = 0; l < this.lists.nlist; l++) {
        const li = this.lists.list(l);
        this.cache.packed.push(packFastScan(li.codes, li.n, M, pq.codeSize).packed);
      }
    }
    const filter = accept ?? undefined;
    probed.forEach((l, i) => {
      const li = this.lists.list(l);
      fastScanInto(coll, this.cache.packed![l]!, li.n, M, quantized[i]!, { labels: li.slots, filter });
    });
  }

  /**
   * RaBitQ (L2) in the fast-scan layout with its error bound (src/vectors/fastscan/rabitq.ts):
   * per probed list, estimates and bounds for every row from the integer kernel, then exact
   * values — the refinement codes when the index has them, else the codec's own estimator (with
   * its extended bits for RaBitQ2..9) — only for rows whose lower bound can still enter the top-k.
   */
  private scanRaBitQ(codec: RaBitQCodec, q: Float32Array, lists: number[], coll: TopK, accept: ((slot: number) => boolean) | null): void {
    const d = this.d;
    if (!this.cache.rabitq) {
      this.cache.rabitq = [];
      for (let l = 0; l < this.lists.nlist; l++) {
        const li = this.lists.list(l);
        this.cache.rabitq.push(packRaBitQ(codec, li.codes, li.n));
      }
    }
    const resid = new Float32Array(d);
    for (const l of lists) {
      const li = this.lists.list(l);
      if (li.n === 0) continue;
      let query = q;
      if (this.byResidual) {
        const c = this.centroids!;
        for (let j = 0; j < d; j++) resid[j] = q[j]! - c[l * d + j]!;
        query = resid;
      }
      const rq = rabitqQuery(codec, query, 'l2');
      const exact = this.refineCodec
        ? (rows: Int32Array, out: Float32Array) => {
          const slots = Float64Array.from(rows, (r) => li.slots[r]!);
          out.set(this.refineValues(q, slots));
        }
        : codecReranker(codec, query, 'l2', li.codes);
      const r = rabitqSearch(this.cache.rabitq[l]!, rq, coll.k, exact, { labels: li.slots, filter: accept ?? undefined, threshold: coll.threshold });
      for (let i = 0; i < r.rows.length; i++) {
        const v = r.dist[i]!;
        if (v <= coll.threshold) coll.push(v, r.rows[i]!);
      }
    }
  }

  /** Exact flat index, one query: the rows stay resident in kernel memory. */
  private scanFlat(q: Float32Array, coll: Collector, accept: ((slot: number) => boolean) | null, scratch: Float32Array): void {
    const { codes, slots, n } = this.lists.list(0);
    if (!this.cache.flat) this.cache.flat = new ResidentRows(this.d, floatView(codes, n, this.d));
    this.scanResident(this.cache.flat, q, 0, slots, n, coll, accept, scratch);
  }

  /** Rows first .. first+n of `rows` (kernel memory) against q, candidates pushed with their `slots`. */
  private scanResident(rows: ResidentRows, q: Float32Array, first: number, slots: Int32Array, n: number, coll: Collector, accept: ((slot: number) => boolean) | null, scratch: Float32Array): void {
    const cm = this.codecMetric;
    const sign = cm === 'l2' ? 1 : -1;
    for (let i0 = 0; i0 < n; i0 += SCAN_CHUNK) {
      const m = Math.min(SCAN_CHUNK, n - i0);
      const out = scratch.subarray(0, m);
      rows.range(q, cm, first + i0, m, out);
      for (let i = 0; i < m; i++) {
        const v = sign * out[i]!;
        if (v <= coll.threshold) {
          const s = slots[i0 + i]!;
          if (accept === null || accept(s)) coll.push(v, s);
        }
      }
    }
  }

  /**
   * IVF,Flat: the probed lists scanned where they live in kernel memory. Copying a list's rows
   * into the kernel per query was about half of a query's time on 200,000 × 128 (nprobe 16:
   * ~0.9 MB per query), and slower still from a worker's shared-memory copy of the index.
   */
  private scanIvfFlat(q: Float32Array, lists: number[], coll: Collector, accept: ((slot: number) => boolean) | null, scratch: Float32Array): void {
    const nlist = this.recipe.nlist;
    if (!this.cache.ivfFlat) {
      const listStart = new Int32Array(nlist + 1);
      for (let l = 0; l < nlist; l++) listStart[l + 1] = listStart[l]! + this.lists.list(l).n;
      const all = new Float32Array(listStart[nlist]! * this.d);
      for (let l = 0; l < nlist; l++) {
        const { codes, n } = this.lists.list(l);
        all.set(floatView(codes, n, this.d), listStart[l]! * this.d);
      }
      this.cache.ivfFlat = { rows: new ResidentRows(this.d, all), listStart };
    }
    const { rows, listStart } = this.cache.ivfFlat;
    for (const l of lists) {
      const { slots, n } = this.lists.list(l);
      this.scanResident(rows, q, listStart[l]!, slots, n, coll, accept, scratch);
    }
  }

  /** Exact flat index, many queries: the blocked kernel over the whole base. */
  private flatBatch(q: Float32Array, nq: number, colls: TopK[], accept: ((slot: number) => boolean) | null): void {
    const { codes, slots, n } = this.lists.list(0);
    const base = floatView(codes, n, this.d);
    const kind = this.codecMetric;
    pairBlocks(q, nq, base, n, this.d, kind, (q0, r, b0, m, v, ld) => {
      for (let i = 0; i < r; i++) {
        const c = colls[q0 + i]!;
        const row = i * ld;
        for (let j = 0; j < m; j++) {
          const x = v[row + j]!;
          if (x <= c.threshold) {
            const s = slots[b0 + j]!;
            if (accept === null || accept(s)) c.push(x, s);
          }
        }
      }
    });
  }

  /** Values of the refinement codes for the given slots. */
  private refineValues(q: Float32Array, slots: Float64Array): Float64Array {
    const rc = this.refineCodec!;
    const rcs = rc.codeSize;
    const m = slots.length;
    if (rc.name === 'Flat') {
      this.cache.exact ??= new ResidentRows(this.d, floatView(this.refineCodes, this.ids.slots, this.d));
      const out = new Float32Array(m);
      this.cache.exact.pick(q, this.codecMetric, slots, out);
      const sign = this.codecMetric === 'l2' ? 1 : -1;
      return Float64Array.from(out, (v) => sign * v);
    }
    if (rc instanceof ScalarQuantizer && rc.bits === 8 && m > 0) {
      if (this.cache.sq8 === undefined) this.cache.sq8 = ResidentSQ8.create(this.d, rcs, this.refineCodes, this.ids.slots);
      const store = this.cache.sq8;
      if (store) {
        const out = new Float32Array(m);
        const vals = new Float64Array(m);
        if (this.codecMetric === 'l2') {
          const { a, s } = rc.l2Params(q);
          store.distances(a, s, slots, out);
          for (let j = 0; j < m; j++) vals[j] = out[j]!;
        } else {
          const { w, base } = rc.ipParams(q);
          store.distances(w, null, slots, out);
          for (let j = 0; j < m; j++) vals[j] = -(out[j]! + base);
        }
        return vals;
      }
    }
    const buf = new Uint8Array(m * rcs);
    for (let j = 0; j < m; j++) {
      const s = slots[j]!;
      buf.set(this.refineCodes.subarray(s * rcs, (s + 1) * rcs), j * rcs);
    }
    const out = new Float32Array(m);
    if (m > 0) rc.distances(q, this.codecMetric)(buf, m, out);
    const vals = new Float64Array(m);
    const sign = this.codecMetric === 'l2' ? 1 : -1;
    for (let j = 0; j < m; j++) vals[j] = sign * out[j]!;
    return vals;
  }

  /** Re-ranks a query's candidates with the refinement codes; returns the best k. */
  private refine(q: Float32Array, cand: TopK, k: number): { values: Float64Array; labels: Float64Array } {
    const { labels } = cand.sorted();
    const vals = this.refineValues(q, labels);
    const t = new Reservoir(k);
    for (let j = 0; j < labels.length; j++) t.push(vals[j]!, labels[j]!);
    return t.sorted();
  }
}

/** Collects every pair strictly below a fixed radius (range search). */
class RangeCollector implements Collector {
  readonly values: number[] = [];
  readonly labels: number[] = [];
  constructor(readonly threshold: number) {}
  push(value: number, label: number): void {
    if (!(value < this.threshold)) return;
    this.values.push(value);
    this.labels.push(label);
  }
}

/** Builds an untrained index from a factory string (Faiss's index_factory). */
export function indexFactory(d: number, factory: string, opts: IndexOptions = {}): VectorIndex {
  return new VectorIndex(d, factory, opts);
}
