/**
 * ggml's block formats Q8_0, Q4_0, Q5_0 and Q4_K: encoders that reproduce ggml's reference
 * quantizers byte for byte, and decoders that give exactly the floats ggml's dequantizers give.
 *
 * Written from llama.cpp ggml/src/ggml-quants.c (quantize_row_q8_0_ref, quantize_row_q4_0_ref,
 * quantize_row_q5_0_ref, quantize_row_q4_K_ref with make_qkx2_quants, get_scale_min_k4,
 * nearest_int, and the dequantize_row_* functions) and the block structs of ggml-common.h:
 *   block_q8_0 { ggml_half d; int8_t qs[32]; }                        34 bytes, x = d * qs[j]
 *   block_q4_0 { ggml_half d; uint8_t qs[16]; }                       18 bytes, x[j] = d * ((qs[j] & 15) - 8),
 *                                                                     x[j + 16] = d * ((qs[j] >> 4) - 8)
 *   block_q5_0 { ggml_half d; uint8_t qh[4]; uint8_t qs[16]; }        22 bytes, 5th bit of element j in bit j of qh (LE u32)
 *   block_q4_K { ggml_half d, dmin; uint8_t scales[12]; uint8_t qs[128]; }  144 bytes per 256 values:
 *     8 sub-blocks of 32, each with a 6-bit scale sc and 6-bit min m (packed by get_scale_min_k4),
 *     x = d * sc * q - dmin * m; byte l of each 32-byte chunk of qs holds sub-block 2k's element l in
 *     its low nibble and sub-block 2k+1's element l in its high nibble.
 *   block_q5_K { ggml_half d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; }  176 bytes per 256:
 *     Q4_K plus a fifth bit (bit 2k of qh[l] for sub-block 2k, bit 2k+1 for 2k+1) (decode only);
 *   block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; ggml_half d; }  210 bytes per 256,
 *     x = d * scales[j] * (q - 32) (decode only).
 * The two decode-only types are what llama.cpp's Q4_K_S / Q4_K_M files keep some tensors in.
 *
 * ggml computes in C `float` (x86-64 SSE: every operation rounded to float32, no contraction into
 * fma in ggml-base). We round after every operation with Math.fround, in ggml's evaluation order,
 * so the bytes are those ggml writes.
 */
import { ZipmlError } from '../../core/errors.js';
import { f32ToF16Bits } from '../../core/dtypes.js';

export type GgmlBlockType = 'Q8_0' | 'Q4_0' | 'Q5_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';
/** The block types we encode (Q5_K and Q6_K are decoded only). */
export type GgmlEncodeType = Exclude<GgmlBlockType, 'Q5_K' | 'Q6_K'>;

export const QK8_0 = 32;
export const QK4_0 = 32;
export const QK5_0 = 32;
export const QK_K = 256;

/** Values per block and bytes per block (ggml's blck_size and type_size). */
export const GGML_BLOCK: Record<GgmlBlockType, { values: number; bytes: number }> = {
  Q8_0: { values: QK8_0, bytes: 2 + QK8_0 },
  Q4_0: { values: QK4_0, bytes: 2 + QK4_0 / 2 },
  Q5_0: { values: QK5_0, bytes: 2 + 4 + QK5_0 / 2 },
  Q4_K: { values: QK_K, bytes: 2 + 2 + 12 + QK_K / 2 },
  Q5_K: { values: QK_K, bytes: 2 + 2 + 12 + QK_K / 8 + QK_K / 2 },
  Q6_K: { values: QK_K, bytes: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2 },
};
/** Byte offsets of each block's fp16 scales. */
const HALF_AT: Record<GgmlBlockType, number[]> = { Q8_0: [0], Q4_0: [0], Q5_0: [0], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208] };

const f = Math.fround;

/** fp16 bits to float, by table (the table is exact: every f16 is a float32). */
const F16 = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
  }
  return t;
})();
export const halfToFloat = (h: number): number => F16[h & 0xffff]!;

/** ggml's nearest_int: add 1.5 * 2^23 in float, read the low mantissa bits (round half to even). */
export function nearestInt(x: number): number {
  return f(x + 12582912) - 12582912;
}

/** C roundf: half away from zero. */
const roundf = (x: number): number => (x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5));

function checkLength(n: number, block: number, type: string): void {
  if (n % block !== 0) throw new ZipmlError('E_ARG', `${type}: ${n} values is not a multiple of the block size ${block}`);
}

/** Bytes of `n` values of a block type (n a multiple of the block size). */
export function ggmlBlockBytes(type: GgmlBlockType, n: number): number {
  const b = GGML_BLOCK[type];
  checkLength(n, b.values, type);
  return (n / b.values) * b.bytes;
}

