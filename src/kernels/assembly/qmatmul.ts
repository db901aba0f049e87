// Products of float activations with group-quantized weights read in their packed form (no fp32
// copy of W): integer codes at 8, 6, 5, 4, 3 or 2 bits with an fp16 scale per (row, group) and a
// zero point that is a constant (symmetric), a u8 or an fp16 number per (row, group):
//   y[r] = sum_g s[r,g] * (sum_{c in g} q[r,c] * x[c] - z[r,g] * sum_{c in g} x[c]),
// and value-table codes (a table of 2^bits fp16 values per row or per (row, group); weight = T[q]).
// Codes are bit-packed per row, least significant bits first (code c at bits c*bits.. of the row's
// little-endian bit stream), each row starting on a byte (rowBytes apart). Groups are multiples of
// 32, so every 16-code step starts on a byte (16 codes = 2*bits bytes). Unpacking is SIMD:
//   8-bit: one load; 4-bit: v128.and / i8x16.shr_u nibble split and an interleave;
//   2/3/5/6-bit: i8x16.swizzle gathers the two bytes that hold each code into a 16-bit lane,
//   i16x8.mul by 2^(16 - shift - bits) moves the code to the top (a per-lane left shift), and
//   i16x8.shr_u by 16 - bits brings it down.
// Table values are looked up with i8x16.swizzle on the table's four f32 byte planes.
// Loads may read up to 16 bytes past a row's end; callers leave that slack after the last row.
// The TS drivers and the plain-TS references are src/tensors/quant/qmatvec.ts, table.ts, qmatmul.ts.

export function heapBase(): usize {
  return __heap_base;
}

// Per bit width 2, 3, 5, 6: swizzle indices for codes 0..7 and 8..15 (byte pairs) and the 16-bit
// multipliers 2^(16 - shift - bits) (generated from bit = j * bits, byte = bit >> 3, shift = bit & 7).
const UNPACK = memory.data<u8>([
  0, 1, 0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 1, 2, 2, 3, 2, 3, 2, 3, 2, 3, 3, 4, 3, 4, 3, 4, 3, 4, 0, 64, 0, 16, 0, 4, 0, 1, 0, 64, 0, 16, 0, 4, 0, 1,
  0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 2, 3, 2, 3, 3, 4, 3, 4, 3, 4, 4, 5, 4, 5, 4, 5, 5, 6, 5, 6, 0, 32, 0, 4, 128, 0, 0, 16, 0, 2, 64, 0, 0, 8, 0, 1,
  0, 1, 0, 1, 1, 2, 1, 2, 2, 3, 3, 4, 3, 4, 4, 5, 5, 6, 5, 6, 6, 7, 6, 7, 7, 8, 8, 9, 8, 9, 9, 10, 0, 8, 64, 0, 0, 2, 16, 0, 128, 0, 0, 4, 32, 0, 0, 1,
  0, 1, 0, 1, 1, 2, 2, 3, 3, 4, 3, 4, 4, 5, 5, 6, 6, 7, 6, 7, 7, 8, 8, 9, 9, 10, 9, 10, 10, 11, 11, 12, 0, 4, 16, 0, 64, 0, 0, 1, 0, 4, 16, 0, 64, 0, 0, 1,
], 16);

@inline
function unpackTable(bits: u32): usize {
  return UNPACK + 48 * <usize>(bits == 2 ? 0 : bits == 3 ? 1 : bits == 5 ? 2 : 3);
}

