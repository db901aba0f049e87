// Matrix-vector product on group-quantized weights, read in their packed form (no fp32 copy of W):
// y[r] = sum_g s[r,g] * (sum_{c in g} q[r,c] * x[c] - z[r,g] * sum_{c in g} x[c]).
// Codes are bit-packed per row, least significant bits first (4-bit: element 2k is the low nibble
// of byte k), each row starting on a byte (rowBytes apart). Scales are fp16, one per (row, group);
// zero points are u8 per (row, group), or one constant for symmetric codes (zerosPtr = 0).
// Groups are multiples of 16 elements, so every full 16-element step starts on a byte; a row's
// last group may be shorter and ends in a scalar tail. The TS driver and the plain-TS reference
// are src/tensors/quant/qmatvec.ts.

export function heapBase(): usize {
  return __heap_base;
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

// 16 u8 codes (in element order) times x[c..c+16), added to acc.
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

// The shared row loop; B (a type of 1 or 2 bytes) picks 8-bit (u8) or 4-bit (u16) codes at compile time.
@inline
function qmatvec<B>(
  codes: usize, rowBytes: usize, scales: usize, zeros: usize, symZero: f32,
  rows: usize, cols: usize, group: usize, x: usize, gs: usize, out: usize,
): void {
  groupSums(x, cols, group, gs);
  const nG = (cols + group - 1) / group;
  const mask = i8x16.splat(0x0f);
  for (let r: usize = 0; r < rows; r++) {
    const row = codes + r * rowBytes;
    let y: f32 = 0;
    for (let g: usize = 0; g < nG; g++) {
      const c0 = g * group, c1 = min(cols, c0 + group);
      let acc = f32x4.splat(0);
      let c = c0;
      for (; c + 16 <= c1; c += 16) {
        let q: v128;
        if (sizeof<B>() == 1) {
          q = v128.load(row + c);
        } else {
          const b = v128.load64_zero(row + (c >> 1));
          q = i8x16.shuffle(v128.and(b, mask), i8x16.shr_u(b, 4), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        }
        acc = madd16(acc, q, x + (c << 2));
      }
      let dot = hsum(acc);
      for (; c < c1; c++) {
        let q: u32;
        if (sizeof<B>() == 1) q = load<u8>(row + c);
        else q = (load<u8>(row + (c >> 1)) >> (<u32>(c & 1) << 2)) & 15;
        dot += <f32>q * load<f32>(x + (c << 2));
      }
      const i = r * nG + g;
      const z: f32 = zeros ? <f32>load<u8>(zeros + i) : symZero;
      y += f16ToF32(load<u16>(scales + (i << 1))) * (dot - z * load<f32>(gs + (g << 2)));
    }
    store<f32>(out + (r << 2), y);
  }
}

export function qmatvec8(
  codes: usize, rowBytes: usize, scales: usize, zeros: usize, symZero: f32,
  rows: usize, cols: usize, group: usize, x: usize, gs: usize, out: usize,
): void {
  qmatvec<u8>(codes, rowBytes, scales, zeros, symZero, rows, cols, group, x, gs, out);
}

export function qmatvec4(
  codes: usize, rowBytes: usize, scales: usize, zeros: usize, symZero: f32,
  rows: usize, cols: usize, group: usize, x: usize, gs: usize, out: usize,
): void {
  qmatvec<u16>(codes, rowBytes, scales, zeros, symZero, rows, cols, group, x, gs, out);
}
