/**
 * HQQ, half-quadratic quantization (Badri & Shaji 2023): calibration-free. Per (row, group) it
 * minimizes ‖W − s(Q − z)‖_p^p with p < 1 (a sparsity-promoting loss that lets a few large errors
 * go so the bulk fits) by half-quadratic splitting with an auxiliary error W_e:
 *   Q   ← clamp(round(W/s + z))
 *   W_e ← shrink_p(W − s(Q − z), β)        generalized soft-thresholding of the l_p prox
 *   z   ← mean(Q − (W − W_e)/s)            closed form of the quadratic sub-problem
 *   β   ← κβ
 * starting from the min/max affine grid, stopping when the mean absolute error stops falling,
 * and keeping the best iterate. The reference implementation moves only the zero point; here the
 * quadratic sub-problem is also solved for the scale by default (a least-squares line through
 * (Q, W − W_e)); `updateScale: false` gives the reference's zero-only update. Scale and zero point are stored in fp16 (the zero point is real, not an
 * integer code), and the codes are recomputed with the fp16-rounded pair.
 */
import { ZipmlError, type LongOpOptions } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import type { LlamaModel } from '../llm/model.js';
import type { QuantizedModel } from './model.js';
import { type PackedMatrix, groupsPerRow, putCode } from './packed.js';
import { QuantArena, QuantLinear } from './qmatvec.js';
import { type QuantOptions, checkQuantOptions, emptyPacked } from './rtn.js';
import { packedBits, quantizeLayers } from './layers.js';

export interface HqqOptions extends Omit<QuantOptions, 'symmetric'> {
  /** The p of the l_p loss; default 0.7 (the paper's). */
  lpNorm?: number;
  /** Initial β of the half-quadratic penalty; default 10. */
  beta?: number;
  /** Growth of β per iteration; default 1.01. */
  kappa?: number;
  /** Maximum iterations; default 20. */
  iters?: number;
  /**
   * Also update the scale in closed form; default true (the reference moves the zero only; on
   * stories260K moving both fits better at every width, see docs/quant-methods.md).
   */
  updateScale?: boolean;
}

/** Prox of (1/β)|x|^p, approximated by generalized soft-thresholding (as the paper). */
export function shrinkLp(x: number, beta: number, p: number): number {
  const a = Math.abs(x);
  const t = a - (p === 1 ? 1 / beta : Math.pow(a + 1e-8, p - 1) / beta);
  return t > 0 ? Math.sign(x) * t : 0;
}

export interface HqqGroup {
  /** Scale s (weight = s (q − z)), before fp16 rounding. */
  scale: number;
  zero: number;
  iterations: number;
}

/** HQQ of one group w[from..to); returns its affine grid (not yet rounded to fp16). */
export function hqqGroup(w: ArrayLike<number>, from: number, to: number, bits: number, o: Required<Omit<HqqOptions, 'bits' | 'group'>>): HqqGroup {
  const maxq = (1 << bits) - 1, n = to - from;
  let lo = Infinity, hi = -Infinity;
  for (let i = from; i < to; i++) {
    lo = Math.min(lo, w[i]!);
    hi = Math.max(hi, w[i]!);
  }
  // The optimizer works with the inverse scale, as the reference (clamped for flat groups).
  let inv = hi > lo ? Math.min(maxq / (hi - lo), 2e4) : 1;
  let zero = -lo * inv;
  let best = { inv, zero, err: Infinity }, beta = o.beta, it = 0;
  const q = new Float64Array(n), we = new Float64Array(n);
  for (; it < o.iters; it++) {
    let err = 0;
    for (let i = 0; i < n; i++) {
      const v = w[from + i]!;
      const c = Math.min(maxq, Math.max(0, Math.round(v * inv + zero)));
      q[i] = c;
      const e = v - (c - zero) / inv;
      err += Math.abs(e);
      we[i] = shrinkLp(e, beta, o.lpNorm);
    }
    err /= n;
    if (err < best.err) best = { inv, zero, err };
    else break;
    if (o.updateScale) {
      // Least-squares line t = a q + b through the targets t = W − W_e; s = a, z = −b/a.
      let sq = 0, st = 0, sqq = 0, sqt = 0;
      for (let i = 0; i < n; i++) {
        const t = w[from + i]! - we[i]!;
        sq += q[i]!;
        st += t;
        sqq += q[i]! * q[i]!;
        sqt += q[i]! * t;
      }
      const den = n * sqq - sq * sq;
      const a = den > 0 ? (n * sqt - sq * st) / den : 0;
      if (a > 0) {
        inv = Math.min(1 / a, 2e4); // the same clamp as the start: keeps the scale an fp16 normal
        zero = -((st - a * sq) / n) * inv;
      }
    } else {
      let s = 0;
      for (let i = 0; i < n; i++) s += q[i]! - (w[from + i]! - we[i]!) * inv;
      zero = s / n;
    }
    beta *= o.kappa;
  }
  return { scale: 1 / best.inv, zero: best.zero, iterations: it };
}

