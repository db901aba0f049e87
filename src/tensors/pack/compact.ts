/**
 * The compact packed form, for small sources: the same chunks, chunk index, tensor table and
 * header meta as the container form, without the container's section descriptors, per-section
 * checksums and 64-byte alignment (~0.7 KB, more than a 6 KB tokenizer packs to).
 *
 * Version 2 (written now) stores the meta as binary fields (varints, one-byte codes, the SHA-256
 * as 32 raw bytes), the chunk index as one varint per chunk (decoded sizes follow from the lanes,
 * the last length from the file's end), and one XXH32 over all of the file after it instead of one
 * per chunk: ~50 bytes of head plus the name, against ~240 in version 1, which is still read.
 * Byte layouts in docs/tensors.md §"Compact form". Every length is bounded.
 */
import { ZipmlError } from '../../core/errors.js';
import { readVarint, varintSize, writeVarint } from '../../core/bits.js';
import { xxh32 } from '../../core/checksum.js';
import { checkJsonDepth, type JsonObject } from '../../core/container.js';
import { lzEncode, lzDecode } from '../../core/lz/index.js';
import { GROUP_SCHEMES, type GroupScheme } from './grouping.js';
import {
  PACK_KIND, PACK_VERSION, INDEX_HEADER_BYTES, INDEX_RECORD_BYTES, MAX_LANES,
  checkMeta, decodeTensorTable, encodeIndex, encodeTensorTableJson, laneChunkSize, placements, type LaneInfo, type PackMeta,
} from './format.js';
import type { PackedReader } from './unpack.js';

/** "ZTPC". */
export const COMPACT_MAGIC = new Uint8Array([0x5a, 0x54, 0x50, 0x43]);
/** The version written; version 1 (LZ-coded JSON head) is still read. */
export const COMPACT_VERSION = 2;
/**
 * Sources up to this size are also packed compactly, and the smaller form kept. A compact file is
 * read whole (no random access on disk), which costs nothing at this size; the container's ~0.7 KB
 * of section framing and 13-byte index records still cost 0.05 points on a 4 MB file (TFJS
 * CenterNet: 2,987,442 bytes in the container, 2,985,927 compact).
 */
export const COMPACT_MAX_SOURCE = 4 << 20;
/** Largest head (meta + index + table) a reader accepts. */
const MAX_HEAD_BYTES = 16 << 20;
/** Chunks a version-2 file may list (a 1 MiB source in 64-byte chunks; a reader need not trust the writer). */
const MAX_CHUNKS = 1 << 16;
/** Level of the version-2 tensor table's LZ coding: tables are small, so the best level is cheap. */
const TABLE_LZ_LEVEL = 9;
/** The tensor table of a file packed without tensor lanes (a small file packed whole). */
const EMPTY_TABLE = encodeTensorTableJson([]);
/** Source formats by code (version 2, low four bits of the flags byte); FORMAT_NAMED = the name follows. */
const FORMATS = ['unknown', 'safetensors', 'gguf', 'onnx', 'npy', 'llama2c', 'tflite', 'ncnn', 'ggmf', 'tfjs'];
const FORMAT_NAMED = 15;
/** Flags: packed whole (one structure lane, no tensors: lanes and table not stored); a source name follows. */
const F_WHOLE = 0x10, F_NAMED = 0x20;
/** Lane name kinds (version 2, low two bits of a lane's flag byte). */
const LANE_SCHEME = 0, LANE_STRUCTURE = 1, LANE_GGML = 2, LANE_NAMED = 3;
/** Lane name suffixes (bits 2-3): '*' = repetitive tensors, '^' = XOR deltas. */
const SUFFIXES = ['', '*', '^'];
const LANE_HAS_CHUNK_SIZE = 0x80;

/** Whether `bytes` starts like a compact packed file. */
export function isCompactPacked(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && COMPACT_MAGIC.every((b, i) => bytes[i] === b);
}

const corrupt = (msg: string, offset?: number): ZipmlError => new ZipmlError('E_CORRUPT', `compact packed file: ${msg}`, offset === undefined ? undefined : { offset });

