/**
 * One collection of the embedded store: an LSM-shaped engine over zipml vector indexes.
 *
 *   writes ─▶ WAL (fdatasync, group commit) ─▶ memtable (a Flat index + payloads in memory)
 *   memtable ─(background flush, worker)─▶ immutable segment (index.zml + vectors + payloads)
 *   segments ─(background merge / training, worker)─▶ one segment on the compressed index
 *
 * Every id lives in exactly one part (`where`); an older copy is tombstoned in its part's index as
 * soon as a newer write is applied, and the segment written from a memtable lists the ids it
 * deletes from older segments, so recovery (load segments oldest first, then replay the log)
 * rebuilds the same state. Searches scan every part with the filter's IdSet inside the scan
 * and merge the per-part top-k.
 */
import { link, copyFile, mkdir, open, readFile, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { ZipmlError } from '../core/errors.js';
import { indexFactory, loadIndex, type IdSet, type Metric, type VectorId, type VectorIndex } from '../vectors/index.js';
import { autoRecipe, trainMinFor, type StorageConfig } from './config.js';
import { ApiError } from './errors.js';
import { PayloadIndex } from './payload-index.js';
import { decodeRecord, encodeRecord, type WalRecord } from './records.js';
import { decodePayloadRecord, readPayloadRange, readSegmentMeta, type BuildJob, type BuildResult, type SegmentMeta } from './segment-files.js';
import { recoverWalFile, syncDir, WalWriter, walFileName } from './wal.js';

export interface CollectionConfig {
  name: string;
  dimension: number;
  metric: Metric;
  /** A factory string, or 'auto'. */
  index: string;
  idType: 'integer' | 'string';
  /** Payload fields with an index (the only ones filters may use). */
  payloadIndex: string[];
  createdAt: string;
}

interface Manifest {
  version: 1;
  segments: string[];
  /** First WAL file not yet contained in segments. */
  walStart: number;
  nextSegment: number;
  /** Trained empty index new segments are encoded with (templates/…), or null while flat. */
  template: string | null;
  trainedFactory: string | null;
  /** Live points when the template was trained. */
  trainedAt: number;
  /** Last log sequence number contained in segments. */
  lsn: number;
}

export interface Point {
  id: VectorId;
  vector: Float32Array;
  payload: unknown;
}

export interface SearchOptions {
  nprobe?: number;
  kFactor?: number;
  filter?: IdSet;
  deadline?: number;
}

export interface Hit {
  id: VectorId;
  score: number;
}

export interface CollectionEvents {
  log(level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string): void;
  fsync(seconds: number, records: number): void;
  job(kind: 'flush' | 'merge' | 'train', outcome: 'ok' | 'error', seconds: number): void;
  runBuild(job: BuildJob): Promise<BuildResult>;
}

class Memtable {
  readonly index: VectorIndex;
  readonly vectors = new Map<VectorId, Float32Array>();
  readonly payloads = new Map<VectorId, string>();
  /** Ids whose older copies (in segments) this memtable's segment must delete. */
  readonly deletes = new Set<VectorId>();
  bytes = 0;

  constructor(d: number, metric: Metric) {
    this.index = indexFactory(d, 'Flat', { metric });
  }

  get count(): number {
    return this.vectors.size;
  }
}

class Segment {
  readonly pos = new Map<VectorId, number>();
  private vfh: FileHandle | null = null;

  constructor(readonly name: string, readonly dir: string, readonly meta: SegmentMeta, readonly index: VectorIndex, readonly pfh: FileHandle) {
    meta.ids.forEach((id, i) => this.pos.set(id, i));
  }

  static async load(dir: string, name: string): Promise<Segment> {
    const meta = await readSegmentMeta(dir);
    const index = loadIndex(new Uint8Array(await readFile(join(dir, 'index.zml'))));
    if (index.ntotal !== meta.count) throw new ZipmlError('E_CORRUPT', `${dir}: index holds ${index.ntotal} points, meta says ${meta.count}`);
    const pfh = await open(join(dir, 'payloads.bin'), 'r');
    return new Segment(name, dir, meta, index, pfh);
  }

  async payload(i: number): Promise<string> {
    const rec = await readPayloadRange(this.pfh, this.meta.payloadOffsets[i]!, this.meta.payloadOffsets[i + 1]!);
    return decodePayloadRecord(rec, `${this.dir}/payloads.bin`);
  }

  async vector(i: number): Promise<Float32Array> {
    this.vfh ??= await open(join(this.dir, 'vectors.f32'), 'r');
    const d = this.meta.d;
    return new Float32Array((await readPayloadRange(this.vfh, i * d * 4, (i + 1) * d * 4)).buffer);
  }

  close(): void {
    // Readers may still hold a read in flight: close a little later (the files may be unlinked).
    const t = setTimeout(() => {
      void this.pfh.close().catch(() => undefined);
      void this.vfh?.close().catch(() => undefined);
    }, 5000);
    t.unref();
  }
}

type Part = Segment | Memtable;

/** A byte-bounded LRU of segment payloads (JSON text). */
class PayloadCache {
  private readonly map = new Map<string, string>();
  private bytes = 0;
  constructor(private readonly max: number) {}
  get(k: string): string | undefined {
    const v = this.map.get(k);
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v); }
    return v;
  }
  set(k: string, v: string): void {
    if (v.length * 2 > this.max) return;
    this.map.set(k, v);
    this.bytes += v.length * 2;
    for (const [key, val] of this.map) {
      if (this.bytes <= this.max) break;
      this.map.delete(key);
      this.bytes -= val.length * 2;
    }
  }
  get size(): number {
    return this.bytes;
  }
}

