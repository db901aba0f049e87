/**
 * One chunk of a lane: up to `chunkSize` bytes of tensor (or structure) data, grouped into byte
 * streams (grouping.ts) and each stream stored the cheapest way: raw, a run of one byte, canonical
 * Huffman or static rANS (src/core/entropy), each with its own table. Chunks are independent, so
 * they are coded in parallel and any one decodes alone. Byte layout: docs/tensors.md §"Chunk".
 */
import { ZipmlError } from '../../core/errors.js';
import { readVarint, varintSize, writeVarint } from '../../core/bits.js';
import { xxh32 } from '../../core/checksum.js';
import { histogram, entropyBits } from '../../core/entropy/histogram.js';
import { huffmanEncodeBlock, huffmanDecodeBlock, huffmanEstimateBytes } from '../../core/entropy/huffman.js';
import { ransEncodeBlock, ransDecodeBlock, ransEstimateBytes } from '../../core/entropy/rans.js';
import { lzEncode, lzDecode } from '../../core/lz/index.js';
import { groupBytes, ungroupBytes, schemeElementBytes, bytegroupKernel, kernelGroup, kernelUngroup, type GroupScheme } from './grouping.js';
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as chunkdecWasm from '../../kernels/generated/chunkdec.js';

/** How one stream of a chunk is stored. */
export const enum StreamType {
  Raw = 0,
  Rle = 1,
  Huffman = 2,
  Rans = 3,
  /** LZ77 + adaptive range coding (src/core/lz): repeats and byte contexts order-0 cannot see. */
  Lz = 4,
}
export const STREAM_TYPE_NAMES = ['raw', 'rle', 'huffman', 'rans', 'lz'] as const;

/** How the chunk's bytes were split before coding (its first byte). */
export const enum ChunkLayout {
  /** One stream per byte position of the lane's scheme. */
  Grouped = 0,
  /** One stream: the chunk's bytes as they are. */
  Plain = 1,
  /** Grouped as f32 whatever the lane (structure bytes of unknown formats that hold floats). */
  AsF32 = 2,
  /** Grouped as a 16-bit float. */
  AsF16 = 3,
  /**
   * 16-bit values split into high and low byte without the sign rotation (ZipNN's FP16 split:
   * `s eeeee mm`, `mmmmmmmm`), chosen per chunk in f16 lanes where it is smaller.
   */
  AsB2 = 4,
}

/** The grouping a chunk layout byte stands for, in a lane of `scheme`; undefined if invalid. */
function layoutScheme(layout: number, scheme: GroupScheme): GroupScheme | undefined {
  return [scheme, 'b1', 'f32', 'f16', 'b2'][layout] as GroupScheme | undefined;
}

export interface ChunkEncodeOptions {
  /**
   * LZ level 1..9 to try the chunk with src/core/lz as well (0: never). It is tried on 1-byte
   * lanes (int8 weights, quantized blocks, structure), where byte contexts help, and on chunks in
   * which a quick scan finds repeated 8-byte runs (fixed bases such as Silero's STFT); it is kept
   * only when it saves at least LZ_MIN_GAIN, because it decodes far slower than Huffman.
   */
  lzLevel?: number;
  /**
   * Also try the chunk plain and grouped as f32 and f16, and keep the smallest (for structure
   * bytes, whose content is unknown: a file whose format is not recognized is all structure).
   */
  tryLayouts?: boolean;
  /** Try LZ (at lzLevel) without first checking that the chunk repeats itself. */
  lzAlways?: boolean;
}

/** Largest chunk the format allows (the core coders' block limit). */
export const MAX_CHUNK_BYTES = 1 << 20;
/** Default: ZipNN's chunk size; measured in docs/tensors.md. */
export const DEFAULT_CHUNK_BYTES = 1 << 18;
/**
 * Default for multi-byte lanes of sources up to SMALL_SOURCE_BYTES, or whose typical tensor (the
 * byte-weighted mean tensor size) is below SMALL_TENSOR_BYTES: tables that follow each tensor's
 * statistics gain up to 2 points there (this session, 64 / 256 KiB: TFJS emotion 0.8426 / 0.8471,
 * movenet 0.8641 / 0.8719, centernet 0.7412 / 0.7605; PP-OCRv4 det 0.8345 / 0.8355), and nothing
 * where tensors are large (faceres-deep, typical tensor 2 MB: 0.8388 / 0.8388), while per-chunk
 * table setup costs ~15% of unpack speed.
 */
