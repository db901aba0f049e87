// Lookup-table scans over product / residual quantizer codes: out[i] = Σ_{m<M} T_m[code_i[m]],
// where code_i[m] is the m-th nbits-bit field of row i (LSB-first bit string, Faiss's
// PQEncoderGeneric / BitstringWriter layout) and T_m the query's table for sub-quantizer m.
// The TS drivers and plain-TS references are in src/vectors/codecs/pq.ts. (8-bit codes, one byte
// per sub-quantizer, use the lut8 kernel of vcodes.ts.)
//
// Both kernels add the M table values of a row in order m = 0, 1, ... in f32, exactly as the
// references do, so results are equal bit for bit.

import { lo8, hi8, lo16, hi16, lo32, hi32, lo64, hi64 } from './_interleave';

export function heapBase(): usize {
  return __heap_base;
}

// Transposes the 16×16 byte block whose row k is the 16 bytes at src + k·stride, and stores
// column j (byte j of rows 0..15) at dst + 16·j. Four rounds of 16 interleaves.
@inline function transpose16(src: usize, stride: usize, dst: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + stride);
  const r2 = v128.load(src + 2 * stride), r3 = v128.load(src + 3 * stride);
  const r4 = v128.load(src + 4 * stride), r5 = v128.load(src + 5 * stride);
  const r6 = v128.load(src + 6 * stride), r7 = v128.load(src + 7 * stride);
  const r8 = v128.load(src + 8 * stride), r9 = v128.load(src + 9 * stride);
  const r10 = v128.load(src + 10 * stride), r11 = v128.load(src + 11 * stride);
  const r12 = v128.load(src + 12 * stride), r13 = v128.load(src + 13 * stride);
  const r14 = v128.load(src + 14 * stride), r15 = v128.load(src + 15 * stride);
  // Round 1: byte pairs of rows (2p, 2p+1); a* hold bytes 0..7, b* bytes 8..15.
  const a0 = lo8(r0, r1), b0 = hi8(r0, r1), a1 = lo8(r2, r3), b1 = hi8(r2, r3);
  const a2 = lo8(r4, r5), b2 = hi8(r4, r5), a3 = lo8(r6, r7), b3 = hi8(r6, r7);
  const a4 = lo8(r8, r9), b4 = hi8(r8, r9), a5 = lo8(r10, r11), b5 = hi8(r10, r11);
  const a6 = lo8(r12, r13), b6 = hi8(r12, r13), a7 = lo8(r14, r15), b7 = hi8(r14, r15);
  // Round 2: groups of 4 rows; c* bytes 0..3 / 8..11, e* bytes 4..7 / 12..15.
  const c0 = lo16(a0, a1), e0 = hi16(a0, a1), c1 = lo16(a2, a3), e1 = hi16(a2, a3);
  const c2 = lo16(a4, a5), e2 = hi16(a4, a5), c3 = lo16(a6, a7), e3 = hi16(a6, a7);
  const c4 = lo16(b0, b1), e4 = hi16(b0, b1), c5 = lo16(b2, b3), e5 = hi16(b2, b3);
  const c6 = lo16(b4, b5), e6 = hi16(b4, b5), c7 = lo16(b6, b7), e7 = hi16(b6, b7);
  // Round 3: groups of 8 rows, two bytes per vector.
  const g0 = lo32(c0, c1), g1 = hi32(c0, c1), g2 = lo32(c2, c3), g3 = hi32(c2, c3);
  const g4 = lo32(e0, e1), g5 = hi32(e0, e1), g6 = lo32(e2, e3), g7 = hi32(e2, e3);
  const g8 = lo32(c4, c5), g9 = hi32(c4, c5), g10 = lo32(c6, c7), g11 = hi32(c6, c7);
  const g12 = lo32(e4, e5), g13 = hi32(e4, e5), g14 = lo32(e6, e7), g15 = hi32(e6, e7);
  // Round 4: all 16 rows of one byte per vector.
  v128.store(dst, lo64(g0, g2));
  v128.store(dst + 16, hi64(g0, g2));
  v128.store(dst + 32, lo64(g1, g3));
  v128.store(dst + 48, hi64(g1, g3));
  v128.store(dst + 64, lo64(g4, g6));
  v128.store(dst + 80, hi64(g4, g6));
  v128.store(dst + 96, lo64(g5, g7));
  v128.store(dst + 112, hi64(g5, g7));
  v128.store(dst + 128, lo64(g8, g10));
  v128.store(dst + 144, hi64(g8, g10));
  v128.store(dst + 160, lo64(g9, g11));
  v128.store(dst + 176, hi64(g9, g11));
  v128.store(dst + 192, lo64(g12, g14));
  v128.store(dst + 208, hi64(g12, g14));
  v128.store(dst + 224, lo64(g13, g15));
  v128.store(dst + 240, hi64(g13, g15));
}