// ---- Q8_0 ----

export function quantizeQ8_0(x: Float32Array, out: Uint8Array = new Uint8Array(ggmlBlockBytes('Q8_0', x.length))): Uint8Array {
  const nb = x.length / QK8_0;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(x[i * QK8_0 + j]!));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    const o = i * 34;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < QK8_0; j++) out[o + 2 + j] = roundf(f(x[i * QK8_0 + j]! * id)) & 0xff;
  }
  return out;
}

export function dequantizeQ8_0(b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  checkLength(n, QK8_0, 'Q8_0');
  for (let i = 0, o = 0; i < n / QK8_0; i++, o += 34) {
    const d = halfToFloat(b[o]! | (b[o + 1]! << 8));
    for (let j = 0; j < QK8_0; j++) out[i * QK8_0 + j] = ((b[o + 2 + j]! << 24) >> 24) * d;
  }
  return out;
}

// ---- Q4_0 ----

/** Block scale of Q4_0/Q5_0: the value of largest magnitude (with its sign) divided by -2^(bits-1). */
function signedMax(x: Float32Array, from: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[from + j]!;
    if (amax < Math.abs(v)) amax = Math.abs(v), max = v;
  }
  return max;
}

/**
 * quantize_row_q4_0_ref / _q5_0_ref: d = (signed value of largest magnitude) / -zero, codes
 * trunc(x / d + zero + 0.5) capped at 2 * zero - 1; `put` stores the codes of elements j and j + 16.
 */
function quantizeLegacy(x: Float32Array, out: Uint8Array, bytes: number, zero: number, put: (o: number, j: number, q0: number, q1: number) => void): Uint8Array {
  const nb = x.length / 32, top = 2 * zero - 1, add = zero + 0.5;
  for (let i = 0; i < nb; i++) {
    const d = f(signedMax(x, i * 32, 32) / -zero);
    const id = d ? f(1 / d) : 0;
    const o = i * bytes, hb = f32ToF16Bits(d);
    out[o] = hb & 0xff, out[o + 1] = hb >> 8;
    for (let j = 0; j < 16; j++) {
      // (int8_t)(v + 8.5f) truncates toward zero; v + zero + 0.5 >= 0.5 here.
      put(o, j, Math.min(top, Math.trunc(f(f(x[i * 32 + j]! * id) + add))), Math.min(top, Math.trunc(f(f(x[i * 32 + 16 + j]! * id) + add))));
    }
  }
  return out;
}

export function quantizeQ4_0(x: Float32Array, out: Uint8Array = new Uint8Array(ggmlBlockBytes('Q4_0', x.length))): Uint8Array {
  return quantizeLegacy(x, out, 18, 8, (o, j, q0, q1) => void (out[o + 2 + j] = q0 | (q1 << 4)));
}

export function dequantizeQ4_0(b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  checkLength(n, QK4_0, 'Q4_0');
  for (let i = 0, o = 0; i < n / QK4_0; i++, o += 18) {
    const d = halfToFloat(b[o]! | (b[o + 1]! << 8));
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j]!;
      out[i * 32 + j] = ((q & 15) - 8) * d;
      out[i * 32 + j + 16] = ((q >> 4) - 8) * d;
    }
  }
  return out;
}

// ---- Q5_0 (llama.cpp's fallback for Q4_K when rows are not a multiple of 256) ----

export function quantizeQ5_0(x: Float32Array, out: Uint8Array = new Uint8Array(ggmlBlockBytes('Q5_0', x.length))): Uint8Array {
  out.fill(0);
  return quantizeLegacy(x, out, 22, 16, (o, j, q0, q1) => {
    out[o + 6 + j] = (q0 & 15) | ((q1 & 15) << 4);
    // Fifth bits: element j at bit j, element j + 16 at bit j + 16 of the little-endian u32 qh.
    out[o + 2 + (j >> 3)]! |= (q0 >> 4) << (j & 7);
    out[o + 4 + (j >> 3)]! |= (q1 >> 4) << (j & 7);
  });
}

