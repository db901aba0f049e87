/**
 * What every vector-file reader shares: the result shape, the documented limits, checked size
 * arithmetic and allocation, and little-endian copies. Readers validate every declared length
 * against the input size and these limits before they allocate, so a hostile header costs nothing
 * but a ZipmlError. docs/vector-io.md lists the limits.
 */
import { ZipmlError } from '../../core/index.js';

/** Element types a reader returns. */
export type VectorElements = Float32Array | Uint8Array | Int32Array;

/** `n` row-major vectors of dimension `d`: `data.length === n * d`. */
export interface VectorData<T extends VectorElements = VectorElements> {
  data: T;
  n: number;
  d: number;
}

/** Bounds a reader applies on top of the input's own size. */
export interface ReadLimits {
  /** Largest output (and, for file loaders, input) in bytes. Default DEFAULT_MAX_BYTES (2 GiB). */
  maxBytes?: number;
}

/** Default bound on a reader's output: 2 GiB, enough for SIFT1M/Deep1M/GloVe-sized sets. */
export const DEFAULT_MAX_BYTES = 2 ** 31;
/** Largest vector dimension any reader accepts (also bounds products such as IDX's 28 x 28). */
export const MAX_DIM = 1 << 20;

export function maxBytesOf(limits: ReadLimits | undefined): number {
  const m = limits?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(m) || m < 0) throw new ZipmlError('E_ARG', `maxBytes must be a non-negative safe integer, got ${m}`);
  return m;
}

/**
 * a * b for non-negative integers, or E_LIMIT once the product passes `bound`. Checking before
 * multiplying keeps every intermediate exact (no 2^53 rounding hides an overflow).
 */
export function checkedMul(a: number, b: number, bound: number, what: string, offset?: number): number {
  if (a !== 0 && b > bound / a) {
    throw new ZipmlError('E_LIMIT', `${what}: ${a} x ${b} exceeds the limit of ${bound}`, offset === undefined ? undefined : { offset });
  }
  return a * b;
}

/**
 * The output of `count` elements of `bytesPer` bytes each, once the total fits `maxBytes`.
 * A runtime that still refuses (a browser with a smaller ArrayBuffer cap) gives E_LIMIT, not a
 * RangeError.
 */
export function allocate<T extends VectorElements>(
  make: { new (length: number): T; readonly BYTES_PER_ELEMENT: number },
  count: number,
  maxBytes: number,
  what: string,
): T {
  const bytes = checkedMul(count, make.BYTES_PER_ELEMENT, maxBytes, `${what} output bytes`);
  try {
    return new make(count);
  } catch (e) {
    throw new ZipmlError('E_LIMIT', `${what}: the runtime cannot allocate ${bytes} bytes`, { cause: e });
  }
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies `count` little-endian 4-byte elements from `src` at `offset` into `dst` at `at`. A byte
 * copy on little-endian hosts (every current JS engine), DataView otherwise.
 */
export function copyLe32(src: Uint8Array, offset: number, dst: Float32Array | Int32Array, at: number, count: number): void {
  if (HOST_LE) {
    new Uint8Array(dst.buffer, dst.byteOffset + at * 4, count * 4).set(src.subarray(offset, offset + count * 4));
    return;
  }
  const dv = new DataView(src.buffer, src.byteOffset + offset, count * 4);
  if (dst instanceof Float32Array) for (let i = 0; i < count; i++) dst[at + i] = dv.getFloat32(i * 4, true);
  else for (let i = 0; i < count; i++) dst[at + i] = dv.getInt32(i * 4, true);
}

/** The little-endian bytes of a 4-byte-element array (a view on little-endian hosts). */
export function le32Bytes(src: Float32Array | Int32Array): Uint8Array {
  if (HOST_LE) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const out = new Uint8Array(src.byteLength);
  const dv = new DataView(out.buffer);
  if (src instanceof Float32Array) src.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  else src.forEach((v, i) => dv.setInt32(i * 4, v, true));
  return out;
}

export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Validates (n, d) and the element count of a caller's matrix before a writer lays it out. */
export function checkMatrix(what: string, data: ArrayLike<number>, n: number, d: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(d) || d < 1 || d > MAX_DIM) {
    throw new ZipmlError('E_ARG', `${what}: need n >= 0 and 1 <= d <= ${MAX_DIM}, got n=${n}, d=${d}`);
  }
  if (data.length !== n * d) throw new ZipmlError('E_ARG', `${what}: data has ${data.length} values, n x d = ${n * d}`);
}

/** Any reader's elements as f32 (pixels and ids become their numeric values). */
export function toFloat32(v: VectorData): Float32Array {
  return v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
}
