// Static rANS hot loops: interleaved 32-bit states with 16-bit renormalization (the "rans_word"
// family), all states sharing one stream of 16-bit words. The TypeScript side
// (src/core/entropy/rans.ts) owns the format: it parses and validates the frequency table, lays
// out memory, and turns the status codes returned here into ZipmlErrors. Nothing here traps on
// bad input: every read of the coded stream is bounded by `streamLen`, every write by `n`.
//
// Symbol i of a block is coded by state i % lanes (lanes = 16, or 4 for small blocks). The
// encoder walks the block backwards and writes words backwards, so the decoder walks forwards
// through both.

const L: u32 = 1 << 16; // lower bound of a normalized state; states live in [L, 2^32)
const WIDE: u32 = 16; // lanes of the vector decoder: four v128 of four states

// Status codes shared with rans.ts.
const OK: i32 = 0;
const STREAM_EXHAUSTED: i32 = 1;
const STREAM_LEFTOVER: i32 = 2;
const ZERO_FREQUENCY: i32 = -1;

export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// Encoder

/**
 * Encodes src[0..n) starting from the `lanes` states at `states` (left there as final states),
 * writing the stream backwards so that it ends just below `outEnd`; outEnd - 2n - 2 must be
 * writable. `info` holds 32 bytes per byte value: u32 xmax = freq << (32 - scaleBits) (0 when
 * absent), u32 freq, u32 2^scaleBits - freq, u32 start, u64 rcp = ceil(2^(32 + scaleBits) / freq).
 * Returns the stream length, or ZERO_FREQUENCY when a byte has no frequency (the caller's
 * histogram did not match the data).
 *
 * States stay in memory: with 16 lanes they would not fit in registers anyway, and the lanes'
 * independent chains hide the store-to-load latency.
 */
export function encode(
  info: usize, states: usize, lanes: u32, src: usize, n: u32, outEnd: usize, scaleBits: u32,
): i32 {
  let p = outEnd;
  const laneMask = lanes - 1;
  const shift = u64(32 + scaleBits);
  for (let i = n; i > 0; ) {
    i--;
    const sp = states + ((i & laneMask) << 2);
    let x = load<u32>(sp);
    const e = info + (usize(load<u8>(src + i)) << 5);
    const xmax = load<u32>(e);
    if (xmax == 0) return ZERO_FREQUENCY;
    // Branch-free renormalization (the branch would be taken at random, ~bits/16 of the time):
    // always store below p, move p only when the word is real.
    const c = u32(x >= xmax);
    store<u16>(p - 2, u16(x));
    p -= usize(c << 1);
    x >>= c << 4;
    // x' = (x / f) * M + x % f + start = x + q * (M - f) + start. The quotient comes from a
    // 64-bit multiply by the rounded-up reciprocal, which is exact because renormalization left
    // x < f * 2^(32 - scaleBits) (docs/rans.md has the proof); i32.div_u measured ~12% slower.
    const q = u32((u64(x) * load<u64>(e, 16)) >> shift);
    store<u32>(sp, x + q * load<u32>(e, 8) + load<u32>(e, 12));
  }
  return i32(outEnd - p);
}

// ---------------------------------------------------------------------------------------------
// Decoder tables. slots[k] = freq | (k - start) << 16 for the symbol owning slot k, and
// slotSym[k] = that symbol, so a decode step is x' = freq * (x >> scaleBits) + (k - start).
// (One 32-bit entry cannot also hold the symbol at scaleBits 15.) `freqs` is 256 x u32 that the
// caller validated to sum to 2^scaleBits. `slots` needs 16 bytes of slack past its 2^scaleBits
// entries: the vector fill overshoots by up to three entries, which the next symbol overwrites.

