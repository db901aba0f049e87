/**
 * Chunk work as pool tasks: the same functions run on the calling thread (threads = 1) or in a
 * worker (src/core/workers/pool.ts). Inputs arrive transferred; results are transferred back.
 */
import { ZipmlError } from '../../core/errors.js';
import { encodeChunk, decodeChunkView, type ChunkEncodeOptions } from './chunk.js';
import type { GroupScheme } from './grouping.js';

export function encodeChunkTask(data: Uint8Array, scheme: GroupScheme, opts: ChunkEncodeOptions): Uint8Array {
  return encodeChunk(data, scheme, opts);
}

/** Checks the payload's XXH32 from the index, then decodes it to `size` bytes. */
export function decodeChunkTask(payload: Uint8Array, scheme: GroupScheme, size: number, checksum: number, where: string, into?: Uint8Array): Uint8Array {
  const r = decodeChunkHere(payload, scheme, size, checksum, where, into);
  if (r.owned) return r.view;
  const out = into && into.length === size ? into : new Uint8Array(size);
  out.set(r.view);
  return out;
}

/** decodeChunkTask on the calling thread, returning decodeChunkView's result (errors say where). */
export function decodeChunkHere(payload: Uint8Array, scheme: GroupScheme, size: number, checksum: number, where: string, into?: Uint8Array): { view: Uint8Array; owned: boolean } {
  try {
    return decodeChunkView(payload, scheme, size, checksum, into);
  } catch (e) {
    if (e instanceof ZipmlError) throw new ZipmlError(e.code, `${where}: ${e.message}`, { cause: e });
    throw e;
  }
}