@inline
function f16ToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e == 0) {
    const v = <f32>m * 5.9604644775390625e-8; // m * 2^-24
    return sign ? -v : v;
  }
  if (e == 31) return reinterpret<f32>(sign | 0x7f800000 | (m << 13));
  return reinterpret<f32>(sign | ((e + 112) << 23) | (m << 13));
}

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// 16 codes starting at code c of a row (c a multiple of 16), as u8 lanes in element order.
// iLo / iHi / mul: the generic unpack constants (unused for 8 and 4 bits).
@inline
function unpack16(row: usize, c: usize, bits: u32, iLo: v128, iHi: v128, mul: v128): v128 {
  if (bits == 8) return v128.load(row + c);
  if (bits == 4) {
    const b = v128.load64_zero(row + (c >> 1));
    const m = i8x16.splat(0x0f);
    return i8x16.shuffle(v128.and(b, m), i8x16.shr_u(b, 4), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  }
  const v = v128.load(row + ((c * <usize>bits) >> 3));
  const lo = i16x8.shr_u(i16x8.mul(i8x16.swizzle(v, iLo), mul), 16 - bits);
  const hi = i16x8.shr_u(i16x8.mul(i8x16.swizzle(v, iHi), mul), 16 - bits);
  return i8x16.narrow_i16x8_u(lo, hi);
}

// Code c of a row, scalar (tails).
@inline
function codeAt(row: usize, c: usize, bits: u32): u32 {
  if (bits == 8) return load<u8>(row + c);
  const bit = c * <usize>bits;
  const word = <u32>load<u8>(row + (bit >> 3)) | (<u32>load<u8>(row + (bit >> 3) + 1) << 8);
  return (word >> <u32>(bit & 7)) & ((1 << bits) - 1);
}

// 16 u8 codes (element order) times x[c..c+16), added to acc. The signed conversion is exact for
// codes < 2^31 and is one instruction on x86, where the unsigned one is a sequence.
@inline
function madd16(acc: v128, q: v128, x: usize): v128 {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  const q0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo));
  const q1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo));
  const q2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi));
  const q3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi));
  acc = f32x4.add(acc, f32x4.mul(q0, v128.load(x, 0)));
  acc = f32x4.add(acc, f32x4.mul(q1, v128.load(x, 16)));
  acc = f32x4.add(acc, f32x4.mul(q2, v128.load(x, 32)));
  return f32x4.add(acc, f32x4.mul(q3, v128.load(x, 48)));
}

/** Sums of x over each group (nGroups = ceil(cols / group)) into gs. */
function groupSums(x: usize, cols: usize, group: usize, gs: usize): void {
  for (let c0: usize = 0, g: usize = 0; c0 < cols; c0 += group, g++) {
    const c1 = min(cols, c0 + group);
    let s: f32 = 0;
    for (let c = c0; c < c1; c++) s += load<f32>(x + (c << 2));
    store<f32>(gs + (g << 2), s);
  }
}

// Zero point of group i: 0 = the constant symZero, 1 = u8 per group, 2 = fp16 per group.
@inline
function zeroOf(zeros: usize, zeroKind: u32, symZero: f32, i: usize): f32 {
  if (zeroKind == 1) return <f32>load<u8>(zeros + i);
  if (zeroKind == 2) return f16ToF32(load<u16>(zeros + (i << 1)));
  return symZero;
}

// Two rows at a time share the loads of x; `bits` is a constant after inlining.
@inline
function qmatvecBits(
  bits: u32, codes: usize, rowBytes: usize, scales: usize, zeros: usize, zeroKind: u32, symZero: f32,
  rows: usize, cols: usize, group: usize, x: usize, gs: usize, out: usize,
): void {
  groupSums(x, cols, group, gs);
  const nG = (cols + group - 1) / group;
  const t = unpackTable(bits);
  const iLo = v128.load(t), iHi = v128.load(t, 16), mul = v128.load(t, 32);
  let r: usize = 0;
  for (; r + 2 <= rows; r += 2) {
    const row0 = codes + r * rowBytes, row1 = row0 + rowBytes;
    let y0: f32 = 0, y1: f32 = 0;
    for (let g: usize = 0; g < nG; g++) {
      const c0 = g * group, c1 = min(cols, c0 + group);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      let c = c0;
      for (; c + 16 <= c1; c += 16) {
        const xp = x + (c << 2);
        a0 = madd16(a0, unpack16(row0, c, bits, iLo, iHi, mul), xp);
        a1 = madd16(a1, unpack16(row1, c, bits, iLo, iHi, mul), xp);
      }
      let d0 = hsum(a0), d1 = hsum(a1);
      for (; c < c1; c++) {
        const xv = load<f32>(x + (c << 2));
        d0 += <f32>codeAt(row0, c, bits) * xv;
        d1 += <f32>codeAt(row1, c, bits) * xv;
      }
      const i = r * nG + g, sg = load<f32>(gs + (g << 2));
      y0 += f16ToF32(load<u16>(scales + (i << 1))) * (d0 - zeroOf(zeros, zeroKind, symZero, i) * sg);
      y1 += f16ToF32(load<u16>(scales + ((i + nG) << 1))) * (d1 - zeroOf(zeros, zeroKind, symZero, i + nG) * sg);
    }
    store<f32>(out + (r << 2), y0);
    store<f32>(out + ((r + 1) << 2), y1);
  }
  if (r < rows) {
    const row0 = codes + r * rowBytes;
    let y0: f32 = 0;
    for (let g: usize = 0; g < nG; g++) {
      const c0 = g * group, c1 = min(cols, c0 + group);
      let a0 = f32x4.splat(0);
      let c = c0;
      for (; c + 16 <= c1; c += 16) a0 = madd16(a0, unpack16(row0, c, bits, iLo, iHi, mul), x + (c << 2));
      let d0 = hsum(a0);
      for (; c < c1; c++) d0 += <f32>codeAt(row0, c, bits) * load<f32>(x + (c << 2));
      const i = r * nG + g;
      y0 += f16ToF32(load<u16>(scales + (i << 1))) * (d0 - zeroOf(zeros, zeroKind, symZero, i) * load<f32>(gs + (g << 2)));
    }
    store<f32>(out + (r << 2), y0);
  }
}