export const SMALL_SOURCE_CHUNK_BYTES = 1 << 16;
export const SMALL_SOURCE_BYTES = 4 << 20;
export const SMALL_TENSOR_BYTES = 1 << 20;

/** The default chunk size of multi-byte lanes for a source of `size` bytes whose typical tensor has `typicalTensor` bytes. */
export function defaultChunkBytes(size: number, typicalTensor: number): number {
  return size <= SMALL_SOURCE_BYTES || typicalTensor < SMALL_TENSOR_BYTES ? SMALL_SOURCE_CHUNK_BYTES : DEFAULT_CHUNK_BYTES;
}

export interface StreamRecord {
  type: StreamType;
  /** Offset of the stream's payload within the chunk payload. */
  offset: number;
  length: number;
  /** Decoded bytes of the stream. */
  size: number;
}

export interface ChunkInfo {
  layout: ChunkLayout;
  /** The grouping the layout stands for. */
  scheme: GroupScheme;
  streams: StreamRecord[];
}

function isRun(s: Uint8Array): boolean {
  const b0 = s[0];
  for (let i = 1; i < s.length; i++) if (s[i] !== b0) return false;
  return true;
}

/** Streams whose order-0 bound is above this share of their size are stored raw without trying a coder. */
const RAW_ABOVE = 0.99;

/**
 * The cheapest stored form of one stream. Huffman and rANS sizes are estimated from the histogram
 * first (code lengths; the normalized table's ideal cost), and only the coder that wins is run.
 */
export function encodeStream(s: Uint8Array, hist?: Uint32Array): { type: StreamType; payload: Uint8Array } {
  const raw = { type: StreamType.Raw, payload: s };
  if (s.length === 0) return raw;
  if (isRun(s)) return { type: StreamType.Rle, payload: s.subarray(0, 1) };
  hist ??= histogram(s);
  const n = s.length;
  const bound = entropyBits(hist) / 8;
  if (bound > n * RAW_ABOVE) return raw;
  const h = huffmanEstimateBytes(hist, n) ?? n;
  // rANS only when Huffman is > 1% above the bound (skewed exponent streams): it decodes slower.
  const r = h > bound * 1.01 + 64 ? ransEstimateBytes(hist, n) ?? n : n;
  let best = raw;
  if (r < h) {
    const p = ransEncodeBlock(s, undefined, hist);
    if (p && p.length < n) best = { type: StreamType.Rans, payload: p };
  }
  if (best === raw && h < n) {
    const p = huffmanEncodeBlock(s, undefined, hist);
    if (p && p.length < n) best = { type: StreamType.Huffman, payload: p };
  }
  return best;
}

function assemble(layout: ChunkLayout, parts: Array<{ type: StreamType; payload: Uint8Array }>): Uint8Array {
  let size = 1;
  for (const p of parts) size += 1 + varintSize(p.payload.length) + p.payload.length;
  const out = new Uint8Array(size);
  out[0] = layout;
  let pos = 1;
  for (const p of parts) {
    out[pos++] = p.type;
    pos = writeVarint(out, pos, p.payload.length);
  }
  for (const p of parts) {
    out.set(p.payload, pos);
    pos += p.payload.length;
  }
  return out;
}

/** LZ must beat the best order-0 form by this share of the chunk to be kept. */
export const LZ_MIN_GAIN = 0.01;
/** Shares of repeated 8-byte runs / repeated 4-byte values above which LZ is tried (repeatShares). */
const REPEAT_RUNS = 0.02;
const REPEAT_VALUES = 0.25;
/**
 * For 16-bit lanes, where a word is a pair of values taken at every value (repeatShares step 2):
 * learned weights measure <= 0.001 in F16 (TFJS facemesh/movenet, MediaPipe, RWKV) and up to 0.010
 * in BF16 (Silero's LSTM, fewer mantissa bits); Silero's STFT basis 0.008 / 0.031, CenterNet's
 * repeated F16 tensors up to 0.77.
 */
const REPEAT_PAIRS_F16 = 0.004;
const REPEAT_PAIRS_BF16 = 0.02;

