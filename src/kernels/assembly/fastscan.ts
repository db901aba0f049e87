// 4-bit fast-scan (the design of Faiss's pq4_fast_scan, André et al. "Quicker ADC"): codes of 32
// rows packed per block so that one 16-byte load holds one sub-quantizer pair of 16 rows, the
// query's tables quantized to uint8 and held in registers, looked up with i8x16.swizzle, summed
// in uint16. The TS drivers and plain-TS references are in src/vectors/fastscan/kernels.ts; the
// layout is specified in src/vectors/fastscan/layout.ts:
//   block b (32 rows) starts at b·16·M2 (M2 = M rounded up to even); inside it, pair p
//   (sub-quantizers 2p, 2p+1) is 32 bytes, byte j = row j's code 2p (low nibble) | code 2p+1 << 4.
// The LUT is M2 × 16 bytes, table m at 16m (the padding table of an odd M is all zero).
//
// Sums are exact integers: each row's sum is ≤ 255·M2, which fits uint16 for M2 ≤ 256.

import { lo16, hi16 } from './_interleave';

export function heapBase(): usize {
  return __heap_base;
}

let next: i32 = 0;
/** The first block fsScan did not visit (it stops early when its output is nearly full). */
export function scanNext(): i32 {
  return next;
}

/**
 * The 32 uint16 sums of one block, stored in row order at dst (64 bytes, 16-byte aligned).
 * The byte lookups are added as uint16 lanes, each of which holds an even row in its low byte and
 * the next odd row in its high byte: `l` adds whole lanes (mod 2^16), `h` adds the high bytes only,
 * so the odd rows' sums are h and the even rows' are l − 256·h (exact mod 2^16, hence exact).
 * Three operations per lookup instead of two widenings and two adds.
 */
@inline function blockSums(lut: usize, codes: usize, M2: i32, dst: usize): void {
  const mask = i8x16.splat(15);
  let l0 = i16x8.splat(0), h0 = i16x8.splat(0), l1 = i16x8.splat(0), h1 = i16x8.splat(0);
  const pairs = M2 >> 1;
  for (let p = 0; p < pairs; p++) {
    const c = codes + (<usize>p << 5);
    const t = lut + (<usize>p << 5);
    const v0 = v128.load(c), v1 = v128.load(c, 16);
    const ta = v128.load(t), tb = v128.load(t, 16);
    const a0 = i8x16.swizzle(ta, v128.and(v0, mask));
    const b0 = i8x16.swizzle(tb, i8x16.shr_u(v0, 4));
    const a1 = i8x16.swizzle(ta, v128.and(v1, mask));
    const b1 = i8x16.swizzle(tb, i8x16.shr_u(v1, 4));
    l0 = i16x8.add(l0, i16x8.add(a0, b0));
    h0 = i16x8.add(h0, i16x8.add(i16x8.shr_u(a0, 8), i16x8.shr_u(b0, 8)));
    l1 = i16x8.add(l1, i16x8.add(a1, b1));
    h1 = i16x8.add(h1, i16x8.add(i16x8.shr_u(a1, 8), i16x8.shr_u(b1, 8)));
  }
  const e0 = i16x8.sub(l0, i16x8.shl(h0, 8));
  const e1 = i16x8.sub(l1, i16x8.shl(h1, 8));
  v128.store(dst, lo16(e0, h0));
  v128.store(dst, hi16(e0, h0), 16);
  v128.store(dst, lo16(e1, h1), 32);
  v128.store(dst, hi16(e1, h1), 48);
}

/** All sums of blocks [b0, b1): row 32b + j's sum at out + 2·(32(b − b0) + j). out 16-byte aligned. */
export function fsAccumulate(lut: usize, codes: usize, b0: i32, b1: i32, M2: i32, out: usize): void {
  const bb = <usize>(M2 << 4);
  for (let b = b0; b < b1; b++) {
    blockSums(lut, codes + <usize>b * bb, M2, out + (<usize>(b - b0) << 6));
  }
}