/** y = W_q x for integer codes of `bits` (8, 6, 5, 4, 3, 2); gs: scratch of ceil(cols/group) floats. */
export function qmatvec(
  bits: u32, codes: usize, rowBytes: usize, scales: usize, zeros: usize, zeroKind: u32, symZero: f32,
  rows: usize, cols: usize, group: usize, x: usize, gs: usize, out: usize,
): void {
  if (bits == 8) qmatvecBits(8, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, x, gs, out);
  else if (bits == 6) qmatvecBits(6, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, x, gs, out);
  else if (bits == 5) qmatvecBits(5, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, x, gs, out);
  else if (bits == 4) qmatvecBits(4, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, x, gs, out);
  else if (bits == 3) qmatvecBits(3, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, x, gs, out);
  else qmatvecBits(2, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, x, gs, out);
}

// ---- value tables ----------------------------------------------------------------------------

// Expands table `tab` (2^bits fp16 values) to f32 at f[0..16) (unused slots zero) and to its four
// byte planes at f + 64 + 16 j (lane e of plane j = byte j of entry e), which swizzle looks up.
@inline
function expandTable(tab: usize, bits: u32, f: usize): void {
  const n: usize = 1 << bits;
  for (let e: usize = 0; e < 16; e++) {
    const v: f32 = e < n ? f16ToF32(load<u16>(tab + (e << 1))) : 0;
    const u = reinterpret<u32>(v);
    store<f32>(f + (e << 2), v);
    store<u8>(f + 64 + e, u);
    store<u8>(f + 80 + e, u >> 8);
    store<u8>(f + 96 + e, u >> 16);
    store<u8>(f + 112 + e, u >> 24);
  }
}

