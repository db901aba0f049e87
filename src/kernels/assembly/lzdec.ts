// LZ decoder of src/core/lz (LZMA-class: adaptive binary range coder, 12-state machine, four rep
// distances, lc/lp/pb literal contexts). src/core/lz/decode.ts is the reference and the spec; this
// kernel replays the same bits with the range coder in locals instead of a JS object, and copies
// matches with memory.copy. Every read of the payload and every write of the output is bounded
// the way the reference bounds them, and a failure returns a status (never traps), so that the
// caller raises the same ZipmlError the reference does.

export function heapBase(): usize {
  return __heap_base;
}

// Status codes (the TS wrapper maps them to the reference's errors).
const OK: i32 = 0;
const PAST_END: i32 = 1; // range decoder needs a byte beyond the payload
const SHORT_REP_DIST: i32 = 2; // short rep before the start of the output
const MATCH_DIST: i32 = 3; // match distance before the start of the output
const MATCH_LEN: i32 = 4; // match runs past the declared size
const UNUSED: i32 = 5; // bytes left after the stream
const NONZERO: i32 = 6; // code not zero at the end

// Where a failure happened: output position, input position, and the offending value.
let errOut: u32 = 0;
let errIn: u32 = 0;
let errValue: u32 = 0;
export function errorOut(): u32 { return errOut; }
export function errorIn(): u32 { return errIn; }
export function errorValue(): u32 { return errValue; }

// Probability tables, u16 each, at these offsets (in probabilities) from the `probs` pointer.
const IS_MATCH: u32 = 0; // 12 states x 16 pos states
const IS_REP: u32 = 192;
const IS_REP_G0: u32 = 204;
const IS_REP_G1: u32 = 216;
const IS_REP_G2: u32 = 228;
const IS_REP0_LONG: u32 = 240; // 192
const SLOT: u32 = 432; // 4 len states x 64
const SPECIAL: u32 = 688; // 114
const ALIGN: u32 = 802; // 16
const MATCH_LEN_P: u32 = 818; // 514: choice, choice2, low[16][8], mid[16][8], high[256]
const REP_LEN_P: u32 = 1332;
const LITERAL: u32 = 1846; // 0x300 << (lc + lp)
const LEN_PROBS: u32 = 514;
const LEN_LOW_BASE: u32 = 2;
const LEN_MID_BASE: u32 = 130;
const LEN_HIGH_BASE: u32 = 258;

const PROB_INIT: u16 = 1024;
const MOVE_BITS: u32 = 5;
const LIT_STATES: u32 = 7;
const MODEL_END_SLOT: u32 = 14;
const MATCH_MIN: u32 = 2;

/** Bytes of probability tables for lc + lp = `lclp` (two-rate literals: a second literal table). */
export function probsBytes(lclp: u32, twoRate: u32): u32 {
  return (LITERAL + ((0x300 << lclp) << (twoRate != 0 ? 1 : 0))) << 1;
}

// Two-rate literals (payload flags 2): 15-bit probabilities, fast and slow tables, coded with the mean.
const TWO_RATE_INIT: u16 = 16384;
const FAST_BITS: u32 = 4;
const SLOW_BITS: u32 = 7;

// Range decoder state: globals, which Binaryen keeps in registers inside the hot functions.
let range: u32 = 0;
let code: u32 = 0;
let inPos: usize = 0;
let inEnd: usize = 0;
let failed: bool = false;

/** Shifts in a payload byte when the range drops below 2^24 (the reference throws past the end; here the failure is recorded and decoding goes on harmlessly until the next check). */
@inline
function normalize(): void {
  if (range >= (1 << 24)) return;
  range <<= 8;
  if (inPos >= inEnd) {
    if (!failed) { failed = true; errIn = <u32>inPos; }
    code <<= 8;
  } else {
    code = (code << 8) | <u32>load<u8>(inPos);
    inPos++;
  }
}

@inline
function bit(p: usize): u32 {
  const prob = <u32>load<u16>(p);
  const bound = (range >> 11) * prob;
  let b: u32;
  if (code < bound) {
    range = bound;
    store<u16>(p, <u16>(prob + ((2048 - prob) >> MOVE_BITS)));
    b = 0;
  } else {
    code -= bound;
    range -= bound;
    store<u16>(p, <u16>(prob - (prob >> MOVE_BITS)));
    b = 1;
  }
  normalize();
  return b;
}

/**
 * MSB-first tree of `bits` levels at `probs` (u16 index base), continuing from node m: the
 * literal's hot loop, with the coder state in locals (globals are memory accesses in V8) and the
 * bit chosen without a branch (mantissa bits are coin flips, so a branch mispredicts half the time).
 */
