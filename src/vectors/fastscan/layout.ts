/**
 * The fast-scan code layout: 4-bit codes (PQ{M}x4, or RaBitQ sign bits read as groups of 4
 * dimensions) regrouped so that one 16-byte load holds one sub-quantizer pair of 16 rows.
 *
 * - M2 = M rounded up to even (an odd M gets a padding sub-quantizer whose codes are 0 and whose
 *   table is 0). Rows are grouped in blocks of B = 32; the last block is padded with rows of 0.
 * - Block b occupies bytes [b·16·M2, (b+1)·16·M2). Inside it, pair p (sub-quantizers 2p and
 *   2p+1) occupies 32 bytes at 32p, and byte j of those holds row 32b + j: code 2p in the low
 *   nibble, code 2p+1 in the high nibble — the same nibble pairing as the row-major PQ codes
 *   (code 2t in the low nibble of byte t), so packing is a transpose of bytes, not of nibbles.
 * - Appending keeps earlier bytes in place: rows n..n+k−1 go to their block slots, so a list grows
 *   by whole blocks and `appendFastScan` writes only the new rows (amortized O(new rows) with
 *   capacity doubling).
 *
 * Why B = 32 (Faiss's choice too): with 16 byte lanes, one block of 32 rows needs 2 code loads
 * and 4 swizzles per pair and reuses each table register for 32 rows; B = 16 halves that reuse,
 * B = 64 needs 8 uint16 accumulators + tables + temporaries, beyond the 16 SIMD registers of
 * x86-64 engines (spills). See docs/fastscan.md for the measurement.
 */
import { ZipmlError } from '../../core/errors.js';

/** Rows per block. */
export const FS_BLOCK = 32;
/** Largest M supported: each row's uint16 sum is ≤ 255·M2, below 65536 for M2 ≤ 256. */
export const FS_MAX_M = 256;

export interface FastScanPacked {
  /** The packed blocks (its length may exceed nblocks·blockBytes: capacity for appends). */
  packed: Uint8Array;
  /** Blocks in use: ⌈n/32⌉. */
  nblocks: number;
}

/** M rounded up to even. */
export function fsM2(M: number): number {
  return (M + 1) & ~1;
}

/** Bytes per block of 32 rows. */
export function fsBlockBytes(M: number): number {
  return 16 * fsM2(M);
}

/** Blocks needed for n rows. */
export function fsBlocks(n: number): number {
  return Math.ceil(n / FS_BLOCK);
}

function checkM(M: number, what: string): void {
  if (!Number.isInteger(M) || M < 1 || M > FS_MAX_M) throw new ZipmlError('E_ARG', `${what}: M = ${M} must be an integer in 1..${FS_MAX_M}`);
}

function checkCodes(codes: Uint8Array, n: number, M: number, stride: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new ZipmlError('E_ARG', `${what}: n = ${n} must be a non-negative integer`);
  const cs = (M + 1) >> 1;
  if (!Number.isInteger(stride) || stride < cs) throw new ZipmlError('E_ARG', `${what}: stride ${stride} is below the ${cs} code bytes of M = ${M}`);
  if (n > 0 && codes.length < (n - 1) * stride + cs) {
    throw new ZipmlError('E_ARG', `${what}: ${codes.length} code bytes hold fewer than ${n} rows of stride ${stride}`);
  }
}

/**
 * Writes rows [0, count) of `codes` (row-major, `stride` bytes apart, first ⌈M/2⌉ bytes used) as
 * rows first..first+count−1 of the packed blocks. For an odd M the high nibble of the last code
 * byte is not a code and is written as 0.
 */
function scatterRows(codes: Uint8Array, count: number, M: number, stride: number, packed: Uint8Array, first: number): void {
  const M2 = fsM2(M), cs = (M + 1) >> 1, bb = 16 * M2;
  const lastMask = M & 1 ? 0x0f : 0xff;
  for (let i = 0; i < count; i++) {
    const r = first + i;
    const o = (r >>> 5) * bb + (r & 31);
    const src = i * stride;
    for (let p = 0; p < cs - 1; p++) packed[o + 32 * p] = codes[src + p]!;
    packed[o + 32 * (cs - 1)] = codes[src + cs - 1]! & lastMask;
  }
}

/** Packs n rows of 4-bit codes (⌈M/2⌉ code bytes each, `stride` bytes apart) into blocks of 32. */
export function packFastScan(codes: Uint8Array, n: number, M: number, stride = (M + 1) >> 1): FastScanPacked {
  checkM(M, 'packFastScan');
  checkCodes(codes, n, M, stride, 'packFastScan');
  const nblocks = fsBlocks(n);
  const packed = new Uint8Array(nblocks * fsBlockBytes(M));
  scatterRows(codes, n, M, stride, packed, 0);
  return { packed, nblocks };
}

/** The row-major codes (⌈M/2⌉ bytes per row) of the first n rows of packed blocks. */
export function unpackFastScan(packed: Uint8Array, n: number, M: number): Uint8Array {
  checkM(M, 'unpackFastScan');
  const bb = fsBlockBytes(M), cs = (M + 1) >> 1;
  if (packed.length < fsBlocks(n) * bb) throw new ZipmlError('E_ARG', `unpackFastScan: ${packed.length} bytes hold fewer than ${n} rows`);
  const out = new Uint8Array(n * cs);
  for (let r = 0; r < n; r++) {
    const o = (r >>> 5) * bb + (r & 31);
    for (let p = 0; p < cs; p++) out[r * cs + p] = packed[o + 32 * p]!;
  }
  return out;
}

/**
 * Appends nNew rows to a packed list of nOld rows. Writes in place when `packed` has room for
 * the new blocks (bytes of not-yet-used blocks must be 0, as from this function or
 * packFastScan); otherwise copies into a buffer with capacity for about twice the rows, so
 * repeated appends cost amortized O(rows added).
 */
export function appendFastScan(packed: Uint8Array, nOld: number, codes: Uint8Array, nNew: number, M: number, stride = (M + 1) >> 1): FastScanPacked {
  checkM(M, 'appendFastScan');
  checkCodes(codes, nNew, M, stride, 'appendFastScan');
  const bb = fsBlockBytes(M);
  if (!Number.isInteger(nOld) || nOld < 0 || packed.length < fsBlocks(nOld) * bb) {
    throw new ZipmlError('E_ARG', `appendFastScan: ${packed.length} bytes hold fewer than the ${nOld} existing rows`);
  }
  const nblocks = fsBlocks(nOld + nNew);
  let out = packed;
  if (packed.length < nblocks * bb) {
    out = new Uint8Array(Math.max(nblocks, 2 * fsBlocks(nOld), 1) * bb);
    out.set(packed.subarray(0, fsBlocks(nOld) * bb));
  }
  scatterRows(codes, nNew, M, stride, out, nOld);
  return { packed: out, nblocks };
}

/** The 4-bit code m of row r in packed blocks. */
export function fsCode(packed: Uint8Array, M: number, r: number, m: number): number {
  const b = packed[(r >>> 5) * fsBlockBytes(M) + (r & 31) + 32 * (m >> 1)]!;
  return m & 1 ? b >> 4 : b & 15;
}