// Table values of 16 codes q (u8 lanes < 16), multiplied by x[c..c+16) and added to acc: the four
// byte planes are looked up with swizzle and re-interleaved into f32 lanes.
@inline
function tmadd16(acc: v128, q: v128, p0: v128, p1: v128, p2: v128, p3: v128, x: usize): v128 {
  const b0 = i8x16.swizzle(p0, q), b1 = i8x16.swizzle(p1, q), b2 = i8x16.swizzle(p2, q), b3 = i8x16.swizzle(p3, q);
  const l01 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const h01 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const l23 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const h23 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v0 = i8x16.shuffle(l01, l23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const v1 = i8x16.shuffle(l01, l23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const v2 = i8x16.shuffle(h01, h23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const v3 = i8x16.shuffle(h01, h23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  acc = f32x4.add(acc, f32x4.mul(v0, v128.load(x, 0)));
  acc = f32x4.add(acc, f32x4.mul(v1, v128.load(x, 16)));
  acc = f32x4.add(acc, f32x4.mul(v2, v128.load(x, 32)));
  return f32x4.add(acc, f32x4.mul(v3, v128.load(x, 48)));
}

@inline
function qtabvecBits(
  bits: u32, codes: usize, rowBytes: usize, tables: usize, tableCols: usize,
  rows: usize, cols: usize, x: usize, f: usize, out: usize,
): void {
  const nT = (cols + tableCols - 1) / tableCols, tabBytes: usize = 2 << bits;
  const t = unpackTable(bits);
  const iLo = v128.load(t), iHi = v128.load(t, 16), mul = v128.load(t, 32);
  for (let r: usize = 0; r < rows; r++) {
    const row = codes + r * rowBytes;
    let y: f32 = 0;
    for (let g: usize = 0; g < nT; g++) {
      expandTable(tables + (r * nT + g) * tabBytes, bits, f);
      const p0 = v128.load(f, 64), p1 = v128.load(f, 80), p2 = v128.load(f, 96), p3 = v128.load(f, 112);
      const c0 = g * tableCols, c1 = min(cols, c0 + tableCols);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      let c = c0;
      for (; c + 32 <= c1; c += 32) {
        a0 = tmadd16(a0, unpack16(row, c, bits, iLo, iHi, mul), p0, p1, p2, p3, x + (c << 2));
        a1 = tmadd16(a1, unpack16(row, c + 16, bits, iLo, iHi, mul), p0, p1, p2, p3, x + ((c + 16) << 2));
      }
      for (; c + 16 <= c1; c += 16) a0 = tmadd16(a0, unpack16(row, c, bits, iLo, iHi, mul), p0, p1, p2, p3, x + (c << 2));
      let d = hsum(f32x4.add(a0, a1));
      for (; c < c1; c++) d += load<f32>(f + (<usize>codeAt(row, c, bits) << 2)) * load<f32>(x + (c << 2));
      y += d;
    }
    store<f32>(out + (r << 2), y);
  }
}

/**
 * y = T[q] x for value-table codes of `bits` (4, 3, 2): one table of 2^bits fp16 values per
 * `tableCols` columns of a row (tableCols = the row length for one table per row; else a multiple
 * of 32). f: 128 bytes of scratch.
 */
export function qtabvec(
  bits: u32, codes: usize, rowBytes: usize, tables: usize, tableCols: usize,
  rows: usize, cols: usize, x: usize, f: usize, out: usize,
): void {
  if (bits == 4) qtabvecBits(4, codes, rowBytes, tables, tableCols, rows, cols, x, f, out);
  else if (bits == 3) qtabvecBits(3, codes, rowBytes, tables, tableCols, rows, cols, x, f, out);
  else qtabvecBits(2, codes, rowBytes, tables, tableCols, rows, cols, x, f, out);
}

// ---- matrix x matrix -------------------------------------------------------------------------

// Dots of the `len` floats at w with 4 vectors (x, x + stride, ...), into d[0..4).
@inline
function dot4(w: usize, len: usize, x: usize, stride: usize, d: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
  let c: usize = 0;
  for (; c + 4 <= len; c += 4) {
    const o = c << 2, wv = v128.load(w + o);
    a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(x + o)));
    a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(x1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(x2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(x3 + o)));
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (; c < len; c++) {
    const o = c << 2, wv = load<f32>(w + o);
    s0 += wv * load<f32>(x + o);
    s1 += wv * load<f32>(x1 + o);
    s2 += wv * load<f32>(x2 + o);
    s3 += wv * load<f32>(x3 + o);
  }
  store<f32>(d, s0);
  store<f32>(d, s1, 4);
  store<f32>(d, s2, 8);
  store<f32>(d, s3, 12);
}

@inline
function dot1(w: usize, len: usize, x: usize): f32 {
  let a = f32x4.splat(0);
  let c: usize = 0;
  for (; c + 4 <= len; c += 4) a = f32x4.add(a, f32x4.mul(v128.load(w + (c << 2)), v128.load(x + (c << 2))));
  let s = hsum(a);
  for (; c < len; c++) s += load<f32>(w + (c << 2)) * load<f32>(x + (c << 2));
  return s;
}

// Dots of one unpacked segment w[0..len) with n vectors of X (rows cols apart) at column c0:
// into d[0..n).
@inline
function dotsN(w: usize, len: usize, xs: usize, cols: usize, c0: usize, n: usize, d: usize): void {
  const stride = cols << 2;
  let j: usize = 0;
  for (; j + 4 <= n; j += 4) dot4(w, len, xs + j * stride + (c0 << 2), stride, d + (j << 2));
  for (; j < n; j++) store<f32>(d + (j << 2), dot1(w, len, xs + j * stride + (c0 << 2)));
}

// Integer codes c0..c0+len of a row as f32 at w (c0 a multiple of 16).
@inline
function unpackInts(bits: u32, row: usize, c0: usize, len: usize, iLo: v128, iHi: v128, mul: v128, w: usize): void {
  let c: usize = 0;
  for (; c + 16 <= len; c += 16) {
    const q = unpack16(row, c0 + c, bits, iLo, iHi, mul);
    const lo = i16x8.extend_low_i8x16_u(q), hi = i16x8.extend_high_i8x16_u(q), o = w + (c << 2);
    v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(lo)));
    v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(lo)), 16);
    v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(hi)), 32);
    v128.store(o, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(hi)), 48);
  }
  for (; c < len; c++) store<f32>(w + (c << 2), <f32>codeAt(row, c0 + c, bits));
}

