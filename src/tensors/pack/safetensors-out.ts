/**
 * The safetensors-compatible packed file: a valid safetensors file in which every tensor of the
 * source is stored under its own name as a U8 vector of its coded chunks, the structure bytes
 * (everything outside tensors) as one more U8 tensor `__zipml_structure__`, and what unpacking
 * needs in `__metadata__.zipml` (a JSON string: source size, SHA-256 and XXH32, chunk size, and per
 * tensor its original dtype, shape, place in the source, encoding and chunk lengths/checksums).
 * Standard readers list the tensors; `unpackSafetensorsBytes` restores the source byte for byte.
 *
 * Unlike the container, tensors are coded one by one (no lanes: each tensor's data must be its
 * own), so tiny tensors cost a chunk record each; the container is the smaller format.
 * Spec: docs/tensors.md §"Safetensors-compatible packed file".
 */
import { ZipmlError } from '../../core/errors.js';
import { xxh32, Xxh32, checksumHex } from '../../core/checksum.js';
import { readModelLayout, bufferSource, type ModelLayout } from '../layout.js';
import { encodeSafetensors, readSafetensorsLayout } from '../formats/safetensors.js';
import { encodeChunk, lzWorthTrying, MAX_CHUNK_BYTES, DEFAULT_CHUNK_BYTES } from './chunk.js';
import { schemeForDtype, type GroupScheme } from './grouping.js';
import { decodeChunkTask } from './tasks.js';
import { createSha256 } from './sha256.js';
import type { PackOptions } from './pack.js';
import type { UnpackOptions } from './unpack.js';

export const STRUCTURE_TENSOR = '__zipml_structure__';
export const SAFETENSORS_PACK_FORMAT = 'zipml.tensors.pack.safetensors/1';

interface StoredEntry {
  /** Original name ('' for the structure). */
  n: string;
  d: string;
  s: number[];
  /** Offset in the source ('structure': -1, its pieces are the gaps). */
  o: number;
  /** Original byte length. */
  l: number;
  g: GroupScheme;
  /** Payload length and XXH32 of each chunk. */
  c: number[];
  x: number[];
}

interface SafetensorsPackMeta {
  format: string;
  source: { name: string; size: number; sha256: string; xxh32: string; format: string };
  chunkSize: number;
  tensors: StoredEntry[];
  structure: StoredEntry;
}

function encodeAll(data: Uint8Array, scheme: GroupScheme, chunkSize: number, opts: Parameters<typeof encodeChunk>[2]): { payload: Uint8Array; c: number[]; x: number[] } {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += chunkSize) parts.push(encodeChunk(data.slice(at, Math.min(data.length, at + chunkSize)), scheme, opts));
  const payload = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    payload.set(p, at);
    at += p.length;
  }
  return { payload, c: parts.map((p) => p.length), x: parts.map((p) => xxh32(p)) };
}

/** Packs a model held in memory into a safetensors-compatible packed file. */
export async function packSafetensorsBytes(bytes: Uint8Array, opts: PackOptions = {}): Promise<Uint8Array> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkSize) || chunkSize < 4096 || chunkSize > MAX_CHUNK_BYTES || chunkSize % 8 !== 0) throw new ZipmlError('E_ARG', `chunkSize ${chunkSize} is not a multiple of 8 in 4096..${MAX_CHUNK_BYTES}`);
  const layout: ModelLayout = opts.layout ?? (await readModelLayout(bufferSource(bytes), { fileName: opts.name, sidecar: opts.sidecar }));
  const lz = opts.lzLevel ?? 1, lzRep = lz === 0 ? 0 : opts.lzRepetitiveLevel ?? 6;
  const names = new Set<string>();
  const out = [];
  const entries: StoredEntry[] = [];
  const gaps: Uint8Array[] = [];
  let pos = 0;
  for (const t of layout.tensors) {
    if (t.name === STRUCTURE_TENSOR || t.name === '__metadata__' || names.has(t.name)) throw new ZipmlError('E_ARG', `tensor name '${t.name}' is reserved or repeated: use the container format`);
    names.add(t.name);
    gaps.push(bytes.subarray(pos, t.offset));
    pos = t.offset + t.byteLength;
    const data = bytes.subarray(t.offset, pos);
    const g = schemeForDtype(t.dtype, t.byteLength);
    const repetitive = lz > 0 && g !== 'b1' && data.length >= 32 << 10 && lzWorthTrying(data.slice(0, chunkSize), g);
    const e = encodeAll(data, g, chunkSize, repetitive ? { lzLevel: lzRep, lzAlways: true } : { lzLevel: g === 'b1' ? lz : 0 });
    entries.push({ n: t.name, d: t.dtype, s: t.shape, o: t.offset, l: t.byteLength, g, c: e.c, x: e.x });
    out.push({ name: t.name, dtype: 'U8' as const, shape: [e.payload.length], data: e.payload });
  }
  gaps.push(bytes.subarray(pos));
  const structure = new Uint8Array(gaps.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const g of gaps) {
    structure.set(g, at);
    at += g.length;
  }
  const se = encodeAll(structure, 'b1', chunkSize, { tryLayouts: true, lzLevel: lz > 0 && structure.length <= 64 << 10 ? Math.max(lz, lzRep) : lz });
  out.push({ name: STRUCTURE_TENSOR, dtype: 'U8' as const, shape: [se.payload.length], data: se.payload });
  const sha = await createSha256();
  sha.update(bytes);
  const meta: SafetensorsPackMeta = {
    format: SAFETENSORS_PACK_FORMAT,
    source: { name: opts.name ?? '', size: bytes.length, sha256: sha.digest(), xxh32: checksumHex(xxh32(bytes)), format: layout.format },
    chunkSize,
    tensors: entries,
    structure: { n: '', d: 'U8', s: [structure.length], o: -1, l: structure.length, g: 'b1', c: se.c, x: se.x },
  };
  return encodeSafetensors(out, { metadata: { zipml: JSON.stringify(meta) }, keepOrder: true });
}

