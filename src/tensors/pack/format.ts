/**
 * The packed model file: a zipml container of kind `tensors.pack` with two sections, `chunks`
 * (every chunk payload, back to back) and `index` (one record per chunk), and a JSON `meta` that
 * lists the source file's tensors and how each is stored. Spec: docs/tensors.md §"Packed file".
 *
 * The meta never stores where a tensor's bytes sit in its lane: that follows from the tensor list
 * (lanes are filled in file order), so a hostile meta cannot point two tensors at the same bytes
 * or past a lane's end. `placements()` derives it, and pack and unpack both use it.
 */
import { ZipmlError } from '../../core/errors.js';
import { checkJsonDepth, type JsonObject } from '../../core/container.js';
import { compress, decompress } from '../../core/entropy/frame.js';
import { lzEncode, lzDecode } from '../../core/lz/index.js';
import { readVarint, varintSize, writeVarint } from '../../core/bits.js';
import { GROUP_SCHEMES, schemeElementBytes, type GroupScheme } from './grouping.js';
import { MAX_CHUNK_BYTES } from './chunk.js';

export const PACK_KIND = 'tensors.pack';
export const PACK_VERSION = 1;
export const INDEX_MAGIC = new Uint8Array([0x5a, 0x54, 0x50, 0x58]); // "ZTPX"
export const INDEX_HEADER_BYTES = 12;
export const INDEX_RECORD_BYTES = 13;
/** Lanes are numbered by one byte in the index. */
export const MAX_LANES = 256;
/** 2^53 - 1: offsets and sizes stay exact JS numbers. */
const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/** How a tensor's bytes are stored. */
export type TensorEncoding =
  /** its bytes, in its lane */
  | 'plain'
  /** an F32 tensor whose values are all exact BF16 (resp. F16): the 2-byte form, in that lane */
  | 'bf16' | 'f16'
  /** bit-for-bit the same bytes as an earlier tensor (`of`): nothing stored */
  | 'dup'
  /** XOR with the same-named tensor of the base checkpoint (`baseOffset`), in the lane's XOR twin */
  | 'xor';

export interface PackedTensor {
  name: string;
  dtype: string;
  shape: number[];
  offset: number;
  byteLength: number;
  lane: number;
  enc: TensorEncoding;
  /** 'dup': index of the earlier tensor with the same bytes. */
  of?: number;
  /** 'xor': where the base tensor's bytes start in the base file. */
  baseOffset?: number;
}

export interface LaneInfo {
  name: string;
  scheme: GroupScheme;
  /** This lane's chunk size, when it differs from the file's `chunkSize`. */
  chunkSize?: number;
}

/** The chunk size of lane `lane`. */
export function laneChunkSize(meta: Pick<PackMeta, 'chunkSize' | 'lanes'>, lane: number): number {
  return meta.lanes[lane]!.chunkSize ?? meta.chunkSize;
}

const validChunkSize = (c: unknown): boolean => isInt(c, MAX_CHUNK_BYTES) && (c as number) >= 64 && (c as number) % 8 === 0;

export interface PackMeta {
  v: number;
  /** The packed file's source: SHA-256 and XXH32 (hex) of all its bytes. */
  source: { name: string; size: number; sha256: string; xxh32: string; format: string };
  base?: { name: string; size: number; sha256: string };
  chunkSize: number;
  lanes: LaneInfo[];
  /** Lane of the structure bytes (everything outside tensors), or -1 when there are none. */
  structureLane: number;
  tensors: PackedTensor[];
}

export interface ChunkRecord {
  lane: number;
  /** Offset of the payload in the chunks section. */
  offset: number;
  length: number;
  decodedSize: number;
  xxh32: number;
  /** Where the chunk's bytes start in its lane. */
  laneOffset: number;
}

/** Where a piece of the source file comes from. */
export type Piece =
  | { kind: 'lane'; fileOffset: number; length: number; lane: number; laneOffset: number; tensor: number; stored: number }
  | { kind: 'dup'; fileOffset: number; length: number; tensor: number; of: number };