function tree(probs: usize, bits: u32, m: u32, slow: usize = 0): u32 {
  let r = range, c = code, ip = inPos;
  const end = inEnd;
  for (let k: u32 = 0; k < bits; k++) {
    const p = probs + (<usize>m << 1);
    const prob = <u32>load<u16>(p);
    let bound: u32;
    let one: bool;
    if (slow == 0) {
      bound = (r >> 11) * prob;
      one = c >= bound;
      store<u16>(p, <u16>select<u32>(prob - (prob >> MOVE_BITS), prob + ((2048 - prob) >> MOVE_BITS), one));
    } else {
      // Two-rate node: the mean of the fast (here) and slow probabilities, clamped as
      // range-coder.ts does so that one renormalisation per bit suffices.
      const q = slow + (<usize>m << 1);
      const prob2 = <u32>load<u16>(q);
      bound = (r >> 11) * min<u32>(max<u32>((prob + prob2) >> 5, 8), 2040);
      one = c >= bound;
      store<u16>(p, <u16>select<u32>(prob - (prob >> FAST_BITS), prob + ((32768 - prob) >> FAST_BITS), one));
      store<u16>(q, <u16>select<u32>(prob2 - (prob2 >> SLOW_BITS), prob2 + ((32768 - prob2) >> SLOW_BITS), one));
    }
    r = select<u32>(r - bound, bound, one);
    c = select<u32>(c - bound, c, one);
    m = (m << 1) | <u32>one;
    if (r < (1 << 24)) {
      r <<= 8;
      if (ip >= end) {
        if (!failed) { failed = true; errIn = <u32>ip; }
        c <<= 8;
      } else {
        c = (c << 8) | <u32>load<u8>(ip);
        ip++;
      }
    }
  }
  range = r;
  code = c;
  inPos = ip;
  return m;
}

function reverseTree(probs: usize, bits: u32): u32 {
  let m: u32 = 1, v: u32 = 0;
  for (let i: u32 = 0; i < bits; i++) {
    const b = bit(probs + (<usize>m << 1));
    m = (m << 1) | b;
    v |= b << i;
  }
  return v;
}

function direct(count: u32): u32 {
  let v: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    range >>= 1;
    let b: u32 = 0;
    if (code >= range) {
      code -= range;
      b = 1;
    }
    v = (v << 1) | b;
    normalize();
  }
  return v;
}

function decodeLen(p: usize, posState: u32): u32 {
  if (bit(p) == 0) return MATCH_MIN + tree(p + ((LEN_LOW_BASE + (posState << 3)) << 1), 3, 1) - 8;
  if (bit(p + 2) == 0) return MATCH_MIN + 8 + tree(p + ((LEN_MID_BASE + (posState << 3)) << 1), 3, 1) - 8;
  return MATCH_MIN + 16 + tree(p + (LEN_HIGH_BASE << 1), 8, 1) - 256;
}

function decodeDistance(probs: usize, len: u32): u32 {
  const lenState = min(len - MATCH_MIN, 3);
  const slot = tree(probs + ((SLOT + (lenState << 6)) << 1), 6, 1) - 64;
  if (slot < 4) return slot;
  const footer = (slot >> 1) - 1;
  const base = (2 | (slot & 1)) << footer;
  if (slot < MODEL_END_SLOT) return base + reverseTree(probs + ((SPECIAL + base - slot - 1) << 1), footer);
  return base + (direct(footer - 4) << 4) + reverseTree(probs + (ALIGN << 1), 4);
}

/**
 * Decodes `outLen` bytes to `out` from the range-coded stream [src, src + srcLen) whose first four
 * bytes are the initial code (checked by the caller), with tables at `probs` (probsBytes(lc + lp)
 * bytes, initialised here). Returns a status code; on failure errorOut/errorIn/errorValue say where.
 */
