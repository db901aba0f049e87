/**
 * compressAsync / decompressAsync: the entropy frame, with contiguous runs of blocks encoded or
 * decoded in workers. The output is byte-identical to compress() for the same options, because
 * blocks are independent and each is coded the same way wherever it runs. Inputs are copied into
 * transferable buffers (SharedArrayBuffer would need cross-origin isolation in browsers).
 */
import { ZipmlError, throwIfAborted } from '../errors.js';
import { xxh32 } from '../checksum.js';
import { WorkerPool, defaultPool } from '../workers/pool.js';
import {
  compress, decompress, frameInfo, checkContent, checkCompressOptions, frameHeader, joinFrame,
  type CompressOptions, type DecompressOptions, type FrameInfo,
} from './frame.js';
import type { BlockRunOptions } from './frame-tasks.js';

export interface ParallelOptions {
  /** Worker threads to use (default: the pool's size). 1 runs on the calling thread. */
  threads?: number;
  /** The pool to run on (default: the shared defaultPool()). */
  pool?: WorkerPool;
}

const TASKS = new URL('./frame-tasks.js', import.meta.url);
// Below this, worker start-up and copies cost more than they save.
const MIN_PARALLEL_BYTES = 1 << 20;

function plan(blocks: number, threads: number): Array<[number, number]> {
  // Several runs per thread keep both threads busy when blocks differ in cost; progress is
  // reported as runs complete.
  const runs = Math.min(blocks, threads * 4);
  const out: Array<[number, number]> = [];
  for (let r = 0; r < runs; r++) out.push([Math.floor((r * blocks) / runs), Math.floor(((r + 1) * blocks) / runs)]);
  return out;
}

export async function compressAsync(data: Uint8Array, opts: CompressOptions & ParallelOptions = {}): Promise<Uint8Array> {
  const pool = opts.pool ?? defaultPool();
  const threads = opts.threads ?? pool.size;
  if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
  if (threads === 1 || data.length < MIN_PARALLEL_BYTES) return compress(data, opts);
  const { coder, blockLog } = checkCompressOptions(opts);
  const bs = 1 << blockLog;
  const nBlocks = Math.ceil(data.length / bs);
  const runOpts: BlockRunOptions = { coder, blockSize: bs, maxCodeLength: opts.maxCodeLength, scaleBits: opts.scaleBits };
  let done = 0;
  const parts = await Promise.all(
    plan(nBlocks, threads).map(async ([b0, b1]) => {
      throwIfAborted(opts.signal, 'compress');
      const piece = data.slice(b0 * bs, Math.min(data.length, b1 * bs));
      const len = piece.length;
      const out = await pool.run<Uint8Array>({ module: TASKS, fn: 'encodeBlockRun' }, [piece, runOpts], { transfer: [piece], signal: opts.signal });
      done += len;
      opts.onProgress?.(done, data.length);
      return out;
    }),
  );
  return joinFrame(frameHeader(blockLog, data.length), parts, xxh32(data));
}

export async function decompressAsync(frame: Uint8Array, opts: DecompressOptions & ParallelOptions = {}): Promise<Uint8Array> {
  const pool = opts.pool ?? defaultPool();
  const threads = opts.threads ?? pool.size;
  if (!Number.isInteger(threads) || threads < 1) throw new ZipmlError('E_ARG', `threads must be an integer >= 1, got ${String(threads)}`);
  const info = frameInfo(frame, opts);
  if (threads === 1 || info.contentSize < MIN_PARALLEL_BYTES) return decompress(frame, opts);
  const out = new Uint8Array(info.contentSize);
  let done = 0;
  await Promise.all(
    plan(info.blocks.length, threads).map(async ([b0, b1]) => {
      throwIfAborted(opts.signal, 'decompress');
      const first = info.blocks[b0]!, last = info.blocks[b1 - 1]!;
      const payloads = frame.slice(first.offset, last.offset + last.length);
      const blocks: FrameInfo['blocks'] = info.blocks.slice(b0, b1).map((b) => ({ ...b, offset: b.offset - first.offset }));
      const at = b0 * info.blockSize;
      const size = blocks.reduce((a, b) => a + b.decodedSize, 0);
      const part = await pool.run<Uint8Array>({ module: TASKS, fn: 'decodeBlockRun' }, [payloads, blocks, size], { transfer: [payloads], signal: opts.signal });
      out.set(part, at);
      done += size;
      opts.onProgress?.(done, info.contentSize);
    }),
  );
  checkContent(frame, info, out);
  return out;
}
