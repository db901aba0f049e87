// Compressed-domain distance kernels of the vector codecs: a float query against rows of codes,
// without decoding the rows. The TS driver and the plain-TS reference of every kernel are in
// src/vectors/codecs/vcodes.ts; the codecs (sq.ts, binary.ts, rabitq.ts) fold their per-query
// constants into the parameter arrays so that each kernel is one tight loop.
//
// All kernels read rows `cs` bytes apart and may read up to 16 bytes past the last byte they
// use (whole v128 or u64 loads); the driver reserves that slack, and pads the parameter arrays
// with zeros so that bytes beyond a row's own (the next row's, or slack) contribute exactly 0.

export function heapBase(): usize {
  return __heap_base;
}

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// Four f32x4 lanes from 16 unsigned bytes.
@inline
function widen0(v: v128): v128 {
  return f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v)));
}
@inline
function widen1(v: v128): v128 {
  return f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(i16x8.extend_low_i8x16_u(v)));
}
@inline
function widen2(v: v128): v128 {
  return f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_high_i8x16_u(v)));
}
@inline
function widen3(v: v128): v128 {
  return f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(i16x8.extend_high_i8x16_u(v)));
}

@inline
function sqdiff(acc: v128, a: usize, s: usize, c: v128): v128 {
  const t = f32x4.sub(v128.load(a), f32x4.mul(v128.load(s), c));
  return f32x4.add(acc, f32x4.mul(t, t));
}

@inline
function madd(acc: v128, w: usize, c: v128): v128 {
  return f32x4.add(acc, f32x4.mul(v128.load(w), c));
}

@inline
function sq8L2Row(a: usize, s: usize, row: usize, dPad: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  for (let j = 0; j < dPad; j += 16) {
    const v = v128.load(row + <usize>j);
    const o = <usize>(j << 2);
    acc0 = sqdiff(acc0, a + o, s + o, widen0(v));
    acc1 = sqdiff(acc1, a + o + 16, s + o + 16, widen1(v));
    acc0 = sqdiff(acc0, a + o + 32, s + o + 32, widen2(v));
    acc1 = sqdiff(acc1, a + o + 48, s + o + 48, widen3(v));
  }
  return hsum(f32x4.add(acc0, acc1));
}

@inline
function sq8DotRow(w: usize, row: usize, dPad: i32): f32 {
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
  for (let j = 0; j < dPad; j += 16) {
    const v = v128.load(row + <usize>j);
    const o = w + <usize>(j << 2);
    acc0 = madd(acc0, o, widen0(v));
    acc1 = madd(acc1, o + 16, widen1(v));
    acc0 = madd(acc0, o + 32, widen2(v));
    acc1 = madd(acc1, o + 48, widen3(v));
  }
  return hsum(f32x4.add(acc0, acc1));
}

/** out[i] = Σ_j (a[j] − s[j]·code_i[j])² over j < dPad (a multiple of 16), one byte per value. */
export function sq8L2(a: usize, s: usize, codes: usize, n: i32, cs: i32, dPad: i32, out: usize): void {
  for (let i = 0; i < n; i++) store<f32>(out + <usize>(i << 2), sq8L2Row(a, s, codes + <usize>(i * cs), dPad));
}

/** out[i] = Σ_j w[j]·code_i[j] over j < dPad (a multiple of 16), one byte per value. */
export function sq8Dot(w: usize, codes: usize, n: i32, cs: i32, dPad: i32, out: usize): void {
  for (let i = 0; i < n; i++) store<f32>(out + <usize>(i << 2), sq8DotRow(w, codes + <usize>(i * cs), dPad));
}

/** sq8L2 over listed rows: out[j] for the row at base + rows[j]·cs (rows: u32 indices). */
export function sq8L2Pick(a: usize, s: usize, base: usize, rows: usize, m: i32, cs: i32, dPad: i32, out: usize): void {
  for (let i = 0; i < m; i++) {
    const row = base + <usize>load<u32>(rows + (<usize>i << 2)) * <usize>cs;
    store<f32>(out + <usize>(i << 2), sq8L2Row(a, s, row, dPad));
  }
}