const segName = (n: number) => `seg-${String(n).padStart(8, '0')}`;

async function writeJson(path: string, v: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(v)), { overwrite: true });
}

export class Collection {
  segments: Segment[] = [];
  mem: Memtable;
  frozen: Memtable | null = null;
  private readonly where = new Map<VectorId, Part>();
  readonly fields: PayloadIndex;
  private wal!: WalWriter;
  private lsn = 0;
  /** Last sequence number given to a record (durable or not). */
  private lsnIssued = 0;
  private buildRetryAt = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private flushing: Promise<void> | null = null;
  private building: Promise<void> | null = null;
  private trainingNow = false;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly cache: PayloadCache;
  recovered = { records: 0, droppedBytes: 0 };

  private constructor(
    readonly dir: string,
    readonly config: CollectionConfig,
    private manifest: Manifest,
    private readonly storage: StorageConfig,
    private readonly events: CollectionEvents,
  ) {
    this.mem = new Memtable(config.dimension, config.metric);
    this.fields = new PayloadIndex(config.payloadIndex);
    this.cache = new PayloadCache(storage.payloadCacheBytes);
  }

  get name(): string {
    return this.config.name;
  }

  get d(): number {
    return this.config.dimension;
  }

  /** Creates the files of a new collection in `dir` (which must not exist yet). */
  static async create(dir: string, config: CollectionConfig): Promise<void> {
    await mkdir(join(dir, 'wal'), { recursive: true });
    await mkdir(join(dir, 'segments'), { recursive: true });
    await mkdir(join(dir, 'templates'), { recursive: true });
    await writeJson(join(dir, 'collection.json'), config);
    const m: Manifest = { version: 1, segments: [], walStart: 1, nextSegment: 1, template: null, trainedFactory: null, trainedAt: 0, lsn: 0 };
    await writeJson(join(dir, 'manifest.json'), m);
  }

