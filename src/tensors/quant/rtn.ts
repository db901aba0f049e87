/**
 * Round-to-nearest group-wise quantization (the baseline every weight quantizer is compared with).
 * Per (row, group): symmetric codes use s = max|w| / (2^(bits-1) - 1) and z = 2^(bits-1), so the
 * largest magnitude is exact and codes 1..2^bits - 1 are used; asymmetric codes follow GPTQ's
 * quantizer (the range is widened to include 0, s = (max - min) / (2^bits - 1), z = round(-min / s)).
 * The scale is rounded to fp16 first and the codes are computed with the rounded scale, so what is
 * stored is what the codes were fitted to.
 */
import { ZipmlError } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import { type PackedMatrix, type QuantBits, type QuantGroup, QUANT_BITS, QUANT_GROUPS, codeAt, groupsPerRow, putCode, rowBytesFor, symmetricZero, zeroPoint } from './packed.js';

export interface QuantOptions {
  bits: QuantBits;
  group: QuantGroup;
  /** Default true. */
  symmetric?: boolean;
}

const F16_MIN_SUBNORMAL = 2 ** -24;

/** Scale and zero point of one group of values (scale already fp16-representable). */
export function groupParams(w: Float32Array, from: number, to: number, bits: number, symmetric: boolean): { scaleBits: number; zero: number } {
  const maxq = (1 << bits) - 1;
  let lo = 0, hi = 0, amax = 0;
  for (let i = from; i < to; i++) {
    const v = w[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    const a = Math.abs(v);
    if (a > amax) amax = a;
  }
  let s = symmetric ? amax / (symmetricZero(bits) - 1) : (hi - lo) / maxq;
  if (s === 0) s = 1; // an all-zero group: any scale reproduces it
  let scaleBits = f32ToF16Bits(Math.max(s, F16_MIN_SUBNORMAL));
  if (!Number.isFinite(f16BitsToF32(scaleBits))) throw new ZipmlError('E_ARG', `quantize: scale ${s} of a group does not fit fp16 (weights too large)`);
  // fp16 rounding may shrink the scale below what the range needs; step up one ulp if so.
  if (f16BitsToF32(scaleBits) < s) scaleBits++;
  const sf = f16BitsToF32(scaleBits);
  const zero = symmetric ? symmetricZero(bits) : Math.min(maxq, Math.max(0, Math.round(-lo / sf)));
  return { scaleBits, zero };
}

/** Round-to-nearest code of v for a scale and zero point, clamped to the code range. */
export function quantizeValue(v: number, scale: number, zero: number, maxq: number): number {
  return Math.min(maxq, Math.max(0, Math.round(v / scale) + zero));
}

export function checkQuantOptions(rows: number, cols: number, opts: QuantOptions, n: number): void {
  if (!QUANT_BITS.includes(opts.bits)) throw new ZipmlError('E_ARG', `quantize: bit width ${opts.bits} is not one of ${QUANT_BITS.join(', ')}`);
  if (!QUANT_GROUPS.includes(opts.group)) throw new ZipmlError('E_ARG', `quantize: group ${opts.group} is not one of ${QUANT_GROUPS.join(', ')}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows * cols !== n) throw new ZipmlError('E_ARG', `quantize: shape ${rows} x ${cols} does not match ${n} weights`);
}

/** An empty packed matrix of the given shape and options (codes zero). */
export function emptyPacked(rows: number, cols: number, opts: QuantOptions): PackedMatrix {
  const symmetric = opts.symmetric ?? true;
  const rowBytes = rowBytesFor(cols, opts.bits);
  const n = rows * groupsPerRow(cols, opts.group);
  return {
    rows, cols, bits: opts.bits, group: opts.group, symmetric, rowBytes,
    codes: new Uint8Array(rows * rowBytes), scales: new Uint16Array(n), zeros: symmetric ? undefined : new Uint8Array(n),
  };
}

/** RTN quantization of row-major W (rows x cols). */
export function quantizeRTN(w: Float32Array, rows: number, cols: number, opts: QuantOptions): PackedMatrix {
  checkQuantOptions(rows, cols, opts, w.length);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `quantize: weight ${i} is ${w[i]}`);
  const p = emptyPacked(rows, cols, opts);
  const nG = groupsPerRow(cols, p.group), maxq = (1 << p.bits) - 1;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nG; g++) {
      const from = r * cols + g * p.group, to = r * cols + Math.min(cols, (g + 1) * p.group);
      const { scaleBits, zero } = groupParams(w, from, to, p.bits, p.symmetric);
      p.scales[r * nG + g] = scaleBits;
      if (p.zeros) p.zeros[r * nG + g] = zero;
      const s = f16BitsToF32(scaleBits);
      for (let i = from; i < to; i++) putCode(p.codes, p.rowBytes, p.bits, r, i - r * cols, quantizeValue(w[i]!, s, zero, maxq));
    }
  }
  return p;
}

/** W as the codes represent it: s * (q - z), row-major fp32. */
export function dequantize(p: PackedMatrix): Float32Array {
  const out = new Float32Array(p.rows * p.cols);
  const nG = groupsPerRow(p.cols, p.group);
  for (let r = 0; r < p.rows; r++) {
    for (let c = 0; c < p.cols; c++) {
      const i = r * nG + Math.floor(c / p.group);
      out[r * p.cols + c] = f16BitsToF32(p.scales[i]!) * (codeAt(p, r, c) - zeroPoint(p, i));
    }
  }
  return out;
}
