/**
 * NumPy's .npy format (numpy/lib/format.py): magic "\x93NUMPY", major/minor version, a header
 * length (u16 in v1, u32 in v2/v3), and a header that is a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }`, then the raw array.
 *
 * We parse the dict with a small strict tokenizer rather than anything eval-like, accept the
 * dtypes vector data comes in, and return rows: shape (n,) is n rows of one value (as IDX labels
 * are), shape (n, a, b, ...) is n rows of a*b*... values. Fortran order is transposed for 1-D and
 * 2-D arrays and refused above that.
 */
import { ZipmlError, f16ToF32 } from '../../core/index.js';
import {
  type ReadLimits, type VectorData, MAX_DIM, allocate, checkedMul, copyLe32, dataView, le32Bytes, maxBytesOf,
} from './common.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy's own default bound on the header (np.load's max_header_size). */
export const NPY_MAX_HEADER_BYTES = 10000;
/** Most axes we accept; numpy allows 64, vector data needs far fewer. */
export const NPY_MAX_NDIM = 8;

/** The dtypes we read; '<f8' and '<f2' become f32, '<i8' becomes int32 after a range check. */
export type NpyDescr = '<f4' | '<f8' | '<f2' | '<i4' | '<i8' | '|u1';
const ITEM_SIZE: Record<NpyDescr, number> = { '<f4': 4, '<f8': 8, '<f2': 2, '<i4': 4, '<i8': 8, '|u1': 1 };

export interface NpyArray extends VectorData {
  /** The dtype as stored in the file (data holds f32 for every float dtype, int32 for ints). */
  descr: NpyDescr;
  shape: number[];
}

export interface NpyHeader {
  descr: NpyDescr;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the array data. */
  dataOffset: number;
}

const corrupt = (msg: string, offset: number) => new ZipmlError('E_CORRUPT', `npy header: ${msg}`, { offset });

type Token = { kind: 'punct'; v: string; at: number } | { kind: 'str'; v: string; at: number } | { kind: 'int'; v: number; at: number } | { kind: 'bool'; v: boolean; at: number };

/** Tokens of the header's dict literal: punctuation, quoted strings, integers, True/False. */
function tokenize(h: string, base: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < h.length) {
    const c = h[i]!;
    const at = base + i;
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') i++;
    else if ('{}(),:'.includes(c)) out.push({ kind: 'punct', v: c, at }), i++;
    else if (c === "'" || c === '"') {
      const end = h.indexOf(c, i + 1);
      if (end < 0) throw corrupt('unterminated string', at);
      const v = h.slice(i + 1, end);
      if (v.includes('\\')) throw corrupt('escape sequences are not used by numpy headers', at);
      out.push({ kind: 'str', v, at });
      i = end + 1;
    } else if (c >= '0' && c <= '9') {
      let j = i;
      while (j < h.length && h[j]! >= '0' && h[j]! <= '9') j++;
      if (j - i > 16) throw new ZipmlError('E_LIMIT', `npy header: integer ${h.slice(i, j)} is too large`, { offset: at });
      out.push({ kind: 'int', v: Number(h.slice(i, j)), at });
      i = h[j] === 'L' ? j + 1 : j; // Python 2 wrote long integers as 10L.
    } else if (h.startsWith('True', i) || h.startsWith('False', i)) {
      const v = h[i] === 'T';
      out.push({ kind: 'bool', v, at });
      i += v ? 4 : 5;
    } else if (c === '[') {
      throw new ZipmlError('E_FORMAT', 'npy: structured dtypes are not supported', { offset: at });
    } else throw corrupt(`unexpected character ${JSON.stringify(c)}`, at);
  }
  return out;
}