/**
 * How much a chunk repeats, from one pass over its 4-byte words: the share of words equal to one
 * seen earlier (`values`; learned f32 weights almost never repeat, a fixed basis or a lookup table
 * does) and the share starting an 8-byte run seen earlier (`runs`). Hash tables, so both are
 * lower bounds. All-zero words are skipped: runs of zeros are order-0's business.
 */
const RUN_TABLE = new Int32Array(1 << 14);
const VALUE_TABLE = new Uint32Array(1 << 16);

export function repeatShares(data: Uint8Array, step: 2 | 4 = 4): { values: number; runs: number } {
  // The first 64 KiB tell: a repetitive tensor repeats from its start. With step 2 (16-bit
  // lanes), words start at every value, not every other one: a basis whose rows repeat at an odd
  // number of values (Silero's STFT basis in BF16/F16) matches only there.
  const half = step === 2;
  const n = Math.min((data.length >>> (half ? 1 : 2)) - (half ? 1 : 0), 1 << (half ? 15 : 14)) - (half ? 2 : 1);
  if (n < 64) return { values: 0, runs: 0 };
  let word: (i: number) => number;
  if (half) {
    const h = (data.byteOffset & 1) === 0 ? new Uint16Array(data.buffer, data.byteOffset, n + 3) : new Uint16Array(data.slice(0, (n + 3) * 2).buffer);
    word = (i) => (h[i]! | (h[i + 1]! << 16)) >>> 0;
  } else {
    const w = (data.byteOffset & 3) === 0 ? new Uint32Array(data.buffer, data.byteOffset, n + 1) : new Uint32Array(data.slice(0, (n + 1) * 4).buffer);
    word = (i) => w[i]!;
  }
  const next = half ? 2 : 1;
  const runTable = RUN_TABLE.fill(-1);
  const valueTable = VALUE_TABLE.fill(0);
  let runs = 0, values = 0;
  for (let i = 0; i < n; i++) {
    const a = word(i), b = word(i + next);
    if (a === 0) continue;
    const ha = Math.imul(a, 0x9e3779b1);
    if (valueTable[ha >>> 16] === a) values++;
    else valueTable[ha >>> 16] = a;
    const h = (ha ^ Math.imul(b, 0x85ebca77)) >>> 18;
    const j = runTable[h]!;
    if (j >= 0 && word(j) === a && word(j + next) === b) runs++;
    runTable[h] = i;
  }
  return { values: values / n, runs: runs / n };
}

/** Whether LZ is worth trying on a chunk of a lane of `scheme` (see ChunkEncodeOptions.lzLevel). */
export function lzWorthTrying(data: Uint8Array, scheme: GroupScheme): boolean {
  if (scheme === 'b1') return true;
  // Words are 4 bytes: for 16-bit lanes a repeated word is a repeated pair of values, which
  // learned weights rarely give (~1-2% of a 64K-value chunk) and a fixed basis often does.
  const r = repeatShares(data, schemeElementBytes(scheme) === 2 ? 2 : 4);
  const values = scheme === 'bf16' ? REPEAT_PAIRS_BF16 : schemeElementBytes(scheme) === 2 ? REPEAT_PAIRS_F16 : REPEAT_VALUES;
  return r.runs > REPEAT_RUNS || r.values > values;
}

const SPLIT_HISTS = new Uint32Array(4 * 256);

/**
 * Whether F16 values code smaller split plainly (high byte `s eeeee mm`, low byte) than rotated
 * (`eeeee mmm`, `s mmmmmmm`): the order-0 entropies of both pairs of streams, from one pass over
 * every other value. Where the sign goes with the exponent's neighbours matters on some real FP16
 * weights (TFJS facemesh: 0.57% of the file smaller split plainly), little on most.
 */
export function f16PlainSplitSmaller(data: Uint8Array): boolean {
  const n = data.length >>> 1;
  const v = (data.byteOffset & 1) === 0 ? new Uint16Array(data.buffer, data.byteOffset, n) : new Uint16Array(data.slice(0, n * 2).buffer);
  const h = SPLIT_HISTS.fill(0);
  for (let i = 0; i < n; i += 2) {
    const x = v[i]!, r = ((x << 1) | (x >>> 15)) & 0xffff;
    h[r >>> 8]!++;
    h[256 + (r & 0xff)]!++;
    h[512 + (x >>> 8)]!++;
    h[768 + (x & 0xff)]!++;
  }
  const bits = (k: number) => entropyBits(h.subarray(k * 256, (k + 1) * 256));
  return bits(2) + bits(3) < (bits(0) + bits(1)) * 0.999;
}

