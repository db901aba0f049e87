/**
 * Canonical, length-limited Huffman coding of one block of bytes, in the manner of zstd's huff0:
 * a code-length table, then four independently decodable streams (the block's four quarters)
 * behind a jump table, so a decoder keeps four dependency chains in flight. The byte layout is
 * specified in docs/huffman.md.
 *
 * Both directions have a WebAssembly kernel (src/kernels/assembly/huffman.ts) for the loops that
 * touch every byte and a plain TypeScript reference. Everything that decides the output (code
 * lengths, canonical codes, header, the null/raw decision) is computed here once for both paths,
 * so the two produce identical payloads by construction and the tests check that they do.
 */
import { ZipmlError, type ZipmlErrorCode } from '../errors.js';
import { histogram } from './histogram.js';
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as huffmanWasm from '../../kernels/generated/huffman.js';

/** Largest block one payload may describe. */
export const HUFFMAN_MAX_BLOCK = 1 << 20;
/** Longest code the format allows (the 4-bit length field could say 15; decoders stop at 12). */
export const HUFFMAN_MAX_CODE_LENGTH = 12;
/** Shortest limit accepted for `maxCodeLength`: 256 symbols need 8 bits. */
export const HUFFMAN_MIN_CODE_LENGTH_LIMIT = 8;
const DEFAULT_MAX_CODE_LENGTH = 11;
/** Three u24 stream sizes. */
const JUMP_BYTES = 9;
const STREAMS = 4;

export interface HuffmanBlockOptions {
  /** Longest code to allow, 8..12 (default 11: the decode table then fits in 4 KiB of L1). */
  maxCodeLength?: number;
}

interface HuffmanExports {
  histogram(src: number, n: number): void;
  encode(src: number, n: number, out: number, stride: number): number;
  decode(src: number, srcLen: number, dst: number, n: number): number;
  histPtr(): number;
  codesPtr(): number;
  infoPtr(): number;
}

function kernel(): WasmKernel<HuffmanExports> | null {
  return wasmKernel<HuffmanExports>('huffman', huffmanWasm.base64);
}

// ---------------------------------------------------------------------------------------------
// Code lengths

// Scratch for the length builders; one block is coded at a time per thread.
const sortKeys = new Uint32Array(256);
const nodeWeight = new Float64Array(512);
const nodeParent = new Int32Array(512);
const nodeDepth = new Uint8Array(512);
const pmWeight = new Float64Array(2 * 256);
const pmPrev = new Float64Array(2 * 256);
const pmLeaf = new Uint8Array(HUFFMAN_MAX_CODE_LENGTH * 2 * 256);

/**
 * Optimal code lengths for `hist` (counts of symbols 0..255) with no code longer than `limit`:
 * a Huffman tree first, and only when it is too deep, package-merge, which gives the optimal
 * length-limited code (not an approximation). Ties are broken by symbol value, and merges prefer
 * leaves (Schwartz's rule: the shallowest of the optimal trees, so package-merge runs only when it
 * must), so the result is a pure function of the histogram. Symbols with count 0 get length 0.
 * Needs 2 or more symbols present, counts below 2^24 and 2^limit >= the number of symbols.
 * Returns the longest length.
 */
