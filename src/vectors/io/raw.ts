/**
 * Headerless little-endian f32 rows (luceneutil's `.vec`, numpy's `tofile`, the Cohere and bge-m3
 * files in shared/data): the caller supplies `d`, and the byte length must be a whole number of
 * rows. Nothing in the file can be checked beyond that, so any such file parses.
 */
import { ZipmlError } from '../../core/index.js';
import { type ReadLimits, type VectorData, MAX_DIM, allocate, checkMatrix, copyLe32, le32Bytes, maxBytesOf } from './common.js';

/** Raw f32 bytes -> n x d f32 with n = bytes / (4d). */
export function parseRawF32(bytes: Uint8Array, d: number, limits?: ReadLimits): VectorData<Float32Array> {
  const maxBytes = maxBytesOf(limits);
  if (!Number.isSafeInteger(d) || d < 1 || d > MAX_DIM) throw new ZipmlError('E_ARG', `raw f32: d must be 1..${MAX_DIM}, got ${d}`);
  const row = 4 * d;
  if (bytes.length % row !== 0) {
    throw new ZipmlError('E_TRUNCATED', `raw f32: ${bytes.length} bytes are not a whole number of ${row}-byte rows (d=${d})`, {
      offset: bytes.length - (bytes.length % row),
    });
  }
  const n = bytes.length / row;
  const data = allocate(Float32Array, n * d, maxBytes, 'raw f32');
  copyLe32(bytes, 0, data, 0, n * d);
  return { data, n, d };
}

/** n x d f32 -> raw little-endian bytes (a copy). */
export function encodeRawF32(data: Float32Array, d: number): Uint8Array {
  checkMatrix('raw f32', data, d > 0 ? Math.floor(data.length / d) : 0, d);
  return le32Bytes(data).slice();
}