export function dequantizeQ5_0(b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  checkLength(n, QK5_0, 'Q5_0');
  for (let i = 0, o = 0; i < n / QK5_0; i++, o += 22) {
    const d = halfToFloat(b[o]! | (b[o + 1]! << 8));
    const qh = (b[o + 2]! | (b[o + 3]! << 8) | (b[o + 4]! << 16) | (b[o + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j]!;
      out[i * 32 + j] = (((q & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      out[i * 32 + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
  return out;
}

// ---- Q4_K ----

/** get_scale_min_k4: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes at `at`. */
export function getScaleMinK4(j: number, q: Uint8Array, at: number): [number, number] {
  if (j < 4) return [q[at + j]! & 63, q[at + j + 4]! & 63];
  return [(q[at + j + 4]! & 0xf) | ((q[at + j - 4]! >> 6) << 4), (q[at + j + 4]! >> 4) | ((q[at + j]! >> 6) << 4)];
}

/**
 * make_qkx2_quants: an affine fit x ~ scale * L - min with L in 0..nmax, minimising the weighted
 * squared error over nstep + 1 candidate inverse scales. Returns [scale, -min] and fills L.
 */
function makeQkx2Quants(n: number, nmax: number, x: Float32Array, xo: number, w: Float32Array, L: Uint8Array, lo: number, laux: Uint8Array, rmin: number, rdelta: number, nstep: number): [number, number] {
  let min = x[xo]!, max = x[xo]!;
  let sumW = w[0]!, sumX = f(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const v = x[xo + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = f(sumW + w[i]!);
    sumX = f(sumX + f(w[i]! * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return [0, -min];
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let best = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[xo + i]! - min)))));
    L[lo + i] = l;
    const diff = f(f(f(scale * l) + min) - x[xo + i]!);
    best = f(best + f(w[i]! * f(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[xo + i]! - min)))));
      laux[i] = l;
      const wl = f(w[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[xo + i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let cur = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * laux[i]!) + thisMin) - x[xo + i]!);
        cur = f(cur + f(w[i]! * f(diff * diff)));
      }
      if (cur < best) {
        for (let i = 0; i < n; i++) L[lo + i] = laux[i]!;
        best = cur;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

export function quantizeQ4_K(x: Float32Array, out: Uint8Array = new Uint8Array(ggmlBlockBytes('Q4_K', x.length))): Uint8Array {
  const nb = x.length / QK_K;
  const L = new Uint8Array(QK_K), laux = new Uint8Array(32), w = new Float32Array(32);
  const scales = new Float32Array(8), mins = new Float32Array(8);
  out.fill(0);
  for (let i = 0; i < nb; i++) {
    const xb = i * QK_K, o = i * 144, sc = o + 4;
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[xb + 32 * j + l]! * x[xb + 32 * j + l]!));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) w[l] = f(avX + Math.abs(x[xb + 32 * j + l]!));
      const [s, m] = makeQkx2Quants(32, 15, x, xb + 32 * j, w, L, 32 * j, laux, -1, 0.1, 20);
      scales[j] = s, mins[j] = m;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
      if (j < 4) {
        out[sc + j] = ls;
        out[sc + j + 4] = lm;
      } else {
        out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        out[sc + j - 4]! |= (ls >> 4) << 6;
        out[sc + j]! |= (lm >> 4) << 6;
      }
    }
    const dBits = f32ToF16Bits(f(maxScale / 63)), mBits = f32ToF16Bits(f(maxMin / 63));
    out[o] = dBits & 0xff, out[o + 1] = dBits >> 8, out[o + 2] = mBits & 0xff, out[o + 3] = mBits >> 8;
    for (let j = 0; j < 8; j++) {
      const [s, m] = getScaleMinK4(j, out, sc);
      const d = f(halfToFloat(dBits) * s);
      if (!d) continue; // ggml keeps make_qkx2_quants' codes for a zero sub-block scale
      const dm = f(halfToFloat(mBits) * m);
      for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = Math.max(0, Math.min(15, nearestInt(f(f(x[xb + 32 * j + ii]! + dm) / d))));
    }
    for (let j = 0, q = o + 16; j < QK_K; j += 64, q += 32) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
    }
  }
  return out;
}

/** Multipliers of sub-block j of the Q4_K block at `o`: value = a * q - b (both rounded to float as ggml does). */
export function q4kSubBlock(blk: Uint8Array, o: number, j: number): [number, number] {
  const d = halfToFloat(blk[o]! | (blk[o + 1]! << 8)), dmin = halfToFloat(blk[o + 2]! | (blk[o + 3]! << 8));
  const [s, m] = getScaleMinK4(j, blk, o + 4);
  return [f(d * s), f(dmin * m)];
}