/**
 * Threshold scan of blocks [b0, b1) of a list of n rows: writes each row whose sum is ≤ `limit`
 * (0..65535) as (row, sum) to outRows (i32) / outSums (u16), in row order, and returns how many.
 * Rows ≥ n (padding of the last block) are never written. Stops after the block that leaves
 * fewer than 32 free slots of `cap` (cap ≥ 32), so the caller can tighten the limit; scanNext()
 * tells where to resume. The compare is SIMD (lt over 4 u16x8, narrowed to one bitmask per 32
 * rows); only set bits are visited.
 */
export function fsScan(lut: usize, codes: usize, b0: i32, b1: i32, M2: i32, n: i32, limit: i32, outRows: usize, outSums: usize, cap: i32, scratch: usize): i32 {
  const bb = <usize>(M2 << 4);
  const t = i16x8.splat(<i16>limit);
  let cnt = 0;
  let b = b0;
  while (b < b1) {
    blockSums(lut, codes + <usize>b * bb, M2, scratch);
    const m0 = i16x8.le_u(v128.load(scratch), t);
    const m1 = i16x8.le_u(v128.load(scratch, 16), t);
    const m2 = i16x8.le_u(v128.load(scratch, 32), t);
    const m3 = i16x8.le_u(v128.load(scratch, 48), t);
    let mask: u32 = <u32>i8x16.bitmask(i8x16.narrow_i16x8_s(m0, m1)) | (<u32>i8x16.bitmask(i8x16.narrow_i16x8_s(m2, m3)) << 16);
    const base = b << 5;
    const left = n - base;
    if (left < 32) mask &= (<u32>1 << <u32>left) - 1;
    while (mask != 0) {
      const j = <i32>ctz(mask);
      store<i32>(outRows + (<usize>cnt << 2), base + j);
      store<u16>(outSums + (<usize>cnt << 1), load<u16>(scratch + (<usize>j << 1)));
      cnt++;
      mask &= mask - 1;
    }
    b++;
    if (cnt > cap - 32) break;
  }
  next = b;
  return cnt;
}

/**
 * RaBitQ fast-scan bounds (src/vectors/fastscan/rabitq.ts): for blocks [b0, b1) the table sums s,
 * then per row, in f32 and in this order,
 *   t = off + s·inv,  e = dp·t,  key = ((A + α·|r|²) + β·⟨c,o−c⟩) + γ·e,  w = cε·err + cq·dp,
 *   lower = key − w,  upper = key + w,
 * with k = [A, α, β, γ, off, inv, cε, cq] at `consts` and the factors of block b at
 * factors + 512b as four runs of 32 f32 (|r|², dp, ⟨c,o−c⟩, err). Row 32b + j's bounds go to
 * lower/upper + 4·(32(b − b0) + j).
 */
export function fsBounds(lut: usize, codes: usize, factors: usize, b0: i32, b1: i32, M2: i32, consts: usize, lower: usize, upper: usize, scratch: usize): void {
  const bb = <usize>(M2 << 4);
  const A = f32x4.splat(load<f32>(consts)), al = f32x4.splat(load<f32>(consts, 4));
  const be = f32x4.splat(load<f32>(consts, 8)), ga = f32x4.splat(load<f32>(consts, 12));
  const off = f32x4.splat(load<f32>(consts, 16)), inv = f32x4.splat(load<f32>(consts, 20));
  const ce = f32x4.splat(load<f32>(consts, 24)), cq = f32x4.splat(load<f32>(consts, 28));
  for (let b = b0; b < b1; b++) {
    blockSums(lut, codes + <usize>b * bb, M2, scratch);
    const f = factors + (<usize>b << 9);
    const o = <usize>(b - b0) << 7;
    for (let g: usize = 0; g < 8; g++) {
      const s16 = v128.load(scratch + (g >> 1 << 4));
      const s = f32x4.convert_i32x4_u(g & 1 ? i32x4.extend_high_i16x8_u(s16) : i32x4.extend_low_i16x8_u(s16));
      const q = g << 4;
      const rn2 = v128.load(f + q), dp = v128.load(f + 128 + q), cd = v128.load(f + 256 + q), err = v128.load(f + 384 + q);
      const e = f32x4.mul(dp, f32x4.add(off, f32x4.mul(s, inv)));
      const key = f32x4.add(f32x4.add(f32x4.add(A, f32x4.mul(al, rn2)), f32x4.mul(be, cd)), f32x4.mul(ga, e));
      const w = f32x4.add(f32x4.mul(ce, err), f32x4.mul(cq, dp));
      v128.store(lower + o + q, f32x4.sub(key, w));
      v128.store(upper + o + q, f32x4.add(key, w));
    }
  }
}