/** Appends bytes, varints and one-byte codes. */
class Out {
  private buf = new Uint8Array(256);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
  byte(v: number): this {
    this.room(1);
    this.buf[this.length++] = v;
    return this;
  }
  varint(v: number): this {
    this.room(varintSize(v));
    this.length = writeVarint(this.buf, this.length, v);
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  /** A varint length, then the bytes. */
  sized(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Reads what Out writes, never past the end. */
class In {
  constructor(
    private readonly b: Uint8Array,
    public at: number,
  ) {}
  byte(): number {
    if (this.at >= this.b.length) throw new ZipmlError('E_TRUNCATED', 'compact packed file ends inside its head', { offset: this.at });
    return this.b[this.at++]!;
  }
  varint(max = Number.MAX_SAFE_INTEGER, what = 'value'): number {
    const at = this.at;
    const { value, next } = readVarint(this.b, at);
    if (value > max) throw new ZipmlError('E_LIMIT', `compact packed file: ${what} ${value} exceeds ${max}`, { offset: at });
    this.at = next;
    return value;
  }
  bytes(n: number): Uint8Array {
    if (n > this.b.length - this.at) throw new ZipmlError('E_TRUNCATED', `compact packed file: ${n} bytes at ${this.at} run past its end`, { offset: this.at });
    const r = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return r;
  }
  string(max: number, what: string): string {
    const n = this.varint(max, `${what} length`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(n));
    } catch (e) {
      if (e instanceof ZipmlError) throw e;
      throw corrupt(`${what} is not UTF-8`, this.at - n);
    }
  }
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Chunk sizes: a power of two as its log2 (one byte), anything else as 0 and a varint. */
function writeChunkSize(o: Out, size: number): void {
  const log = Math.log2(size);
  if (Number.isInteger(log) && log > 0 && log < 64) o.byte(log);
  else o.byte(0).varint(size);
}
function readChunkSize(i: In): number {
  const log = i.byte();
  // Bounds are checkMeta's; here only what keeps the number exact.
  return log === 0 ? i.varint(1 << 30, 'chunk size') : log <= 30 ? 2 ** log : -1;
}

function writeLane(o: Out, l: LaneInfo): void {
  const scheme = GROUP_SCHEMES.indexOf(l.scheme);
  let kind = LANE_NAMED, suffix = 0;
  for (let s = SUFFIXES.length - 1; s >= 0 && kind === LANE_NAMED; s--) {
    if (s > 0 && !l.name.endsWith(SUFFIXES[s]!)) continue;
    const stem = l.name.slice(0, l.name.length - SUFFIXES[s]!.length);
    kind = stem === l.scheme ? LANE_SCHEME : stem === 'structure' ? LANE_STRUCTURE : stem === 'ggml' ? LANE_GGML : LANE_NAMED;
    suffix = kind === LANE_NAMED ? 0 : s;
  }
  o.byte(scheme).byte(kind | (suffix << 2) | (l.chunkSize !== undefined ? LANE_HAS_CHUNK_SIZE : 0));
  if (kind === LANE_NAMED) o.sized(utf8(l.name));
  if (l.chunkSize !== undefined) writeChunkSize(o, l.chunkSize);
}
function readLane(i: In): LaneInfo {
  const at = i.at;
  const scheme = GROUP_SCHEMES[i.byte()];
  const flagsAt = i.at, flags = i.byte();
  const kind = flags & 3, suffix = SUFFIXES[(flags >> 2) & 3];
  if (!scheme || suffix === undefined || (flags & 0x70) !== 0) throw corrupt('lane description is malformed', at);
  const stem = [scheme, 'structure', 'ggml'][kind];
  const name = stem === undefined ? i.string(1024, 'lane name') : stem + suffix;
  return { name, scheme: scheme as GroupScheme, ...(flags & LANE_HAS_CHUNK_SIZE ? { chunkSize: readChunkSize(i) } : {}) };
}

/**
 * The compact file (version 2) for a packed source: `meta` as the container header's (no base:
 * deltas need the container), `index` the binary chunk index, `table` the tensor table's JSON
 * (stored empty when the table has no tensors), `chunks` the chunk payloads in order.
 */
export function encodeCompact(meta: JsonObject, index: Uint8Array, table: Uint8Array, chunks: Uint8Array): Uint8Array {
  const m = meta as unknown as PackMeta;
  if (m.base !== undefined) throw new ZipmlError('E_ARG', 'the compact form does not hold deltas against a base');
  if (m.v !== PACK_VERSION) throw new ZipmlError('E_ARG', `meta version ${String(m.v)} is not ${PACK_VERSION}`);
  const count = new DataView(index.buffer, index.byteOffset, index.byteLength).getUint32(8, true);
  const o = new Out().bytes(COMPACT_MAGIC).byte(COMPACT_VERSION).bytes(new Uint8Array(4));
  o.bytes(hexBytes(m.source.sha256)).bytes(hexBytes(m.source.xxh32));
  const empty = table.length === EMPTY_TABLE.length && EMPTY_TABLE.every((b, i) => table[i] === b);
  // A small file packed whole: one structure lane, no tensors; the lanes need no description,
  // and the lane's chunk size is the only one that matters (stored as the file's).
  const whole = empty && m.lanes.length === 1 && m.structureLane === 0 && m.lanes[0]!.name === 'structure' && m.lanes[0]!.scheme === 'b1';
  const format = FORMATS.indexOf(m.source.format);
  // The source name is a label (inspect, messages), not needed to restore the bytes: it is left
  // out where it would cost over 1% of the source (a 1 KB logits file's 28-byte name).
  const name = m.source.name ? utf8(m.source.name) : null;
  const named = name !== null && (name.length + 1) * 100 <= m.source.size;
  o.byte((format >= 0 ? format : FORMAT_NAMED) | (whole ? F_WHOLE : 0) | (named ? F_NAMED : 0)).varint(m.source.size);
  if (format < 0) o.sized(utf8(m.source.format));
  if (named) o.sized(name);
  writeChunkSize(o, whole ? laneChunkSize(m, 0) : m.chunkSize);
  if (!whole) {
    o.varint(m.lanes.length);
    for (const l of m.lanes) writeLane(o, l);
    o.varint(m.structureLane + 1);
    if (empty) o.varint(0);
    else o.varint(table.length).sized(lzEncode(table, { level: TABLE_LZ_LEVEL }));
  }
  // The chunk count and decoded sizes follow from the lanes; each chunk's lane (when there are
  // several) and length (but the last: what is left) are stored.
  for (let c = 0; c < count; c++) {
    const at = INDEX_HEADER_BYTES + c * INDEX_RECORD_BYTES;
    if (m.lanes.length > 1) o.byte(index[at]!);
    if (c < count - 1) o.varint(index[at + 1]! | (index[at + 2]! << 8) | (index[at + 3]! << 16) | (index[at + 4]! * 2 ** 24));
  }
  o.bytes(chunks);
  const out = o.result();
  new DataView(out.buffer, out.byteOffset).setUint32(5, xxh32(out.subarray(9)), true);
  return out;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
const bytesHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A PackedReader over a compact packed file held in memory (its head checked and decoded). */
export function compactPackedReader(bytes: Uint8Array): PackedReader {
  if (!isCompactPacked(bytes)) throw new ZipmlError('E_FORMAT', 'not a compact packed file: bad magic', { offset: 0 });
  if (bytes.length < 5) throw new ZipmlError('E_TRUNCATED', 'compact packed file ends inside its header');
  if (bytes[4] === 1) return readV1(bytes);
  if (bytes[4] !== COMPACT_VERSION) throw new ZipmlError('E_FORMAT', `compact packed file version ${bytes[4]} is not 1 or ${COMPACT_VERSION}`, { offset: 4 });
  if (bytes.length < 9) throw new ZipmlError('E_TRUNCATED', 'compact packed file ends inside its header');
  if (new DataView(bytes.buffer, bytes.byteOffset).getUint32(5, true) !== xxh32(bytes.subarray(9))) throw corrupt('checksum mismatch', 5);
  const i = new In(bytes, 9);
  const sha256 = bytesHex(i.bytes(32)), xx = bytesHex(i.bytes(4));
  const flagsAt = i.at, flags = i.byte();
  const size = i.varint(undefined, 'source size');
  const f = flags & 15;
  const format = f === FORMAT_NAMED ? i.string(64, 'format') : FORMATS[f];
  if (format === undefined || (flags & 0xc0) !== 0) throw corrupt(`format code ${f} or flags ${flags} unknown`, flagsAt);
  const name = flags & F_NAMED ? i.string(4096, 'source name') : '';
  const chunkSize = readChunkSize(i);
  let lanes: LaneInfo[] = [{ name: 'structure', scheme: 'b1' }], structureLane = 0, table = EMPTY_TABLE;
  if (!(flags & F_WHOLE)) {
    lanes = Array.from({ length: i.varint(MAX_LANES, 'lane count') }, () => readLane(i));
    structureLane = i.varint(MAX_LANES, 'structure lane') - 1;
    // A compact file holds a source of a few MB: its table is far below the head limit, which
    // bounds what a lying size can make the LZ decoder allocate.
    const tableLength = i.varint(MAX_HEAD_BYTES, 'tensor table size');
    if (tableLength > 0) table = lzDecode(i.bytes(i.varint(MAX_HEAD_BYTES, 'coded table size')), tableLength, { maxOutputBytes: MAX_HEAD_BYTES });
  }
  const meta = { v: PACK_VERSION, source: { name, size, sha256, xxh32: xx, format }, chunkSize, lanes, structureLane };
  const { laneBytes } = placements(checkMeta(meta as unknown as JsonObject, decodeTensorTable(table)));
  let count = 0;
  laneBytes.forEach((n, l) => (count += Math.ceil(n / laneChunkSize(meta, l))));
  if (count > MAX_CHUNKS) throw new ZipmlError('E_LIMIT', `compact packed file: ${count} chunks exceed ${MAX_CHUNKS}`);
  const records: Array<{ lane: number; length: number }> = [];
  for (let c = 0; c < count; c++) records.push({ lane: lanes.length > 1 ? i.byte() : 0, length: c < count - 1 ? i.varint(2 ** 32 - 1, 'chunk length') : 0 });
  const chunksAt = i.at, chunksLength = bytes.length - chunksAt;
  // The index the container would hold: lengths (the last one is what is left), decoded sizes
  // from the lanes' bytes, and each payload's XXH32 (the whole file's was checked above).
  const filled = laneBytes.map(() => 0);
  let offset = 0;
  const index = encodeIndex(records.map((r, c) => {
    const length = c < count - 1 ? r.length : chunksLength - offset;
    if (r.lane >= lanes.length || length < 1 || length > chunksLength - offset) throw corrupt(`chunk ${c} (lane ${r.lane}, ${length} bytes at ${offset}) is out of range`);
    const decodedSize = Math.min(laneChunkSize(meta, r.lane), laneBytes[r.lane]! - filled[r.lane]!);
    filled[r.lane]! += decodedSize;
    const rec = { lane: r.lane, length, decodedSize, xxh32: xxh32(bytes.subarray(chunksAt + offset, chunksAt + offset + length)) };
    offset += length;
    return rec;
  }));
  return reader(meta as unknown as JsonObject, { index, tensors: table }, bytes, chunksAt);
}

function reader(meta: JsonObject, sections: Record<string, Uint8Array>, bytes: Uint8Array, chunksAt: number): PackedReader {
  return {
    kind: PACK_KIND,
    meta,
    section: async (name) => {
      const s = sections[name];
      if (!s) throw new ZipmlError('E_FORMAT', `compact packed file has no section '${name}'`);
      return s;
    },
    chunksLength: bytes.length - chunksAt,
    readChunks: async (offset, length) => bytes.subarray(chunksAt + offset, chunksAt + offset + length),
  };
}

/**
 * Version 1: magic, version, varint head size, varint coded size, the head (LZ: varint + meta
 * JSON, varint + binary chunk index, varint + table JSON), XXH32 of all before it, chunks.
 */
function readV1(bytes: Uint8Array): PackedReader {
  const h = readVarint(bytes, 5);
  const l = readVarint(bytes, h.next);
  if (h.value > MAX_HEAD_BYTES) throw new ZipmlError('E_LIMIT', `compact head of ${h.value} bytes exceeds ${MAX_HEAD_BYTES}`, { offset: 5 });
  const prefix = l.next + l.value;
  if (prefix + 4 > bytes.length) throw new ZipmlError('E_TRUNCATED', `compact head of ${l.value} bytes runs past the ${bytes.length}-byte file`, { offset: l.next });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(prefix, true) !== xxh32(bytes.subarray(0, prefix))) throw corrupt('head checksum mismatch', prefix);
  const head = lzDecode(bytes.subarray(l.next, prefix), h.value, { maxOutputBytes: MAX_HEAD_BYTES });
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let k = 0; k < 3; k++) {
    const v = readVarint(head, at);
    if (v.value > head.length - v.next) throw corrupt(`head part ${k} of ${v.value} bytes runs past the head`);
    parts.push(head.subarray(v.next, v.next + v.value));
    at = v.next + v.value;
  }
  if (at !== head.length) throw corrupt(`head has ${head.length - at} bytes after its parts`);
  checkJsonDepth(parts[0]!, 8, 0);
  let meta: JsonObject;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(parts[0]!)) as JsonObject;
  } catch (e) {
    throw corrupt(`head meta is not JSON: ${(e as Error).message}`);
  }
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) throw corrupt('head meta is not an object');
  return reader(meta, { index: parts[1]!, tensors: parts[2]!.length === 0 ? EMPTY_TABLE : parts[2]! }, bytes, prefix + 4);
}
