/**
 * Exact conversions between f32 and the narrow float formats ML data is stored in: IEEE binary16
 * (f16), bfloat16 (bf16) and the two OCP 8-bit formats, E4M3FN and E5M2.
 *
 * Every narrowing conversion rounds to nearest, ties to even, on the exact f32 value; subnormals are
 * exact in both directions; ±0 and ±Inf are preserved where the format has them. Narrow formats are
 * carried as bit patterns: `Uint16Array` for f16/bf16, `Uint8Array` for fp8. The rules for NaN,
 * overflow and saturation are spelled out, with how they compare to numpy, PyTorch and ml_dtypes,
 * in docs/dtypes.md.
 *
 * Three layers:
 * - `*Bits*` functions on raw bit patterns (`f32BitsToF16Bits(u)`): pure integer code, no float
 *   ever passes through a JS number, so NaN payloads survive exactly;
 * - scalar functions on JS numbers (`f32ToF16Bits(x)`, `f16BitsToF32(h)`): the number is first
 *   rounded to f32 (`Math.fround`); NaN payloads are at the mercy of the engine here;
 * - bulk functions on typed arrays (`f32ToF16(src, dst?)`): read the f32 bit patterns through a
 *   `Uint32Array` view and decode with lookup tables built on first use.
 */
import { ZipmlError } from './errors.js';

/** Options for conversions into an fp8 format. */
export interface Fp8Options {
  /**
   * Clamp out-of-range values (finite overflow and ±Inf) to the largest finite value of the target,
   * keeping the sign, instead of producing NaN (E4M3FN) or ±Inf (E5M2). Default false, which is what
   * ml_dtypes' and PyTorch's plain casts do. NaN always stays NaN.
   */
  saturate?: boolean;
}

/** Largest finite f16 value, 0x7bff. */
export const F16_MAX = 65504;
/** Largest finite bf16 value, 0x7f7f. */
export const BF16_MAX = 3.3895313892515355e38;
/** Largest finite E4M3FN value, 0x7e. */
export const FP8_E4M3_MAX = 448;
/** Largest finite E5M2 value, 0x7b. */
export const FP8_E5M2_MAX = 57344;

// ---------------------------------------------------------------------------------------------
// Bit-level core
// ---------------------------------------------------------------------------------------------

/**
 * Rounds a finite, non-negative f32 (given as its bits `a`, sign cleared) to nearest-even in a
 * binary format with `mBits` stored mantissa bits and exponent bias `bias`, with an unbounded
 * exponent field above. Returns the magnitude bits in that format; a result above the format's
 * largest finite pattern means overflow, which the caller handles. Requires bias + mBits < 127
 * (true for f16 and fp8; bf16 has its own, simpler path).
 */
function roundMagnitude(a: number, mBits: number, bias: number): number {
  const drop = 23 - mBits;
  const e = a >>> 23;
  if (e > 127 - bias) {
    // Normal in the target. Rounding works on the whole pattern: a carry out of the mantissa
    // increments the exponent, which is exactly the right next value.
    const r = (a + (1 << (drop - 1)) - 1 + ((a >>> drop) & 1)) >>> drop;
    return r - ((127 - bias) << mBits);
  }
  // Subnormal (or zero) in the target: the result counts units of 2^(1 - bias - mBits), and the
  // f32 is m·2^(e-150) with the hidden bit in m.
  const shift = 151 - bias - mBits - e;
  // Below half the smallest subnormal (m < 2^24 ≤ half a unit). Since bias + mBits < 127 this
  // also covers zero and every f32 subnormal (e = 0), whose m has no hidden bit.
  if (shift > 24) return 0;
  const m = (a & 0x7fffff) | 0x800000;
  // A carry into bit mBits yields the smallest normal pattern, which is again correct.
  return (m + (1 << (shift - 1)) - 1 + ((m >>> shift) & 1)) >>> shift;
}