const fail = (msg: string): ZipmlError => new ZipmlError('E_CORRUPT', `packed model: ${msg}`);

/** Bytes a tensor occupies in its lane. */
export function storedBytes(t: Pick<PackedTensor, 'enc' | 'byteLength'>): number {
  if (t.enc === 'dup') return 0;
  if (t.enc === 'bf16' || t.enc === 'f16') return t.byteLength / 2;
  return t.byteLength;
}

/**
 * The source file as a sequence of pieces in file order (structure gaps and tensors), with each
 * stored piece's place in its lane, and each lane's total size. Validates the tensor list.
 */
export function placements(meta: PackMeta): { pieces: Piece[]; laneBytes: number[] } {
  const laneBytes = meta.lanes.map(() => 0);
  const pieces: Piece[] = [];
  let pos = 0;
  const addStructure = (to: number) => {
    if (to > pos) {
      if (meta.structureLane < 0) throw fail(`bytes ${pos}..${to} are outside every tensor but there is no structure lane`);
      pieces.push({ kind: 'lane', fileOffset: pos, length: to - pos, lane: meta.structureLane, laneOffset: laneBytes[meta.structureLane]!, tensor: -1, stored: to - pos });
      laneBytes[meta.structureLane]! += to - pos;
    }
  };
  meta.tensors.forEach((t, i) => {
    if (t.offset < pos) throw fail(`tensor ${i} ('${t.name}') at ${t.offset} overlaps what comes before it (${pos})`);
    if (t.offset + t.byteLength > meta.source.size) throw fail(`tensor ${i} ('${t.name}') ends past the ${meta.source.size}-byte source`);
    addStructure(t.offset);
    if (t.enc === 'dup') {
      const o = t.of!;
      if (!(o < i) || meta.tensors[o]!.byteLength !== t.byteLength || meta.tensors[o]!.enc === 'dup') {
        throw fail(`tensor ${i} duplicates tensor ${o}, which is not an earlier stored tensor of the same size`);
      }
      pieces.push({ kind: 'dup', fileOffset: t.offset, length: t.byteLength, tensor: i, of: o });
    } else {
      const s = storedBytes(t);
      pieces.push({ kind: 'lane', fileOffset: t.offset, length: t.byteLength, lane: t.lane, laneOffset: laneBytes[t.lane]!, tensor: i, stored: s });
      laneBytes[t.lane]! += s;
    }
    pos = t.offset + t.byteLength;
  });
  addStructure(meta.source.size);
  return { pieces, laneBytes };
}

function isInt(x: unknown, max = MAX_SIZE): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max;
}