  /** Opens a collection: loads its segments, replays its log (truncating a torn tail). */
  static async open(dir: string, storage: StorageConfig, events: CollectionEvents): Promise<Collection> {
    const config = JSON.parse(await readFile(join(dir, 'collection.json'), 'utf8')) as CollectionConfig;
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    if (manifest.version !== 1) throw new ZipmlError('E_FORMAT', `${dir}/manifest.json: version ${String(manifest.version)} is not supported`);
    const c = new Collection(dir, config, manifest, storage, events);
    await c.recover();
    return c;
  }

  private async recover(): Promise<void> {
    const m = this.manifest;
    for (const name of m.segments) {
      const seg = await Segment.load(join(this.dir, 'segments', name), name);
      for (const id of seg.meta.deletes) this.detach(id);
      for (const id of seg.meta.ids) {
        this.detach(id);
        this.where.set(id, seg);
      }
      this.segments.push(seg);
    }
    for (const seg of this.segments) {
      seg.meta.ids.forEach((id, i) => {
        if (this.where.get(id) === seg) this.fields.setValues(id, seg.meta.fields[i]!);
      });
    }
    this.lsn = m.lsn;
    // Orphans of interrupted flushes/merges, and logs already contained in segments.
    const live = new Set(m.segments);
    for (const e of await readdir(join(this.dir, 'segments'))) if (!live.has(e)) await rm(join(this.dir, 'segments', e), { recursive: true, force: true });
    for (const e of await readdir(join(this.dir, 'templates'))) if (`templates/${e}` !== m.template) await rm(join(this.dir, 'templates', e), { force: true });
    const walDir = join(this.dir, 'wal');
    const seqs = (await readdir(walDir)).filter((f) => /^\d{8}\.log$/.test(f)).map((f) => Number(f.slice(0, 8))).sort((a, b) => a - b);
    let maxSeq = m.walStart - 1;
    for (const s of seqs) {
      if (s < m.walStart) { await rm(join(walDir, walFileName(s)), { force: true }); continue; }
      const path = join(walDir, walFileName(s));
      const scan = await recoverWalFile(path, this.d);
      if (scan.droppedBytes > 0) {
        this.recovered.droppedBytes += scan.droppedBytes;
        this.events.log('warn', { collection: this.name, file: path, dropped: scan.droppedBytes, reason: scan.reason }, 'truncated a torn or corrupt log tail');
      }
      for (const body of scan.records) {
        const r = decodeRecord(body, this.d, path);
        this.applyRecord(r, null);
        this.recovered.records++;
      }
      maxSeq = s;
    }
    this.lsnIssued = this.lsn;
    this.wal = new WalWriter(walDir, this.d, maxSeq + 1, (s, n) => this.events.fsync(s, n));
    await this.wal.openNew();
    this.timer = setInterval(() => {
      if (this.mem.count > 0 || this.mem.deletes.size > 0) this.startFlush();
    }, this.storage.flushIntervalMs);
    this.timer.unref();
    if (this.mem.count >= this.storage.memtableMaxPoints) this.startFlush();
    this.startBuild();
  }

  // ------------------------------------------------------------------------------------------
  // Writes

  /** Removes the live copy of id from whatever part holds it. */
  private detach(id: VectorId): Part | undefined {
    const old = this.where.get(id);
    if (old === undefined) return undefined;
    if (old instanceof Memtable) {
      old.index.remove([id]);
      if (old === this.mem) {
        old.vectors.delete(id);
        old.payloads.delete(id);
      }
    } else {
      old.index.remove([id]);
    }
    this.where.delete(id);
    this.fields.delete(id);
    return old;
  }