/** dequantize_row_q4_K and (with the fifth bits at `qh`) dequantize_row_q5_K. */
function dequantizeK(b: Uint8Array, n: number, out: Float32Array, type: 'Q4_K' | 'Q5_K'): Float32Array {
  checkLength(n, QK_K, type);
  const bytes = GGML_BLOCK[type].bytes, five = type === 'Q5_K', qsAt = five ? 48 : 16;
  for (let i = 0, o = 0; i < n / QK_K; i++, o += bytes) {
    for (let j = 0; j < 8; j += 2) {
      const [d1, m1] = q4kSubBlock(b, o, j), [d2, m2] = q4kSubBlock(b, o, j + 1);
      const q = o + qsAt + 16 * j, y = i * QK_K + 32 * j;
      for (let l = 0; l < 32; l++) {
        const h = five ? b[o + 16 + l]! >> j : 0;
        out[y + l] = f(d1 * ((b[q + l]! & 0xf) + ((h & 1) << 4))) - m1;
        out[y + 32 + l] = f(d2 * ((b[q + l]! >> 4) + ((h & 2) << 3))) - m2;
      }
    }
  }
  return out;
}

export function dequantizeQ4_K(b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  return dequantizeK(b, n, out, 'Q4_K');
}

export function dequantizeQ5_K(b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  return dequantizeK(b, n, out, 'Q5_K');
}

// ---- Q6_K (decode only) ----

export function dequantizeQ6_K(b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  checkLength(n, QK_K, 'Q6_K');
  for (let i = 0, o = 0; i < n / QK_K; i++, o += 210) {
    const d = halfToFloat(b[o + 208]! | (b[o + 209]! << 8));
    // Each half (128 values) uses 64 bytes of ql, 32 of qh and 8 scales; element l + 32m of the
    // half takes ql's low (m even) or high (m odd) nibble and qh's bits 2m..2m+1.
    for (let h = 0; h < 2; h++) {
      const ql = o + 64 * h, qh = o + 128 + 32 * h, sc = o + 192 + 8 * h, y = i * QK_K + 128 * h;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4, hb = b[qh + l]!;
        const q = [(b[ql + l]! & 15) | ((hb & 3) << 4), (b[ql + l + 32]! & 15) | (((hb >> 2) & 3) << 4), (b[ql + l]! >> 4) | (((hb >> 4) & 3) << 4), (b[ql + l + 32]! >> 4) | (((hb >> 6) & 3) << 4)];
        for (let m = 0; m < 4; m++) out[y + l + 32 * m] = f(d * ((b[sc + is + 2 * m]! << 24) >> 24)) * (q[m]! - 32);
      }
    }
  }
  return out;
}

// ---- dispatch ----

const QUANTIZE: Record<GgmlEncodeType, (x: Float32Array, out?: Uint8Array) => Uint8Array> = { Q8_0: quantizeQ8_0, Q4_0: quantizeQ4_0, Q5_0: quantizeQ5_0, Q4_K: quantizeQ4_K };
const DEQUANTIZE: Record<GgmlBlockType, (b: Uint8Array, n: number, out?: Float32Array) => Float32Array> = {
  Q8_0: dequantizeQ8_0, Q4_0: dequantizeQ4_0, Q5_0: dequantizeQ5_0, Q4_K: dequantizeQ4_K, Q5_K: dequantizeQ5_K, Q6_K: dequantizeQ6_K,
};

export const isGgmlBlockType = (t: string): t is GgmlBlockType => t in GGML_BLOCK;

/** ggml's reference quantization of `x` (length a multiple of the block size); non-finite input is refused. */
export function ggmlQuantize(type: GgmlEncodeType, x: Float32Array): Uint8Array {
  if (!(type in QUANTIZE)) throw new ZipmlError('E_ARG', `${type}: no encoder (decode only)`);
  const out = new Uint8Array(ggmlBlockBytes(type, x.length));
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new ZipmlError('E_ARG', `${type}: value ${i} is ${x[i]}`);
  return QUANTIZE[type](x, out);
}

/** ggml's dequantization of `n` values from `blocks` (exactly the bytes n needs). */
export function ggmlDequantize(type: GgmlBlockType, blocks: Uint8Array, n: number, out?: Float32Array): Float32Array {
  const need = ggmlBlockBytes(type, n);
  if (blocks.length !== need) throw new ZipmlError('E_ARG', `${type}: ${blocks.length} bytes given, ${n} values need ${need}`);
  return DEQUANTIZE[type](blocks, n, out);
}

/**
 * Checks every block's fp16 scales are finite (ggml_validate_row_data does the same), so a hostile
 * file cannot feed NaN or infinity into a model. Returns the index of the first bad block, or -1.
 */
export function firstBadBlock(type: GgmlBlockType, blocks: Uint8Array): number {
  const { bytes } = GGML_BLOCK[type];
  for (let i = 0, o = 0; o + bytes <= blocks.length; i++, o += bytes) {
    for (const at of HALF_AT[type]) if ((blocks[o + at + 1]! & 0x7c) === 0x7c) return i;
  }
  return -1;
}