/** Checks the JSON meta and tensor list of a packed file field by field (both may be hostile). */
export function checkMeta(raw: JsonObject, tensors: PackedTensor[]): PackMeta {
  const m = { ...(raw as unknown as PackMeta), tensors };
  if (m.v !== PACK_VERSION) throw new ZipmlError('E_FORMAT', `packed model version ${String(m.v)} is not ${PACK_VERSION}`);
  const src = m.source;
  if (!src || typeof src !== 'object' || typeof src.name !== 'string' || !isInt(src.size) || typeof src.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(src.sha256) || typeof src.xxh32 !== 'string' || !/^[0-9a-f]{8}$/.test(src.xxh32) || typeof src.format !== 'string') {
    throw fail('source description is missing or malformed');
  }
  if (m.base !== undefined && (typeof m.base !== 'object' || m.base === null || typeof m.base.name !== 'string' || !isInt(m.base.size) || typeof m.base.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.base.sha256))) {
    throw fail('base description is malformed');
  }
  if (!validChunkSize(m.chunkSize)) throw fail(`chunk size ${String(m.chunkSize)} is not a multiple of 8 in 64..${MAX_CHUNK_BYTES}`);
  if (!Array.isArray(m.lanes) || m.lanes.length > MAX_LANES) throw fail('lanes are missing or more than 256');
  for (const l of m.lanes) {
    if (!l || typeof l.name !== 'string' || !GROUP_SCHEMES.includes(l.scheme) || (l.chunkSize !== undefined && !validChunkSize(l.chunkSize))) throw fail(`lane ${JSON.stringify(l)} is malformed`);
  }
  if (typeof m.structureLane !== 'number' || !Number.isInteger(m.structureLane) || m.structureLane < -1 || m.structureLane >= m.lanes.length) throw fail('structure lane is out of range');
  if (m.structureLane >= 0 && m.lanes[m.structureLane]!.scheme !== 'b1') throw fail('structure lane must have scheme b1');
  if (!Array.isArray(m.tensors) || m.tensors.length > 1 << 20) throw fail('tensor list is missing or too long');
  m.tensors.forEach((t, i) => {
    if (!t || typeof t.name !== 'string' || typeof t.dtype !== 'string' || !Array.isArray(t.shape) || !t.shape.every((d) => isInt(d)) || !isInt(t.offset) || !isInt(t.byteLength)) {
      throw fail(`tensor ${i} is malformed`);
    }
    if (!['plain', 'bf16', 'f16', 'dup', 'xor'].includes(t.enc)) throw fail(`tensor ${i} has unknown encoding ${String(t.enc)}`);
    if (t.enc === 'dup') {
      if (!isInt(t.of)) throw fail(`tensor ${i} is a duplicate without a valid 'of'`);
      return;
    }
    if (!isInt(t.lane, m.lanes.length - 1)) throw fail(`tensor ${i} names lane ${String(t.lane)}`);
    const scheme = m.lanes[t.lane]!.scheme;
    const s = storedBytes(t);
    if (!Number.isInteger(s) || s % schemeElementBytes(scheme) !== 0) throw fail(`tensor ${i}: ${t.byteLength} bytes do not fit lane scheme ${scheme}`);
    if ((t.enc === 'bf16' || t.enc === 'f16') && scheme !== t.enc) throw fail(`tensor ${i} is narrowed to ${t.enc} but sits in a ${scheme} lane`);
    if (t.enc === 'xor') {
      if (!m.base) throw fail(`tensor ${i} is a delta but the file names no base`);
      if (!isInt(t.baseOffset) || t.baseOffset + t.byteLength > m.base.size) throw fail(`tensor ${i} reads past the base file`);
    }
  });
  return m;
}

/** Largest decoded tensor table accepted (a 1M-tensor model's table is ~100 MB). */
export const MAX_TENSOR_TABLE_BYTES = 256 << 20;

const ENC_CODES: Record<TensorEncoding, string> = { plain: 'p', bf16: 'b', f16: 'h', dup: 'd', xor: 'x' };

/**
 * The tensor list as column-wise JSON (names, dtypes, shapes, the gap before each tensor,
 * lengths, encodings as one letter each, lanes, and the sparse `of` / `baseOffset` maps).
 * Column-wise with gaps instead of offsets keeps it small: for a TFLite file with hundreds of
 * tensors the plain JSON list would cost several percent of the file.
 */
export function encodeTensorTableJson(tensors: readonly PackedTensor[]): Uint8Array {
  let end = 0;
  const gaps: number[] = [];
  for (const t of tensors) {
    gaps.push(t.offset - end);
    end = t.offset + t.byteLength;
  }
  const of: Record<string, number> = {}, baseOffsets: Record<string, number> = {};
  tensors.forEach((t, i) => {
    if (t.of !== undefined) of[i] = t.of;
    if (t.baseOffset !== undefined) baseOffsets[i] = t.baseOffset;
  });
  const table = {
    names: tensors.map((t) => t.name),
    dtypes: tensors.map((t) => t.dtype),
    shapes: tensors.map((t) => t.shape),
    gaps,
    lengths: tensors.map((t) => t.byteLength),
    enc: tensors.map((t) => ENC_CODES[t.enc]).join(''),
    lanes: tensors.map((t) => t.lane),
    of,
    baseOffsets,
  };
  return new TextEncoder().encode(JSON.stringify(table));
}