/** Encodes one chunk of a lane with grouping `scheme`. */
export function encodeChunk(data: Uint8Array, scheme: GroupScheme, opts: ChunkEncodeOptions = {}): Uint8Array {
  const plainSplit = scheme === 'f16' && f16PlainSplitSmaller(data);
  let best = plainSplit ? encodeAs(data, 'b2', ChunkLayout.AsB2) : encodeAs(data, scheme, ChunkLayout.Grouped);
  if (opts.tryLayouts) {
    for (const layout of [ChunkLayout.Plain, ChunkLayout.AsF32, ChunkLayout.AsF16]) {
      const s = layoutScheme(layout, scheme)!;
      if (s === scheme || data.length % schemeElementBytes(s) !== 0) continue;
      const p = encodeAs(data, s, layout);
      if (p.length < best.length) best = p;
    }
  }
  const level = opts.lzLevel ?? 0;
  // Structure chunks that group best as floats are float data in an unrecognised file: LZ level
  // 1 rarely beats grouping there, and would run over the whole file at a few MB/s.
  const floatLike = opts.tryLayouts && data.length >= DEFAULT_CHUNK_BYTES && (best[0] === ChunkLayout.AsF32 || best[0] === ChunkLayout.AsF16);
  if (level > 0 && !floatLike && (opts.lzAlways || lzWorthTrying(data, scheme))) {
    const lz = lzEncode(data, { level });
    if (lz.length + 8 < best.length - data.length * LZ_MIN_GAIN) best = assemble(ChunkLayout.Plain, [{ type: StreamType.Lz, payload: lz }]);
  }
  return best;
}

function encodeAs(data: Uint8Array, scheme: GroupScheme, layout: ChunkLayout): Uint8Array {
  const e = schemeElementBytes(scheme);
  if (data.length < 1 || data.length > MAX_CHUNK_BYTES || data.length % e !== 0) {
    throw new ZipmlError('E_ARG', `chunk of ${data.length} bytes: need 1..${MAX_CHUNK_BYTES}, a multiple of ${e}`);
  }
  const k = bytegroupKernel();
  if (k) {
    // Group and count in WebAssembly; the coders read the streams from its memory.
    const n = data.length, m = n / e;
    const na = (n + 63) & ~63;
    const base = k.reserve(2 * na + e * 1024 + 3072);
    const src = base, dst = base + na, hists = dst + na, scratch = hists + e * 1024;
    k.u8.set(data, src);
    if (e > 1) kernelGroup(k, scheme, src, m, dst);
    const streamsAt = e > 1 ? dst : src;
    const parts = [];
    for (let i = 0; i < e; i++) {
      k.exports.histogram(streamsAt + i * m, m, hists + i * 1024, scratch);
      const hist = new Uint32Array(k.memory.buffer, hists + i * 1024, 256).slice();
      parts.push(encodeStream(k.u8.subarray(streamsAt + i * m, streamsAt + (i + 1) * m), hist));
    }
    return assemble(layout, parts);
  }
  if (e === 1) return assemble(layout, [encodeStream(data)]);
  const grouped = new Uint8Array(data.length);
  groupBytes(scheme, data, grouped);
  const m = data.length / e;
  const parts = [];
  for (let k = 0; k < e; k++) parts.push(encodeStream(grouped.subarray(k * m, (k + 1) * m)));
  return assemble(layout, parts);
}

/**
 * Parses the stream records of a chunk payload that decodes to `n` bytes, checking every length
 * against the payload (no decoding, no allocation).
 */
