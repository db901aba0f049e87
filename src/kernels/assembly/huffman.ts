// Canonical Huffman block coder: the loops that touch every byte (histogram, the 4-stream encoder,
// the 4-stream decoder with its header checks). The payload format is docs/huffman.md; the TS
// driver, code-length construction and the plain-TS reference are src/core/entropy/huffman.ts.
//
// Bit streams are LSB-first and every code is stored bit-reversed, so both directions work on a
// bit *position* instead of a bit container: the decoder takes the next 12 bits as the low bits of
// one unaligned 64-bit load at byte p>>3 shifted right by p&7, which leaves at least 57 valid bits,
// enough for four codes of at most 12 bits per load. No refill branch, no container state.

const MAX_LEN: u32 = 12;
const JUMP_BYTES: u32 = 9;

// Decode table: 2^L entries of u16, symbol | length << 8. Indexed by the next L stream bits.
const DTABLE: usize = memory.data(2 << MAX_LEN, 64);
// Four 256 x u32 sub-histograms; the first one holds the sum when histogram() returns.
const HIST: usize = memory.data(4 * 256 * 4, 64);
// Encoder entries written by the TS side: length in bits 0..7, ABSENT in bit 15, the bit-reversed
// code in bits 16..27. ABSENT marks symbols without a code; meeting one means the caller's
// histogram did not describe the input.
const CODES: usize = memory.data(256 * 4, 64);
// Four i32: stream byte sizes after encode(); error details after a failed decode().
const INFO: usize = memory.data(16, 16);
const LENS: usize = memory.data(256, 16);
const COUNTS: usize = memory.data((MAX_LEN + 2) * 4, 16);

// Decode status codes; the TS side (huffman.ts, DecodeStatus) turns them into ZipmlErrors.
const OK: i32 = 0;
const ERR_HEADER: i32 = 1; // payload shorter than its header: [needed, have]
const ERR_LENGTH: i32 = 2; // a code length above MAX_LEN: [symbol, length]
const ERR_PAD_NIBBLE: i32 = 3; // unused last nibble is not 0: [value]
const ERR_MAX_SYMBOL: i32 = 4; // the declared largest symbol has no code: [symbol]
const ERR_KRAFT: i32 = 5; // lengths are not a complete prefix code: [sum in 1/4096]
const ERR_JUMP: i32 = 6; // stream sizes exceed the payload: [declared end, have]
const ERR_OVERRUN: i32 = 7; // a stream ran out of bits: [stream, start, size]
const ERR_END: i32 = 8; // a stream's codes do not end in its last byte: [stream, start, size, bits]
const ERR_PAD_BITS: i32 = 9; // nonzero bits after the last code of a stream: [stream, start, size]

export function heapBase(): usize {
  return __heap_base;
}
export function histPtr(): usize {
  return HIST;
}
export function codesPtr(): usize {
  return CODES;
}
export function infoPtr(): usize {
  return INFO;
}

@inline
function bump(slot: usize): void {
  store<u32>(slot, load<u32>(slot) + 1);
}

/** Byte histogram of n bytes at src into HIST[0..256). */
export function histogram(src: usize, n: usize): void {
  memory.fill(HIST, 0, 4096);
  // Four tables so that runs of one byte value do not serialize on a single counter.
  const end8 = src + (n & ~(<usize>7));
  let p = src;
  while (p < end8) {
    const w = load<u64>(p);
    const lo = <u32>w;
    const hi = <u32>(w >> 32);
    bump(HIST + ((lo & 0xff) << 2));
    bump(HIST + 1024 + ((lo >> 6) & 0x3fc));
    bump(HIST + 2048 + ((lo >> 14) & 0x3fc));
    bump(HIST + 3072 + ((lo >> 22) & 0x3fc));
    bump(HIST + ((hi & 0xff) << 2));
    bump(HIST + 1024 + ((hi >> 6) & 0x3fc));
    bump(HIST + 2048 + ((hi >> 14) & 0x3fc));
    bump(HIST + 3072 + ((hi >> 22) & 0x3fc));
    p += 8;
  }
  const end = src + n;
  while (p < end) {
    bump(HIST + (<usize>load<u8>(p) << 2));
    p++;
  }
  for (let i: usize = 0; i < 1024; i += 16) {
    const a = v128.load(HIST + i);
    const b = v128.load(HIST + 1024 + i);
    const c = v128.load(HIST + 2048 + i);
    const d = v128.load(HIST + 3072 + i);
    v128.store(HIST + i, i32x4.add(i32x4.add(a, b), i32x4.add(c, d)));
  }
}

