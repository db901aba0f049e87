/**
 * The embedded store: a data directory holding collections, snapshots and a lock file.
 *
 *   <data>/LOCK                      pid of the server using the directory
 *   <data>/collections/<name>/       one collection (collection.json, manifest.json, wal/, segments/, templates/)
 *   <data>/snapshots/<name>/<time>/  snapshots: each one a collection directory, ready to copy back
 *   <data>/tmp/                      collections being created or dropped
 */
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ZipmlError } from '../core/errors.js';
import { parseFactory, type Metric } from '../vectors/index.js';
import { Collection, type CollectionConfig, type CollectionEvents } from './collection.js';
import type { StorageConfig } from './config.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { syncDir } from './wal.js';

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface CreateRequest {
  dimension: number;
  metric?: Metric;
  index?: string;
  idType?: 'integer' | 'string';
  payloadIndex?: string[];
}

export class Store {
  readonly collections = new Map<string, Collection>();
  private readonly pending = new Set<string>();

  private constructor(readonly dir: string, private readonly storage: StorageConfig, private readonly events: CollectionEvents) {}

  static async open(dir: string, storage: StorageConfig, events: CollectionEvents): Promise<Store> {
    for (const sub of ['collections', 'snapshots', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
    await lockDir(dir);
    await rm(join(dir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(dir, 'tmp'));
    const s = new Store(dir, storage, events);
    for (const name of (await readdir(join(dir, 'collections'))).sort()) {
      if (!NAME_RE.test(name)) continue;
      const c = await Collection.open(join(dir, 'collections', name), storage, events);
      s.collections.set(name, c);
      events.log('info', { collection: name, points: c.count, replayed: c.recovered.records, droppedBytes: c.recovered.droppedBytes }, 'opened collection');
    }
    return s;
  }

  get(name: string): Collection {
    const c = this.collections.get(name);
    if (!c) throw notFound(`collection ${JSON.stringify(name)} does not exist`);
    return c;
  }

  async create(name: string, req: CreateRequest, maxDimension: number): Promise<Collection> {
    if (!NAME_RE.test(name)) throw badRequest('E_NAME', 'collection names are 1..64 characters of A-Z a-z 0-9 _ - (starting with a letter or digit)');
    if (this.collections.has(name) || this.pending.has(name)) throw new ApiError(409, 'E_EXISTS', `collection ${JSON.stringify(name)} already exists`);
    const d = req.dimension;
    if (!Number.isInteger(d) || d < 1 || d > maxDimension) throw new ApiError(400, 'E_LIMIT', `dimension must be an integer in 1..${maxDimension}`);
    const index = req.index ?? 'auto';
    if (index !== 'auto') {
      try {
        parseFactory(index, d);
      } catch (e) {
        throw badRequest('E_INDEX', `index ${JSON.stringify(index)}: ${(e as Error).message}`);
      }
    }
    const fields = req.payloadIndex ?? [];
    if (new Set(fields).size !== fields.length) throw badRequest('E_VALIDATION', 'payloadIndex lists a field twice');
    const config: CollectionConfig = {
      name, dimension: d, metric: req.metric ?? 'l2', index, idType: req.idType ?? 'integer', payloadIndex: fields, createdAt: new Date().toISOString(),
    };
    this.pending.add(name);
    try {
      const tmp = join(this.dir, 'tmp', `${name}-${randomBytes(4).toString('hex')}`);
      await Collection.create(tmp, config);
      await rename(tmp, join(this.dir, 'collections', name));
      await syncDir(join(this.dir, 'collections'));
      const c = await Collection.open(join(this.dir, 'collections', name), this.storage, this.events);
      this.collections.set(name, c);
      return c;
    } finally {
      this.pending.delete(name);
    }
  }

  async drop(name: string): Promise<void> {
    const c = this.get(name);
    this.collections.delete(name);
    await c.close();
    const trash = join(this.dir, 'tmp', `drop-${name}-${randomBytes(4).toString('hex')}`);
    await rename(c.dir, trash);
    await syncDir(join(this.dir, 'collections'));
    await rm(trash, { recursive: true, force: true });
  }

  async snapshot(name: string): Promise<{ name: string; path: string; lsn: number; points: number }> {
    const c = this.get(name);
    const snap = new Date().toISOString().replace(/[:.]/g, '-');
    const dest = join(this.dir, 'snapshots', name, snap);
    const r = await c.snapshot(dest);
    return { name: snap, ...r };
  }

  async listSnapshots(name: string): Promise<string[]> {
    this.get(name);
    return (await readdir(join(this.dir, 'snapshots', name)).catch(() => [] as string[])).sort();
  }

  async close(): Promise<void> {
    for (const c of this.collections.values()) await c.close();
    await rm(join(this.dir, 'LOCK'), { force: true });
  }
}

/** One server per data directory: a LOCK file with the pid, taken over when that pid is gone. */
async function lockDir(dir: string): Promise<void> {
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.sync();
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ZipmlError('E_IO', `cannot lock ${dir}: ${(e as Error).message}`);
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new ZipmlError('E_IO', `${dir} is in use by process ${pid} (remove ${path} if that is wrong)`);
      await rm(path, { force: true });
    }
  }
  await stat(path);
}
