/**
 * The TEXMEX formats of the INRIA ANN sets (SIFT1M, GIST1M, BIGANN): each vector is an int32
 * little-endian dimension `d` followed by `d` values, f32 (.fvecs), int32 (.ivecs, ground-truth
 * ids) or uint8 (.bvecs). The format has no file header, so every vector repeats `d`; we require
 * them all equal, as Faiss's `fvecs_read` does.
 */
import { ZipmlError } from '../../core/index.js';
import {
  type ReadLimits, type VectorData, MAX_DIM, allocate, checkMatrix, checkedMul, copyLe32, dataView, le32Bytes, maxBytesOf,
} from './common.js';

export type VecsKind = 'fvecs' | 'ivecs' | 'bvecs';

interface KindInfo<T extends Float32Array | Int32Array | Uint8Array> {
  make: { new (length: number): T; readonly BYTES_PER_ELEMENT: number };
}
const KINDS = {
  fvecs: { make: Float32Array } as KindInfo<Float32Array>,
  ivecs: { make: Int32Array } as KindInfo<Int32Array>,
  bvecs: { make: Uint8Array } as KindInfo<Uint8Array>,
};

function parseVecs<T extends Float32Array | Int32Array | Uint8Array>(
  kind: VecsKind, info: KindInfo<T>, bytes: Uint8Array, limits?: ReadLimits,
): VectorData<T> {
  const maxBytes = maxBytesOf(limits);
  const len = bytes.length;
  if (len === 0) return { data: new info.make(0), n: 0, d: 0 };
  if (len < 4) throw new ZipmlError('E_TRUNCATED', `${kind}: ${len} bytes, shorter than one dimension header`, { offset: 0 });
  const dv = dataView(bytes);
  const d = dv.getInt32(0, true);
  if (d <= 0) throw new ZipmlError('E_CORRUPT', `${kind}: vector 0 declares dimension ${d}`, { offset: 0 });
  if (d > MAX_DIM) throw new ZipmlError('E_LIMIT', `${kind}: dimension ${d} exceeds the limit of ${MAX_DIM}`, { offset: 0 });
  const elt = info.make.BYTES_PER_ELEMENT;
  const rec = 4 + d * elt;
  const n = Math.floor(len / rec);
  // Every header before any allocation: a file whose dimension changes midway is not a matrix.
  for (let i = 1; i < n; i++) {
    const di = dv.getInt32(i * rec, true);
    if (di !== d) throw new ZipmlError('E_CORRUPT', `${kind}: vector ${i} declares dimension ${di}, vector 0 declared ${d}`, { offset: i * rec });
  }
  if (n * rec !== len) {
    throw new ZipmlError('E_TRUNCATED', `${kind}: ${len} bytes end inside vector ${n} (records of ${rec} bytes for d=${d})`, { offset: n * rec });
  }
  const out = allocate(info.make, checkedMul(n, d, maxBytes, `${kind}: n x d`), maxBytes, kind);
  for (let i = 0; i < n; i++) {
    if (out instanceof Uint8Array) out.set(bytes.subarray(i * rec + 4, (i + 1) * rec), i * d);
    else copyLe32(bytes, i * rec + 4, out, i * d, d);
  }
  return { data: out, n, d };
}

function encodeVecs(kind: VecsKind, data: Float32Array | Int32Array | Uint8Array, d: number): Uint8Array {
  const n = d > 0 ? Math.floor(data.length / d) : 0;
  checkMatrix(kind, data, n, d);
  const src = data instanceof Uint8Array ? data : le32Bytes(data);
  const rowBytes = d * data.BYTES_PER_ELEMENT;
  const out = new Uint8Array(n * (4 + rowBytes));
  const dv = dataView(out);
  for (let i = 0; i < n; i++) {
    const at = i * (4 + rowBytes);
    dv.setInt32(at, d, true);
    out.set(src.subarray(i * rowBytes, (i + 1) * rowBytes), at + 4);
  }
  return out;
}

/** .fvecs bytes -> n x d f32. */
export function parseFvecs(bytes: Uint8Array, limits?: ReadLimits): VectorData<Float32Array> {
  return parseVecs('fvecs', KINDS.fvecs, bytes, limits);
}
/** .ivecs bytes (typically ground-truth neighbour ids) -> n x d int32. */
export function parseIvecs(bytes: Uint8Array, limits?: ReadLimits): VectorData<Int32Array> {
  return parseVecs('ivecs', KINDS.ivecs, bytes, limits);
}
/** .bvecs bytes (BIGANN's uint8 SIFT) -> n x d uint8. */
export function parseBvecs(bytes: Uint8Array, limits?: ReadLimits): VectorData<Uint8Array> {
  return parseVecs('bvecs', KINDS.bvecs, bytes, limits);
}

/** Row-major n x d f32 -> .fvecs bytes. */
export function encodeFvecs(data: Float32Array, d: number): Uint8Array {
  return encodeVecs('fvecs', data, d);
}
/** Row-major n x d int32 -> .ivecs bytes. */
export function encodeIvecs(data: Int32Array, d: number): Uint8Array {
  return encodeVecs('ivecs', data, d);
}
/** Row-major n x d uint8 -> .bvecs bytes. */
export function encodeBvecs(data: Uint8Array, d: number): Uint8Array {
  return encodeVecs('bvecs', data, d);
}
