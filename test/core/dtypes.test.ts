import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as d from '../../src/core/dtypes.js';
import { isZipmlError } from '../../src/core/errors.js';
import { Rng } from '../util/rng.js';

// The references in this file share no code with src/core/dtypes.ts: decoding is the textbook
// formula evaluated in f64, encoding scales the exact value by a power of two and rounds with
// Math.round (ties fixed to even), and the rounding-boundary test derives its expectations from
// the "even pattern wins" rule alone.

// ---------------------------------------------------------------------------------------------
// Test-side helpers
// ---------------------------------------------------------------------------------------------

/** Exact powers of two, built by repeated doubling/halving (no Math.pow). */
const POW2 = new Float64Array(401); // POW2[e + 200] = 2^e
POW2[200] = 1;
for (let e = 1; e <= 200; e++) {
  POW2[200 + e] = POW2[199 + e]! * 2;
  POW2[200 - e] = POW2[201 - e]! / 2;
}
function pow2(e: number): number {
  if (e < -200 || e > 200) throw new Error(`pow2(${e}) out of table`);
  return POW2[e + 200]!;
}

const tF32 = new Float32Array(1);
const tU32 = new Uint32Array(tF32.buffer);
function bitsOf(x: number): number {
  tF32[0] = x;
  return tU32[0]!;
}
function valueOf(u: number): number {
  tU32[0] = u;
  return tF32[0]!;
}

interface FmtSpec {
  name: string;
  eBits: number;
  mBits: number;
  bias: number;
  /** 'ieee': top exponent = Inf/NaN; 'fn': no Inf, only S.1111.111 is NaN (E4M3FN). */
  kind: 'ieee' | 'fn';
  /** Largest finite magnitude pattern. */
  maxBits: number;
  enc: (u: number, saturate: boolean) => number; // library, bit level
  dec: (b: number) => number; // library, bit level
  encNum: (x: number, saturate: boolean) => number; // library, scalar numbers
  decNum: (b: number) => number;
  encBulk: (src: Float32Array, saturate: boolean) => Uint8Array | Uint16Array;
  decBulk: (src: Uint8Array | Uint16Array) => Float32Array;
}
interface Fmt extends FmtSpec {
  signBit: number;
  /** Whether `saturate` applies (fp8 only). */
  hasSaturate: boolean;
  patterns: (n: number) => Uint8Array | Uint16Array;
}
function fmt(spec: FmtSpec): Fmt {
  const wide = spec.eBits + spec.mBits === 15;
  return {
    ...spec,
    signBit: 1 << (spec.eBits + spec.mBits),
    hasSaturate: !wide,
    patterns: (n) => (wide ? new Uint16Array(n) : new Uint8Array(n)),
  };
}

const F16 = fmt({
  name: 'f16', eBits: 5, mBits: 10, bias: 15, kind: 'ieee', maxBits: 0x7bff,
  enc: (u) => d.f32BitsToF16Bits(u), dec: d.f16BitsToF32Bits, encNum: (x) => d.f32ToF16Bits(x),
  decNum: d.f16BitsToF32, encBulk: (s) => d.f32ToF16(s), decBulk: (s) => d.f16ToF32(s as Uint16Array),
});
const BF16 = fmt({
  name: 'bf16', eBits: 8, mBits: 7, bias: 127, kind: 'ieee', maxBits: 0x7f7f,
  enc: (u) => d.f32BitsToBf16Bits(u), dec: d.bf16BitsToF32Bits, encNum: (x) => d.f32ToBf16Bits(x),
  decNum: d.bf16BitsToF32, encBulk: (s) => d.f32ToBf16(s), decBulk: (s) => d.bf16ToF32(s as Uint16Array),
});
const E4M3 = fmt({
  name: 'e4m3fn', eBits: 4, mBits: 3, bias: 7, kind: 'fn', maxBits: 0x7e,
  enc: d.f32BitsToFp8E4M3Bits, dec: d.fp8E4M3BitsToF32Bits, decNum: d.fp8E4M3BitsToF32,
  encNum: (x, saturate) => d.f32ToFp8E4M3Bits(x, { saturate }),
  encBulk: (s, saturate) => d.f32ToFp8E4M3(s, undefined, { saturate }), decBulk: (s) => d.fp8E4M3ToF32(s as Uint8Array),
});
const E5M2 = fmt({
  name: 'e5m2', eBits: 5, mBits: 2, bias: 15, kind: 'ieee', maxBits: 0x7b,
  enc: d.f32BitsToFp8E5M2Bits, dec: d.fp8E5M2BitsToF32Bits, decNum: d.fp8E5M2BitsToF32,
  encNum: (x, saturate) => d.f32ToFp8E5M2Bits(x, { saturate }),
  encBulk: (s, saturate) => d.f32ToFp8E5M2(s, undefined, { saturate }), decBulk: (s) => d.fp8E5M2ToF32(s as Uint8Array),
});
const FORMATS = [F16, BF16, E4M3, E5M2];

