// Byte grouping for the tensor packer (src/tensors/pack/grouping.ts is the reference and the
// spec): split float/integer values into one stream per byte position, with the float exponent
// moved into its own byte, and the inverse. SIMD: a 32-bit (or 16-bit) bit rotation per lane,
// then byte transposes with i8x16.shuffle.

export function heapBase(): usize {
  return __heap_base;
}

// f32 word v -> w whose top byte is the exponent and whose next byte is sign | mantissa[22:16].
@inline
function rot32(v: v128): v128 {
  return v128.or(
    v128.or(v128.and(i32x4.shl(v, 1), i32x4.splat(<i32>0xff000000)), v128.and(i32x4.shr_u(v, 8), i32x4.splat(0x00800000))),
    v128.and(v, i32x4.splat(0x007fffff)),
  );
}
@inline
function unrot32(w: v128): v128 {
  return v128.or(
    v128.or(v128.and(i32x4.shr_u(w, 1), i32x4.splat(0x7f800000)), v128.and(i32x4.shl(w, 8), i32x4.splat(<i32>0x80000000))),
    v128.and(w, i32x4.splat(0x007fffff)),
  );
}
@inline
function rot16(v: v128): v128 {
  return v128.or(
    v128.or(v128.and(i16x8.shl(v, 1), i16x8.splat(<i16>0xff00)), v128.and(i16x8.shr_u(v, 8), i16x8.splat(0x0080))),
    v128.and(v, i16x8.splat(0x007f)),
  );
}
@inline
function unrot16(w: v128): v128 {
  return v128.or(
    v128.or(v128.and(i16x8.shr_u(w, 1), i16x8.splat(0x7f80)), v128.and(i16x8.shl(w, 8), i16x8.splat(<i16>0x8000))),
    v128.and(w, i16x8.splat(0x007f)),
  );
}

