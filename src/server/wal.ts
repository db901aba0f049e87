/**
 * The write-ahead log of one collection: a sequence of files `wal/<seq>.log`, each a 16-byte
 * header then records `[u32 length][u32 xxh32(body)][body]` (little-endian). A write is
 * acknowledged only after its record is written and fdatasync'ed; concurrent writers share one
 * write + fdatasync (group commit). Records are applied to memory in log order right after they
 * are durable, so what a search sees is exactly what a replay after a crash would rebuild.
 *
 * Recovery reads records until the first one that is torn (shorter than its length) or corrupt
 * (bad length or checksum) and truncates the file there: the tail was never acknowledged.
 */
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { xxh32 } from '../core/checksum.js';
import { ZipmlError } from '../core/errors.js';

export const WAL_MAGIC = 'ZMLWAL01';
export const WAL_HEADER_BYTES = 16;
export const WAL_VERSION = 1;
/** Largest record a reader accepts (a batch of points); bounds allocation on hostile files. */
export const WAL_MAX_RECORD = 256 << 20;

export function walFileName(seq: number): string {
  return `${String(seq).padStart(8, '0')}.log`;
}

export function walHeader(d: number): Uint8Array {
  const h = new Uint8Array(WAL_HEADER_BYTES);
  h.set(new TextEncoder().encode(WAL_MAGIC), 0);
  const v = new DataView(h.buffer);
  v.setUint32(8, WAL_VERSION, true);
  v.setUint32(12, d, true);
  return h;
}

export function frameRecord(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length, true);
  v.setUint32(4, xxh32(body), true);
  out.set(body, 8);
  return out;
}

export interface WalScan {
  records: Uint8Array[];
  /** Bytes of the file up to the end of the last good record. */
  validBytes: number;
  /** Bytes dropped after it (torn or corrupt tail). */
  droppedBytes: number;
  reason: string | null;
}

/** Parses a WAL file's bytes; never throws on a bad tail (reports it), only on a bad header. */
export function scanWal(bytes: Uint8Array, d: number, where: string): WalScan {
  if (bytes.length < WAL_HEADER_BYTES) {
    // A crash while creating the file: no record was ever acknowledged in it.
    return { records: [], validBytes: 0, droppedBytes: bytes.length, reason: 'short header' };
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== WAL_MAGIC) throw new ZipmlError('E_FORMAT', `${where}: not a zipml WAL file`);
  if (v.getUint32(8, true) !== WAL_VERSION) throw new ZipmlError('E_FORMAT', `${where}: WAL version ${v.getUint32(8, true)} is not supported`);
  if (v.getUint32(12, true) !== d) throw new ZipmlError('E_CORRUPT', `${where}: WAL dimension ${v.getUint32(12, true)} differs from the collection's ${d}`);
  const records: Uint8Array[] = [];
  let pos = WAL_HEADER_BYTES;
  let reason: string | null = null;
  while (pos < bytes.length) {
    if (bytes.length - pos < 8) { reason = `torn record header at byte ${pos}`; break; }
    const len = v.getUint32(pos, true);
    const sum = v.getUint32(pos + 4, true);
    if (len === 0 || len > WAL_MAX_RECORD) { reason = `bad record length ${len} at byte ${pos}`; break; }
    if (bytes.length - pos - 8 < len) { reason = `torn record at byte ${pos} (${len} bytes declared)`; break; }
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (xxh32(body) !== sum) { reason = `checksum mismatch at byte ${pos}`; break; }
    records.push(body);
    pos += 8 + len;
  }
  return { records, validBytes: pos, droppedBytes: bytes.length - pos, reason };
}

/** Reads a WAL file, truncating a torn/corrupt tail in place (and syncing the truncation). */
export async function recoverWalFile(path: string, d: number): Promise<WalScan> {
  const bytes = new Uint8Array(await readFile(path));
  const scan = scanWal(bytes, d, path);
  if (scan.droppedBytes > 0) {
    if (scan.validBytes < WAL_HEADER_BYTES) {
      const fh = await open(path, 'w');
      await fh.writeFile(walHeader(d));
      await fh.sync();
      await fh.close();
      scan.validBytes = WAL_HEADER_BYTES;
    } else {
      await truncate(path, scan.validBytes);
      const fh = await open(path, 'r+');
      await fh.sync();
      await fh.close();
    }
  }
  return scan;
}

