/**
 * The IDX format of MNIST and Fashion-MNIST: two zero bytes, a type byte, the number of axes, one
 * big-endian uint32 per axis, then big-endian values. Axis 0 counts the items; the rest multiply
 * into the row size (MNIST's 28 x 28 images become rows of 784). Gzip input (the usual
 * `*-ubyte.gz`) is inflated transparently, bounded by the size the IDX header declares.
 */
import { ZipmlError } from '../../core/index.js';
import { type ReadLimits, type VectorData, MAX_DIM, allocate, checkedMul, dataView, maxBytesOf } from './common.js';
import { gunzipBounded, gunzipPeek, isGzip } from './gzip.js';

export type IdxType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
/** IDX allows 255 axes; data sets use 1 (labels) to 4 (colour images). */
export const IDX_MAX_NDIM = 8;

const TYPES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: 'u8', size: 1 },
  0x09: { type: 'i8', size: 1 },
  0x0b: { type: 'i16', size: 2 },
  0x0c: { type: 'i32', size: 4 },
  0x0d: { type: 'f32', size: 4 },
  0x0e: { type: 'f64', size: 8 },
};

export interface IdxArray extends VectorData {
  /** Stored type: u8 stays Uint8Array, signed ints become Int32Array, floats Float32Array. */
  type: IdxType;
  shape: number[];
}

interface IdxHeader {
  type: IdxType;
  size: number;
  shape: number[];
  count: number;
  dataOffset: number;
}

function parseHeader(bytes: Uint8Array, maxBytes: number): IdxHeader {
  if (bytes.length < 4) throw new ZipmlError('E_TRUNCATED', `idx: ${bytes.length} bytes, shorter than the 4-byte magic`, { offset: 0 });
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new ZipmlError('E_FORMAT', 'idx: bad magic (the first two bytes must be zero)', { offset: 0 });
  const t = TYPES[bytes[2]!];
  if (!t) throw new ZipmlError('E_FORMAT', `idx: unknown type code 0x${bytes[2]!.toString(16)}`, { offset: 2 });
  const ndims = bytes[3]!;
  if (ndims === 0) throw new ZipmlError('E_FORMAT', 'idx: zero axes', { offset: 3 });
  if (ndims > IDX_MAX_NDIM) throw new ZipmlError('E_LIMIT', `idx: ${ndims} axes exceed the limit of ${IDX_MAX_NDIM}`, { offset: 3 });
  const dataOffset = 4 + 4 * ndims;
  if (bytes.length < dataOffset) throw new ZipmlError('E_TRUNCATED', `idx: ends inside the ${ndims} axis sizes`, { offset: bytes.length });
  const dv = dataView(bytes);
  const shape: number[] = [];
  const bound = Math.floor(maxBytes / (t.type === 'u8' ? 1 : 4));
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    shape.push(dv.getUint32(4 + 4 * i, false));
    count = checkedMul(count, shape[i]!, bound, `idx shape (${shape.join(' x ')}) element count`, 4 + 4 * i);
  }
  return { type: t.type, size: t.size, shape, count, dataOffset };
}

/** IDX bytes (raw or gzip) -> rows: n = shape[0], d = product of the other axes. */
export function parseIdx(bytes: Uint8Array, limits?: ReadLimits): IdxArray {
  const maxBytes = maxBytesOf(limits);
  if (isGzip(bytes)) {
    const h = parseHeader(gunzipPeek(bytes, 'idx'), maxBytes);
    const total = h.dataOffset + h.count * h.size;
    if (total > maxBytes) throw new ZipmlError('E_LIMIT', `idx: header declares ${total} bytes, over the limit of ${maxBytes}`, { offset: 0 });
    // Inflate to exactly the declared size: anything beyond it is an error, not an allocation.
    return parseIdx(gunzipBounded(bytes, total, 'idx', 'E_CORRUPT'), limits);
  }
  const { type, size, shape, count, dataOffset } = parseHeader(bytes, maxBytes);
  const need = dataOffset + count * size;
  if (bytes.length < need) throw new ZipmlError('E_TRUNCATED', `idx: shape (${shape.join(' x ')}) needs ${need} bytes, ${bytes.length} present`, { offset: bytes.length });
  if (bytes.length > need) throw new ZipmlError('E_CORRUPT', `idx: ${bytes.length - need} bytes after the data`, { offset: need });
  const n = shape[0]!;
  const d = shape.slice(1).reduce((a, b) => a * b, 1);
  if (d > MAX_DIM) throw new ZipmlError('E_LIMIT', `idx: row size ${d} exceeds the limit of ${MAX_DIM}`, { offset: 4 });
  const dv = dataView(bytes);
  const at = dataOffset;
  let data: Uint8Array | Int32Array | Float32Array;
  switch (type) {
    case 'u8':
      data = bytes.slice(at, need);
      break;
    case 'i8':
    case 'i16':
    case 'i32': {
      const out = allocate(Int32Array, count, maxBytes, 'idx');
      if (type === 'i8') for (let i = 0; i < count; i++) out[i] = dv.getInt8(at + i);
      else if (type === 'i16') for (let i = 0; i < count; i++) out[i] = dv.getInt16(at + 2 * i, false);
      else for (let i = 0; i < count; i++) out[i] = dv.getInt32(at + 4 * i, false);
      data = out;
      break;
    }
    case 'f32':
    case 'f64': {
      const out = allocate(Float32Array, count, maxBytes, 'idx');
      if (type === 'f32') for (let i = 0; i < count; i++) out[i] = dv.getFloat32(at + 4 * i, false);
      else for (let i = 0; i < count; i++) out[i] = dv.getFloat64(at + 8 * i, false);
      data = out;
      break;
    }
  }
  return { data, n, d, type, shape };
}