/**
 * 4-bit codes (value m in the low nibble of byte m/2 for even m, the high nibble for odd m),
 * 16 rows at a time; n must be a multiple of 16 (the driver pads). `planes` holds each 16-entry
 * float table as four byte planes: byte b of entry k of table m at planes + 64m + 16b + k. A
 * swizzle of each plane by 16 nibbles (one per row) gathers the 16 floats' bytes; three rounds of
 * interleaves put them back together as 4 f32x4 (rows 0-3, 4-7, 8-11, 12-15), exactly.
 * Rows are read 16 bytes at a time, so up to 15 bytes past a row's last code byte (the driver
 * reserves slack); nibbles m ≥ M are never used. `scratch` holds 256 bytes.
 */
export function pq4Scan(planes: usize, codes: usize, n: i32, cs: i32, M: i32, scratch: usize, out: usize): void {
  const mask = i8x16.splat(15);
  const stride = <usize>cs;
  for (let i = 0; i < n; i += 16) {
    const rows = codes + <usize>i * stride;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let m0 = 0; m0 < M; m0 += 32) {
      transpose16(rows + <usize>(m0 >> 1), stride, scratch);
      const mEnd = min(M, m0 + 32);
      for (let m = m0; m < mEnd; m++) {
        const col = v128.load(scratch + <usize>((m - m0) >> 1) * 16);
        const idx = m & 1 ? i8x16.shr_u(col, 4) : v128.and(col, mask);
        const p = planes + (<usize>m << 6);
        const b0 = i8x16.swizzle(v128.load(p), idx);
        const b1 = i8x16.swizzle(v128.load(p, 16), idx);
        const b2 = i8x16.swizzle(v128.load(p, 32), idx);
        const b3 = i8x16.swizzle(v128.load(p, 48), idx);
        const l01 = lo8(b0, b1), l23 = lo8(b2, b3), h01 = hi8(b0, b1), h23 = hi8(b2, b3);
        a0 = f32x4.add(a0, lo16(l01, l23));
        a1 = f32x4.add(a1, hi16(l01, l23));
        a2 = f32x4.add(a2, lo16(h01, h23));
        a3 = f32x4.add(a3, hi16(h01, h23));
      }
    }
    const o = out + (<usize>i << 2);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
}

/**
 * Any width from 1 to 24 bits: field m of a row is bits [m·nbits, (m+1)·nbits) of the row's
 * LSB-first bit string, read with one unaligned u32 load (up to 3 bytes past the row's last code
 * byte). Table m starts at t + 4·m·ksub.
 */
export function pqBitsScan(t: usize, codes: usize, n: i32, cs: i32, M: i32, nbits: i32, out: usize): void {
  const mask: u32 = (<u32>1 << <u32>nbits) - 1;
  const ksub4 = <usize>(1 << nbits) << 2;
  for (let i = 0; i < n; i++) {
    const row = codes + <usize>i * <usize>cs;
    let acc: f32 = 0;
    let pos: u32 = 0;
    let tm = t;
    for (let m = 0; m < M; m++) {
      const v = (load<u32>(row + <usize>(pos >> 3)) >> (pos & 7)) & mask;
      acc += load<f32>(tm + (<usize>v << 2));
      pos += <u32>nbits;
      tm += ksub4;
    }
    store<f32>(out + (<usize>i << 2), acc);
  }
}

/**
 * out[i] = pre[i] − 2·qt[i] for i < n: an IVF-PQ list's lookup table from its precomputed term
 * and the query's inner-product table (f32 arithmetic, as the TS reference
 * combineTableReference in src/vectors/index/resident-pq.ts).
 */
export function combineTable(qt: usize, pre: usize, n: i32, out: usize): void {
  const two = f32x4.splat(2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.sub(v128.load(pre + o), f32x4.mul(two, v128.load(qt + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(pre + o) - <f32>2 * load<f32>(qt + o));
  }
}

/**
 * The byte planes pq4Scan reads, from M tables of 16 floats at t: byte b of entry k of table m
 * goes to out + 64m + 16b + k (nibblePlanes in src/vectors/codecs/pq.ts).
 */
export function planesOf(t: usize, M: i32, out: usize): void {
  // A 16×4 byte transpose per table: gather byte b of the 16 floats with one swizzle per quad.
  const pick0 = i8x16(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (let m = 0; m < M; m++) {
    const src = t + (<usize>m << 6);
    const dst = out + (<usize>m << 6);
    // Each quad of 4 floats becomes [b0 of 4][b1 of 4][b2 of 4][b3 of 4].
    const q0 = i8x16.swizzle(v128.load(src), pick0);
    const q1 = i8x16.swizzle(v128.load(src, 16), pick0);
    const q2 = i8x16.swizzle(v128.load(src, 32), pick0);
    const q3 = i8x16.swizzle(v128.load(src, 48), pick0);
    // Interleave 32-bit lanes: plane b = lane b of q0, q1, q2, q3.
    const l01 = i8x16.shuffle(q0, q1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const h01 = i8x16.shuffle(q0, q1, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    const l23 = i8x16.shuffle(q2, q3, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const h23 = i8x16.shuffle(q2, q3, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    v128.store(dst, i8x16.shuffle(l01, l23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    v128.store(dst, i8x16.shuffle(l01, l23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 16);
    v128.store(dst, i8x16.shuffle(h01, h23, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), 32);
    v128.store(dst, i8x16.shuffle(h01, h23, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31), 48);
  }
}
