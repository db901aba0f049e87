/**
 * NumPy .npy as one tensor (numpy/lib/format.py): "\x93NUMPY", version 1.0/2.0/3.0, a u16 (v1) or
 * u32 (v2, v3) header length, a Python dict literal with exactly the keys descr, fortran_order and
 * shape, then the array bytes. The vectors reader (src/vectors/io/npy.ts) decodes values for the
 * few dtypes vector data uses; here we only need where the bytes are, for every fixed-size
 * little-endian numeric dtype.
 */
import { ZipmlError } from '../../core/errors.js';
import type { ByteSource, ModelLayout, TensorDType } from '../layout.js';
import { Cursor, decodeUtf8, plainByteLength, readExact } from './common.js';

/** Default cap on the header; numpy's own np.load default (max_header_size) is 10,000. */
export const NPY_LAYOUT_MAX_HEADER_BYTES = 10_000;

const DESCR: Record<string, TensorDType> = {
  '<f8': 'F64', '<f4': 'F32', '<f2': 'F16', '<i8': 'I64', '<i4': 'I32', '<i2': 'I16', '|i1': 'I8', '<i1': 'I8',
  '<u8': 'U64', '<u4': 'U32', '<u2': 'U16', '|u1': 'U8', '<u1': 'U8', '|b1': 'BOOL',
};

const WHAT = 'npy';

/**
 * Pulls one `'key': value` entry out of the dict text; returns the match (group 1 is the key's
 * quote, the value's groups follow) and the text without it.
 */
function takeEntry(dict: string, key: string, value: RegExp, at: number): { v: RegExpExecArray; rest: string } {
  const re = new RegExp(`(['"])${key}\\1\\s*:\\s*(?:${value.source})\\s*`);
  const m = re.exec(dict);
  if (!m) throw new ZipmlError('E_CORRUPT', `${WHAT}: header has no valid '${key}' entry`, { offset: at });
  return { v: m, rest: dict.slice(0, m.index) + dict.slice(m.index + m[0].length) };
}

export async function readNpyLayout(src: ByteSource, opts: { maxHeaderBytes?: number; signal?: AbortSignal } = {}): Promise<ModelLayout> {
  const maxHeader = opts.maxHeaderBytes ?? NPY_LAYOUT_MAX_HEADER_BYTES;
  const c = new Cursor(await readExact(src, 0, Math.min(src.size, 12), `${WHAT} preamble`, opts.signal), 0, WHAT);
  const magic = c.bytes(6, 'magic');
  if (magic[0] !== 0x93 || String.fromCharCode(...magic.subarray(1)) !== 'NUMPY') throw new ZipmlError('E_FORMAT', `${WHAT}: bad magic`, { offset: 0 });
  const major = c.u8('version'), minor = c.u8('version');
  if (major < 1 || major > 3 || minor !== 0) throw new ZipmlError('E_FORMAT', `${WHAT}: unknown version ${major}.${minor}`, { offset: 6 });
  const hlen = major === 1 ? c.u16('header length') : c.u32('header length');
  if (hlen > maxHeader) throw new ZipmlError('E_LIMIT', `${WHAT}: header of ${hlen} bytes exceeds the limit of ${maxHeader}`, { offset: 8 });
  const start = c.pos;
  const raw = await readExact(src, start, hlen, `${WHAT} header`, opts.signal);
  // v1/v2 are latin-1 and v3 UTF-8; a valid header is ASCII, so anything else is refused.
  for (let i = 0; i < raw.length; i++) if (raw[i]! > 0x7e) throw new ZipmlError('E_CORRUPT', `${WHAT}: non-ASCII byte in the header`, { offset: start + i });
  const text = decodeUtf8(raw, `${WHAT} header`, start).trim(); // ASCII, checked above
  if (!text.startsWith('{') || !text.endsWith('}')) throw new ZipmlError('E_CORRUPT', `${WHAT}: header is not a dict literal`, { offset: start });
  let dict = text.slice(1, -1);
  const d = takeEntry(dict, 'descr', /(['"])([<>|=]?[a-zA-Z]\d*)\2/, start);
  dict = d.rest;
  const f = takeEntry(dict, 'fortran_order', /(True|False)/, start);
  dict = f.rest;
  const s = takeEntry(dict, 'shape', /\(([\d\s,L]*)\)/, start);
  if (!/^[\s,]*$/.test(s.rest)) throw new ZipmlError('E_CORRUPT', `${WHAT}: header has entries other than descr, fortran_order, shape`, { offset: start });
  const descr = d.v[3]!;
  const dtype = DESCR[descr];
  if (!dtype) throw new ZipmlError('E_FORMAT', `${WHAT}: dtype '${descr}' is not supported${descr.startsWith('>') ? ' (big-endian)' : ''}`, { offset: start });
  const parts = s.v[2]!.split(',').map((p) => p.trim().replace(/L$/, '')).filter((p) => p.length > 0);
  const shape = parts.map((p) => {
    if (!/^\d{1,16}$/.test(p)) throw new ZipmlError('E_CORRUPT', `${WHAT}: shape entry '${p}' is not an integer`, { offset: start });
    return Number(p);
  });
  const dataOffset = start + hlen;
  const byteLength = plainByteLength(dtype, shape, Number.MAX_SAFE_INTEGER, `${WHAT} shape`, start);
  if (dataOffset + byteLength !== src.size) {
    throw new ZipmlError(dataOffset + byteLength > src.size ? 'E_TRUNCATED' : 'E_CORRUPT', `${WHAT}: ${dtype}[${shape.join(',')}] needs ${byteLength} bytes after the header, the file has ${src.size - dataOffset}`, { offset: dataOffset });
  }
  return {
    format: 'npy',
    fileSize: src.size,
    tensors: [{ name: 'array', dtype, shape, offset: dataOffset, byteLength }],
    metadata: { descr, fortran_order: f.v[2]!, version: `${major}.${minor}` },
  };
}