const bad = (msg: string) => new ZipmlError('E_CORRUPT', `safetensors-packed model: ${msg}`);
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** True when `bytes` is a safetensors file carrying a zipml packed model. */
export async function isSafetensorsPacked(bytes: Uint8Array): Promise<boolean> {
  if (bytes.length < 10 || bytes[8] !== 0x7b) return false;
  try {
    const l = await readSafetensorsLayout(bufferSource(bytes));
    return typeof l.metadata.zipml === 'string' && l.metadata.zipml.includes(SAFETENSORS_PACK_FORMAT);
  } catch {
    return false;
  }
}

/** Restores the original file from a safetensors-compatible packed file (all checks as unpackBytes). */
export async function unpackSafetensorsBytes(packed: Uint8Array, opts: UnpackOptions = {}): Promise<Uint8Array> {
  const layout = await readSafetensorsLayout(bufferSource(packed));
  let m: SafetensorsPackMeta;
  try {
    m = JSON.parse(layout.metadata.zipml ?? '') as SafetensorsPackMeta;
  } catch {
    throw bad('__metadata__.zipml is missing or not JSON');
  }
  if (!m || m.format !== SAFETENSORS_PACK_FORMAT) throw new ZipmlError('E_FORMAT', 'not a zipml safetensors-packed model');
  const src = m.source;
  const max = opts.maxOutputSize ?? 2 ** 31;
  if (!src || !isInt(src.size) || src.size > max || typeof src.sha256 !== 'string' || typeof src.xxh32 !== 'string') throw bad('source description is malformed or too large');
  if (!isInt(m.chunkSize) || m.chunkSize < 8 || m.chunkSize > MAX_CHUNK_BYTES || !Array.isArray(m.tensors) || !m.structure) throw bad('chunk size or tensor list is malformed');
  const regions = new Map(layout.tensors.map((t) => [t.name, t]));
  const out = new Uint8Array(src.size);
  const decodeEntry = (e: StoredEntry, name: string): Uint8Array => {
    const r = regions.get(name);
    if (!r || !Array.isArray(e.c) || !Array.isArray(e.x) || e.c.length !== e.x.length || !isInt(e.l) || !['f32', 'bf16', 'f16', 'b1', 'b2', 'b4', 'b8'].includes(e.g)) throw bad(`entry '${name}' is malformed`);
    if (e.c.length !== Math.ceil(e.l / m.chunkSize)) throw bad(`entry '${name}' has ${e.c.length} chunks for ${e.l} bytes`);
    if (e.c.reduce((a, b) => a + (isInt(b) ? b : Infinity), 0) !== r.byteLength) throw bad(`entry '${name}': chunk lengths do not add up to its ${r.byteLength} stored bytes`);
    const data = new Uint8Array(e.l);
    let p = r.offset;
    e.c.forEach((len, k) => {
      const size = Math.min(m.chunkSize, e.l - k * m.chunkSize);
      data.set(decodeChunkTask(packed.subarray(p, p + len), e.g, size, e.x[k]!, `tensor '${name}' chunk ${k}`), k * m.chunkSize);
      p += len;
    });
    return data;
  };
  const structure = decodeEntry(m.structure, STRUCTURE_TENSOR);
  let pos = 0, sp = 0;
  const gap = (to: number) => {
    if (to < pos || to - pos > structure.length - sp) throw bad(`structure bytes do not fill the gap before ${to}`);
    out.set(structure.subarray(sp, sp + to - pos), pos);
    sp += to - pos;
  };
  for (const e of m.tensors) {
    if (!e || typeof e.n !== 'string' || !isInt(e.o) || !isInt(e.l) || e.o + e.l > src.size) throw bad('a tensor entry is malformed or outside the source');
    gap(e.o);
    out.set(decodeEntry(e, e.n), e.o);
    pos = e.o + e.l;
  }
  gap(src.size);
  if (sp !== structure.length) throw bad('structure bytes left over');
  if (checksumHex(new Xxh32().update(out).digest()) !== src.xxh32) throw new ZipmlError('E_CORRUPT', 'unpacked bytes do not match the stored XXH32');
  if (opts.verify !== false) {
    const h = await createSha256();
    h.update(out);
    if (h.digest() !== src.sha256) throw new ZipmlError('E_CORRUPT', 'unpacked bytes do not match the stored SHA-256');
  }
  return out;
}