export function buildSlots(freqs: usize, slots: usize, slotSym: usize): void {
  let start: usize = 0;
  const step = i32x4.splat(4 << 16);
  for (let s: u32 = 0; s < 256; s++) {
    const f = load<u32>(freqs + (usize(s) << 2));
    if (f == 0) continue;
    let v = i32x4.add(i32x4.splat(f), i32x4(0, 1 << 16, 2 << 16, 3 << 16));
    const base = slots + (start << 2);
    for (let k: u32 = 0; k < f; k += 4) {
      v128.store(base + (usize(k) << 2), v);
      v = i32x4.add(v, step);
    }
    memory.fill(slotSym + start, u8(s), f);
    start += f;
  }
}

/**
 * Packed decoder table for scaleBits <= 12: slots[k] = symbol | freq << 8 | (k - start) << 20,
 * so a decode step loads one entry instead of an entry and a symbol byte (freq < 2^12 since a
 * valid table has two or more symbols). Same 16 bytes of slack as buildSlots.
 */
export function buildSlotsPacked(freqs: usize, slots: usize): void {
  let start: usize = 0;
  const step = i32x4.splat(4 << 20);
  for (let s: u32 = 0; s < 256; s++) {
    const f = load<u32>(freqs + (usize(s) << 2));
    if (f == 0) continue;
    let v = i32x4.add(i32x4.splat(s | (f << 8)), i32x4(0, 1 << 20, 2 << 20, 3 << 20));
    const base = slots + (start << 2);
    for (let k: u32 = 0; k < f; k += 4) {
      v128.store(base + (usize(k) << 2), v);
      v = i32x4.add(v, step);
    }
    start += f;
  }
}

// ---------------------------------------------------------------------------------------------
// Decoder

// For each 4-bit mask of lanes that need a word: a swizzle that moves the next words of the
// stream, in lane order, into the low halves of those lanes and zeroes all other bytes.
const REFILL_SHUFFLES: usize = memory.data(16 * 16, 16);
let shufflesReady = false;

function prepareShuffles(): void {
  for (let m = 0; m < 16; m++) {
    let k = 0;
    for (let lane = 0; lane < 4; lane++) {
      const at = REFILL_SHUFFLES + (m << 4) + (lane << 2);
      const used = (m & (1 << lane)) != 0;
      store<u8>(at, used ? u8(2 * k) : 0x80, 0);
      store<u8>(at, used ? u8(2 * k + 1) : 0x80, 1);
      store<u8>(at, 0x80, 2);
      store<u8>(at, 0x80, 3);
      if (used) k++;
    }
  }
  shufflesReady = true;
}

/**
 * One decode step for the four states in x: looks up their slots (WebAssembly has no gather,
 * so lane by lane), writes the four symbols to out, and returns freq * (x >> scaleBits) + bias.
 * The new states may be below L; `refill` fixes that.
 */