  /** Applies a durable record to memory (payloads: parsed objects when the caller has them). */
  private applyRecord(r: WalRecord, parsed: unknown[] | null): void {
    this.lsn = Math.max(this.lsn, r.lsn);
    const mem = this.mem;
    if (r.type === 'delete') {
      for (const id of r.ids) {
        const old = this.detach(id);
        if (old !== undefined && old !== mem) mem.deletes.add(id);
      }
      return;
    }
    const d = this.d;
    for (let i = 0; i < r.ids.length; i++) {
      const id = r.ids[i]!;
      const old = this.detach(id);
      if (old !== undefined && old !== mem) mem.deletes.add(id);
      const v = r.vectors.slice(i * d, (i + 1) * d);
      mem.vectors.set(id, v);
      mem.payloads.set(id, r.payloads[i]!);
      mem.bytes += d * 4 + r.payloads[i]!.length * 2;
      this.where.set(id, mem);
      this.fields.set(id, parsed ? parsed[i] : JSON.parse(r.payloads[i]!));
    }
    if (typeof r.ids[0] === 'string') mem.index.add(r.vectors, r.ids as string[]);
    else mem.index.add(r.vectors, Float64Array.from(r.ids as number[]));
  }

  private checkOpen(): void {
    if (this.closed) throw new ApiError(503, 'E_CLOSING', `collection ${this.name} is closing`);
  }

  /** Logs then applies an upsert batch; resolves once it is durable and visible. */
  async upsert(points: Point[]): Promise<number> {
    this.checkOpen();
    // Bounded memory: wait for a running flush when the memtable is twice its size.
    while (this.mem.count >= 2 * this.storage.memtableMaxPoints && this.flushing) await this.flushing;
    const d = this.d;
    const vectors = new Float32Array(points.length * d);
    points.forEach((p, i) => vectors.set(p.vector, i * d));
    const rec: WalRecord = { type: 'upsert', lsn: 0, ids: points.map((p) => p.id), vectors, payloads: points.map((p) => JSON.stringify(p.payload ?? null)) };
    const lsn = await this.log(rec, points.map((p) => p.payload ?? null));
    if (this.mem.count >= this.storage.memtableMaxPoints) this.startFlush();
    return lsn;
  }

  async delete(ids: VectorId[]): Promise<{ lsn: number; deleted: number }> {
    this.checkOpen();
    let deleted = 0;
    const lsn = await this.log({ type: 'delete', lsn: 0, ids }, null, () => {
      for (const id of ids) if (this.where.has(id)) deleted++;
    });
    return { lsn, deleted };
  }

  private log(rec: WalRecord, parsed: unknown[] | null, before?: () => void): Promise<number> {
    rec.lsn = ++this.lsnIssued;
    const body = encodeRecord(rec);
    return this.wal.append(body, () => {
      before?.();
      this.applyRecord(rec, parsed);
    }).then(() => rec.lsn);
  }


  // ------------------------------------------------------------------------------------------
  // Reads

  get count(): number {
    return this.where.size;
  }

  private parts(): Part[] {
    return this.frozen ? [...this.segments, this.frozen, this.mem] : [...this.segments, this.mem];
  }

  /** The k best points of every part, merged (scores: squared L2 or similarity). */
  search(q: Float32Array, k: number, o: SearchOptions): Hit[] {
    const hits: Hit[] = [];
    const higherBetter = this.config.metric !== 'l2';
    for (const part of this.parts()) {
      if (part.index.ntotal === 0) continue;
      if (o.deadline !== undefined && performance.now() > o.deadline) throw new ApiError(503, 'E_TIMEOUT', 'search exceeded the request time limit');
      const r = part.index.search(q, k, { nprobe: o.nprobe, kFactor: o.kFactor, filter: o.filter });
      for (let j = 0; j < k; j++) {
        const id = r.keys ? r.keys[j] : r.ids[j];
        if (id === null || id === undefined || id === -1) continue;
        hits.push({ id, score: r.distances[j]! });
      }
    }
    hits.sort((a, b) => (higherBetter ? b.score - a.score : a.score - b.score));
    return hits.slice(0, k);
  }