/** Parses the dict literal into its three required keys. */
function parseDict(h: string, base: number): { descr: string; fortranOrder: boolean; shape: number[] } {
  const t = tokenize(h, base);
  let p = 0;
  const end = base + h.length;
  const next = (): Token => {
    const tok = t[p++];
    if (!tok) throw corrupt('ends inside the dict', end);
    return tok;
  };
  const expect = (v: string): void => {
    const tok = next();
    if (tok.kind !== 'punct' || tok.v !== v) throw corrupt(`expected '${v}'`, tok.at);
  };
  expect('{');
  const seen = new Map<string, Token | number[]>();
  for (;;) {
    let tok = next();
    if (tok.kind === 'punct' && tok.v === '}') break;
    if (tok.kind !== 'str') throw corrupt('expected a quoted key', tok.at);
    const key = tok.v;
    if (seen.has(key)) throw corrupt(`key '${key}' repeats`, tok.at);
    expect(':');
    tok = next();
    if (tok.kind === 'punct' && tok.v === '(') {
      const dims: number[] = [];
      for (;;) {
        const e = next();
        if (e.kind === 'punct' && e.v === ')') break;
        if (e.kind !== 'int') throw corrupt('shape entries must be integers', e.at);
        if (dims.length >= NPY_MAX_NDIM) throw new ZipmlError('E_LIMIT', `npy header: more than ${NPY_MAX_NDIM} axes`, { offset: e.at });
        dims.push(e.v);
        const sep = next();
        if (sep.kind === 'punct' && sep.v === ')') break;
        if (sep.kind !== 'punct' || sep.v !== ',') throw corrupt("expected ',' or ')' in shape", sep.at);
      }
      seen.set(key, dims);
    } else if (tok.kind === 'punct') throw corrupt(`unexpected '${tok.v}'`, tok.at);
    else seen.set(key, tok);
    const sep = next();
    if (sep.kind === 'punct' && sep.v === '}') break;
    if (sep.kind !== 'punct' || sep.v !== ',') throw corrupt("expected ',' or '}'", sep.at);
  }
  if (p !== t.length) throw corrupt('text after the dict', t[p]!.at);
  const descr = seen.get('descr');
  const fortran = seen.get('fortran_order');
  const shape = seen.get('shape');
  if (seen.size !== 3 || !descr || !fortran || !shape) {
    throw corrupt(`keys must be exactly descr, fortran_order, shape; got ${[...seen.keys()].join(', ')}`, base);
  }
  if (Array.isArray(descr) || descr.kind !== 'str') throw new ZipmlError('E_FORMAT', 'npy: structured dtypes are not supported', { offset: base });
  if (Array.isArray(fortran) || fortran.kind !== 'bool') throw corrupt('fortran_order must be True or False', base);
  if (!Array.isArray(shape)) throw corrupt('shape must be a tuple', base);
  return { descr: descr.v, fortranOrder: fortran.v, shape };
}

/** Reads and validates the preamble and header; no allocation beyond the header text. */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10) throw new ZipmlError('E_TRUNCATED', `npy: ${bytes.length} bytes, shorter than the preamble`, { offset: 0 });
  for (let i = 0; i < 6; i++) if (bytes[i] !== MAGIC[i]) throw new ZipmlError('E_FORMAT', 'npy: bad magic (expected \\x93NUMPY)', { offset: i });
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) throw new ZipmlError('E_FORMAT', `npy: unknown format version ${major}.${minor}`, { offset: 6 });
  const dv = dataView(bytes);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw new ZipmlError('E_TRUNCATED', 'npy: ends inside the header length', { offset: 8 });
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (headerLen > NPY_MAX_HEADER_BYTES) {
    throw new ZipmlError('E_LIMIT', `npy: header of ${headerLen} bytes exceeds the limit of ${NPY_MAX_HEADER_BYTES}`, { offset: 8 });
  }
  if (start + headerLen > bytes.length) throw new ZipmlError('E_TRUNCATED', `npy: ends inside the ${headerLen}-byte header`, { offset: bytes.length });
  // v1/v2 headers are latin-1, v3 UTF-8; every character a valid header uses is ASCII, and the
  // tokenizer rejects the rest, so decoding byte by byte is exact for both.
  const h = String.fromCharCode(...bytes.subarray(start, start + headerLen));
  const { descr, fortranOrder, shape } = parseDict(h, start);
  if (!(descr in ITEM_SIZE)) {
    const hint = descr.startsWith('>') ? ' (big-endian)' : '';
    throw new ZipmlError('E_FORMAT', `npy: dtype '${descr}'${hint} is not supported; supported: ${Object.keys(ITEM_SIZE).join(' ')}`, { offset: start });
  }
  return { descr: descr as NpyDescr, fortranOrder, shape, dataOffset: start + headerLen };
}