export function chunkInfo(payload: Uint8Array, scheme: GroupScheme, n: number): ChunkInfo {
  if (payload.length < 1) throw new ZipmlError('E_TRUNCATED', 'chunk payload is empty', { offset: 0 });
  const layout = payload[0]!;
  const eff = layoutScheme(layout, scheme);
  if (!eff) throw new ZipmlError('E_CORRUPT', `chunk layout ${layout} is not 0..4`, { offset: 0 });
  const e = schemeElementBytes(eff);
  if (n % e !== 0) throw new ZipmlError('E_CORRUPT', `chunk of ${n} bytes is not a multiple of the ${e}-byte ${eff} element`);
  const size = n / e;
  const streams: StreamRecord[] = [];
  let pos = 1;
  for (let k = 0; k < e; k++) {
    if (pos >= payload.length) throw new ZipmlError('E_TRUNCATED', `chunk ends inside the record of stream ${k}`, { offset: pos });
    const type = payload[pos]!;
    if (type > StreamType.Lz) throw new ZipmlError('E_CORRUPT', `stream ${k} has unknown type ${type}`, { offset: pos });
    const { value: length, next } = readVarint(payload, pos + 1);
    streams.push({ type, offset: 0, length, size });
    pos = next;
  }
  for (let k = 0; k < e; k++) {
    const s = streams[k]!;
    s.offset = pos;
    if (s.length > payload.length - pos) {
      throw new ZipmlError('E_TRUNCATED', `stream ${k} of ${s.length} bytes runs past the ${payload.length}-byte chunk`, { offset: pos });
    }
    if (s.type === StreamType.Raw && s.length !== size) throw new ZipmlError('E_CORRUPT', `raw stream ${k} holds ${s.length} bytes, expected ${size}`, { offset: pos });
    if (s.type === StreamType.Rle && s.length !== 1) throw new ZipmlError('E_CORRUPT', `RLE stream ${k} holds ${s.length} bytes, expected 1`, { offset: pos });
    pos += s.length;
  }
  if (pos !== payload.length) throw new ZipmlError('E_CORRUPT', `chunk has ${payload.length - pos} bytes after its last stream`, { offset: pos });
  return { layout, scheme: eff, streams };
}

function decodeStream(payload: Uint8Array, s: StreamRecord, scratch: Uint8Array): Uint8Array {
  const p = payload.subarray(s.offset, s.offset + s.length);
  switch (s.type) {
    case StreamType.Raw:
      return p;
    case StreamType.Rle:
      return scratch.fill(p[0]!);
    case StreamType.Huffman:
      if (s.size === 0) throw new ZipmlError('E_CORRUPT', 'huffman stream of 0 bytes');
      huffmanDecodeBlock(p, scratch);
      return scratch;
    case StreamType.Rans:
      if (s.size === 0) throw new ZipmlError('E_CORRUPT', 'rANS stream of 0 bytes');
      ransDecodeBlock(p, scratch);
      return scratch;
    case StreamType.Lz:
      scratch.set(lzDecode(p, s.size, { maxOutputBytes: s.size }));
      return scratch;
  }
}

interface ChunkdecExports {
  decodeChunk(src: number, len: number, n: number, scheme: number, xxh: number, checkXxh: number, scratch: number, out: number, tables: number): number;
}

/** The fused chunk decoder (src/kernels/assembly/chunkdec.ts), or null on the reference path. */
function chunkdecKernel(): WasmKernel<ChunkdecExports> | null {
  return wasmKernel<ChunkdecExports>('chunkdec', chunkdecWasm.base64);
}

/** Scheme numbers of the chunkdec kernel. */
const SCHEME_CODES: Record<GroupScheme, number> = { f32: 0, bf16: 1, f16: 2, b1: 3, b2: 4, b4: 5, b8: 6 };
// Kernel status codes (src/kernels/assembly/chunkdec.ts).
const FUSED_OK = 0;
const FUSED_CHECKSUM = 2;
const FUSED_HAS_LZ = 3;
/** Readable bytes the kernel needs after the payload. */
const FUSED_PAD = 32;
/** The kernel's rANS slot tables: 4 + 1 bytes per slot at the largest scale, plus vector overshoot. */
const FUSED_TABLES = (5 << 15) + 128;

const align64 = (v: number): number => (v + 63) & ~63;

/**
 * Decodes a chunk in one call of the fused kernel and returns a view of the result in kernel
 * memory (valid until the next call), or a status when the kernel declines: FUSED_HAS_LZ, or a
 * payload it rejects (the reference path then says why).
 */
let fusedCalls = 0;

/** Counts fused-kernel calls on this thread: a view from decodeChunkView is valid while it is unchanged. */
export function fusedGeneration(): number {
  return fusedCalls;
}