/**
 * Decodes a pattern of a small binary format (1 sign, `eBits`, `mBits`) whose values are all
 * normal in f32, to f32 bits. `ieeeSpecials`: the top exponent holds Inf and NaNs (f16, E5M2);
 * otherwise only the all-ones magnitude is NaN (E4M3FN). NaN payloads move to the top of the f32
 * mantissa.
 */
function smallFloatBitsToF32Bits(b: number, eBits: number, mBits: number, bias: number, ieeeSpecials: boolean): number {
  const sign = (b >>> (eBits + mBits)) << 31;
  const eMax = (1 << eBits) - 1;
  const mMask = (1 << mBits) - 1;
  const e = (b >>> mBits) & eMax;
  let m = b & mMask;
  if (e === eMax && (ieeeSpecials || m === mMask)) return (sign | 0x7f800000 | (m << (23 - mBits))) >>> 0;
  if (e !== 0) return (sign | ((e - bias + 127) << 23) | (m << (23 - mBits))) >>> 0;
  if (m === 0) return sign >>> 0;
  // Subnormal: normalize so that the leading one becomes the hidden bit.
  let ef = 1 - bias + 127;
  while ((m & (1 << mBits)) === 0) {
    m <<= 1;
    ef--;
  }
  return (sign | (ef << 23) | ((m & mMask) << (23 - mBits))) >>> 0;
}

/** f32 bits → f16 bits (RNE, overflow to ±Inf, NaN keeps its top payload bits and stays NaN). */
export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a >= 0x7f800000) {
    if (a === 0x7f800000) return sign | 0x7c00;
    const p = (a >>> 13) & 0x3ff;
    return sign | 0x7c00 | (p === 0 ? 0x200 : p);
  }
  const r = roundMagnitude(a, 10, 15);
  return sign | (r > 0x7c00 ? 0x7c00 : r);
}

/** f16 bits → f32 bits (exact; NaN payload shifted into the top of the f32 mantissa). */
export function f16BitsToF32Bits(h: number): number {
  return smallFloatBitsToF32Bits(h, 5, 10, 15, true);
}

/** f32 bits → bf16 bits (RNE, overflow to ±Inf, NaN keeps its top payload bits and stays NaN). */
export function f32BitsToBf16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) {
    const p = (a >>> 16) & 0x7f;
    return sign | 0x7f80 | (p === 0 ? 0x40 : p);
  }
  // Same exponent range as f32: a plain RNE on the low 16 bits; a carry out of the top finite
  // value lands exactly on the Inf pattern, and Inf itself stays Inf.
  return sign | ((a + 0x7fff + ((a >>> 16) & 1)) >>> 16);
}

/** bf16 bits → f32 bits (exact: the bf16 pattern is the top half of the f32 pattern). */
export function bf16BitsToF32Bits(h: number): number {
  return (h << 16) >>> 0;
}

/** f32 bits → E4M3FN bits. Overflow and ±Inf → NaN (0x7f | sign), or ±448 when saturating. */
export function f32BitsToFp8E4M3Bits(u: number, saturate = false): number {
  const sign = (u >>> 24) & 0x80;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7f;
  const r = a === 0x7f800000 ? 0x7f : roundMagnitude(a, 3, 7);
  if (r > 0x7e) return sign | (saturate ? 0x7e : 0x7f);
  return sign | r;
}

/** E4M3FN bits → f32 bits (exact; 0x7f/0xff decode to NaN with the mantissa bits as payload). */
export function fp8E4M3BitsToF32Bits(b: number): number {
  return smallFloatBitsToF32Bits(b, 4, 3, 7, false);
}

/** f32 bits → E5M2 bits. Overflow → ±Inf, or ±57344 when saturating (±Inf too). */
export function f32BitsToFp8E5M2Bits(u: number, saturate = false): number {
  const sign = (u >>> 24) & 0x80;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) {
    const p = (a >>> 21) & 3;
    return sign | 0x7c | (p === 0 ? 2 : p);
  }
  const r = a === 0x7f800000 ? 0x7c : roundMagnitude(a, 2, 15);
  if (r > 0x7b) return sign | (saturate ? 0x7b : 0x7c);
  return sign | r;
}

