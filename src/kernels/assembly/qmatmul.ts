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

// 16 u8 codes (element order) times x[c..c+16), added to acc.
@inline
function madd16(acc: v128, q: v128, x: usize): v128 {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  const q0 = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo));
  const q1 = f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo));
  const q2 = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi));
  const q3 = f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi));
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