export function huffmanCodeLengths(hist: Uint32Array, limit: number, lens: Uint8Array): number {
  lens.fill(0);
  let m = 0;
  for (let s = 0; s < 256; s++) {
    const c = hist[s]!;
    if (c >= 1 << 24) throw new ZipmlError('E_ARG', `count ${c} of symbol ${s} is not below 2^24`);
    // The key fits in 32 bits and sorts by (count, symbol).
    if (c > 0) sortKeys[m++] = c * 256 + s;
  }
  if (m < 2) throw new ZipmlError('E_ARG', `huffmanCodeLengths needs 2 or more symbols, got ${m}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > HUFFMAN_MAX_CODE_LENGTH || m > 2 ** limit) {
    throw new ZipmlError('E_ARG', `no prefix code of ${m} symbols has all lengths within ${limit}`);
  }
  const keys = sortKeys.subarray(0, m).sort();

  // Huffman by the two-queue method: leaves in ascending order, internal nodes are created in
  // ascending order too, so the two smallest are always at the heads of the two queues.
  for (let i = 0; i < m; i++) nodeWeight[i] = Math.floor(keys[i]! / 256);
  let leaf = 0, inner = m;
  for (let next = m; next < 2 * m - 1; next++) {
    let w = 0;
    for (let t = 0; t < 2; t++) {
      const takeLeaf = leaf < m && (inner >= next || nodeWeight[leaf]! <= nodeWeight[inner]!);
      const pick = takeLeaf ? leaf++ : inner++;
      nodeParent[pick] = next;
      w += nodeWeight[pick]!;
    }
    nodeWeight[next] = w;
  }
  nodeDepth[2 * m - 2] = 0;
  let maxLen = 0;
  for (let i = 2 * m - 3; i >= 0; i--) {
    const d = nodeDepth[nodeParent[i]!]! + 1;
    nodeDepth[i] = d;
    if (i < m && d > maxLen) maxLen = d;
  }
  if (maxLen <= limit) {
    for (let i = 0; i < m; i++) lens[keys[i]! & 255] = nodeDepth[i]!;
    return maxLen;
  }
  return packageMerge(keys, m, limit, lens);
}

/**
 * Package-merge (Larmore & Hirschberg) over the m sorted leaves: level `limit` holds the leaves;
 * each level above merges the leaves with the pairs ("packages") of the level below. The first
 * 2m-2 items of the top level are the optimal choice, and a leaf's code length is the number of
 * levels in which it is chosen. Since leaves stay in sorted order within a level, the chosen
 * leaves of a level are always a prefix of the sorted symbols, so counting suffices.
 */
function packageMerge(keys: Uint32Array, m: number, limit: number, lens: Uint8Array): number {
  const w = nodeWeight; // leaf weights, ascending, from huffmanCodeLengths
  let prevLen = 0;
  for (let level = limit - 1; level >= 0; level--) {
    // Row `level` of pmLeaf describes the merged list: 1 for a leaf, 0 for a package.
    const row = level * 512;
    const packages = prevLen >> 1;
    let li = 0, pi = 0, out = 0;
    while (li < m || pi < packages) {
      const pw = pi < packages ? pmPrev[2 * pi]! + pmPrev[2 * pi + 1]! : Infinity;
      if (li < m && w[li]! <= pw) {
        pmWeight[out] = w[li++]!;
        pmLeaf[row + out++] = 1;
      } else {
        pmWeight[out] = pw;
        pmLeaf[row + out++] = 0;
        pi++;
      }
    }
    pmPrev.set(pmWeight.subarray(0, out));
    prevLen = out;
  }
  // Walk back down from the top level (row 0) choosing the first `need` items of each level.
  const depth = nodeDepth;
  depth.fill(0, 0, m);
  let need = 2 * m - 2;
  for (let level = 0; level < limit && need > 0; level++) {
    const row = level * 512;
    let leaves = 0;
    for (let i = 0; i < need; i++) leaves += pmLeaf[row + i]!;
    for (let i = 0; i < leaves; i++) depth[i]!++;
    need = 2 * (need - leaves);
  }
  for (let i = 0; i < m; i++) lens[keys[i]! & 255] = depth[i]!;
  return depth[0]!; // the lightest leaf is chosen at the most levels: the longest code
}

function reverseBits(x: number, len: number): number {
  let r = 0;
  for (let i = 0; i < len; i++) {
    r = (r << 1) | (x & 1);
    x >>>= 1;
  }
  return r;
}

/**
 * Canonical codes (shorter first, ties by symbol), returned bit-reversed because streams are
 * LSB-first: the first bit of a code is the lowest bit of the value written.
 */
function canonicalReversedCodes(lens: Uint8Array, maxSymbol: number, out: Uint16Array): void {
  const next = new Uint32Array(HUFFMAN_MAX_CODE_LENGTH + 2);
  for (let s = 0; s <= maxSymbol; s++) next[lens[s]!]!++;
  next[0] = 0;
  let code = 0;
  for (let l = 1; l <= HUFFMAN_MAX_CODE_LENGTH; l++) {
    const count = next[l]!;
    next[l] = code;
    code = (code + count) << 1;
  }
  for (let s = 0; s <= maxSymbol; s++) {
    const l = lens[s]!;
    if (l !== 0) out[s] = reverseBits(next[l]!++, l);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Symbols of stream k for an n-byte block: [start, end). */
function streamRange(n: number, k: number): [number, number] {
  const seg = (n + 3) >>> 2;
  return [Math.min(k * seg, n), Math.min((k + 1) * seg, n)];
}

/** Longest a stream of an n-byte block can be, in bytes. */
function maxStreamBytes(n: number, maxLen: number): number {
  return Math.ceil((((n + 3) >>> 2) * maxLen) / 8);
}

/** Longest a valid payload for an n-byte block can be: the bound decoders enforce up front. */
export function huffmanMaxPayload(n: number): number {
  return 1 + 128 + JUMP_BYTES + STREAMS * maxStreamBytes(n, HUFFMAN_MAX_CODE_LENGTH);
}

interface Plan {
  lens: Uint8Array;
  codes: Uint16Array;
  maxSymbol: number;
  maxLen: number;
  headerBytes: number;
}

function checkEncodeArgs(src: Uint8Array, opts: HuffmanBlockOptions | undefined, hist: Uint32Array | undefined): number {
  const n = src.length;
  if (n < 1 || n > HUFFMAN_MAX_BLOCK) {
    throw new ZipmlError('E_ARG', `huffman block of ${n} bytes is outside 1..${HUFFMAN_MAX_BLOCK}`);
  }
  const limit = opts?.maxCodeLength ?? DEFAULT_MAX_CODE_LENGTH;
  if (!Number.isInteger(limit) || limit < HUFFMAN_MIN_CODE_LENGTH_LIMIT || limit > HUFFMAN_MAX_CODE_LENGTH) {
    throw new ZipmlError(
      'E_ARG',
      `maxCodeLength ${limit} is outside ${HUFFMAN_MIN_CODE_LENGTH_LIMIT}..${HUFFMAN_MAX_CODE_LENGTH}`,
    );
  }
  if (hist !== undefined) {
    if (hist.length !== 256) throw new ZipmlError('E_ARG', `histogram has ${hist.length} entries, expected 256`);
    let total = 0;
    for (let s = 0; s < 256; s++) total += hist[s]!;
    if (total !== n) throw new ZipmlError('E_ARG', `histogram counts ${total} bytes but the block has ${n}`);
  }
  return limit;
}

/**
 * Everything that decides the payload except the stream bits, or null when the block has one
 * distinct symbol or its coded size cannot beat n (checked before any stream is written).
 */
function plan(n: number, hist: Uint32Array, limit: number): Plan | null {
  let distinct = 0, maxSymbol = 0;
  for (let s = 0; s < 256; s++) {
    if (hist[s]! > 0) {
      distinct++;
      maxSymbol = s;
    }
  }
  if (distinct < 2) return null;
  const lens = new Uint8Array(256);
  const maxLen = huffmanCodeLengths(hist, limit, lens);
  let bits = 0;
  for (let s = 0; s <= maxSymbol; s++) bits += hist[s]! * lens[s]!;
  const headerBytes = 1 + ((maxSymbol + 2) >>> 1) + JUMP_BYTES;
  if (headerBytes + Math.ceil(bits / 8) >= n) return null;
  const codes = new Uint16Array(256);
  canonicalReversedCodes(lens, maxSymbol, codes);
  return { lens, codes, maxSymbol, maxLen, headerBytes };
}

/**
 * The size huffmanEncodeBlock would give a block with histogram `hist` (n bytes), to within the
 * 3 bytes of per-stream rounding, without coding it; null where it would return null.
 */
export function huffmanEstimateBytes(hist: Uint32Array, n: number, opts?: HuffmanBlockOptions): number | null {
  const limit = opts?.maxCodeLength ?? DEFAULT_MAX_CODE_LENGTH;
  const p = plan(n, hist, limit);
  if (!p) return null;
  let bits = 0;
  for (let s = 0; s <= p.maxSymbol; s++) bits += hist[s]! * p.lens[s]!;
  return p.headerBytes + Math.ceil(bits / 8);
}

/** Writes the header (table + jump) into out[0..headerBytes). */
function writeHeader(out: Uint8Array, p: Plan, sizes: ArrayLike<number>): void {
  out[0] = p.maxSymbol;
  for (let s = 0; s <= p.maxSymbol; s += 2) out[1 + (s >>> 1)] = p.lens[s]! | (p.lens[s + 1]! << 4);
  let at = p.headerBytes - JUMP_BYTES;
  for (let k = 0; k < 3; k++) {
    const z = sizes[k]!;
    out[at++] = z & 255;
    out[at++] = (z >>> 8) & 255;
    out[at++] = z >>> 16;
  }
}

/** Writes stream k's bits at out[pos..]; returns its size in bytes. */
function encodeStreamReference(src: Uint8Array, start: number, end: number, p: Plan, out: Uint8Array, pos: number): number {
  const { lens, codes } = p;
  const begin = pos;
  let acc = 0, nbits = 0;
  for (let i = start; i < end; i++) {
    const s = src[i]!;
    const l = lens[s]!;
    if (l === 0) throw new ZipmlError('E_ARG', `byte ${s} at ${i} is missing from the histogram`);
    acc |= codes[s]! << nbits;
    nbits += l;
    while (nbits >= 8) {
      out[pos++] = acc & 255;
      acc >>>= 8;
      nbits -= 8;
    }
  }
  if (nbits > 0) out[pos++] = acc;
  return pos - begin;
}

function finish(n: number, p: Plan, sizes: ArrayLike<number>, body: (out: Uint8Array) => void): Uint8Array | null {
  let total = p.headerBytes;
  for (let k = 0; k < STREAMS; k++) total += sizes[k]!;
  if (total >= n) return null;
  const out = new Uint8Array(total);
  writeHeader(out, p, sizes);
  body(out);
  return out;
}

/** Plain-TS encoder; same contract and same bytes as huffmanEncodeBlock. */
export function huffmanEncodeBlockReference(
  src: Uint8Array,
  opts?: HuffmanBlockOptions,
  hist?: Uint32Array,
): Uint8Array | null {
  const limit = checkEncodeArgs(src, opts, hist);
  const n = src.length;
  const p = plan(n, hist ?? histogram(src), limit);
  if (!p) return null;
  const scratch = new Uint8Array(STREAMS * maxStreamBytes(n, p.maxLen));
  const sizes = [0, 0, 0, 0];
  let pos = 0;
  for (let k = 0; k < STREAMS; k++) {
    const [a, b] = streamRange(n, k);
    sizes[k] = encodeStreamReference(src, a, b, p, scratch, pos);
    pos += sizes[k]!;
  }
  return finish(n, p, sizes, (out) => out.set(scratch.subarray(0, pos), p.headerBytes));
}

/**
 * Encodes `src` (1..HUFFMAN_MAX_BLOCK bytes) into a self-describing payload: code-length table
 * and 4 interleaved streams with a jump table (docs/huffman.md). Returns null when Huffman would
 * not beat storing raw (caller stores raw) or when the input has a single distinct symbol (caller
 * uses RLE). `hist`, when given, must be the byte histogram of `src` (it saves one pass).
 */
export function huffmanEncodeBlock(src: Uint8Array, opts?: HuffmanBlockOptions, hist?: Uint32Array): Uint8Array | null {
  const k = kernel();
  if (!k) return huffmanEncodeBlockReference(src, opts, hist);
  const limit = checkEncodeArgs(src, opts, hist);
  const n = src.length;
  const srcArea = (n + 63) & ~63;
  // Each stream region holds its worst case plus the 8 bytes the kernel's stores may overhang.
  const stride = (maxStreamBytes(n, HUFFMAN_MAX_CODE_LENGTH) + 8 + 63) & ~63;
  const base = k.reserve(srcArea + STREAMS * stride);
  k.u8.set(src, base);
  if (!hist) {
    k.exports.histogram(base, n);
    hist = new Uint32Array(k.memory.buffer, k.exports.histPtr(), 256).slice();
  }
  const p = plan(n, hist, limit);
  if (!p) return null;
  const entries = new Uint32Array(k.memory.buffer, k.exports.codesPtr(), 256);
  for (let s = 0; s < 256; s++) {
    const l = p.lens[s]!;
    entries[s] = l === 0 ? 0x8000 : l | (p.codes[s]! << 16);
  }
  const outBase = base + srcArea;
  if (k.exports.encode(base, n, outBase, stride) !== 0) {
    throw new ZipmlError('E_ARG', 'the histogram passed to huffmanEncodeBlock does not match the block');
  }
  const sizes = new Int32Array(k.memory.buffer, k.exports.infoPtr(), 4).slice();
  return finish(n, p, sizes, (out) => {
    const mem = k.u8;
    let pos = p.headerBytes;
    for (let s = 0; s < STREAMS; s++) {
      const from = outBase + s * stride;
      out.set(mem.subarray(from, from + sizes[s]!), pos);
      pos += sizes[s]!;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Status codes shared with the kernel (src/kernels/assembly/huffman.ts). */
const enum DecodeStatus {
  Ok = 0,
  Header = 1,
  Length = 2,
  PadNibble = 3,
  MaxSymbol = 4,
  Kraft = 5,
  Jump = 6,
  Overrun = 7,
  End = 8,
  PadBits = 9,
}

/** Turns a status and its four detail values into the error the decoders throw. */
function decodeError(status: number, d: ArrayLike<number>, payloadLength: number): ZipmlError {
  const [a, b, c, e] = [d[0]!, d[1]!, d[2]!, d[3]!];
  const err = (code: ZipmlErrorCode, msg: string, offset: number) =>
    new ZipmlError(code, `huffman payload: ${msg}`, { offset });
  const stream = `stream ${a} (${c} bytes at ${b})`;
  switch (status as DecodeStatus) {
    case DecodeStatus.Header:
      return err('E_TRUNCATED', `${payloadLength} bytes end inside the ${a}-byte header`, payloadLength);
    case DecodeStatus.Length:
      return err('E_CORRUPT', `code length ${b} of symbol ${a} exceeds ${HUFFMAN_MAX_CODE_LENGTH}`, 1 + (a >>> 1));
    case DecodeStatus.PadNibble:
      return err('E_CORRUPT', `unused last nibble of the length table is ${a}, not 0`, 0);
    case DecodeStatus.MaxSymbol:
      return err('E_CORRUPT', `largest symbol ${a} has no code`, 1 + (a >>> 1));
    case DecodeStatus.Kraft:
      return err('E_CORRUPT', `code lengths are not a complete prefix code (Kraft sum ${a}/4096)`, 1);
    case DecodeStatus.Jump:
      return err('E_TRUNCATED', `jump table puts the last stream at byte ${a}, past the ${b}-byte payload`, b);
    case DecodeStatus.Overrun:
      return err('E_CORRUPT', `${stream} runs out of bits before its last symbol`, b);
    case DecodeStatus.End:
      return err('E_CORRUPT', `${stream} holds codes of ${e} bits, which do not end in its last byte`, b);
    case DecodeStatus.PadBits:
      return err('E_CORRUPT', `${stream} has nonzero padding bits after its last code`, b + c - 1);
    default:
      return err('E_CORRUPT', `decoder status ${status}`, 0);
  }
}

function checkDecodeArgs(payload: Uint8Array, dst: Uint8Array): void {
  const n = dst.length;
  if (n < 1 || n > HUFFMAN_MAX_BLOCK) {
    throw new ZipmlError('E_ARG', `huffman block of ${n} bytes is outside 1..${HUFFMAN_MAX_BLOCK}`);
  }
  const bound = huffmanMaxPayload(n);
  if (payload.length > bound) {
    throw new ZipmlError(
      'E_CORRUPT',
      `huffman payload of ${payload.length} bytes exceeds the ${bound}-byte bound for a ${n}-byte block`,
    );
  }
}

const refInfo = new Int32Array(4);
function refFail(status: DecodeStatus, a: number, b = 0, c = 0, d = 0): DecodeStatus {
  refInfo[0] = a;
  refInfo[1] = b;
  refInfo[2] = c;
  refInfo[3] = d;
  return status;
}

/**
 * The reference decoder proper: same checks in the same order as the kernel, so both report the
 * same error for the same payload. Bytes past the payload read as zero, as the kernel's padding.
 */
function decodeReference(src: Uint8Array, dst: Uint8Array): DecodeStatus {
  const len = src.length, n = dst.length;
  if (len < 1) return refFail(DecodeStatus.Header, 1, len);
  const maxSymbol = src[0]!;
  const tableBytes = (maxSymbol + 2) >>> 1;
  const hdr = 1 + tableBytes + JUMP_BYTES;
  if (len < hdr) return refFail(DecodeStatus.Header, hdr, len);
  const lens = new Uint8Array(256);
  let kraft = 0, maxLen = 0;
  for (let s = 0; s <= maxSymbol; s++) {
    const l = (src[1 + (s >>> 1)]! >>> ((s & 1) << 2)) & 15;
    if (l > HUFFMAN_MAX_CODE_LENGTH) return refFail(DecodeStatus.Length, s, l);
    lens[s] = l;
    if (l !== 0) {
      kraft += (1 << HUFFMAN_MAX_CODE_LENGTH) >>> l;
      maxLen = Math.max(maxLen, l);
    }
  }
  if ((maxSymbol & 1) === 0 && src[tableBytes]! >>> 4 !== 0) {
    return refFail(DecodeStatus.PadNibble, src[tableBytes]! >>> 4);
  }
  if (lens[maxSymbol] === 0) return refFail(DecodeStatus.MaxSymbol, maxSymbol);
  if (kraft !== 1 << HUFFMAN_MAX_CODE_LENGTH) return refFail(DecodeStatus.Kraft, kraft);
  const starts = [hdr, 0, 0, 0, len];
  for (let k = 0; k < 3; k++) {
    const at = 1 + tableBytes + 3 * k;
    starts[k + 1] = starts[k]! + (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16));
  }
  if (starts[3]! > len) return refFail(DecodeStatus.Jump, starts[3]!, len);

  const codes = new Uint16Array(256);
  canonicalReversedCodes(lens, maxSymbol, codes);
  const size = 1 << maxLen, mask = size - 1;
  const table = new Uint16Array(size);
  for (let s = 0; s <= maxSymbol; s++) {
    const l = lens[s]!;
    if (l === 0) continue;
    for (let i = codes[s]!; i < size; i += 1 << l) table[i] = s | (l << 8);
  }
  const byteAt = (i: number) => (i < len ? src[i]! : 0);
  for (let k = 0; k < STREAMS; k++) {
    const start = starts[k]!, end = starts[k + 1]!;
    const [a, b] = streamRange(n, k);
    let p = start * 8;
    for (let j = a; j < b; j++) {
      if (p > end * 8) return refFail(DecodeStatus.Overrun, k, start, end - start);
      const i = p >>> 3;
      const window = (byteAt(i) | (byteAt(i + 1) << 8) | (byteAt(i + 2) << 16)) >>> (p & 7);
      const e = table[window & mask]!;
      dst[j] = e & 255;
      p += e >>> 8;
    }
    const bits = p - start * 8;
    if ((bits + 7) >>> 3 !== end - start) return refFail(DecodeStatus.End, k, start, end - start, bits);
    if ((p & 7) !== 0 && byteAt(p >>> 3) >>> (p & 7) !== 0) {
      return refFail(DecodeStatus.PadBits, k, start, end - start);
    }
  }
  return DecodeStatus.Ok;
}

/** Plain-TS decoder; same contract and same errors as huffmanDecodeBlock. */
export function huffmanDecodeBlockReference(payload: Uint8Array, dst: Uint8Array): void {
  checkDecodeArgs(payload, dst);
  const status = decodeReference(payload, dst);
  if (status !== DecodeStatus.Ok) throw decodeError(status, refInfo, payload.length);
}

/**
 * Decodes a payload into `dst`, whose length is the decoded size (known to the caller). Any
 * inconsistency throws ZipmlError (E_CORRUPT / E_TRUNCATED) saying what and where; `dst` is then
 * left unspecified. Payload integrity is the container's checksum's job: a flipped bit inside a
 * stream can decode to other bytes of the right length, which no format without redundancy
 * could detect.
 */
export function huffmanDecodeBlock(payload: Uint8Array, dst: Uint8Array): void {
  const k = kernel();
  if (!k) return huffmanDecodeBlockReference(payload, dst);
  checkDecodeArgs(payload, dst);
  const len = payload.length, n = dst.length;
  // The kernel's 8-byte loads may reach 7 bytes past the payload: give them zeroed padding.
  const dstOffset = (len + 8 + 63) & ~63;
  const base = k.reserve(dstOffset + n);
  const mem = k.u8;
  mem.set(payload, base);
  mem.fill(0, base + len, base + len + 8);
  const status = k.exports.decode(base, len, base + dstOffset, n);
  if (status !== DecodeStatus.Ok) {
    throw decodeError(status, new Int32Array(k.memory.buffer, k.exports.infoPtr(), 4), len);
  }
  dst.set(mem.subarray(base + dstOffset, base + dstOffset + n));
}