@inline
function step4(x: v128, mask: v128, slots: usize, slotSym: usize, out: usize, scaleBits: i32, packed: bool): v128 {
  const k = v128.and(x, mask);
  const k0 = usize(i32x4.extract_lane(k, 0)), k1 = usize(i32x4.extract_lane(k, 1));
  const k2 = usize(i32x4.extract_lane(k, 2)), k3 = usize(i32x4.extract_lane(k, 3));
  if (packed) {
    // One load per symbol: its byte, freq and bias all come from the entry.
    let e = v128.load32_zero(slots + (k0 << 2));
    e = v128.load32_lane(slots + (k1 << 2), e, 1);
    e = v128.load32_lane(slots + (k2 << 2), e, 2);
    e = v128.load32_lane(slots + (k3 << 2), e, 3);
    v128.store32_lane(out, i8x16.shuffle(e, e, 0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0);
    const freq = v128.and(i32x4.shr_u(e, 8), i32x4.splat(0xfff));
    return i32x4.add(i32x4.mul(freq, i32x4.shr_u(x, scaleBits)), i32x4.shr_u(e, 20));
  }
  store<u8>(out, load<u8>(slotSym + k0), 0);
  store<u8>(out, load<u8>(slotSym + k1), 1);
  store<u8>(out, load<u8>(slotSym + k2), 2);
  store<u8>(out, load<u8>(slotSym + k3), 3);
  let e = v128.load32_zero(slots + (k0 << 2));
  e = v128.load32_lane(slots + (k1 << 2), e, 1);
  e = v128.load32_lane(slots + (k2 << 2), e, 2);
  e = v128.load32_lane(slots + (k3 << 2), e, 3);
  const freq = v128.and(e, i32x4.splat(0xffff));
  return i32x4.add(i32x4.mul(freq, i32x4.shr_u(x, scaleBits)), i32x4.shr_u(e, 16));
}

/** Lanes whose state fell below L (x >> 16 == 0 avoids an unsigned compare, which SSE lacks). */
@inline
function lowLanes(x: v128): v128 {
  return i32x4.eq(i32x4.shr_u(x, 16), i32x4.splat(0));
}

/** Shifts the next words at p into the lanes flagged in c (m = its bitmask), in lane order. */
@inline
function refill(x: v128, c: v128, m: i32, p: usize): v128 {
  const w = i8x16.swizzle(v128.load64_zero(p), v128.load(REFILL_SHUFFLES + (m << 4)));
  return v128.bitselect(v128.or(i32x4.shl(x, 16), w), x, c);
}

/**
 * Decodes n symbols into `out` from the stream [stream, stream + streamLen), starting from the
 * `lanes` states at `states` and leaving the final states there (the caller checks them: their
 * expected values depend on a hash of the output). Returns OK when the stream was consumed
 * exactly, else a status with details in diag (u32 x 2): symbol index, stream offset reached.
 */
export function decode(
  slots: usize, slotSym: usize, states: usize, lanes: u32,
  stream: usize, streamLen: u32, out: usize, n: u32, scaleBits: u32, diag: usize,
): i32 {
  return decodeWith(slots, slotSym, states, lanes, stream, streamLen, out, n, scaleBits, diag, false);
}

/** decode over the packed table of buildSlotsPacked (scaleBits <= 12; slotSym unused). */
export function decodePacked(
  slots: usize, states: usize, lanes: u32, stream: usize, streamLen: u32, out: usize, n: u32, scaleBits: u32, diag: usize,
): i32 {
  return decodeWith(slots, 0, states, lanes, stream, streamLen, out, n, scaleBits, diag, true);
}

@inline
function decodeWith(
  slots: usize, slotSym: usize, states: usize, lanes: u32,
  stream: usize, streamLen: u32, out: usize, n: u32, scaleBits: u32, diag: usize, packed: bool,
): i32 {
  let p = stream;
  const end = stream + streamLen;
  let i: u32 = 0;
  if (!shufflesReady) prepareShuffles();
  const sb = i32(scaleBits);
  const mask = i32x4.splat((1 << sb) - 1);
  if (lanes == 4) {
    // Small blocks: one vector, same steps as below.
    let x = v128.load(states);
    const full = n & ~3;
    while (i < full && end - p >= 8) {
      x = step4(x, mask, slots, slotSym, out + i, sb, packed);
      const c = lowLanes(x), m = i32x4.bitmask(c);
      x = refill(x, c, m, p);
      p += usize(popcnt<u32>(m) << 1);
      i += 4;
    }
    v128.store(states, x);
  } else if (lanes == WIDE) {
    let xa = v128.load(states, 0), xb = v128.load(states, 16), xc = v128.load(states, 32), xd = v128.load(states, 48);
    const full = n & ~(WIDE - 1);
    // Whole rounds while a round's worth of words (16 x 2 bytes) is in bounds, so the
    // unconditional 8-byte loads in refill never leave the stream. Four independent vectors
    // keep enough lookups in flight to hide the gather and multiply latency (8 lanes measured
    // ~40% slower, 32 lanes ~15% faster for 64 more bytes per block). The four are written out
    // by hand: a loop over vectors kept in memory, or refilling all four after computing all
    // masks, both measured ~7% slower end to end.
    while (i < full && end - p >= 2 * WIDE) {
      const o = out + i;
      xa = step4(xa, mask, slots, slotSym, o, sb, packed);
      xb = step4(xb, mask, slots, slotSym, o + 4, sb, packed);
      xc = step4(xc, mask, slots, slotSym, o + 8, sb, packed);
      xd = step4(xd, mask, slots, slotSym, o + 12, sb, packed);
      const ca = lowLanes(xa), ma = i32x4.bitmask(ca);
      xa = refill(xa, ca, ma, p);
      p += usize(popcnt<u32>(ma) << 1);
      const cb = lowLanes(xb), mb = i32x4.bitmask(cb);
      xb = refill(xb, cb, mb, p);
      p += usize(popcnt<u32>(mb) << 1);
      const cc = lowLanes(xc), mc = i32x4.bitmask(cc);
      xc = refill(xc, cc, mc, p);
      p += usize(popcnt<u32>(mc) << 1);
      const cd = lowLanes(xd), md = i32x4.bitmask(cd);
      xd = refill(xd, cd, md, p);
      p += usize(popcnt<u32>(md) << 1);
      i += WIDE;
    }
    v128.store(states, xa, 0);
    v128.store(states, xb, 16);
    v128.store(states, xc, 32);
    v128.store(states, xd, 48);
  }
  // The rest (and all of a small block) symbol by symbol, checking every read.
  const smask: u32 = (1 << scaleBits) - 1;
  const laneMask = lanes - 1;
  for (; i < n; i++) {
    const sp = states + ((i & laneMask) << 2);
    let x = load<u32>(sp);
    const k = usize(x & smask);
    const e = load<u32>(slots + (k << 2));
    if (packed) {
      store<u8>(out + i, <u8>e);
      x = ((e >> 8) & 0xfff) * (x >> scaleBits) + (e >> 20);
    } else {
      store<u8>(out + i, load<u8>(slotSym + k));
      x = (e & 0xffff) * (x >> scaleBits) + (e >> 16);
    }
    if (x < L) {
      if (end - p < 2) return fail(diag, STREAM_EXHAUSTED, i, p - stream);
      x = (x << 16) | u32(load<u16>(p));
      p += 2;
    }
    store<u32>(sp, x);
  }
  if (p != end) return fail(diag, STREAM_LEFTOVER, n, p - stream);
  return OK;
}

function fail(diag: usize, code: i32, at: u32, streamPos: usize): i32 {
  store<u32>(diag, at, 0);
  store<u32>(diag, u32(streamPos), 4);
  return code;
}

// ---------------------------------------------------------------------------------------------
// Histogram of the block (256 x u32 at `out`). The encoder needs src in kernel memory anyway,
// so counting here saves a pass over it in JS. Four sub-histograms break the dependency between
// repeated bytes (load-add-store of the same counter); they live in a static scratch area.

const SUB_HISTOGRAMS: usize = memory.data(4 * 1024, 16);

export function histogram(src: usize, n: u32, out: usize): void {
  memory.fill(SUB_HISTOGRAMS, 0, 4 * 1024);
  const h0 = SUB_HISTOGRAMS, h1 = h0 + 1024, h2 = h0 + 2048, h3 = h0 + 3072;
  const end = src + n;
  let p = src;
  for (; p + 4 <= end; p += 4) {
    const w = load<u32>(p);
    const a = h0 + ((w & 255) << 2), b = h1 + (((w >> 8) & 255) << 2);
    const c = h2 + (((w >> 16) & 255) << 2), d = h3 + ((w >> 24) << 2);
    store<u32>(a, load<u32>(a) + 1);
    store<u32>(b, load<u32>(b) + 1);
    store<u32>(c, load<u32>(c) + 1);
    store<u32>(d, load<u32>(d) + 1);
  }
  for (; p < end; p++) {
    const a = h0 + (usize(load<u8>(p)) << 2);
    store<u32>(a, load<u32>(a) + 1);
  }
  for (let s: usize = 0; s < 1024; s += 16) {
    const sum = i32x4.add(
      i32x4.add(v128.load(h0 + s), v128.load(h1 + s)),
      i32x4.add(v128.load(h2 + s), v128.load(h3 + s)),
    );
    v128.store(out + s, sum);
  }
}