/** sq8Dot over listed rows, as sq8L2Pick. */
export function sq8DotPick(w: usize, base: usize, rows: usize, m: i32, cs: i32, dPad: i32, out: usize): void {
  for (let i = 0; i < m; i++) {
    const row = base + <usize>load<u32>(rows + (<usize>i << 2)) * <usize>cs;
    store<f32>(out + <usize>(i << 2), sq8DotRow(w, row, dPad));
  }
}

/**
 * 4-bit codes, two values per byte (Faiss layout: value 2t in the low nibble of byte t). Each
 * block of 16 bytes holds 32 values; the parameters are permuted per block by the driver so that
 * their first 16 floats go with the low nibbles and the next 16 with the high nibbles.
 * out[i] = Σ (a − s·value)² over bPad bytes (a multiple of 16).
 */
export function sq4L2(a: usize, s: usize, codes: usize, n: i32, cs: i32, bPad: i32, out: usize): void {
  const mask = i8x16.splat(15);
  for (let i = 0; i < n; i++) {
    const row = codes + <usize>(i * cs);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    for (let j = 0; j < bPad; j += 16) {
      const v = v128.load(row + <usize>j);
      const lo = v128.and(v, mask);
      const hi = i8x16.shr_u(v, 4);
      const o = <usize>(j << 3);
      acc0 = sqdiff(acc0, a + o, s + o, widen0(lo));
      acc1 = sqdiff(acc1, a + o + 16, s + o + 16, widen1(lo));
      acc0 = sqdiff(acc0, a + o + 32, s + o + 32, widen2(lo));
      acc1 = sqdiff(acc1, a + o + 48, s + o + 48, widen3(lo));
      acc0 = sqdiff(acc0, a + o + 64, s + o + 64, widen0(hi));
      acc1 = sqdiff(acc1, a + o + 80, s + o + 80, widen1(hi));
      acc0 = sqdiff(acc0, a + o + 96, s + o + 96, widen2(hi));
      acc1 = sqdiff(acc1, a + o + 112, s + o + 112, widen3(hi));
    }
    store<f32>(out + <usize>(i << 2), hsum(f32x4.add(acc0, acc1)));
  }
}

/** 4-bit codes as in sq4L2; out[i] = Σ w·value. */
export function sq4Dot(w: usize, codes: usize, n: i32, cs: i32, bPad: i32, out: usize): void {
  const mask = i8x16.splat(15);
  for (let i = 0; i < n; i++) {
    const row = codes + <usize>(i * cs);
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    for (let j = 0; j < bPad; j += 16) {
      const v = v128.load(row + <usize>j);
      const lo = v128.and(v, mask);
      const hi = i8x16.shr_u(v, 4);
      const o = w + <usize>(j << 3);
      acc0 = madd(acc0, o, widen0(lo));
      acc1 = madd(acc1, o + 16, widen1(lo));
      acc0 = madd(acc0, o + 32, widen2(lo));
      acc1 = madd(acc1, o + 48, widen3(lo));
      acc0 = madd(acc0, o + 64, widen0(hi));
      acc1 = madd(acc1, o + 80, widen1(hi));
      acc0 = madd(acc0, o + 96, widen2(hi));
      acc1 = madd(acc1, o + 112, widen3(hi));
    }
    store<f32>(out + <usize>(i << 2), hsum(f32x4.add(acc0, acc1)));
  }
}

/**
 * Lookup-table sums over byte codes: out[i] = Σ_{j<m} T[j·256 + code_i[j]]. With a table built
 * from the query this is the asymmetric distance to sign codes (binary, RaBitQ 1-bit): each byte
 * carries 8 dimensions, so one load replaces 8 multiply-adds. Four accumulators hide load latency.
 */