/** The tensor table section: its JSON, stored the smaller of two ways. */
export function encodeTensorTable(tensors: readonly PackedTensor[]): Uint8Array {
  const json = encodeTensorTableJson(tensors);
  // Names share long prefixes (TFJS: 'StatefulPartitionedCall/model/conv2d_12/...'), which order-0
  // coding cannot see: LZ takes the table to 1/8-1/14 of the entropy frame (movenet 13,920 ->
  // 1,606 bytes). Level 3: a few ms for a 45 KB table, within 7% of level 9's size.
  const lz = lzEncode(json, { level: TABLE_LZ_LEVEL });
  const framed = compress(json, { coder: 'auto' });
  if (framed.length <= lz.length + 4 + varintSize(json.length)) return framed;
  const out = new Uint8Array(4 + varintSize(json.length) + lz.length);
  out.set(TABLE_LZ_MAGIC, 0);
  out.set(lz, writeVarint(out, 4, json.length));
  return out;
}

/** An LZ-coded tensor table starts with this magic ("ZTPL"), then the JSON's length (varint), then the raw LZ payload. */
export const TABLE_LZ_MAGIC = new Uint8Array([0x5a, 0x54, 0x50, 0x4c]);
const TABLE_LZ_LEVEL = 3;

/**
 * The tensor table's JSON bytes, from any stored form: an entropy frame, the LZ form, or the JSON
 * itself (inside a compact packed file, whose head is LZ-coded as a whole).
 */
export function tensorTableJson(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === 0x7b) {
    if (bytes.length > MAX_TENSOR_TABLE_BYTES) throw new ZipmlError('E_LIMIT', `tensor table of ${bytes.length} bytes exceeds ${MAX_TENSOR_TABLE_BYTES}`);
    return bytes;
  }
  if (bytes.length < 4 || !TABLE_LZ_MAGIC.every((b, i) => bytes[i] === b)) return decompress(bytes, { maxOutputSize: MAX_TENSOR_TABLE_BYTES });
  const { value: n, next } = readVarint(bytes, 4);
  if (n > MAX_TENSOR_TABLE_BYTES) throw new ZipmlError('E_LIMIT', `tensor table of ${n} bytes exceeds ${MAX_TENSOR_TABLE_BYTES}`);
  return lzDecode(bytes.subarray(next), n, { maxOutputBytes: MAX_TENSOR_TABLE_BYTES });
}

/** Inverse of encodeTensorTable; the entries are then checked by checkMeta. */
export function decodeTensorTable(bytes: Uint8Array): PackedTensor[] {
  const json = tensorTableJson(bytes);
  checkJsonDepth(json, 8, 0);
  let t: Record<string, unknown>;
  try {
    t = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json)) as Record<string, unknown>;
  } catch (e) {
    throw fail(`tensor table is not JSON: ${(e as Error).message}`);
  }
  const cols = ['names', 'dtypes', 'shapes', 'gaps', 'lengths', 'lanes'] as const;
  if (!t || typeof t !== 'object' || !cols.every((c) => Array.isArray(t[c])) || typeof t.enc !== 'string') throw fail('tensor table lacks its columns');
  const n = (t.names as unknown[]).length;
  if (!cols.every((c) => (t[c] as unknown[]).length === n) || (t.enc as string).length !== n) throw fail('tensor table columns differ in length');
  const of = (t.of ?? {}) as Record<string, unknown>, baseOffsets = (t.baseOffsets ?? {}) as Record<string, unknown>;
  if (typeof of !== 'object' || typeof baseOffsets !== 'object') throw fail('tensor table maps are malformed');
  const byCode = Object.fromEntries(Object.entries(ENC_CODES).map(([k, v]) => [v, k])) as Record<string, TensorEncoding>;
  const out: PackedTensor[] = [];
  let end = 0;
  for (let i = 0; i < n; i++) {
    const gap = (t.gaps as unknown[])[i], len = (t.lengths as unknown[])[i];
    if (!isInt(gap) || !isInt(len) || end + gap + len > MAX_SIZE) throw fail(`tensor ${i} has an invalid gap or length`);
    const enc = byCode[(t.enc as string)[i]!];
    if (!enc) throw fail(`tensor ${i} has unknown encoding '${(t.enc as string)[i]}'`);
    const entry: PackedTensor = {
      name: (t.names as unknown[])[i] as string, dtype: (t.dtypes as unknown[])[i] as string, shape: (t.shapes as unknown[])[i] as number[],
      offset: end + gap, byteLength: len, lane: (t.lanes as unknown[])[i] as number, enc,
    };
    if (of[i] !== undefined) entry.of = of[i] as number;
    if (baseOffsets[i] !== undefined) entry.baseOffset = baseOffsets[i] as number;
    out.push(entry);
    end = entry.offset + len;
  }
  return out;
}