export function hqqDefaults(opts: HqqOptions): Required<Omit<HqqOptions, 'bits' | 'group'>> {
  const o = { lpNorm: opts.lpNorm ?? 0.7, beta: opts.beta ?? 10, kappa: opts.kappa ?? 1.01, iters: opts.iters ?? 20, updateScale: opts.updateScale ?? true };
  if (!(o.lpNorm > 0 && o.lpNorm <= 1) || !(o.beta > 0) || !(o.kappa >= 1) || !Number.isInteger(o.iters) || o.iters < 1) {
    throw new ZipmlError('E_ARG', `hqq: need 0 < lpNorm ≤ 1, beta > 0, kappa ≥ 1, iters ≥ 1 (got ${o.lpNorm}, ${o.beta}, ${o.kappa}, ${o.iters})`);
  }
  return o;
}

/** HQQ of row-major W (rows × cols): integer codes, fp16 scale and fp16 (real) zero per group. */
export function quantizeHQQ(w: Float32Array, rows: number, cols: number, opts: HqqOptions): PackedMatrix & { zeroF16: Uint16Array } {
  checkQuantOptions(rows, cols, { ...opts, symmetric: false }, w.length);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `hqq: weight ${i} is ${w[i]}`);
  const o = hqqDefaults(opts);
  const base = emptyPacked(rows, cols, { bits: opts.bits, group: opts.group, symmetric: false });
  const nG = groupsPerRow(cols, base.group), maxq = (1 << base.bits) - 1;
  const p = { ...base, zeros: undefined, zeroF16: new Uint16Array(rows * nG) };
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nG; g++) {
      const from = r * cols + g * base.group, to = r * cols + Math.min(cols, (g + 1) * base.group);
      const { scale, zero } = hqqGroup(w, from, to, base.bits, o);
      const sBits = f32ToF16Bits(scale), zBits = f32ToF16Bits(zero);
      const s = f16BitsToF32(sBits), z = f16BitsToF32(zBits);
      if (!Number.isFinite(s) || !Number.isFinite(z) || s === 0) throw new ZipmlError('E_ARG', `hqq: row ${r} group ${g}: scale ${scale} / zero ${zero} do not fit fp16`);
      p.scales[r * nG + g] = sBits;
      p.zeroF16[r * nG + g] = zBits;
      for (let i = from; i < to; i++) putCode(p.codes, p.rowBytes, p.bits, r, i - r * cols, Math.min(maxq, Math.max(0, Math.round(w[i]! / s + z))));
    }
  }
  return p;
}

/** Every block linear layer of `model` HQQ-quantized (no calibration data). */
export function quantizeModelHQQ(model: LlamaModel, opts: HqqOptions & LongOpOptions): QuantizedModel {
  const arena = new QuantArena();
  return quantizeLayers(model, 'hqq', opts, (_l, _n, op) => {
    const p = quantizeHQQ(op.weights, op.rows, op.cols, opts);
    return { op: new QuantLinear(p, arena), bits: packedBits(p) };
  });
}