export function decode(src: usize, srcLen: usize, out: usize, outLen: u32, lc: u32, lp: u32, pb: u32, probs: usize, twoRate: u32): i32 {
  // Initialise every probability to one half, eight at a time (two-rate literals: at 15 bits).
  const nLit = <usize>(0x300 << (lc + lp));
  const nProbs = twoRate != 0 ? <usize>LITERAL : <usize>LITERAL + nLit;
  const init = i16x8.splat(<i16>PROB_INIT);
  let q: usize = 0;
  for (; q + 8 <= nProbs; q += 8) v128.store(probs + (q << 1), init);
  for (; q < nProbs; q++) store<u16>(probs + (q << 1), PROB_INIT);
  if (twoRate != 0) {
    const init2 = i16x8.splat(<i16>TWO_RATE_INIT);
    const end2 = <usize>LITERAL + 2 * nLit; // nLit is a multiple of 0x300, so of 8
    for (; q < end2; q += 8) v128.store(probs + (q << 1), init2);
  }
  const lit2 = probs + ((<usize>LITERAL + nLit) << 1);

  range = 0xffffffff;
  code = (<u32>load<u8>(src) << 24) | (<u32>load<u8>(src, 1) << 16) | (<u32>load<u8>(src, 2) << 8) | <u32>load<u8>(src, 3);
  inPos = src + 4;
  inEnd = src + srcLen;
  failed = false;
  const posMask: u32 = (1 << pb) - 1;
  const litPosMask: u32 = (1 << lp) - 1;
  const lit = probs + (LITERAL << 1);
  let state: u32 = 0, rep0: u32 = 0, rep1: u32 = 0, rep2: u32 = 0, rep3: u32 = 0, pos: u32 = 0;
  while (pos < outLen) {
    if (failed) { errOut = pos; return PAST_END; }
    const posState = pos & posMask;
    if (bit(probs + ((IS_MATCH + ((state << 4) | posState)) << 1)) == 0) {
      const prev: u32 = pos > 0 ? <u32>load<u8>(out + pos - 1) : 0;
      const coder = (((pos & litPosMask) << lc) + (prev >> (8 - lc))) * 0x300 << 1;
      const base = lit + coder;
      let sym: u32;
      const base2 = twoRate != 0 ? lit2 + coder : 0;
      if (state < LIT_STATES) {
        sym = tree(base, 8, 1, base2);
      } else {
        // Matched literal: the match byte's bits pick the coder until the first disagreement.
        const mb = <u32>load<u8>(out + pos - rep0 - 1);
        sym = 1;
        let i: i32 = 7;
        for (; i >= 0; i--) {
          const mbit = (mb >> <u32>i) & 1;
          const off = <usize>(0x100 + (mbit << 8) + sym - 1) << 1;
          const b = tree(base + off, 1, 1, base2 != 0 ? base2 + off : 0) - 2;
          sym = (sym << 1) | b;
          if (b != mbit) break;
        }
        if (i > 0) sym = tree(base, <u32>i, sym, base2);
      }
      store<u8>(out + pos, <u8>sym);
      pos++;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    let len: u32;
    if (bit(probs + ((IS_REP + state) << 1)) == 0) {
      len = decodeLen(probs + (MATCH_LEN_P << 1), posState);
      const dist = decodeDistance(probs, len);
      rep3 = rep2; rep2 = rep1; rep1 = rep0; rep0 = dist;
      state = state < LIT_STATES ? 7 : 10;
    } else {
      if (bit(probs + ((IS_REP_G0 + state) << 1)) == 0) {
        if (bit(probs + ((IS_REP0_LONG + ((state << 4) | posState)) << 1)) == 0) {
          if (failed) { errOut = pos; return PAST_END; }
          if (rep0 >= pos) { errOut = pos; errValue = rep0; return SHORT_REP_DIST; }
          store<u8>(out + pos, load<u8>(out + pos - rep0 - 1));
          pos++;
          state = state < LIT_STATES ? 9 : 11;
          continue;
        }
      } else {
        let d: u32;
        if (bit(probs + ((IS_REP_G1 + state) << 1)) == 0) d = rep1;
        else {
          if (bit(probs + ((IS_REP_G2 + state) << 1)) == 0) d = rep2;
          else { d = rep3; rep3 = rep2; }
          rep2 = rep1;
        }
        rep1 = rep0; rep0 = d;
      }
      len = decodeLen(probs + (REP_LEN_P << 1), posState);
      state = state < LIT_STATES ? 8 : 11;
    }
    if (failed) { errOut = pos; return PAST_END; }
    if (rep0 >= pos) { errOut = pos; errValue = rep0; return MATCH_DIST; }
    if (len > outLen - pos) { errOut = pos; errValue = len; return MATCH_LEN; }
    const from = out + pos - rep0 - 1;
    if (rep0 + 1 >= len) memory.copy(out + pos, from, len);
    else for (let i: u32 = 0; i < len; i++) store<u8>(out + pos + i, load<u8>(from + i));
    pos += len;
  }
  if (failed) { errOut = pos; return PAST_END; }
  if (inPos != inEnd) { errIn = <u32>(inPos - src); errValue = <u32>(inEnd - inPos); return UNUSED; }
  if (code != 0) { errIn = <u32>(inPos - src); return NONZERO; }
  return OK;
}