export function lut8(t: usize, codes: usize, n: i32, cs: i32, m: i32, out: usize): void {
  for (let i = 0; i < n; i++) {
    const row = codes + <usize>(i * cs);
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const tj = t + <usize>(j << 10);
      s0 += load<f32>(tj + (<usize>load<u8>(row + <usize>j) << 2));
      s1 += load<f32>(tj + 1024 + (<usize>load<u8>(row + <usize>j + 1) << 2));
      s2 += load<f32>(tj + 2048 + (<usize>load<u8>(row + <usize>j + 2) << 2));
      s3 += load<f32>(tj + 3072 + (<usize>load<u8>(row + <usize>j + 3) << 2));
    }
    for (; j < m; j++) s0 += load<f32>(t + <usize>(j << 10) + (<usize>load<u8>(row + <usize>j) << 2));
    store<f32>(out + <usize>(i << 2), (s0 + s1) + (s2 + s3));
  }
}

/** Hamming distances: out[i] = popcount(q XOR code_i) over m bytes (exact integers). */
export function hamming(q: usize, codes: usize, n: i32, cs: i32, m: i32, out: usize): void {
  const m16 = m & ~15;
  for (let i = 0; i < n; i++) {
    const row = codes + <usize>(i * cs);
    let acc = i16x8.splat(0);
    let j = 0;
    // i8x16.popcnt gives ≤ 8 per lane; pairwise-add into u16 lanes, which cannot overflow
    // before 4096 blocks (64 KiB per code, far above any code size we produce).
    for (; j < m16; j += 16) {
      const x = v128.xor(v128.load(q + <usize>j), v128.load(row + <usize>j));
      acc = i16x8.add(acc, i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(x)));
    }
    const w = i32x4.extadd_pairwise_i16x8_u(acc);
    let total: i32 = i32x4.extract_lane(w, 0) + i32x4.extract_lane(w, 1) + i32x4.extract_lane(w, 2) + i32x4.extract_lane(w, 3);
    for (; j + 8 <= m; j += 8) total += <i32>popcnt<u64>(load<u64>(q + <usize>j) ^ load<u64>(row + <usize>j));
    for (; j < m; j++) total += popcnt<i32>(<i32>(load<u8>(q + <usize>j) ^ load<u8>(row + <usize>j)));
    store<u32>(out + <usize>(i << 2), <u32>total);
  }
}

/**
 * Extended RaBitQ inner product: out[i] = Σ_{k<d} q[k]·((sign_k << B) + ex_k + cb), where the
 * sign bits start at the row and the B-bit ex codes (LSB-first bit packing) at row + exOff.
 * Reads one unaligned u64 per value, so the driver reserves 8 bytes of slack.
 */
export function rabitqEx(q: usize, codes: usize, n: i32, cs: i32, d: i32, exBits: i32, exOff: i32, cb: f32, out: usize): void {
  const mask: u64 = (<u64>1 << <u64>exBits) - 1;
  for (let i = 0; i < n; i++) {
    const row = codes + <usize>(i * cs);
    const ex = row + <usize>exOff;
    let s0: f32 = 0, s1: f32 = 0;
    let pos: i32 = 0;
    let k = 0;
    for (; k + 2 <= d; k += 2) {
      const sb0 = (<i32>load<u8>(row + <usize>(k >> 3)) >> (k & 7)) & 1;
      const v0 = <i32>((load<u64>(ex + <usize>(pos >> 3)) >> <u64>(pos & 7)) & mask);
      pos += exBits;
      const k1 = k + 1;
      const sb1 = (<i32>load<u8>(row + <usize>(k1 >> 3)) >> (k1 & 7)) & 1;
      const v1 = <i32>((load<u64>(ex + <usize>(pos >> 3)) >> <u64>(pos & 7)) & mask);
      pos += exBits;
      s0 += load<f32>(q + <usize>(k << 2)) * (<f32>((sb0 << exBits) + v0) + cb);
      s1 += load<f32>(q + <usize>(k1 << 2)) * (<f32>((sb1 << exBits) + v1) + cb);
    }
    if (k < d) {
      const sb = (<i32>load<u8>(row + <usize>(k >> 3)) >> (k & 7)) & 1;
      const v = <i32>((load<u64>(ex + <usize>(pos >> 3)) >> <u64>(pos & 7)) & mask);
      s0 += load<f32>(q + <usize>(k << 2)) * (<f32>((sb << exBits) + v) + cb);
    }
    store<f32>(out + <usize>(i << 2), s0 + s1);
  }
}
