/**
 * Bounded gunzip for readers that accept .gz input (MNIST ships as .gz). Uses Node's zlib,
 * reached through process.getBuiltinModule (Node >= 20.16) so that importing this module in a
 * browser does not fail; there, gzip input gives E_UNSUPPORTED and the caller can gunzip with
 * DecompressionStream first.
 *
 * Every call has an output bound: a small gzip stream can expand a thousandfold per layer, so the
 * bound, not the input size, is what limits memory.
 */
import { ZipmlError, type ZipmlErrorCode } from '../../core/index.js';

type Zlib = typeof import('node:zlib');

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function zlib(what: string): Zlib {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const z = proc?.getBuiltinModule?.('node:zlib') as Zlib | undefined;
  if (!z) throw new ZipmlError('E_UNSUPPORTED', `${what}: gzip input needs Node's zlib (Node >= 20.16); gunzip it first here`);
  return z;
}

function zlibError(e: unknown, what: string, max: number, overCode: ZipmlErrorCode): ZipmlError {
  const code = (e as { code?: string } | null)?.code;
  const msg = (e as Error | null)?.message ?? String(e);
  if (code === 'ERR_BUFFER_TOO_LARGE') {
    return new ZipmlError(overCode, `${what}: gzip stream expands past ${max} bytes`, { cause: e });
  }
  if (code === 'Z_BUF_ERROR') return new ZipmlError('E_TRUNCATED', `${what}: gzip stream ends early (${msg})`, { cause: e });
  return new ZipmlError('E_CORRUPT', `${what}: bad gzip stream (${msg})`, { cause: e });
}

/** Largest expansion a peek may produce: deflate tops out near 1032:1, so 4 KiB gives < 4.2 MiB. */
const PEEK_INPUT = 4096;
const PEEK_MAX_OUTPUT = 8 << 20;

/**
 * The start of the decompressed stream, from the first 4 KiB of compressed input: enough for any
 * file header, without inflating the whole file. A gzip inside the gzip is refused here, since
 * nesting is how decompression bombs multiply.
 */
export function gunzipPeek(bytes: Uint8Array, what: string): Uint8Array {
  const z = zlib(what);
  let out: Uint8Array;
  try {
    out = z.gunzipSync(bytes.subarray(0, PEEK_INPUT), { finishFlush: z.constants.Z_SYNC_FLUSH, maxOutputLength: PEEK_MAX_OUTPUT });
  } catch (e) {
    throw zlibError(e, what, PEEK_MAX_OUTPUT, 'E_LIMIT');
  }
  if (isGzip(out)) throw new ZipmlError('E_LIMIT', `${what}: gzip inside gzip is refused (the shape of a decompression bomb)`, { offset: 0 });
  return out;
}

/**
 * The whole decompressed stream, or `overCode` (E_LIMIT by default) as soon as it passes
 * `maxOutput` bytes; zlib stops there, so no more than `maxOutput` bytes are ever allocated.
 */
export function gunzipBounded(bytes: Uint8Array, maxOutput: number, what: string, overCode: ZipmlErrorCode = 'E_LIMIT'): Uint8Array {
  const z = zlib(what);
  try {
    const out = z.gunzipSync(bytes, { maxOutputLength: Math.max(1, maxOutput) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw zlibError(e, what, maxOutput, overCode);
  }
}