/** Binary chunk index: magic, version, 3 reserved bytes, count, then 13-byte records. */
export function encodeIndex(records: readonly Omit<ChunkRecord, 'offset' | 'laneOffset'>[]): Uint8Array {
  const out = new Uint8Array(INDEX_HEADER_BYTES + records.length * INDEX_RECORD_BYTES);
  const dv = new DataView(out.buffer);
  out.set(INDEX_MAGIC, 0);
  out[4] = PACK_VERSION;
  dv.setUint32(8, records.length, true);
  records.forEach((r, i) => {
    const at = INDEX_HEADER_BYTES + i * INDEX_RECORD_BYTES;
    out[at] = r.lane;
    dv.setUint32(at + 1, r.length, true);
    dv.setUint32(at + 5, r.decodedSize, true);
    dv.setUint32(at + 9, r.xxh32, true);
  });
  return out;
}

/**
 * Parses and checks the index against the meta and the chunks section length: every lane's
 * chunks are full-size except its last, decode to exactly the lane's bytes, and the payloads
 * tile the chunks section exactly.
 */
export function decodeIndex(bytes: Uint8Array, meta: PackMeta, laneBytes: readonly number[], chunksLength: number): ChunkRecord[] {
  if (bytes.length < INDEX_HEADER_BYTES) throw new ZipmlError('E_TRUNCATED', `chunk index of ${bytes.length} bytes is shorter than its header`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== INDEX_MAGIC[i]) throw new ZipmlError('E_FORMAT', 'chunk index magic is wrong', { offset: i });
  if (bytes[4] !== PACK_VERSION || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw new ZipmlError('E_FORMAT', `chunk index version ${bytes[4]} or reserved bytes are wrong`, { offset: 4 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = dv.getUint32(8, true);
  if (bytes.length !== INDEX_HEADER_BYTES + count * INDEX_RECORD_BYTES) throw fail(`chunk index of ${bytes.length} bytes does not hold ${count} records`);
  const filled = laneBytes.map(() => 0);
  const out: ChunkRecord[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const at = INDEX_HEADER_BYTES + i * INDEX_RECORD_BYTES;
    const lane = bytes[at]!;
    const length = dv.getUint32(at + 1, true), decodedSize = dv.getUint32(at + 5, true), xxh32 = dv.getUint32(at + 9, true);
    if (lane >= laneBytes.length) throw fail(`chunk ${i} names lane ${lane}`);
    const left = laneBytes[lane]! - filled[lane]!;
    const want = Math.min(laneChunkSize(meta, lane), left);
    if (want === 0 || decodedSize !== want) throw fail(`chunk ${i} of lane ${lane} decodes to ${decodedSize} bytes, expected ${want}`);
    if (length < 1 || length > chunksLength - offset) throw fail(`chunk ${i} (${length} bytes at ${offset}) runs past the ${chunksLength}-byte chunks section`);
    out.push({ lane, offset, length, decodedSize, xxh32, laneOffset: filled[lane]! });
    filled[lane]! += decodedSize;
    offset += length;
  }
  if (offset !== chunksLength) throw fail(`chunks section has ${chunksLength - offset} bytes no chunk uses`);
  filled.forEach((f, l) => {
    if (f !== laneBytes[l]) throw fail(`lane ${l} has ${f} bytes in chunks but its tensors need ${laneBytes[l]}`);
  });
  return out;
}