function decodeFused(k: WasmKernel<ChunkdecExports>, payload: Uint8Array, scheme: GroupScheme, n: number, checksum: number | undefined): Uint8Array | number {
  fusedCalls++;
  const len = payload.length;
  const scratch = align64(len + FUSED_PAD), out = scratch + align64(n), tables = out + align64(n);
  const base = k.reserve(tables + FUSED_TABLES);
  const mem = k.u8;
  mem.set(payload, base);
  mem.fill(0, base + len, base + len + FUSED_PAD);
  const st = k.exports.decodeChunk(base, len, n, SCHEME_CODES[scheme], checksum ?? 0, checksum === undefined ? 0 : 1, base + scratch, base + out, base + tables);
  return st === FUSED_OK ? mem.subarray(base + out, base + out + n) : st;
}

/** Thrown when a chunk payload's XXH32 differs from the one its index gives. */
function checksumError(): ZipmlError {
  return new ZipmlError('E_CORRUPT', 'payload checksum mismatch');
}

/**
 * Decodes a chunk payload into `out` (out.length = the chunk's decoded size), first checking its
 * XXH32 against `checksum` when given. With the WebAssembly kernels, one call of the fused
 * decoder does all of it; chunks it declines (LZ streams, or damage) take the reference path,
 * which decodes LZ and words the error.
 */
export function decodeChunk(payload: Uint8Array, scheme: GroupScheme, out: Uint8Array, checksum?: number): void {
  const r = decodeChunkView(payload, scheme, out.length, checksum, out);
  if (r.view !== out) out.set(r.view);
}

/**
 * decodeChunk without the last copy: the decoded bytes as a view of the fused kernel's memory
 * (`owned` false: valid only while fusedGeneration() is unchanged, i.e. until this thread's next
 * chunk decode), or in `into` (or a new buffer) when the reference path ran (`owned` true).
 */
export function decodeChunkView(payload: Uint8Array, scheme: GroupScheme, n: number, checksum?: number, into?: Uint8Array): { view: Uint8Array; owned: boolean } {
  const k = n > 0 ? chunkdecKernel() : null;
  const out = () => (into && into.length === n ? into : new Uint8Array(n));
  if (k) {
    const r = decodeFused(k, payload, scheme, n, checksum);
    if (typeof r !== 'number') return { view: r, owned: false };
    if (r === FUSED_CHECKSUM) throw checksumError();
    const o = out();
    decodeChunkReference(payload, scheme, o);
    if (r !== FUSED_HAS_LZ) throw new ZipmlError('E_CORRUPT', `chunk payload rejected by the fused decoder (status ${r}) but not by the reference`);
    return { view: o, owned: true };
  }
  if (checksum !== undefined && xxh32(payload) !== checksum) throw checksumError();
  const o = out();
  decodeChunkReference(payload, scheme, o);
  return { view: o, owned: true };
}

/** decodeChunk stream by stream (each coder on its own, kernels or not): the spec of the fused kernel. */
export function decodeChunkReference(payload: Uint8Array, scheme: GroupScheme, out: Uint8Array): void {
  const info = chunkInfo(payload, scheme, out.length);
  scheme = info.scheme;
  if (info.streams.length === 1) {
    const s = info.streams[0]!;
    const r = decodeStream(payload, s, out);
    if (r !== out) out.set(r);
    return;
  }
  const m = info.streams[0]!.size;
  const k = bytegroupKernel();
  if (k) {
    const n = out.length;
    const base = k.reserve(2 * n);
    const mem = k.u8;
    info.streams.forEach((s, i) => {
      const view = mem.subarray(base + i * m, base + (i + 1) * m);
      const r = decodeStream(payload, s, view);
      if (r !== view) view.set(r);
    });
    kernelUngroup(k, scheme, base, m, base + n);
    out.set(mem.subarray(base + n, base + 2 * n));
    return;
  }
  let scratch: Uint8Array | undefined;
  const views = info.streams.map((s, k) => {
    if (s.type === StreamType.Raw) return decodeStream(payload, s, out);
    scratch ??= new Uint8Array(m * info.streams.length);
    return decodeStream(payload, s, scratch.subarray(k * m, (k + 1) * m));
  });
  ungroupBytes(scheme, views, out);
}