// ---------------------------------------------------------------------------------------------
// Encoder. A "chunk" is a u64: up to 48 code bits in bits 0..47, ABSENT in bit 55, the bit count
// in bits 56..63. Packing codes into chunks first makes the per-stream dependency chain one
// store per four symbols instead of one shift-or per symbol.

const CHUNK_DATA: u64 = 0xffff_ffff_ffff;
const CHUNK_ABSENT: u64 = 1 << 55;

@inline
function chunk1(src: usize): u64 {
  const e = load<u32>(CODES + (<usize>load<u8>(src) << 2));
  return <u64>(e >> 16) | (<u64>(e & 0x8000) << 40) | (<u64>(e & 0xff) << 56);
}

@inline
function chunk4(src: usize): u64 {
  const e0 = load<u32>(CODES + (<usize>load<u8>(src, 0) << 2));
  const e1 = load<u32>(CODES + (<usize>load<u8>(src, 1) << 2));
  const e2 = load<u32>(CODES + (<usize>load<u8>(src, 2) << 2));
  const e3 = load<u32>(CODES + (<usize>load<u8>(src, 3) << 2));
  const lo = (e0 >> 16) | ((e1 >> 16) << (e0 & 0xff)); // <= 24 bits
  const hi = (e2 >> 16) | ((e3 >> 16) << (e2 & 0xff)); // <= 24 bits
  const lenLo = (e0 + e1) & 0xff; // length fields never carry out of bits 0..7
  const len = (e0 + e1 + e2 + e3) & 0xff;
  const absent = (e0 | e1 | e2 | e3) & 0x8000;
  return <u64>lo | (<u64>hi << <u64>lenLo) | (<u64>absent << 40) | (<u64>len << 56);
}

// Appends a chunk at bit position bp of the stream at out. The partial byte at bp>>3 is re-read
// from memory (store-to-load forwarding from the previous 8-byte store) so the only state per
// stream is bp. Writes up to 8 bytes past the last code: the caller leaves that slack.
@inline
function put(out: usize, bp: usize, v: u64): usize {
  const q = out + (bp >> 3);
  store<u64>(q, <u64>load<u8>(q) | ((v & CHUNK_DATA) << <u64>(bp & 7)));
  return bp + <usize>(v >> 56);
}

let tailAbsent: u64 = 0;

function putTail(src: usize, count: usize, out: usize, bp: usize): usize {
  for (let i: usize = 0; i < count; i++) {
    const v = chunk1(src + i);
    tailAbsent |= v;
    bp = put(out, bp, v);
  }
  return bp;
}

/**
 * Encodes the n bytes at src as 4 streams (quarters of ceil(n/4) symbols, the last one shorter)
 * with the codes in CODES. Stream k is written at out + k*stride; stride must hold the stream plus
 * 8 bytes. Writes the stream byte sizes to INFO. Returns 0, or 1 when a byte has no code.
 */