// Table quantization (src/vectors/fastscan/lut.ts): nt tables of M sub-tables of 16 f32 each,
// contiguous; `sign` is 1 (l2) or −1 (ip). All arithmetic in f32, in the reference's order.

/** Writes each sub-table's minimum of sign·T to mins (nt·M f32) and returns the largest span
 * (max − min); NaN or ±Infinity in a table make the result non-finite. */
export function fsTableStats(tables: usize, nt: i32, M: i32, sign: f32, mins: usize): f32 {
  const s = f32x4.splat(sign);
  let span = f32x4.splat(0);
  const count = nt * M;
  for (let i = 0; i < count; i++) {
    const t = tables + (<usize>i << 6);
    const a = f32x4.mul(v128.load(t), s), b = f32x4.mul(v128.load(t, 16), s);
    const c = f32x4.mul(v128.load(t, 32), s), d = f32x4.mul(v128.load(t, 48), s);
    let lo = f32x4.min(f32x4.min(a, b), f32x4.min(c, d));
    let hi = f32x4.max(f32x4.max(a, b), f32x4.max(c, d));
    lo = f32x4.min(lo, i8x16.shuffle(lo, lo, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    lo = f32x4.min(lo, i8x16.shuffle(lo, lo, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
    hi = f32x4.max(hi, i8x16.shuffle(hi, hi, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    hi = f32x4.max(hi, i8x16.shuffle(hi, hi, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
    store<f32>(mins + (<usize>i << 2), f32x4.extract_lane(lo, 0));
    // f32x4.max propagates NaN, so a NaN span stays NaN.
    span = f32x4.max(span, f32x4.sub(hi, lo));
  }
  return f32x4.extract_lane(span, 0);
}

/** lut[16·(t·M2 + m) + j] = min(255, ⌊(sign·T − min) · scale + 0.5⌋) for every sub-table; the
 * padding sub-table of an odd M (m = M) is written as 0. */
export function fsQuantizeTables(tables: usize, nt: i32, M: i32, M2: i32, sign: f32, scale: f32, mins: usize, luts: usize): void {
  const s = f32x4.splat(sign), sc = f32x4.splat(scale), half = f32x4.splat(0.5);
  for (let t = 0; t < nt; t++) {
    for (let m = 0; m < M; m++) {
      const i = t * M + m;
      const src = tables + (<usize>i << 6);
      const lo = f32x4.splat(load<f32>(mins + (<usize>i << 2)));
      const q0 = i32x4.trunc_sat_f32x4_u(f32x4.add(f32x4.mul(f32x4.sub(f32x4.mul(v128.load(src), s), lo), sc), half));
      const q1 = i32x4.trunc_sat_f32x4_u(f32x4.add(f32x4.mul(f32x4.sub(f32x4.mul(v128.load(src, 16), s), lo), sc), half));
      const q2 = i32x4.trunc_sat_f32x4_u(f32x4.add(f32x4.mul(f32x4.sub(f32x4.mul(v128.load(src, 32), s), lo), sc), half));
      const q3 = i32x4.trunc_sat_f32x4_u(f32x4.add(f32x4.mul(f32x4.sub(f32x4.mul(v128.load(src, 48), s), lo), sc), half));
      // Unsigned saturating narrows clamp at 255.
      const w = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q0, q1), i16x8.narrow_i32x4_u(q2, q3));
      v128.store(luts + (<usize>(t * M2 + m) << 4), w);
    }
    if (M2 > M) v128.store(luts + (<usize>(t * M2 + M) << 4), i8x16.splat(0));
  }
}