function satModes(f: Fmt): boolean[] {
  return f.hasSaturate ? [false, true] : [false];
}
const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

/**
 * Value of a magnitude pattern by the formula, treating every exponent as finite (so the pattern
 * just above the largest finite one gives the next power of two: the "unbounded exponent" value
 * that IEEE overflow is defined by).
 */
function unboundedValue(f: Fmt, mag: number): number {
  const e = mag >>> f.mBits;
  const m = mag & ((1 << f.mBits) - 1);
  const frac = m / pow2(f.mBits);
  return e === 0 ? pow2(1 - f.bias) * frac : pow2(e - f.bias) * (1 + frac);
}

type RefDecoded = { kind: 'num'; value: number } | { kind: 'nan'; sign: number; payload: number };

/** Textbook decoding of a full pattern, with Inf/NaN classification. */
function refDecode(f: Fmt, b: number): RefDecoded {
  const neg = (b & f.signBit) !== 0;
  const mag = b & (f.signBit - 1);
  const eAll = (1 << f.eBits) - 1;
  const e = mag >>> f.mBits;
  const m = mag & ((1 << f.mBits) - 1);
  if (f.kind === 'ieee' && e === eAll) {
    if (m === 0) return { kind: 'num', value: neg ? -Infinity : Infinity };
    return { kind: 'nan', sign: neg ? 1 : 0, payload: m };
  }
  if (f.kind === 'fn' && mag === f.signBit - 1) return { kind: 'nan', sign: neg ? 1 : 0, payload: m };
  const v = unboundedValue(f, mag);
  return { kind: 'num', value: neg ? -v : v };
}

/**
 * Reference encoder for a finite or infinite, non-NaN value (already an f32 value): find the
 * binade, scale so the quantum is 1, round with Math.round and repair ties to even.
 */
function refEncode(f: Fmt, x: number, saturate: boolean): number {
  const sign = x < 0 || Object.is(x, -0) ? f.signBit : 0;
  const a = Math.abs(x);
  const infPattern = f.kind === 'ieee' ? f.maxBits + 1 : f.signBit - 1; // Inf, or NaN for fn
  if (a === Infinity) return sign | (saturate ? f.maxBits : infPattern);
  if (a === 0) return sign;
  let E = Math.floor(Math.log2(a));
  while (pow2(E) > a) E--;
  while (pow2(E + 1) <= a) E++;
  E = Math.max(E, 1 - f.bias); // subnormals share the quantum of the smallest binade
  const scaled = a / pow2(E - f.mBits); // exact: a has ≤ 24 significant bits
  let n = Math.round(scaled);
  if (scaled - Math.floor(scaled) === 0.5 && n % 2 === 1) n -= 1;
  // n is in [0, 2^(mBits+1)]; n = 2^(mBits+1) carries into the next binade by itself.
  const mag = (E + f.bias) * pow2(f.mBits) + n - pow2(f.mBits);
  if (mag > f.maxBits) return sign | (saturate ? f.maxBits : infPattern);
  return sign | mag;
}

/** The documented NaN rule: keep sign and the top payload bits; if those are zero, set the quiet bit. */
function refNaN(f: Fmt, u: number): number {
  const sign = u >>> 31 ? f.signBit : 0;
  if (f.kind === 'fn') return sign | (f.signBit - 1);
  const top = (u & 0x7fffff) >>> (23 - f.mBits);
  const exp = ((1 << f.eBits) - 1) << f.mBits;
  return sign | exp | (top === 0 ? 1 << (f.mBits - 1) : top);
}

/** Reference for any f32 bit pattern. */
function refEncodeBits(f: Fmt, u: number, saturate: boolean): number {
  if ((u & 0x7fffffff) > 0x7f800000) return refNaN(f, u);
  return refEncode(f, valueOf(u), saturate);
}

