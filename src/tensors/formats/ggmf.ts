/**
 * rwkv.cpp model files (RWKV/rwkv.cpp rwkv_file_format.inc): a header of 6 u32 (magic 0x67676d66
 * "ggmf", version 100..101, n_vocab, n_embed, n_layer, data_type), then tensors back to back, each
 * u32 dim_count (1..3), u32 key_length, u32 data_type, dim_count u32 sizes (size0 fastest), the
 * name, and the data with no padding. rwkv.cpp's data types are its own enum (0 FP32, 1 FP16,
 * 2 Q4_0, 3 Q4_1, 7 Q5_0, 8 Q5_1, 9 Q8_0; 4-6 were removed), mapped to ggml types for sizes.
 *
 * The tensor headers sit between the data, so the reader walks the file reading only the headers
 * (through a page cache, so neighbouring small tensors cost one read).
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { type ByteSource, type ModelLayout, type TensorRegion, MAX_NAME_BYTES, MAX_TENSORS } from '../layout.js';
import { Cursor, PagedReader } from './common.js';
import { type GgmlType, ggmlByteLength, ggmlDtype, ggmlTypeByName } from './ggml-types.js';

export const GGMF_MAGIC = 0x67676d66;
const WHAT = 'rwkv ggmf';
/** rwkv_type -> ggml type name (undefined: removed from rwkv.cpp). */
const RWKV_TYPES: (string | undefined)[] = ['F32', 'F16', 'Q4_0', 'Q4_1', undefined, undefined, undefined, 'Q5_0', 'Q5_1', 'Q8_0'];

function rwkvType(id: number, where: string, offset: number): GgmlType {
  const name = RWKV_TYPES[id];
  const t = name === undefined ? undefined : ggmlTypeByName(name);
  if (!t) throw new ZipmlError('E_FORMAT', `${WHAT}: ${where} has data type ${id}, which rwkv.cpp does not load`, { offset });
  return t;
}

export async function readGgmfLayout(src: ByteSource, opts: { signal?: AbortSignal } = {}): Promise<ModelLayout> {
  const pr = new PagedReader(src, WHAT, opts.signal);
  const h = new Cursor(await pr.bytes(0, Math.min(24, src.size), 'header'), 0, WHAT);
  if (h.u32('magic') !== GGMF_MAGIC) throw new ZipmlError('E_FORMAT', `${WHAT}: bad magic`, { offset: 0 });
  const version = h.u32('version');
  if (version < 100 || version > 101) throw new ZipmlError('E_FORMAT', `${WHAT}: unsupported file version ${version}`, { offset: 4 });
  const nVocab = h.u32('n_vocab'), nEmbed = h.u32('n_embed'), nLayer = h.u32('n_layer');
  const dataType = rwkvType(h.u32('data_type'), 'the header', 20);
  const tensors: TensorRegion[] = [];
  const names = new Set<string>();
  let at = 24;
  while (at < src.size) {
    throwIfAborted(opts.signal, WHAT);
    if (tensors.length >= MAX_TENSORS) throw new ZipmlError('E_LIMIT', `${WHAT}: more than ${MAX_TENSORS} tensors`, { offset: at });
    const where = `tensor ${tensors.length}`;
    const fixed = new Cursor(await pr.bytes(at, Math.min(12, src.size - at), `${where} header`), at, WHAT);
    const nDims = fixed.u32(`${where} dim_count`);
    const keyLength = fixed.u32(`${where} key_length`);
    const type = rwkvType(fixed.u32(`${where} data_type`), where, at + 8);
    if (nDims < 1 || nDims > 3) throw new ZipmlError('E_CORRUPT', `${WHAT}: ${where} has ${nDims} dimensions (1..3 allowed)`, { offset: at });
    if (keyLength > MAX_NAME_BYTES) throw new ZipmlError('E_LIMIT', `${WHAT}: ${where} name of ${keyLength} bytes exceeds ${MAX_NAME_BYTES}`, { offset: at + 4 });
    const headLen = 12 + 4 * nDims + keyLength;
    const c = new Cursor(await pr.bytes(at, Math.min(headLen, src.size - at), `${where} header`), at, WHAT);
    c.skip(12, 'fixed header');
    const ne = Array.from({ length: nDims }, (_, i) => c.u32(`${where} size${i}`));
    const name = c.utf8(keyLength, `${where} name`);
    if (names.has(name)) throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor name '${name}' repeats`, { offset: at });
    names.add(name);
    const offset = at + headLen;
    const byteLength = ggmlByteLength(type, ne, Number.MAX_SAFE_INTEGER, `${WHAT}: '${name}'`, at);
    if (byteLength > src.size - offset) throw new ZipmlError('E_TRUNCATED', `${WHAT}: '${name}' needs ${byteLength} bytes at ${offset}, the file has ${src.size}`, { offset });
    tensors.push({ name, dtype: ggmlDtype(type), shape: ne.slice().reverse(), offset, byteLength });
    at = offset + byteLength;
  }
  return {
    format: 'ggmf',
    fileSize: src.size,
    tensors,
    metadata: { version: `${version}`, n_vocab: `${nVocab}`, n_embed: `${nEmbed}`, n_layer: `${nLayer}`, data_type: dataType.name },
  };
}