export function encode(src: usize, n: usize, out: usize, stride: usize): i32 {
  const seg = (n + 3) >> 2;
  const a1 = min<usize>(seg, n), a2 = min<usize>(seg * 2, n), a3 = min<usize>(seg * 3, n);
  const s0 = src, s1 = src + a1, s2 = src + a2, s3 = src + a3;
  const o0 = out, o1 = out + stride, o2 = out + 2 * stride, o3 = out + 3 * stride;
  store<u8>(o0, 0);
  store<u8>(o1, 0);
  store<u8>(o2, 0);
  store<u8>(o3, 0);
  let b0: usize = 0, b1: usize = 0, b2: usize = 0, b3: usize = 0;
  let absent: u64 = 0;
  // Stream 3 is the shortest; run all four in lock-step over its length, in steps of 4.
  const common = (n - a3) & ~(<usize>3);
  for (let j: usize = 0; j < common; j += 4) {
    const v0 = chunk4(s0 + j);
    const v1 = chunk4(s1 + j);
    const v2 = chunk4(s2 + j);
    const v3 = chunk4(s3 + j);
    absent |= v0 | v1 | v2 | v3;
    b0 = put(o0, b0, v0);
    b1 = put(o1, b1, v1);
    b2 = put(o2, b2, v2);
    b3 = put(o3, b3, v3);
  }
  tailAbsent = 0;
  b0 = putTail(s0 + common, a1 - common, o0, b0);
  b1 = putTail(s1 + common, a2 - a1 - common, o1, b1);
  b2 = putTail(s2 + common, a3 - a2 - common, o2, b2);
  b3 = putTail(s3 + common, n - a3 - common, o3, b3);
  store<i32>(INFO, <i32>((b0 + 7) >> 3), 0);
  store<i32>(INFO, <i32>((b1 + 7) >> 3), 4);
  store<i32>(INFO, <i32>((b2 + 7) >> 3), 8);
  store<i32>(INFO, <i32>((b3 + 7) >> 3), 12);
  return ((absent | tailAbsent) & CHUNK_ABSENT) != 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Decoder.

@inline
function fail(code: i32, a: i32, b: i32 = 0, c: i32 = 0, d: i32 = 0): i32 {
  store<i32>(INFO, a, 0);
  store<i32>(INFO, b, 4);
  store<i32>(INFO, c, 8);
  store<i32>(INFO, d, 12);
  return code;
}

@inline
function reverseBits(x: u32, len: u32): u32 {
  x = ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return ((x >> 16) | (x << 16)) >> (32 - len);
}

// Four symbols from the stream at bit p (relative to src); returns the new p.
@inline
function entryAt(bits: u64, mask: u32): u32 {
  return <u32>load<u16>((<usize>(<u32>bits & mask)) << 1, DTABLE);
}

// Four symbols from the stream at bit p (relative to src); returns the new p.
@inline
function dec4(src: usize, p: usize, dst: usize, mask: u32): usize {
  let b = load<u64>(src + (p >> 3)) >> <u64>(p & 7);
  const e0 = entryAt(b, mask);
  b >>= <u64>(e0 >> 8);
  const e1 = entryAt(b, mask);
  b >>= <u64>(e1 >> 8);
  const e2 = entryAt(b, mask);
  b >>= <u64>(e2 >> 8);
  const e3 = entryAt(b, mask);
  store<u8>(dst, <u8>e0, 0);
  store<u8>(dst, <u8>e1, 1);
  store<u8>(dst, <u8>e2, 2);
  store<u8>(dst, <u8>e3, 3);
  return p + <usize>((e0 >> 8) + (e1 >> 8) + (e2 >> 8) + (e3 >> 8));
}

// Finishes one stream symbol by symbol, checking before each code that the stream still has bits
// (which also keeps every load inside the payload plus its 8 bytes of padding), then checks that
// the codes end in the stream's last byte and that the bits after them are zero.
function finishStream(
  src: usize, k: i32, p: usize, start: usize, end: usize, dst: usize, from: usize, to: usize, mask: u32,
): i32 {
  const startBit = start << 3, endBit = end << 3;
  for (let j = from; j < to; j++) {
    if (p > endBit) return fail(ERR_OVERRUN, k, <i32>start, <i32>(end - start));
    const e = entryAt(load<u64>(src + (p >> 3)) >> <u64>(p & 7), mask);
    store<u8>(dst + j, <u8>e);
    p += <usize>(e >> 8);
  }
  const bits = p - startBit;
  if ((bits + 7) >> 3 != end - start) return fail(ERR_END, k, <i32>start, <i32>(end - start), <i32>bits);
  if ((p & 7) != 0 && (<u32>load<u8>(src + (p >> 3)) >> <u32>(p & 7)) != 0) {
    return fail(ERR_PAD_BITS, k, <i32>start, <i32>(end - start));
  }
  return OK;
}

/**
 * Decodes the payload of srcLen bytes at src into n bytes at dst. The 8 bytes after the payload
 * must be readable and zero. Returns 0 or an ERR_* code with details in INFO; never traps.
 */
export function decode(src: usize, srcLen: usize, dst: usize, n: usize): i32 {
  if (srcLen < 1) return fail(ERR_HEADER, 1, <i32>srcLen);
  const maxSym = <u32>load<u8>(src);
  const tableBytes = (maxSym + 2) >> 1;
  const hdr = <usize>(1 + tableBytes + JUMP_BYTES);
  if (srcLen < hdr) return fail(ERR_HEADER, <i32>hdr, <i32>srcLen);

  // Code lengths, Kraft sum and counts per length.
  memory.fill(COUNTS, 0, (MAX_LEN + 2) * 4);
  let kraft: u32 = 0, maxLen: u32 = 0;
  for (let s: u32 = 0; s <= maxSym; s++) {
    const l = (<u32>load<u8>(src + 1 + (s >> 1)) >> ((s & 1) << 2)) & 15;
    if (l > MAX_LEN) return fail(ERR_LENGTH, <i32>s, <i32>l);
    store<u8>(LENS + s, <u8>l);
    if (l != 0) {
      kraft += (<u32>1 << MAX_LEN) >> l;
      if (l > maxLen) maxLen = l;
      bump(COUNTS + (l << 2));
    }
  }
  if ((maxSym & 1) == 0) {
    const pad = <u32>load<u8>(src + tableBytes) >> 4;
    if (pad != 0) return fail(ERR_PAD_NIBBLE, <i32>pad);
  }
  if (load<u8>(LENS + maxSym) == 0) return fail(ERR_MAX_SYMBOL, <i32>maxSym);
  if (kraft != <u32>1 << MAX_LEN) return fail(ERR_KRAFT, <i32>kraft);

  // Stream layout.
  const jump = src + 1 + tableBytes;
  const z0 = <usize>(load<u32>(jump) & 0xffffff);
  const z1 = <usize>(load<u32>(jump, 3) & 0xffffff);
  const z2 = <usize>(<u32>load<u16>(jump, 6) | (<u32>load<u8>(jump, 8) << 16));
  const st0 = hdr, st1 = st0 + z0, st2 = st1 + z1, st3 = st2 + z2;
  if (st3 > srcLen) return fail(ERR_JUMP, <i32>st3, <i32>srcLen);

  // Canonical codes, shorter codes first, ties by symbol; each entry is replicated over every
  // table index whose low `len` bits are the reversed code.
  const size: u32 = 1 << maxLen;
  let code: u32 = 0;
  for (let l: u32 = 1; l <= maxLen; l++) {
    code = (code + load<u32>(COUNTS + ((l - 1) << 2))) << 1;
    store<u32>(COUNTS + ((l - 1) << 2), code); // COUNTS[l-1] now holds the next code of length l
  }
  for (let s: u32 = 0; s <= maxSym; s++) {
    const l = <u32>load<u8>(LENS + s);
    if (l == 0) continue;
    const slot = COUNTS + ((l - 1) << 2);
    const c = load<u32>(slot);
    store<u32>(slot, c + 1);
    const entry = <u16>(s | (l << 8));
    const step: u32 = 1 << l;
    for (let i = reverseBits(c, l); i < size; i += step) store<u16>(DTABLE + (<usize>i << 1), entry);
  }

  const mask = size - 1;
  const seg = (n + 3) >> 2;
  const a1 = min<usize>(seg, n), a2 = min<usize>(seg * 2, n), a3 = min<usize>(seg * 3, n);
  const d0 = dst, d1 = dst + a1, d2 = dst + a2, d3 = dst + a3;
  const e0 = st1 << 3, e1 = st2 << 3, e2 = st3 << 3, e3 = srcLen << 3;
  let p0 = st0 << 3, p1 = st1 << 3, p2 = st2 << 3, p3 = st3 << 3;
  const c3 = n - a3; // stream 3 is the shortest
  const step = <usize>(maxLen << 2); // most bits one dec4 can take
  let j: usize = 0;
  // Lock-step over all four streams, in runs whose length is computed so that no load can pass
  // a stream's end: the loop body itself has no checks. Near the ends, runs shrink to zero.
  while (true) {
    let iters = (c3 - j) >> 2;
    iters = min(iters, (e0 - p0) / step);
    iters = min(iters, (e1 - p1) / step);
    iters = min(iters, (e2 - p2) / step);
    iters = min(iters, (e3 - p3) / step);
    if (iters == 0) break;
    const stop = j + (iters << 2);
    do {
      p0 = dec4(src, p0, d0 + j, mask);
      p1 = dec4(src, p1, d1 + j, mask);
      p2 = dec4(src, p2, d2 + j, mask);
      p3 = dec4(src, p3, d3 + j, mask);
      j += 4;
    } while (j < stop);
  }
  let r = finishStream(src, 0, p0, st0, st1, d0, j, a1, mask);
  if (r != OK) return r;
  r = finishStream(src, 1, p1, st1, st2, d1, j, a2 - a1, mask);
  if (r != OK) return r;
  r = finishStream(src, 2, p2, st2, st3, d2, j, a3 - a2, mask);
  if (r != OK) return r;
  return finishStream(src, 3, p3, st3, srcLen, d3, j, n - a3, mask);
}