/** E5M2 bits → f32 bits (exact; NaN payload shifted into the top of the f32 mantissa). */
export function fp8E5M2BitsToF32Bits(b: number): number {
  return smallFloatBitsToF32Bits(b, 5, 2, 15, true);
}

// ---------------------------------------------------------------------------------------------
// Scalar API on JS numbers
// ---------------------------------------------------------------------------------------------

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32BitsOf(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

function f32FromBits(u: number): number {
  scratchU32[0] = u;
  return scratchF32[0];
}

function checkPattern(fn: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new ZipmlError('E_ARG', `${fn}: bit pattern ${v} is not an integer in 0..0x${max.toString(16)}`);
  }
}

/** Rounds `x` to f32, then to f16 bits. */
export function f32ToF16Bits(x: number): number {
  return f32BitsToF16Bits(f32BitsOf(x));
}

/** The value of the f16 pattern `h` (0..0xffff). */
export function f16BitsToF32(h: number): number {
  checkPattern('f16BitsToF32', h, 0xffff);
  return f32FromBits(f16BitsToF32Bits(h));
}

/** Rounds `x` to f32, then to bf16 bits. */
export function f32ToBf16Bits(x: number): number {
  return f32BitsToBf16Bits(f32BitsOf(x));
}

/** The value of the bf16 pattern `h` (0..0xffff). */
export function bf16BitsToF32(h: number): number {
  checkPattern('bf16BitsToF32', h, 0xffff);
  return f32FromBits(bf16BitsToF32Bits(h));
}

/** Rounds `x` to f32, then to E4M3FN bits. */
export function f32ToFp8E4M3Bits(x: number, options?: Fp8Options): number {
  return f32BitsToFp8E4M3Bits(f32BitsOf(x), options?.saturate === true);
}

/** The value of the E4M3FN pattern `b` (0..0xff). */
export function fp8E4M3BitsToF32(b: number): number {
  checkPattern('fp8E4M3BitsToF32', b, 0xff);
  return f32FromBits(fp8E4M3BitsToF32Bits(b));
}

/** Rounds `x` to f32, then to E5M2 bits. */
export function f32ToFp8E5M2Bits(x: number, options?: Fp8Options): number {
  return f32BitsToFp8E5M2Bits(f32BitsOf(x), options?.saturate === true);
}

/** The value of the E5M2 pattern `b` (0..0xff). */
export function fp8E5M2BitsToF32(b: number): number {
  checkPattern('fp8E5M2BitsToF32', b, 0xff);
  return f32FromBits(fp8E5M2BitsToF32Bits(b));
}

// ---------------------------------------------------------------------------------------------
// Bulk API on typed arrays
// ---------------------------------------------------------------------------------------------

type ArrayCtor<T> = { new (n: number): T; readonly name: string };

/** Checks `src`'s type and returns `dst` (checked) or a new array of the same length. */
function target<S extends ArrayBufferView & { length: number }, D extends { length: number }>(
  fn: string,
  src: S,
  srcCtor: ArrayCtor<S>,
  dst: D | undefined,
  dstCtor: ArrayCtor<D>,
): D {
  if (!(src instanceof srcCtor)) throw new ZipmlError('E_ARG', `${fn}: src must be a ${srcCtor.name}`);
  if (dst === undefined) return new dstCtor(src.length);
  if (!(dst instanceof dstCtor)) throw new ZipmlError('E_ARG', `${fn}: dst must be a ${dstCtor.name}`);
  if (dst.length !== src.length) {
    throw new ZipmlError('E_ARG', `${fn}: dst has ${dst.length} elements but src has ${src.length}`);
  }
  return dst;
}