@inline
function qmatmulBits(
  bits: u32, codes: usize, rowBytes: usize, scales: usize, zeros: usize, zeroKind: u32, symZero: f32,
  rows: usize, cols: usize, group: usize, xs: usize, n: usize, gs: usize, w: usize, d: usize, out: usize,
): void {
  const nG = (cols + group - 1) / group;
  for (let j: usize = 0; j < n; j++) groupSums(xs + j * (cols << 2), cols, group, gs + j * (nG << 2));
  const t = unpackTable(bits);
  const iLo = v128.load(t), iHi = v128.load(t, 16), mul = v128.load(t, 32);
  for (let r: usize = 0; r < rows; r++) {
    const row = codes + r * rowBytes;
    for (let j: usize = 0; j < n; j++) store<f32>(out + ((j * rows + r) << 2), 0);
    for (let g: usize = 0; g < nG; g++) {
      const c0 = g * group, len = min(cols, c0 + group) - c0;
      unpackInts(bits, row, c0, len, iLo, iHi, mul, w);
      dotsN(w, len, xs, cols, c0, n, d);
      const i = r * nG + g;
      const s = f16ToF32(load<u16>(scales + (i << 1))), z = zeroOf(zeros, zeroKind, symZero, i);
      for (let j: usize = 0; j < n; j++) {
        const o = out + ((j * rows + r) << 2);
        store<f32>(o, load<f32>(o) + s * (load<f32>(d + (j << 2)) - z * load<f32>(gs + ((j * nG + g) << 2))));
      }
    }
  }
}

/**
 * Y = X W_q^T for n row-major input vectors X (n x cols) into Y (n x rows): each group of a row is
 * unpacked once to f32 scratch (w: group floats) and dotted with all n vectors, so the codes are
 * read once per product. gs: n * ceil(cols/group) floats; d: n floats.
 */
export function qmatmul(
  bits: u32, codes: usize, rowBytes: usize, scales: usize, zeros: usize, zeroKind: u32, symZero: f32,
  rows: usize, cols: usize, group: usize, xs: usize, n: usize, gs: usize, w: usize, d: usize, out: usize,
): void {
  if (bits == 8) qmatmulBits(8, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, xs, n, gs, w, d, out);
  else if (bits == 6) qmatmulBits(6, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, xs, n, gs, w, d, out);
  else if (bits == 5) qmatmulBits(5, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, xs, n, gs, w, d, out);
  else if (bits == 4) qmatmulBits(4, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, xs, n, gs, w, d, out);
  else if (bits == 3) qmatmulBits(3, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, xs, n, gs, w, d, out);
  else qmatmulBits(2, codes, rowBytes, scales, zeros, zeroKind, symZero, rows, cols, group, xs, n, gs, w, d, out);
}