/** Compares bulk-encoded f32 patterns against the reference; reports the first few mismatches. */
function checkAgainstReference(f: Fmt, u: Uint32Array, saturate: boolean, what: string): void {
  const got = f.encBulk(new Float32Array(u.buffer, u.byteOffset, u.length), saturate);
  const bad: string[] = [];
  for (let i = 0; i < u.length && bad.length < 5; i++) {
    const want = refEncodeBits(f, u[i]!, saturate);
    if (got[i] !== want) bad.push(`${hex(u[i]!)} (${valueOf(u[i]!)}): got ${hex(got[i]!)} want ${hex(want)}`);
  }
  assert.deepEqual(bad, [], `${f.name} sat=${saturate} ${what}`);
}

function allPatterns(f: Fmt): Uint8Array | Uint16Array {
  const n = f.signBit * 2;
  const p = f.patterns(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

// ---------------------------------------------------------------------------------------------
// (1) + (4): every pattern decodes to the formula and re-encodes to itself
// ---------------------------------------------------------------------------------------------

for (const f of FORMATS) {
  test(`${f.name}: all ${f.signBit * 2} patterns decode by formula and round-trip`, () => {
    const p = allPatterns(f);
    const out = f.decBulk(p);
    const outBits = new Uint32Array(out.buffer);
    for (let b = 0; b < p.length; b++) {
      const ref = refDecode(f, b);
      const bits = outBits[b]!;
      assert.equal(f.dec(b), bits, `${f.name} ${hex(b)}: scalar bits decode equals bulk`);
      if (ref.kind === 'num') {
        assert.ok(Object.is(out[b], ref.value), `${f.name} ${hex(b)}: got ${out[b]} want ${ref.value}`);
        assert.ok(Object.is(f.decNum(b), ref.value), `${f.name} ${hex(b)}: scalar decode`);
      } else {
        // NaN: sign kept, payload in the top of the f32 mantissa, nothing else.
        const want = ((ref.sign << 31) | 0x7f800000 | (ref.payload << (23 - f.mBits))) >>> 0;
        assert.equal(hex(bits), hex(want), `${f.name} ${hex(b)}: NaN bits`);
        assert.ok(Number.isNaN(f.decNum(b)));
      }
      // Bit-level round trip is the identity on every pattern, NaNs included (saturating
      // conversions clamp ±Inf to ±max by design).
      const isInf = ref.kind === 'num' && Math.abs(ref.value) === Infinity;
      for (const sat of satModes(f)) {
        const want = sat && isInf ? (b & f.signBit) | f.maxBits : b;
        assert.equal(f.enc(bits, sat), want, `${f.name} ${hex(b)} bits round trip (sat=${sat})`);
      }
      // Through JS numbers, every non-NaN pattern round-trips too.
      if (ref.kind === 'num') assert.equal(f.encNum(f.decNum(b), false), b, `${f.name} ${hex(b)} number round trip`);
    }
    assert.deepEqual(f.encBulk(out, false), p, `${f.name}: bulk round trip`);
  });
}

// ---------------------------------------------------------------------------------------------
// (2): rounding at every boundary between adjacent values, and overflow
// ---------------------------------------------------------------------------------------------

/** Builds f32 inputs near every boundary, each with the expected magnitude pattern by rule. */
function boundaryCases(f: Fmt, saturate: boolean): { inputs: Uint32Array; want: Uint32Array } {
  const overflow = saturate ? f.maxBits : f.kind === 'ieee' ? f.maxBits + 1 : f.signBit - 1;
  const clamp = (mag: number): number => (mag > f.maxBits ? overflow : mag);
  const inputs: number[] = [];
  const want: number[] = [];
  const add = (u: number, mag: number): void => {
    inputs.push(u, (u | 0x80000000) >>> 0);
    want.push(mag, mag | f.signBit);
  };
  for (let p = 0; p <= f.maxBits; p++) {
    const lo = unboundedValue(f, p);
    const hi = unboundedValue(f, p + 1); // p + 1 = maxBits + 1 is the overflow threshold's far side
    const mid = (lo + hi) / 2;
    assert.equal(Math.fround(mid), mid, `${f.name}: midpoint of ${hex(p)} must be an f32`);
    const midBits = bitsOf(mid);
    const even = p % 2 === 0 ? p : p + 1;
    add(bitsOf(lo), p); // representable values map to themselves
    add(midBits, clamp(even)); // exact tie: the even pattern
    for (let k = 1; k <= 4; k++) {
      add(midBits - k, p); // just below the midpoint rounds down
      add(midBits + k, clamp(p + 1)); // just above rounds up
    }
    // One f32 ulp either side of a representable value is far closer to it than to a midpoint.
    if (p > 0) add(bitsOf(lo) - 1, p);
    add(bitsOf(lo) + 1, p);
  }
  // Far overflow, Inf and the extremes of f32.
  const twiceThreshold = 2 * unboundedValue(f, f.maxBits + 1); // Infinity for bf16
  for (const u of [bitsOf(twiceThreshold), 0x7f7fffff, 0x7f800000]) add(u, overflow);
  add(0x00000001, 0); // smallest f32 subnormal
  return { inputs: Uint32Array.from(inputs), want: Uint32Array.from(want) };
}

for (const f of FORMATS) {
  for (const sat of satModes(f)) {
    test(`${f.name}: ties to even, neighbours of every midpoint, overflow (saturate=${sat})`, () => {
      const { inputs, want } = boundaryCases(f, sat);
      const got = f.encBulk(new Float32Array(inputs.buffer), sat);
      for (let i = 0; i < inputs.length; i++) {
        if (got[i] !== want[i]) {
          const u = inputs[i]!;
          assert.fail(`${f.name} ${hex(u)} (${valueOf(u)}): got ${hex(got[i]!)} want ${hex(want[i]!)}`);
        }
      }
      // The reference encoder, used below on random inputs, must agree with the rule as well.
      checkAgainstReference(f, inputs, sat, 'boundary cases vs reference');
    });
  }
}

// ---------------------------------------------------------------------------------------------
// (3): a differently written reference on random f32 bit patterns
// ---------------------------------------------------------------------------------------------

test('random f32 bit patterns: all formats equal the reference encoder', () => {
  const rng = new Rng(20240601);
  const uniform = new Uint32Array(1_000_000);
  for (let i = 0; i < uniform.length; i++) uniform[i] = rng.u32();
  for (const f of FORMATS) {
    // Uniform patterns mostly land far outside the narrow formats' range, so add 300k whose
    // exponent lies within (or just outside) the format's range, subnormals included.
    const lowE = Math.max(0, 127 - f.bias - f.mBits - 3);
    const highE = Math.min(255, 127 + ((1 << f.eBits) - 1 - f.bias) + 3);
    const focused = new Uint32Array(300_000);
    for (let i = 0; i < focused.length; i++) {
      const e = lowE + rng.int(highE - lowE + 1);
      focused[i] = ((rng.u32() & 0x807fffff) | (e << 23)) >>> 0;
    }
    for (const sat of satModes(f)) {
      checkAgainstReference(f, uniform, sat, 'uniform random');
      checkAgainstReference(f, focused, sat, 'in-range random');
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Known values and the documented special cases
// ---------------------------------------------------------------------------------------------

test('known values', () => {
  assert.equal(d.f32ToF16Bits(1), 0x3c00);
  assert.equal(d.f32ToF16Bits(-2), 0xc000);
  assert.equal(d.f32ToF16Bits(Math.PI), 0x4248);
  assert.equal(d.f32ToF16Bits(65504), 0x7bff);
  assert.equal(d.f32ToF16Bits(65519.99), 0x7bff);
  assert.equal(d.f32ToF16Bits(65520), 0x7c00);
  assert.equal(d.f32ToF16Bits(2 ** -24), 0x0001);
  assert.equal(d.f32ToF16Bits(2 ** -25), 0x0000); // tie with 0 → even (0)
  assert.equal(d.f32ToF16Bits(-(2 ** -25) * 1.5), 0x8001);
  assert.equal(d.f32ToF16Bits(-0), 0x8000);
  assert.equal(d.f32ToF16Bits(-Infinity), 0xfc00);
  assert.equal(d.f16BitsToF32(0x3555), 0.333251953125);
  assert.equal(d.f16BitsToF32(0x0001), 2 ** -24);

  assert.equal(d.f32ToBf16Bits(1), 0x3f80);
  assert.equal(d.f32ToBf16Bits(Math.PI), 0x4049);
  assert.equal(d.f32ToBf16Bits(3.4028234663852886e38), 0x7f80); // f32 max rounds up to Inf
  assert.equal(d.bf16BitsToF32(0x7f7f), d.BF16_MAX);
  assert.equal(d.bf16BitsToF32(0x0001), 2 ** -133);
  assert.equal(d.f16BitsToF32(0x7bff), d.F16_MAX);

  assert.equal(d.f32ToFp8E4M3Bits(1), 0x38);
  assert.equal(d.f32ToFp8E4M3Bits(448), 0x7e);
  assert.equal(d.f32ToFp8E4M3Bits(2 ** -9), 0x01);
  assert.equal(d.fp8E4M3BitsToF32(0x7e), d.FP8_E4M3_MAX);
  assert.equal(d.fp8E4M3BitsToF32(0xfe), -448);
  assert.equal(d.f32ToFp8E5M2Bits(1), 0x3c);
  assert.equal(d.f32ToFp8E5M2Bits(57344), 0x7b);
  assert.equal(d.f32ToFp8E5M2Bits(2 ** -16), 0x01);
  assert.equal(d.fp8E5M2BitsToF32(0x7b), d.FP8_E5M2_MAX);
  assert.equal(d.fp8E5M2BitsToF32(0x7c), Infinity);
});

test('fp8 overflow, Inf and NaN with and without saturation', () => {
  const sat = { saturate: true };
  // E4M3FN: 464 is the tie between 448 (even) and the non-existent 480.
  assert.equal(d.f32ToFp8E4M3Bits(464), 0x7e);
  assert.equal(d.f32ToFp8E4M3Bits(464.00003), 0x7f);
  assert.equal(d.f32ToFp8E4M3Bits(464.00003, sat), 0x7e);
  assert.equal(d.f32ToFp8E4M3Bits(-1e30), 0xff);
  assert.equal(d.f32ToFp8E4M3Bits(-1e30, sat), 0xfe);
  assert.equal(d.f32ToFp8E4M3Bits(Infinity), 0x7f);
  assert.equal(d.f32ToFp8E4M3Bits(Infinity, sat), 0x7e);
  assert.equal(d.f32ToFp8E4M3Bits(-Infinity, sat), 0xfe);
  assert.equal(d.f32ToFp8E4M3Bits(NaN, sat), 0x7f);
  assert.equal(d.f32BitsToFp8E4M3Bits(0xffc00000, true), 0xff);
  // E5M2: 61440 is the tie between 57344 (odd) and 65536 (= Inf, even).
  assert.equal(d.f32ToFp8E5M2Bits(61440), 0x7c);
  assert.equal(d.f32ToFp8E5M2Bits(61439.996), 0x7b);
  assert.equal(d.f32ToFp8E5M2Bits(61440, sat), 0x7b);
  assert.equal(d.f32ToFp8E5M2Bits(-Infinity), 0xfc);
  assert.equal(d.f32ToFp8E5M2Bits(-Infinity, sat), 0xfb);
  assert.equal(d.f32BitsToFp8E5M2Bits(0x7fc00000, true), 0x7e);
  assert.equal(d.f32BitsToFp8E5M2Bits(0xff800001), 0xfe); // payload top bits zero → quiet bit
  assert.equal(d.f32BitsToFp8E5M2Bits(0x7fe00000), 0x7f);
});

test('NaN payload rules for f16 and bf16', () => {
  assert.equal(d.f32BitsToF16Bits(0x7fc00000), 0x7e00); // default quiet NaN
  assert.equal(d.f32BitsToF16Bits(0x7f800001), 0x7e00); // payload only in dropped bits → quiet bit
  assert.equal(d.f32BitsToF16Bits(0xffa00000), 0xfd00); // sNaN with payload kept as is
  assert.equal(d.f16BitsToF32Bits(0x7c01), 0x7f802000); // sNaN stays signaling at the bit level
  assert.equal(d.f32BitsToBf16Bits(0x7fc00000), 0x7fc0);
  assert.equal(d.f32BitsToBf16Bits(0xff800001), 0xffc0);
  assert.equal(d.f32BitsToBf16Bits(0x7f810000), 0x7f81);
  assert.equal(d.bf16BitsToF32Bits(0xff81), 0xff810000);
  assert.ok(Number.isNaN(d.f16BitsToF32(0x7e00)));
  assert.equal(d.f32ToF16Bits(NaN) & 0x7fff, 0x7e00);
});

// ---------------------------------------------------------------------------------------------
// (5): bulk equals scalar; views at offsets; argument checks
// ---------------------------------------------------------------------------------------------

test('bulk conversions equal the scalar ones, also on views at an offset', () => {
  const rng = new Rng(99);
  const n = 50_000;
  const buf = new ArrayBuffer(4 * (n + 3));
  const src = new Float32Array(buf, 8, n); // not at the start of its buffer
  const srcBits = new Uint32Array(buf, 8, n);
  const specials = [0, -0, Infinity, -Infinity, NaN, 65504, 65520, 448, 464, 57344, 61440, 1e-40, -1e-45];
  for (let i = 0; i < n; i++) {
    if (i < specials.length) src[i] = specials[i]!;
    else if (i % 3 === 0) srcBits[i] = rng.u32();
    else src[i] = rng.normal() * 2 ** (rng.int(60) - 30);
  }
  for (const f of FORMATS) {
    for (const sat of satModes(f)) {
      const got = f.encBulk(src, sat);
      for (let i = 0; i < n; i++) {
        const u = srcBits[i]!;
        assert.equal(got[i], f.enc(u, sat), `${f.name} bulk vs bits ${hex(u)}`);
        if ((u & 0x7fffffff) <= 0x7f800000) assert.equal(got[i], f.encNum(src[i]!, sat), `${f.name} bulk vs number`);
      }
      const back = new Uint32Array(f.decBulk(got).buffer);
      for (let i = 0; i < n; i++) assert.equal(back[i], f.dec(got[i]!));
    }
  }
  // Decoding into a dst view at an offset, and encoding into a given dst.
  const h = d.f32ToF16(src);
  const outBuf = new ArrayBuffer(4 * (n + 1));
  const dst = new Float32Array(outBuf, 4, n);
  assert.equal(d.f16ToF32(h, dst), dst);
  assert.equal(new Float32Array(outBuf)[0], 0, 'nothing written before the view');
  const hb = new Uint16Array(n);
  assert.equal(d.f32ToBf16(src, hb), hb);
  assert.deepEqual(d.bf16ToF32(hb), d.bf16ToF32(d.f32ToBf16(src)));
  const b8 = new Uint8Array(n);
  assert.equal(d.f32ToFp8E4M3(src, b8), b8);
  assert.equal(d.f32ToFp8E5M2(src, b8, { saturate: true }), b8);
  assert.deepEqual(d.f32ToF16(new Float32Array(0)), new Uint16Array(0));
});

test('argument checks throw E_ARG', () => {
  const isArg = (e: unknown): boolean => isZipmlError(e, 'E_ARG');
  assert.throws(() => d.f32ToF16(new Float32Array(4), new Uint16Array(3)), isArg);
  assert.throws(() => d.f16ToF32(new Uint16Array(4), new Float32Array(5)), isArg);
  assert.throws(() => d.f32ToBf16(new Float32Array(2), new Uint16Array(1)), isArg);
  assert.throws(() => d.bf16ToF32(new Uint16Array(2), new Float32Array(1)), isArg);
  assert.throws(() => d.f32ToFp8E4M3(new Float32Array(2), new Uint8Array(3)), isArg);
  assert.throws(() => d.fp8E4M3ToF32(new Uint8Array(2), new Float32Array(3)), isArg);
  assert.throws(() => d.f32ToFp8E5M2(new Float32Array(2), new Uint8Array(1)), isArg);
  assert.throws(() => d.fp8E5M2ToF32(new Uint8Array(2), new Float32Array(1)), isArg);
  // Wrong array types (as a JS caller could pass them).
  assert.throws(() => d.f32ToF16(new Float64Array(2) as unknown as Float32Array), isArg);
  assert.throws(() => d.f16ToF32(new Int16Array(2) as unknown as Uint16Array), isArg);
  assert.throws(() => d.f32ToFp8E4M3(new Float32Array(2), new Int8Array(2) as unknown as Uint8Array), isArg);
  // Scalar patterns out of range.
  for (const bad of [-1, 65536, 1.5, NaN]) {
    assert.throws(() => d.f16BitsToF32(bad), isArg);
    assert.throws(() => d.bf16BitsToF32(bad), isArg);
  }
  for (const bad of [-1, 256, 0.5]) {
    assert.throws(() => d.fp8E4M3BitsToF32(bad), isArg);
    assert.throws(() => d.fp8E5M2BitsToF32(bad), isArg);
  }
});