  /** Points by id (absent ids are left out), with payloads and optionally vectors. */
  async get(ids: VectorId[], withVector: boolean): Promise<{ id: VectorId; payload: unknown; vector?: number[] }[]> {
    const out: { id: VectorId; payload: unknown; vector?: number[] }[] = [];
    for (const id of ids) {
      // A background swap may move the point while we read from disk: read again from its new
      // place (segments are immutable, so one read of one part is one version of the point).
      for (let attempt = 0; attempt < 8; attempt++) {
        const part = this.where.get(id);
        if (part === undefined) break;
        const p = await this.readPoint(part, id, withVector);
        if (this.where.get(id) !== part) continue;
        out.push(p);
        break;
      }
    }
    return out;
  }

  private async readPoint(part: Part, id: VectorId, withVector: boolean): Promise<{ id: VectorId; payload: unknown; vector?: number[] }> {
    let payload: string;
    let vector: Float32Array | undefined;
    if (part instanceof Memtable) {
      payload = part.payloads.get(id)!;
      if (withVector) vector = part.vectors.get(id)!;
    } else {
      const i = part.pos.get(id)!;
      const key = `${part.name}/${i}`;
      const cached = this.cache.get(key);
      if (cached !== undefined) payload = cached;
      else {
        payload = await part.payload(i);
        this.cache.set(key, payload);
      }
      if (withVector) vector = await part.vector(i);
    }
    return vector ? { id, payload: JSON.parse(payload), vector: Array.from(vector) } : { id, payload: JSON.parse(payload) };
  }

  indexState(): 'flat' | 'training' | 'compressed' {
    if (this.trainingNow) return 'training';
    return this.manifest.template ? 'compressed' : 'flat';
  }