// Table codes c0..c0+len of a row as their f32 table values at w.
@inline
function unpackTabled(bits: u32, row: usize, c0: usize, len: usize, iLo: v128, iHi: v128, mul: v128, f: usize, w: usize): void {
  const p0 = v128.load(f, 64), p1 = v128.load(f, 80), p2 = v128.load(f, 96), p3 = v128.load(f, 112);
  let c: usize = 0;
  for (; c + 16 <= len; c += 16) {
    const q = unpack16(row, c0 + c, bits, iLo, iHi, mul);
    const b0 = i8x16.swizzle(p0, q), b1 = i8x16.swizzle(p1, q), b2 = i8x16.swizzle(p2, q), b3 = i8x16.swizzle(p3, q);
    const l01 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const h01 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const l23 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const h23 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const o = w + (c << 2);
    v128.store(o, i8x16.shuffle(l01, l23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23));
    v128.store(o, i8x16.shuffle(l01, l23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 16);
    v128.store(o, i8x16.shuffle(h01, h23, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), 32);
    v128.store(o, i8x16.shuffle(h01, h23, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), 48);
  }
  for (; c < len; c++) store<f32>(w + (c << 2), load<f32>(f + (<usize>codeAt(row, c0 + c, bits) << 2)));
}

@inline
function qtabmatmulBits(
  bits: u32, codes: usize, rowBytes: usize, tables: usize, tableCols: usize,
  rows: usize, cols: usize, xs: usize, n: usize, f: usize, w: usize, d: usize, out: usize,
): void {
  const nT = (cols + tableCols - 1) / tableCols, tabBytes: usize = 2 << bits;
  const t = unpackTable(bits);
  const iLo = v128.load(t), iHi = v128.load(t, 16), mul = v128.load(t, 32);
  for (let r: usize = 0; r < rows; r++) {
    const row = codes + r * rowBytes;
    for (let j: usize = 0; j < n; j++) store<f32>(out + ((j * rows + r) << 2), 0);
    // Segments of at most 128 columns (a table's columns, or 128-column pieces of a row's table).
    for (let c0: usize = 0, tPrev: usize = -1; c0 < cols; ) {
      const tt = c0 / tableCols, c1 = min(min(cols, (tt + 1) * tableCols), c0 + 128), len = c1 - c0;
      if (tt != tPrev) expandTable(tables + (r * nT + tt) * tabBytes, bits, f);
      tPrev = tt;
      unpackTabled(bits, row, c0, len, iLo, iHi, mul, f, w);
      dotsN(w, len, xs, cols, c0, n, d);
      for (let j: usize = 0; j < n; j++) {
        const o = out + ((j * rows + r) << 2);
        store<f32>(o, load<f32>(o) + load<f32>(d + (j << 2)));
      }
      c0 = c1;
    }
  }
}

/** Y = X T[q]^T for value-table codes (n vectors); f: 128 bytes, w: 128 floats, d: n floats. */
export function qtabmatmul(
  bits: u32, codes: usize, rowBytes: usize, tables: usize, tableCols: usize,
  rows: usize, cols: usize, xs: usize, n: usize, f: usize, w: usize, d: usize, out: usize,
): void {
  if (bits == 4) qtabmatmulBits(4, codes, rowBytes, tables, tableCols, rows, cols, xs, n, f, w, d, out);
  else if (bits == 3) qtabmatmulBits(3, codes, rowBytes, tables, tableCols, rows, cols, xs, n, f, w, d, out);
  else qtabmatmulBits(2, codes, rowBytes, tables, tableCols, rows, cols, xs, n, f, w, d, out);
}

// ---- fp32 baseline ---------------------------------------------------------------------------

/**
 * y = W x for row-major fp32 W (the baseline the packed kernels are measured against): four rows
 * per pass share each load of x, two column steps per iteration, eight f32x4 accumulators.
 */
export function matvecF32(w: usize, rows: usize, cols: usize, x: usize, out: usize): void {
  const rb = cols << 2;
  let r: usize = 0;
  for (; r + 4 <= rows; r += 4) {
    const w0 = w + r * rb, w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    let c: usize = 0;
    for (; c + 8 <= cols; c += 8) {
      const o = c << 2, xa = v128.load(x + o), xb = v128.load(x + o, 16);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(w0 + o), xa));
      b0 = f32x4.add(b0, f32x4.mul(v128.load(w0 + o, 16), xb));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(w1 + o), xa));
      b1 = f32x4.add(b1, f32x4.mul(v128.load(w1 + o, 16), xb));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(w2 + o), xa));
      b2 = f32x4.add(b2, f32x4.mul(v128.load(w2 + o, 16), xb));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(w3 + o), xa));
      b3 = f32x4.add(b3, f32x4.mul(v128.load(w3 + o, 16), xb));
    }
    let s0 = hsum(f32x4.add(a0, b0)), s1 = hsum(f32x4.add(a1, b1)), s2 = hsum(f32x4.add(a2, b2)), s3 = hsum(f32x4.add(a3, b3));
    for (; c < cols; c++) {
      const xv = load<f32>(x + (c << 2)), o = c << 2;
      s0 += load<f32>(w0 + o) * xv;
      s1 += load<f32>(w1 + o) * xv;
      s2 += load<f32>(w2 + o) * xv;
      s3 += load<f32>(w3 + o) * xv;
    }
    store<f32>(out + (r << 2), s0);
    store<f32>(out + ((r + 1) << 2), s1);
    store<f32>(out + ((r + 2) << 2), s2);
    store<f32>(out + ((r + 3) << 2), s3);
  }
  for (; r < rows; r++) store<f32>(out + (r << 2), dot1(w + r * rb, cols, x));
}