interface Pending {
  /** A record to append, or null for a rotation to a new file. */
  frame: Uint8Array | null;
  /** Runs in log order once the record is durable (or the rotation done). */
  apply: () => void;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface WalStats {
  fsyncs: number;
  records: number;
  bytes: number;
}

/** Appends to the current WAL file with group commit; rotates to a new file on request. */
export class WalWriter {
  private queue: Pending[] = [];
  private running = false;
  private failed: unknown = null;
  private fh: FileHandle | null = null;
  /** Durable size of the current file. */
  size = 0;
  readonly stats: WalStats = { fsyncs: 0, records: 0, bytes: 0 };

  constructor(
    private readonly dir: string,
    private readonly d: number,
    public seq: number,
    private readonly onFsync: (seconds: number, records: number) => void = () => undefined,
  ) {}

  async openNew(): Promise<void> {
    const fh = await open(join(this.dir, walFileName(this.seq)), 'wx');
    await fh.writeFile(walHeader(this.d));
    await fh.sync();
    this.fh = fh;
    this.size = WAL_HEADER_BYTES;
    await syncDir(this.dir);
  }

  get currentPath(): string {
    return join(this.dir, walFileName(this.seq));
  }

  /** Resolves once the record is durable and `apply` has run. */
  append(body: Uint8Array, apply: () => void): Promise<void> {
    return this.enqueue(frameRecord(body), apply);
  }

  /** Starts file seq+1 after every queued record; `apply` runs at that point of the log. */
  rotate(apply: () => void): Promise<void> {
    return this.enqueue(null, apply);
  }

  /** Waits until everything queued so far is durable. */
  drain(): Promise<void> {
    return this.queue.length === 0 && !this.running ? Promise.resolve() : this.enqueue(new Uint8Array(0), () => undefined);
  }

  private enqueue(frame: Uint8Array | null, apply: () => void): Promise<void> {
    if (this.failed) return Promise.reject(new ZipmlError('E_IO', 'the write-ahead log failed earlier; the collection is read-only', { cause: this.failed }));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, apply, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        if (this.queue[0]!.frame === null) {
          const p = this.queue.shift()!;
          try {
            await this.fh!.close();
            this.seq++;
            await this.openNew();
            p.apply();
            p.resolve();
          } catch (e) {
            this.fail(e, [p]);
          }
          continue;
        }
        let end = 0;
        while (end < this.queue.length && this.queue[end]!.frame !== null) end++;
        const batch = this.queue.splice(0, end);
        const frames = batch.map((p) => p.frame!).filter((f) => f.length > 0);
        try {
          if (frames.length > 0) {
            const t0 = performance.now();
            const all = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
            let off = 0;
            while (off < all.length) {
              const { bytesWritten } = await this.fh!.write(all, off, all.length - off, this.size + off);
              off += bytesWritten;
            }
            await this.fh!.datasync();
            this.size += all.length;
            this.stats.fsyncs++;
            this.stats.records += frames.length;
            this.stats.bytes += all.length;
            this.onFsync((performance.now() - t0) / 1000, frames.length);
          }
        } catch (e) {
          this.fail(e, batch);
          continue;
        }
        for (const p of batch) {
          p.apply();
          p.resolve();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private fail(e: unknown, batch: Pending[]): void {
    this.failed = e;
    const err = new ZipmlError('E_IO', `write-ahead log write failed: ${(e as Error).message}`, { cause: e });
    for (const p of [...batch, ...this.queue.splice(0)]) p.reject(err);
  }

  async close(): Promise<void> {
    await this.drain().catch(() => undefined);
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
  }
}

export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    await fh.sync().catch(() => undefined);
    await fh.close();
  } catch {
    /* not every platform can fsync a directory */
  }
}
