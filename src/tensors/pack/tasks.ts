/**
 * Chunk work as pool tasks: the same functions run on the calling thread (threads = 1) or in a
 * worker (src/core/workers/pool.ts). Inputs arrive transferred; results are transferred back.
 */
import { ZipmlError } from '../../core/errors.js';
import { xxh32 } from '../../core/checksum.js';
import { encodeChunk, decodeChunk, type ChunkEncodeOptions } from './chunk.js';
import type { GroupScheme } from './grouping.js';

export function encodeChunkTask(data: Uint8Array, scheme: GroupScheme, opts: ChunkEncodeOptions): Uint8Array {
  return encodeChunk(data, scheme, opts);
}

/** Checks the payload's XXH32 from the index, then decodes it to `size` bytes. */
export function decodeChunkTask(payload: Uint8Array, scheme: GroupScheme, size: number, checksum: number, where: string, into?: Uint8Array): Uint8Array {
  if (xxh32(payload) !== checksum) throw new ZipmlError('E_CORRUPT', `${where}: payload checksum mismatch`);
  const out = into && into.length === size ? into : new Uint8Array(size);
  try {
    decodeChunk(payload, scheme, out);
  } catch (e) {
    if (e instanceof ZipmlError) throw new ZipmlError(e.code, `${where}: ${e.message}`, { cause: e });
    throw e;
  }
  return out;
}