/** The f32 bit patterns of `a`, without copying. */
function bitsView(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

let f16Table: Uint32Array | undefined;
let e4m3Table: Uint32Array | undefined;
let e5m2Table: Uint32Array | undefined;

function buildTable(size: number, decode: (b: number) => number): Uint32Array {
  const t = new Uint32Array(size);
  for (let i = 0; i < size; i++) t[i] = decode(i);
  return t;
}

/** Applies a decode table: out[i] = table[src[i]] on f32 bit patterns. */
function decodeWithTable(table: Uint32Array, src: Uint16Array | Uint8Array, out: Float32Array): Float32Array {
  const o = bitsView(out);
  for (let i = 0, n = src.length; i < n; i++) o[i] = table[src[i]];
  return out;
}

// Each encoder has its own loop on purpose: a shared loop taking the bit-level encoder as a
// parameter becomes polymorphic, stops V8 from inlining it and runs ~5x slower (measured).

/** f32 → f16 bit patterns. `dst`, when given, must have src's length. Arrays must not overlap. */
export function f32ToF16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  const out = target('f32ToF16', src, Float32Array, dst, Uint16Array);
  const u = bitsView(src);
  for (let i = 0, n = u.length; i < n; i++) out[i] = f32BitsToF16Bits(u[i]);
  return out;
}

/** f16 bit patterns → f32 (exact). */
export function f16ToF32(src: Uint16Array, dst?: Float32Array): Float32Array {
  const out = target('f16ToF32', src, Uint16Array, dst, Float32Array);
  f16Table ??= buildTable(65536, f16BitsToF32Bits);
  return decodeWithTable(f16Table, src, out);
}

/** f32 → bf16 bit patterns. */
export function f32ToBf16(src: Float32Array, dst?: Uint16Array): Uint16Array {
  const out = target('f32ToBf16', src, Float32Array, dst, Uint16Array);
  const u = bitsView(src);
  for (let i = 0, n = u.length; i < n; i++) out[i] = f32BitsToBf16Bits(u[i]);
  return out;
}

/** bf16 bit patterns → f32 (exact). */
export function bf16ToF32(src: Uint16Array, dst?: Float32Array): Float32Array {
  const out = target('bf16ToF32', src, Uint16Array, dst, Float32Array);
  const o = bitsView(out);
  for (let i = 0, n = src.length; i < n; i++) o[i] = src[i] << 16;
  return out;
}

/** f32 → E4M3FN bit patterns. */
export function f32ToFp8E4M3(src: Float32Array, dst?: Uint8Array, options?: Fp8Options): Uint8Array {
  const out = target('f32ToFp8E4M3', src, Float32Array, dst, Uint8Array);
  const sat = options?.saturate === true;
  const u = bitsView(src);
  for (let i = 0, n = u.length; i < n; i++) out[i] = f32BitsToFp8E4M3Bits(u[i], sat);
  return out;
}

/** E4M3FN bit patterns → f32 (exact). */
export function fp8E4M3ToF32(src: Uint8Array, dst?: Float32Array): Float32Array {
  const out = target('fp8E4M3ToF32', src, Uint8Array, dst, Float32Array);
  e4m3Table ??= buildTable(256, fp8E4M3BitsToF32Bits);
  return decodeWithTable(e4m3Table, src, out);
}

/** f32 → E5M2 bit patterns. */
export function f32ToFp8E5M2(src: Float32Array, dst?: Uint8Array, options?: Fp8Options): Uint8Array {
  const out = target('f32ToFp8E5M2', src, Float32Array, dst, Uint8Array);
  const sat = options?.saturate === true;
  const u = bitsView(src);
  for (let i = 0, n = u.length; i < n; i++) out[i] = f32BitsToFp8E5M2Bits(u[i], sat);
  return out;
}

/** E5M2 bit patterns → f32 (exact). */
export function fp8E5M2ToF32(src: Uint8Array, dst?: Float32Array): Float32Array {
  const out = target('fp8E5M2ToF32', src, Uint8Array, dst, Float32Array);
  e5m2Table ??= buildTable(256, fp8E5M2BitsToF32Bits);
  return decodeWithTable(e5m2Table, src, out);
}