/** m f32 values at src -> 4 streams of m bytes at dst (exponent, sign|m_hi, m_mid, m_lo). */
export function group32(src: usize, m: usize, dst: usize): void {
  const d0 = dst, d1 = dst + m, d2 = dst + 2 * m, d3 = dst + 3 * m;
  const m16 = m & ~(<usize>15);
  for (let i: usize = 0; i < m16; i += 16) {
    const p = src + (i << 2);
    const a = rot32(v128.load(p)), b = rot32(v128.load(p, 16)), c = rot32(v128.load(p, 32)), d = rot32(v128.load(p, 48));
    // byte 3 and byte 2 of 8 words each
    const ab32 = i8x16.shuffle(a, b, 3, 7, 11, 15, 19, 23, 27, 31, 2, 6, 10, 14, 18, 22, 26, 30);
    const cd32 = i8x16.shuffle(c, d, 3, 7, 11, 15, 19, 23, 27, 31, 2, 6, 10, 14, 18, 22, 26, 30);
    const ab10 = i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 4, 8, 12, 16, 20, 24, 28);
    const cd10 = i8x16.shuffle(c, d, 1, 5, 9, 13, 17, 21, 25, 29, 0, 4, 8, 12, 16, 20, 24, 28);
    v128.store(d0 + i, i8x16.shuffle(ab32, cd32, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    v128.store(d1 + i, i8x16.shuffle(ab32, cd32, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
    v128.store(d2 + i, i8x16.shuffle(ab10, cd10, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
    v128.store(d3 + i, i8x16.shuffle(ab10, cd10, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
  }
  for (let i = m16; i < m; i++) {
    const v = load<u32>(src + (i << 2));
    store<u8>(d0 + i, <u8>(v >> 23));
    store<u8>(d1 + i, <u8>(((v >> 24) & 0x80) | ((v >> 16) & 0x7f)));
    store<u8>(d2 + i, <u8>(v >> 8));
    store<u8>(d3 + i, <u8>v);
  }
}

/** Inverse of group32: streams at s (4 x m bytes) -> m f32 values at dst. */
export function ungroup32(s: usize, m: usize, dst: usize): void {
  ungroup32From(s, s + m, s + 2 * m, s + 3 * m, m, dst);
}

/**
 * ungroup32 with each stream anywhere (the fused chunk decoder reads raw streams straight from
 * the payload, decoded ones from its scratch).
 */
@inline
export function ungroup32From(s0: usize, s1: usize, s2: usize, s3: usize, m: usize, dst: usize): void {
  const m16 = m & ~(<usize>15);
  for (let i: usize = 0; i < m16; i += 16) {
    const e = v128.load(s0 + i), h = v128.load(s1 + i), md = v128.load(s2 + i), lo = v128.load(s3 + i);
    const lo16a = i8x16.shuffle(lo, md, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const lo16b = i8x16.shuffle(lo, md, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const hi16a = i8x16.shuffle(h, e, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const hi16b = i8x16.shuffle(h, e, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const p = dst + (i << 2);
    v128.store(p, unrot32(i8x16.shuffle(lo16a, hi16a, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23)));
    v128.store(p, unrot32(i8x16.shuffle(lo16a, hi16a, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31)), 16);
    v128.store(p, unrot32(i8x16.shuffle(lo16b, hi16b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23)), 32);
    v128.store(p, unrot32(i8x16.shuffle(lo16b, hi16b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31)), 48);
  }
  for (let i = m16; i < m; i++) {
    const a = <u32>load<u8>(s1 + i);
    const v = ((a & 0x80) << 24) | (<u32>load<u8>(s0 + i) << 23) | ((a & 0x7f) << 16) | (<u32>load<u8>(s2 + i) << 8) | <u32>load<u8>(s3 + i);
    store<u32>(dst + (i << 2), v);
  }
}

/** m 16-bit floats (bf16 or f16) at src -> 2 streams of m bytes at dst. */
export function group16(src: usize, m: usize, dst: usize): void {
  const d0 = dst, d1 = dst + m;
  const m16 = m & ~(<usize>15);
  for (let i: usize = 0; i < m16; i += 16) {
    const p = src + (i << 1);
    const a = rot16(v128.load(p)), b = rot16(v128.load(p, 16));
    v128.store(d0 + i, i8x16.shuffle(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
    v128.store(d1 + i, i8x16.shuffle(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
  }
  for (let i = m16; i < m; i++) {
    const v = <u32>load<u16>(src + (i << 1));
    store<u8>(d0 + i, <u8>(v >> 7));
    store<u8>(d1 + i, <u8>(((v >> 8) & 0x80) | (v & 0x7f)));
  }
}

/** Inverse of group16. */
export function ungroup16(s: usize, m: usize, dst: usize): void {
  ungroup16From(s, s + m, m, dst);
}

/** ungroup16 with each stream anywhere. */
@inline
export function ungroup16From(s0: usize, s1: usize, m: usize, dst: usize): void {
  const m16 = m & ~(<usize>15);
  for (let i: usize = 0; i < m16; i += 16) {
    const e = v128.load(s0 + i), h = v128.load(s1 + i);
    const p = dst + (i << 1);
    v128.store(p, unrot16(i8x16.shuffle(h, e, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)));
    v128.store(p, unrot16(i8x16.shuffle(h, e, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)), 16);
  }
  for (let i = m16; i < m; i++) {
    const a = <u32>load<u8>(s1 + i);
    store<u16>(dst + (i << 1), <u16>(((a & 0x80) << 8) | (<u32>load<u8>(s0 + i) << 7) | (a & 0x7f)));
  }
}

/** m integers of e bytes -> e streams, most significant byte first. */
export function groupInt(src: usize, m: usize, e: usize, dst: usize): void {
  for (let k: usize = 0; k < e; k++) {
    const out = dst + k * m, b = e - 1 - k;
    for (let i: usize = 0; i < m; i++) store<u8>(out + i, load<u8>(src + i * e + b));
  }
}

/** Inverse of groupInt. */
export function ungroupInt(s: usize, m: usize, e: usize, dst: usize): void {
  for (let k: usize = 0; k < e; k++) ungroupIntStream(s + k * m, m, e, k, dst);
}

/** Stream k of an e-byte integer grouping (at inp, anywhere) into its byte position in dst. */
@inline
export function ungroupIntStream(inp: usize, m: usize, e: usize, k: usize, dst: usize): void {
  const b = e - 1 - k;
  for (let i: usize = 0; i < m; i++) store<u8>(dst + i * e + b, load<u8>(inp + i));
}

@inline
function bump(slot: usize): void {
  store<u32>(slot, load<u32>(slot) + 1);
}

/** Byte histogram of n bytes at src into out (256 x u32); scratch: 3 KiB for sub-tables. */
export function histogram(src: usize, n: usize, out: usize, scratch: usize): void {
  memory.fill(out, 0, 1024);
  memory.fill(scratch, 0, 3072);
  const end8 = src + (n & ~(<usize>7));
  let p = src;
  while (p < end8) {
    const w = load<u64>(p);
    const lo = <u32>w, hi = <u32>(w >> 32);
    bump(out + ((lo & 0xff) << 2));
    bump(scratch + ((lo >> 6) & 0x3fc));
    bump(scratch + 1024 + ((lo >> 14) & 0x3fc));
    bump(scratch + 2048 + ((lo >> 22) & 0x3fc));
    bump(out + ((hi & 0xff) << 2));
    bump(scratch + ((hi >> 6) & 0x3fc));
    bump(scratch + 1024 + ((hi >> 14) & 0x3fc));
    bump(scratch + 2048 + ((hi >> 22) & 0x3fc));
    p += 8;
  }
  const end = src + n;
  while (p < end) {
    bump(out + (<usize>load<u8>(p) << 2));
    p++;
  }
  for (let i: usize = 0; i < 1024; i += 16) {
    v128.store(out + i, i32x4.add(i32x4.add(v128.load(out + i), v128.load(scratch + i)), i32x4.add(v128.load(scratch + 1024 + i), v128.load(scratch + 2048 + i))));
  }
}