/** .npy bytes -> rows. f8/f2 arrive as f32, i8 as int32 (E_LIMIT for a value outside int32). */
export function parseNpy(bytes: Uint8Array, limits?: ReadLimits): NpyArray {
  const maxBytes = maxBytesOf(limits);
  const { descr, fortranOrder, shape, dataOffset } = parseNpyHeader(bytes);
  if (shape.length === 0) throw new ZipmlError('E_FORMAT', 'npy: a 0-d scalar is not a set of vectors', { offset: dataOffset });
  if (fortranOrder && shape.length > 2) throw new ZipmlError('E_FORMAT', `npy: Fortran order is supported up to 2-D, not ${shape.length}-D`, { offset: dataOffset });
  const item = ITEM_SIZE[descr];
  // Each partial product stays under the output bound, so a shape like (2^40, 2^40) is refused
  // before any arithmetic could lose precision.
  const bound = Math.floor(maxBytes / (descr === '|u1' ? 1 : 4));
  let count = 1;
  for (const s of shape) count = checkedMul(count, s, bound, `npy shape (${shape.join(', ')}) element count`, dataOffset);
  const need = count * item;
  const have = bytes.length - dataOffset;
  if (have < need) throw new ZipmlError('E_TRUNCATED', `npy: shape (${shape.join(', ')}) needs ${need} data bytes, ${have} present`, { offset: bytes.length });
  if (have > need) throw new ZipmlError('E_CORRUPT', `npy: ${have - need} bytes after the array data`, { offset: dataOffset + need });
  const n = shape[0]!;
  const d = shape.length === 1 ? 1 : count === 0 ? shape.slice(1).reduce((a, b) => a * b, 1) : count / n;
  if (d > MAX_DIM) throw new ZipmlError('E_LIMIT', `npy: row size ${d} exceeds the limit of ${MAX_DIM}`, { offset: dataOffset });
  let data = decode(bytes, dataOffset, descr, count, maxBytes);
  if (fortranOrder && shape.length === 2 && n > 1 && d > 1) data = transpose(data, d, n, maxBytes);
  return { data, n, d, descr, shape };
}

function decode(bytes: Uint8Array, at: number, descr: NpyDescr, count: number, maxBytes: number): Float32Array | Int32Array | Uint8Array {
  const dv = dataView(bytes);
  switch (descr) {
    case '|u1':
      return bytes.slice(at, at + count);
    case '<f4':
    case '<i4': {
      const out = descr === '<f4' ? allocate(Float32Array, count, maxBytes, 'npy') : allocate(Int32Array, count, maxBytes, 'npy');
      copyLe32(bytes, at, out, 0, count);
      return out;
    }
    case '<f8': {
      const out = allocate(Float32Array, count, maxBytes, 'npy');
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(at + i * 8, true);
      return out;
    }
    case '<f2': {
      const out = allocate(Float32Array, count, maxBytes, 'npy');
      const half = new Uint16Array(count);
      for (let i = 0; i < count; i++) half[i] = dv.getUint16(at + i * 2, true);
      return f16ToF32(half, out);
    }
    case '<i8': {
      const out = allocate(Int32Array, count, maxBytes, 'npy');
      for (let i = 0; i < count; i++) {
        const lo = dv.getInt32(at + i * 8, true);
        // In int32 range exactly when the high word is the sign extension of the low word.
        if (dv.getInt32(at + i * 8 + 4, true) !== lo >> 31) {
          throw new ZipmlError('E_LIMIT', `npy: int64 element ${i} is outside the int32 range`, { offset: at + i * 8 });
        }
        out[i] = lo;
      }
      return out;
    }
  }
}

/** File order (column-major n x d, i.e. row-major d x n) -> row-major n x d. */
function transpose<T extends Float32Array | Int32Array | Uint8Array>(src: T, d: number, n: number, maxBytes: number): T {
  const out = allocate(src.constructor as { new (length: number): T; readonly BYTES_PER_ELEMENT: number }, src.length, maxBytes, 'npy transpose');
  for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) out[i * d + j] = src[j * n + i]!;
  return out;
}


/**
 * Typed array + shape -> .npy bytes, byte for byte what `numpy.save` writes (v1 header padded
 * with spaces so the data starts on a 64-byte boundary).
 */
export function encodeNpy(data: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): Uint8Array {
  const descr: NpyDescr | undefined =
    data instanceof Float32Array ? '<f4' : data instanceof Int32Array ? '<i4' : data instanceof Uint8Array ? '|u1' : undefined;
  if (!descr) throw new ZipmlError('E_ARG', 'npy: data must be a Float32Array, Int32Array or Uint8Array');
  if (shape.length > NPY_MAX_NDIM || shape.some((s) => !Number.isSafeInteger(s) || s < 0)) {
    throw new ZipmlError('E_ARG', `npy: invalid shape (${shape.join(', ')})`);
  }
  if (shape.reduce((a, b) => a * b, 1) !== data.length) {
    throw new ZipmlError('E_ARG', `npy: shape (${shape.join(', ')}) does not hold ${data.length} values`);
  }
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const body = data instanceof Uint8Array ? data : le32Bytes(data);
  const out = new Uint8Array(total + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  dataView(out).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, total);
  return out;
}
