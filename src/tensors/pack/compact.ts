/**
 * The compact packed form, for small sources: the same chunks, chunk index, tensor table and
 * header meta as the container form, but the three descriptions go LZ-coded together into one
 * small head instead of container sections (each of which costs a descriptor, a checksum and
 * 64-byte alignment: ~0.7 KB in all, more than a 6 KB tokenizer packs to). Byte layout in
 * docs/tensors.md §"Compact form". Every length is bounded; the head carries an XXH32, each chunk
 * its own (in the index), the whole output its SHA-256.
 */
import { ZipmlError } from '../../core/errors.js';
import { readVarint, varintSize, writeVarint } from '../../core/bits.js';
import { xxh32 } from '../../core/checksum.js';
import { checkJsonDepth, type JsonObject } from '../../core/container.js';
import { lzEncode, lzDecode } from '../../core/lz/index.js';
import { PACK_KIND, encodeTensorTableJson } from './format.js';
import type { PackedReader } from './unpack.js';

/** "ZTPC". */
export const COMPACT_MAGIC = new Uint8Array([0x5a, 0x54, 0x50, 0x43]);
export const COMPACT_VERSION = 1;
/** Sources up to this size are also packed compactly, and the smaller form kept. */
export const COMPACT_MAX_SOURCE = 1 << 20;
/** Largest head (meta + index + table) a reader accepts. */
const MAX_HEAD_BYTES = 16 << 20;
const HEAD_LZ_LEVEL = 6;
/** The tensor table of a file packed without tensor lanes (a small file packed whole). */
const EMPTY_TABLE = encodeTensorTableJson([]);

/** Whether `bytes` starts like a compact packed file. */
export function isCompactPacked(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && COMPACT_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * The compact file for a packed source: `meta` as the container header's, `index` the binary
 * chunk index, `table` the tensor table's JSON (stored empty when the table has no tensors),
 * `chunks` the chunk payloads in order.
 */
export function encodeCompact(meta: JsonObject, index: Uint8Array, table: Uint8Array, chunks: Uint8Array): Uint8Array {
  if (table.length === EMPTY_TABLE.length && EMPTY_TABLE.every((b, i) => table[i] === b)) table = new Uint8Array(0);
  const metaJson = new TextEncoder().encode(JSON.stringify(meta));
  const head = new Uint8Array(varintSize(metaJson.length) + metaJson.length + varintSize(index.length) + index.length + varintSize(table.length) + table.length);
  let at = 0;
  for (const part of [metaJson, index, table]) {
    at = writeVarint(head, at, part.length);
    head.set(part, at);
    at += part.length;
  }
  const lz = lzEncode(head, { level: HEAD_LZ_LEVEL });
  const prefix = 5 + varintSize(head.length) + varintSize(lz.length) + lz.length;
  const out = new Uint8Array(prefix + 4 + chunks.length);
  out.set(COMPACT_MAGIC, 0);
  out[4] = COMPACT_VERSION;
  at = writeVarint(out, 5, head.length);
  at = writeVarint(out, at, lz.length);
  out.set(lz, at);
  new DataView(out.buffer).setUint32(prefix, xxh32(out.subarray(0, prefix)), true);
  out.set(chunks, prefix + 4);
  return out;
}

/** A PackedReader over a compact packed file held in memory (its head checked and decoded). */
export function compactPackedReader(bytes: Uint8Array): PackedReader {
  if (!isCompactPacked(bytes)) throw new ZipmlError('E_FORMAT', 'not a compact packed file: bad magic', { offset: 0 });
  if (bytes.length < 5) throw new ZipmlError('E_TRUNCATED', 'compact packed file ends inside its header');
  if (bytes[4] !== COMPACT_VERSION) throw new ZipmlError('E_FORMAT', `compact packed file version ${bytes[4]} is not ${COMPACT_VERSION}`, { offset: 4 });
  const h = readVarint(bytes, 5);
  const l = readVarint(bytes, h.next);
  if (h.value > MAX_HEAD_BYTES) throw new ZipmlError('E_LIMIT', `compact head of ${h.value} bytes exceeds ${MAX_HEAD_BYTES}`, { offset: 5 });
  const prefix = l.next + l.value;
  if (prefix + 4 > bytes.length) throw new ZipmlError('E_TRUNCATED', `compact head of ${l.value} bytes runs past the ${bytes.length}-byte file`, { offset: l.next });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(prefix, true) !== xxh32(bytes.subarray(0, prefix))) throw new ZipmlError('E_CORRUPT', 'compact packed file: head checksum mismatch', { offset: prefix });
  const head = lzDecode(bytes.subarray(l.next, prefix), h.value, { maxOutputBytes: MAX_HEAD_BYTES });
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let k = 0; k < 3; k++) {
    const v = readVarint(head, at);
    if (v.value > head.length - v.next) throw new ZipmlError('E_CORRUPT', `compact head part ${k} of ${v.value} bytes runs past the head`);
    parts.push(head.subarray(v.next, v.next + v.value));
    at = v.next + v.value;
  }
  if (at !== head.length) throw new ZipmlError('E_CORRUPT', `compact head has ${head.length - at} bytes after its parts`);
  checkJsonDepth(parts[0]!, 8, 0);
  let meta: JsonObject;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(parts[0]!)) as JsonObject;
  } catch (e) {
    throw new ZipmlError('E_CORRUPT', `compact head meta is not JSON: ${(e as Error).message}`);
  }
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) throw new ZipmlError('E_CORRUPT', 'compact head meta is not an object');
  const chunksAt = prefix + 4;
  const chunksLength = bytes.length - chunksAt;
  const sections: Record<string, Uint8Array> = { index: parts[1]!, tensors: parts[2]!.length === 0 ? EMPTY_TABLE : parts[2]! };
  return {
    kind: PACK_KIND,
    meta,
    section: async (name) => {
      const s = sections[name];
      if (!s) throw new ZipmlError('E_FORMAT', `compact packed file has no section '${name}'`);
      return s;
    },
    chunksLength,
    readChunks: async (offset, length) => bytes.subarray(chunksAt + offset, chunksAt + offset + length),
  };
}
