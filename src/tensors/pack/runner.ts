/**
 * Runs chunk tasks on the calling thread or on a worker pool, and keeps results in submission
 * order with a bounded number in flight, so packing and unpacking stream in constant memory.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { WorkerPool, defaultPool } from '../../core/workers/pool.js';
import { encodeChunkTask, decodeChunkTask } from './tasks.js';
import type { GroupScheme } from './grouping.js';
import type { ChunkEncodeOptions } from './chunk.js';

const TASKS = new URL('./tasks.js', import.meta.url);

export interface ThreadOptions {
  /** Threads for chunk coding: 1 codes on the calling thread (default: the pool's size). */
  threads?: number;
  /** Pool to run on (default: the shared defaultPool()). */
  pool?: WorkerPool;
  signal?: AbortSignal;
}

export class ChunkRunner {
  readonly threads: number;
  private readonly pool: WorkerPool | undefined;
  readonly signal: AbortSignal | undefined;

  constructor(opts: ThreadOptions) {
    const threads = opts.threads ?? (opts.pool ?? defaultPool()).size;
    if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
    this.threads = threads;
    this.pool = threads > 1 ? opts.pool ?? defaultPool() : undefined;
    this.signal = opts.signal;
  }

  /** Chunks kept in flight: enough to keep every thread busy while results are consumed in order. */
  get window(): number {
    return this.threads === 1 ? 1 : this.threads * 3;
  }

  encode(data: Uint8Array, scheme: GroupScheme, opts: ChunkEncodeOptions): Promise<Uint8Array> {
    throwIfAborted(this.signal, 'pack');
    if (!this.pool) return Promise.resolve().then(() => encodeChunkTask(data, scheme, opts));
    return this.pool.run<Uint8Array>({ module: TASKS, fn: 'encodeChunkTask' }, [data, scheme, opts], { transfer: [data.buffer], signal: this.signal });
  }

  decode(payload: Uint8Array, scheme: GroupScheme, size: number, checksum: number, where: string): Promise<Uint8Array> {
    throwIfAborted(this.signal, 'unpack');
    if (!this.pool) return Promise.resolve().then(() => decodeChunkTask(payload, scheme, size, checksum, where));
    // Payload views into a larger buffer are copied so that only the payload moves.
    const own = payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength ? payload : payload.slice();
    return this.pool.run<Uint8Array>({ module: TASKS, fn: 'decodeChunkTask' }, [own, scheme, size, checksum, where], { transfer: [own.buffer], signal: this.signal });
  }
}

/**
 * Maps `jobs` through `start` with at most `window` started and not yet yielded, yielding results
 * in order. A failure is thrown when its turn comes; later results are dropped.
 */
export async function* ordered<J, R>(jobs: AsyncIterable<J>, window: number, start: (job: J) => Promise<R>): AsyncGenerator<R> {
  const queue: Array<Promise<R>> = [];
  try {
    for await (const job of jobs) {
      const p = start(job);
      p.catch(() => undefined); // handled when its turn comes
      queue.push(p);
      if (queue.length >= window) yield await queue.shift()!;
    }
    while (queue.length > 0) yield await queue.shift()!;
  } finally {
    for (const p of queue) p.catch(() => undefined);
  }
}