  stats() {
    const segs = this.segments.map((s) => ({ name: s.name, factory: s.index.factory, points: s.index.ntotal, bytesPerVector: s.index.bytesPerVector, memoryBytes: s.index.memoryBytes }));
    const compressedPoints = segs.filter((s) => s.factory === this.manifest.trainedFactory).reduce((a, s) => a + s.points, 0);
    const pointsInSegments = segs.reduce((a, s) => a + s.points, 0);
    const memPoints = this.mem.count + (this.frozen?.count ?? 0);
    const memBytes = segs.reduce((a, s) => a + s.memoryBytes, 0) + this.mem.index.memoryBytes + (this.frozen?.index.memoryBytes ?? 0);
    const tmpl = this.manifest.trainedFactory ? this.segments.find((s) => s.index.factory === this.manifest.trainedFactory) : undefined;
    return {
      count: this.count,
      indexState: this.indexState(),
      index: this.config.index,
      trainedFactory: this.manifest.trainedFactory,
      bytesPerVector: tmpl ? tmpl.index.bytesPerVector : this.d * 4,
      compressedPoints,
      pointsInSegments,
      pointsInMemory: memPoints,
      segments: segs,
      indexMemoryBytes: memBytes,
      payloadCacheBytes: this.cache.size,
      lsn: this.lsn,
      wal: { file: this.wal.seq, fileBytes: this.wal.size, ...this.wal.stats },
      recovered: this.recovered,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Background work

  /** Serializes manifest changes, snapshots and segment deletion. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async writeManifest(): Promise<void> {
    await writeJson(join(this.dir, 'manifest.json'), this.manifest);
  }

  /** Starts a background flush unless one is running; returns its promise. */
  startFlush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.flushing) {
      this.flushing = this.flush().catch((e: unknown) => {
        this.events.log('error', { collection: this.name, err: (e as Error).message }, 'flush failed (will retry)');
      }).finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const t0 = performance.now();
    if (!this.frozen) {
      if (this.mem.count === 0 && this.mem.deletes.size === 0) return;
      await this.wal.rotate(() => {
        this.frozen = this.mem;
        this.mem = new Memtable(this.d, this.config.metric);
      });
      this.frozenWalStart = this.wal.seq;
      this.frozenLsn = this.lsn;
    }
    const frozen = this.frozen!;
    const ids = [...frozen.vectors.keys()];
    const d = this.d;
    const vectors = new Float32Array(ids.length * d);
    ids.forEach((id, i) => vectors.set(frozen.vectors.get(id)!, i * d));
    const name = segName(this.manifest.nextSegment++);
    const m = this.manifest;
    try {
      await this.events.runBuild({
        outDir: join(this.dir, 'segments', name), d, metric: this.config.metric,
        factory: m.trainedFactory ?? 'Flat', train: null, template: m.template ? join(this.dir, m.template) : null,
        sources: [], mem: { ids, vectors, payloads: ids.map((id) => frozen.payloads.get(id)!) },
        deletes: [...frozen.deletes], fieldNames: this.config.payloadIndex,
      });
      if (this.closed) return;
      const seg = await Segment.load(join(this.dir, 'segments', name), name);
      await this.exclusive(async () => {
        for (const id of seg.meta.ids) {
          if (this.where.get(id) === frozen) this.where.set(id, seg);
          else seg.index.remove([id]);
        }
        this.segments.push(seg);
        this.frozen = null;
        m.segments.push(name);
        m.walStart = this.frozenWalStart;
        m.lsn = this.frozenLsn;
        await this.writeManifest();
        for (const f of await readdir(join(this.dir, 'wal'))) {
          if (/^\d{8}\.log$/.test(f) && Number(f.slice(0, 8)) < m.walStart) await rm(join(this.dir, 'wal', f), { force: true });
        }
      });
      this.events.job('flush', 'ok', (performance.now() - t0) / 1000);
      this.events.log('info', { collection: this.name, segment: name, points: ids.length }, 'flushed memtable to a segment');
    } catch (e) {
      this.events.job('flush', 'error', (performance.now() - t0) / 1000);
      throw e;
    }
    this.startBuild();
  }

  private frozenWalStart = 0;
  private frozenLsn = 0;

  /** What the next merge should do, if anything. */
  private planBuild(): { train: boolean; factory: string } | null {
    const m = this.manifest, recipe = this.config.index;
    const inSegs = this.segments.reduce((a, s) => a + s.index.ntotal, 0);
    if (recipe !== 'Flat') {
      const want = recipe === 'auto' ? autoRecipe(inSegs, this.d) : recipe;
      if (!m.template && inSegs >= trainMinFor(recipe, this.d, this.storage.autoTrainMin)) return { train: true, factory: want };
      if (recipe === 'auto' && m.template && inSegs >= 4 * m.trainedAt && want !== m.trainedFactory) return { train: true, factory: want };
    }
    const factory = m.trainedFactory ?? 'Flat';
    if (this.segments.length > this.storage.maxSegments) return { train: false, factory };
    if (m.trainedFactory && this.segments.some((s) => s.index.factory !== m.trainedFactory)) return { train: false, factory };
    return null;
  }

  /** Starts a background merge/training when one is due and none is running. */
  startBuild(): Promise<void> {
    if (this.closed || this.building) return this.building ?? Promise.resolve();
    if (performance.now() < this.buildRetryAt) return Promise.resolve();
    const plan = this.planBuild();
    if (!plan) return Promise.resolve();
    let next = false;
    const job: Promise<void> = this.merge(plan.train, plan.factory).then(() => {
      next = true;
    }, (e: unknown) => {
      this.buildRetryAt = performance.now() + 10_000;
      this.events.log('error', { collection: this.name, err: (e as Error).message }, 'merge failed (retrying in 10 s)');
    }).finally(() => {
      if (this.building === job) this.building = null;
      this.trainingNow = false;
      if (next) void this.startBuild();
    });
    this.building = job;
    return this.building;
  }

  private async merge(train: boolean, factory: string): Promise<void> {
    const t0 = performance.now();
    const m = this.manifest;
    const S = [...this.segments];
    const inS = new Set<Part>(S);
    const sources = S.map((s) => ({ dir: s.dir, keep: s.meta.ids.filter((id) => this.where.get(id) === s) }));
    const live = sources.reduce((a, s) => a + s.keep.length, 0);
    const name = segName(m.nextSegment++);
    const templateName = `templates/t-${name}.zml`;
    this.trainingNow = train;
    try {
      const r = await this.events.runBuild({
        outDir: join(this.dir, 'segments', name), d: this.d, metric: this.config.metric, factory,
        train: train ? { seed: 1234, maxTrain: this.storage.maxTrainPoints, templateOut: join(this.dir, templateName) } : null,
        template: !train && m.template ? join(this.dir, m.template) : null,
        sources, mem: null, deletes: [], fieldNames: this.config.payloadIndex,
      });
      if (this.closed) return;
      const seg = await Segment.load(join(this.dir, 'segments', name), name);
      await this.exclusive(async () => {
        for (const id of seg.meta.ids) {
          if (inS.has(this.where.get(id)!)) this.where.set(id, seg);
          else seg.index.remove([id]);
        }
        this.segments = [seg, ...this.segments.slice(S.length)];
        const oldTemplate = m.template;
        m.segments = this.segments.map((s) => s.name);
        if (train) {
          m.template = templateName;
          m.trainedFactory = r.factory;
          m.trainedAt = live;
        }
        await this.writeManifest();
        for (const s of S) {
          s.close();
          await rm(s.dir, { recursive: true, force: true });
        }
        if (train && oldTemplate) await rm(join(this.dir, oldTemplate), { force: true });
      });
      this.events.job(train ? 'train' : 'merge', 'ok', (performance.now() - t0) / 1000);
      this.events.log('info', { collection: this.name, segment: name, points: live, factory: r.factory, trainSeconds: r.trainSeconds, addSeconds: r.addSeconds }, train ? 'trained the compressed index' : 'merged segments');
    } catch (e) {
      this.events.job(train ? 'train' : 'merge', 'error', (performance.now() - t0) / 1000);
      throw e;
    } finally {
      this.trainingNow = false;
    }
  }

  /** Waits for running background work (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.flushing || this.building) await Promise.all([this.flushing, this.building]);
  }

  /**
   * A consistent copy for backup: the segments (hard links: they are immutable), the manifest,
   * and the logs up to the last durable record. The copy is itself a collection directory.
   */
  async snapshot(dest: string): Promise<{ path: string; lsn: number; points: number }> {
    return this.exclusive(async () => {
      await this.wal.drain();
      const walSeq = this.wal.seq, walSize = this.wal.size, lsn = this.lsn, points = this.count;
      const m = this.manifest;
      await mkdir(join(dest, 'segments'), { recursive: true });
      await mkdir(join(dest, 'wal'), { recursive: true });
      await mkdir(join(dest, 'templates'), { recursive: true });
      const linkOrCopy = (a: string, b: string) => link(a, b).catch(() => copyFile(a, b));
      for (const s of m.segments) {
        await mkdir(join(dest, 'segments', s));
        for (const f of ['index.zml', 'vectors.f32', 'payloads.bin', 'meta.json']) await linkOrCopy(join(this.dir, 'segments', s, f), join(dest, 'segments', s, f));
      }
      if (m.template) await linkOrCopy(join(this.dir, m.template), join(dest, m.template));
      for (let s = m.walStart; s <= walSeq; s++) {
        const src = join(this.dir, 'wal', walFileName(s));
        const bytes = await readFile(src).catch(() => null);
        if (!bytes) continue;
        await writeFileAtomic(join(dest, 'wal', walFileName(s)), s === walSeq ? bytes.subarray(0, walSize) : bytes);
      }
      await writeJson(join(dest, 'collection.json'), this.config);
      await writeJson(join(dest, 'manifest.json'), m);
      await syncDir(dest);
      return { path: dest, lsn, points };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.wal.close();
    await this.chain;
    for (const s of this.segments) s.close();
  }
}
