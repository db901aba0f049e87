/**
 * HQQ, half-quadratic quantization (Badri & Shaji 2023): calibration-free. Per (row, group) it
 * minimizes ‖W − s(Q − z)‖_p^p with p < 1 (a sparsity-promoting loss that lets a few large errors
 * go so the bulk fits) by half-quadratic splitting with an auxiliary error W_e:
 *   Q   ← clamp(round(W/s + z))
 *   W_e ← shrink_p(W − s(Q − z), β)        generalized soft-thresholding of the l_p prox
 *   z   ← mean(Q − (W − W_e)/s)            closed form of the quadratic sub-problem
 *   β   ← κβ
 * starting from the min/max affine grid. Defaults follow the reference (mobiusml/hqq,
 * optimize_weights_proximal with its quantize config): p 0.7, β 10, κ 1.01, 20 iterations, the
 * zero point moves and the scale stays, the starting zero is rounded at 4 bits, and the loop
 * stops for the whole matrix at once when its mean |error| stops falling (the last grid that
 * lowered it is kept). Groups are consecutive input columns (the reference's axis=1).
 * Options beyond the reference: `updateScale` (the quadratic sub-problem solved for the scale too),
 * `earlyStop: 'group'`, and `zero: 'u8'` (an integer zero point in a byte, RTN's storage). Scales
 * are stored in fp16 and so is a real zero point; the codes are recomputed with the stored grid.
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
   * Also update the scale in closed form (a least-squares line through (Q, W − W_e)); default
   * false: the reference moves the zero point only.
   */
  updateScale?: boolean;
  /**
   * Where the early stop measures the mean absolute error: over the whole matrix (default, as the
   * reference: every group stops at the same iteration) or per group (each group keeps its own
   * best iterate).
   */
  earlyStop?: 'matrix' | 'group';
  /** Round the min/max starting zero point to an integer; default: at 4 bits (the reference's config). */
  roundZero?: boolean;
  /**
   * How the zero point is stored: 'f16' (default, the reference: a real zero in fp16) or 'u8'
   * (an integer code 0..2^bits − 1 in one byte, as RTN's; the zero update is then projected onto
   * the integers, see hqqStep).
   */
  zero?: 'f16' | 'u8';
}

export type HqqSettings = Required<Omit<HqqOptions, 'bits' | 'group'>>;

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

/** Inverse scale and zero point of the min/max grid of w[from..to) (the reference's start). */
function minMaxStart(w: ArrayLike<number>, from: number, to: number, maxq: number, o: HqqSettings): { inv: number; zero: number } {
  // An integer zero must stay a code, so its range includes 0 (RTN's zero-point grid).
  const int = o.zero === 'u8';
  let lo = int ? 0 : Infinity, hi = int ? 0 : -Infinity;
  for (let i = from; i < to; i++) {
    lo = Math.min(lo, w[i]!);
    hi = Math.max(hi, w[i]!);
  }
  // As the reference: the inverse scale, 1 for (near-)flat groups, clamped to stay an fp16 normal.
  const inv = hi - lo <= 1e-4 ? 1 : Math.min(maxq / (hi - lo), 2e4);
  const zero = -lo * inv;
  return { inv, zero: int ? Math.min(maxq, Math.round(zero)) : o.roundZero ? Math.round(zero) : zero };
}

/**
 * One half-quadratic iteration on the group w[from..to) with grid (inv, zero): codes Q, the l_p
 * prox W_e of the error, then the closed-form fit of the grid to W − W_e. Returns the mean
 * absolute error of the grid it was given and writes the refitted grid to `next`.
 * Zero only: z = mean(Q − (W − W_e)·inv). With `updateScale`: the least-squares line through
 * (Q, W − W_e). With an integer ('u8') zero, the quadratic in z is minimized over the integers:
 * zero only, by rounding (a 1-D convex quadratic); with the scale, by refitting s for the floor
 * and the ceiling of the real optimum and keeping the lower residual.
 */
export function hqqStep(w: ArrayLike<number>, from: number, to: number, maxq: number, inv: number, zero: number, beta: number, o: HqqSettings, q: Float64Array, t: Float64Array, next: { inv: number; zero: number }): number {
  const n = to - from;
  let err = 0;
  for (let i = 0; i < n; i++) {
    const v = w[from + i]!;
    const c = Math.min(maxq, Math.max(0, Math.round(v * inv + zero)));
    q[i] = c;
    const e = v - (c - zero) / inv;
    err += Math.abs(e);
    t[i] = v - shrinkLp(e, beta, o.lpNorm); // the target W − W_e
  }
  next.inv = inv;
  next.zero = zero;
  const int = o.zero === 'u8';
  if (!o.updateScale) {
    let s = 0;
    for (let i = 0; i < n; i++) s += q[i]! - t[i]! * inv;
    next.zero = int ? Math.min(maxq, Math.max(0, Math.round(s / n))) : s / n;
    return err / n;
  }
  let sq = 0, st = 0, sqq = 0, sqt = 0, stt = 0;
  for (let i = 0; i < n; i++) {
    sq += q[i]!;
    st += t[i]!;
    sqq += q[i]! * q[i]!;
    sqt += q[i]! * t[i]!;
    stt += t[i]! * t[i]!;
  }
  const den = n * sqq - sq * sq;
  const a = den > 0 ? (n * sqt - sq * st) / den : 0;
  if (!(a > 0)) return err / n; // a degenerate fit: keep the grid
  const z = -((st - a * sq) / n) / a;
  if (!int) {
    next.inv = Math.min(1 / a, 2e4);
    next.zero = z;
    return err / n;
  }
  // Integer zero: for fixed z the best scale is Σ(q−z)t / Σ(q−z)²; residual Σt² − (Σ(q−z)t)²/Σ(q−z)².
  let bestCost = Infinity;
  for (const zc of new Set([Math.floor(z), Math.ceil(z)].map((v) => Math.min(maxq, Math.max(0, v))))) {
    const sdd = sqq - 2 * zc * sq + n * zc * zc, sdt = sqt - zc * st;
    if (!(sdd > 0 && sdt > 0)) continue;
    const cost = stt - (sdt * sdt) / sdd;
    if (cost < bestCost) [bestCost, next.inv, next.zero] = [cost, Math.min(sdd / sdt, 2e4), zc];
  }
  return err / n;
}

/** HQQ of one group w[from..to) on its own (per-group early stop); its grid before fp16 rounding. */
export function hqqGroup(w: ArrayLike<number>, from: number, to: number, bits: number, o: HqqSettings): HqqGroup {
  const maxq = (1 << bits) - 1, n = to - from;
  let { inv, zero } = minMaxStart(w, from, to, maxq, o);
  let best = { inv, zero, err: Infinity }, beta = o.beta, it = 0;
  const q = new Float64Array(n), t = new Float64Array(n), next = { inv, zero };
  // iters updates; the grid each one starts from is measured and the best measured grid kept.
  for (; it <= o.iters; it++) {
    const err = hqqStep(w, from, to, maxq, inv, zero, beta, o, q, t, next);
    if (!(err < best.err)) break;
    best = { inv, zero, err };
    ({ inv, zero } = next);
    beta *= o.kappa;
  }
  return { scale: 1 / best.inv, zero: best.zero, iterations: it };
}

/**
 * HQQ of every group of a rows × cols matrix with the reference's matrix-wide early stop: all
 * groups iterate together and stop at the first iteration whose mean |error| over the whole
 * matrix does not fall; the last grid that lowered it is kept.
 */
export function hqqMatrix(w: ArrayLike<number>, rows: number, cols: number, bits: number, group: number, o: HqqSettings): { scales: Float64Array; zeros: Float64Array; iterations: number } {
  const maxq = (1 << bits) - 1, nG = groupsPerRow(cols, group), N = rows * nG;
  const inv = new Float64Array(N), zero = new Float64Array(N), nextInv = new Float64Array(N), nextZero = new Float64Array(N);
  const span = (k: number): [number, number] => {
    const r = Math.floor(k / nG), g = k % nG;
    return [r * cols + g * group, r * cols + Math.min(cols, (g + 1) * group)];
  };
  for (let k = 0; k < N; k++) {
    const [from, to] = span(k);
    ({ inv: inv[k], zero: zero[k] } = minMaxStart(w, from, to, maxq, o));
  }
  const bestInv = inv.slice(), bestZero = zero.slice();
  const q = new Float64Array(group), t = new Float64Array(group), next = { inv: 0, zero: 0 };
  let best = Infinity, beta = o.beta, it = 0;
  for (; it <= o.iters; it++) {
    let err = 0;
    for (let k = 0; k < N; k++) {
      const [from, to] = span(k);
      err += hqqStep(w, from, to, maxq, inv[k]!, zero[k]!, beta, o, q, t, next) * (to - from);
      nextInv[k] = next.inv;
      nextZero[k] = next.zero;
    }
    if (!(err < best)) break;
    best = err;
    bestInv.set(inv);
    bestZero.set(zero);
    inv.set(nextInv);
    zero.set(nextZero);
    beta *= o.kappa;
  }
  return { scales: bestInv.map((v) => 1 / v), zeros: bestZero, iterations: it };
}

export function hqqDefaults(opts: HqqOptions): HqqSettings {
  const o: HqqSettings = {
    lpNorm: opts.lpNorm ?? 0.7, beta: opts.beta ?? 10, kappa: opts.kappa ?? 1.01, iters: opts.iters ?? 20, updateScale: opts.updateScale ?? false,
    earlyStop: opts.earlyStop ?? 'matrix', roundZero: opts.roundZero ?? opts.bits === 4, zero: opts.zero ?? 'f16',
  };
  if (!(o.lpNorm > 0 && o.lpNorm <= 1) || !(o.beta > 0) || !(o.kappa >= 1) || !Number.isInteger(o.iters) || o.iters < 1) {
    throw new ZipmlError('E_ARG', `hqq: need 0 < lpNorm ≤ 1, beta > 0, kappa ≥ 1, iters ≥ 1 (got ${o.lpNorm}, ${o.beta}, ${o.kappa}, ${o.iters})`);
  }
  if (o.earlyStop !== 'matrix' && o.earlyStop !== 'group') throw new ZipmlError('E_ARG', `hqq: earlyStop must be 'matrix' or 'group' (got ${String(o.earlyStop)})`);
  if (o.zero !== 'f16' && o.zero !== 'u8') throw new ZipmlError('E_ARG', `hqq: zero must be 'f16' or 'u8' (got ${String(o.zero)})`);
  return o;
}

/**
 * HQQ of row-major W (rows × cols): integer codes, an fp16 scale and a zero point per group, the
 * zero stored as fp16 (`zeroF16`, default) or as an integer byte (`zeros`, option `zero: 'u8'`).
 */
export function quantizeHQQ(w: Float32Array, rows: number, cols: number, opts: HqqOptions): PackedMatrix {
  checkQuantOptions(rows, cols, { ...opts, symmetric: false }, w.length);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `hqq: weight ${i} is ${w[i]}`);
  const o = hqqDefaults(opts);
  const base = emptyPacked(rows, cols, { bits: opts.bits, group: opts.group, symmetric: false });
  const nG = groupsPerRow(cols, base.group), maxq = (1 << base.bits) - 1;
  const p: PackedMatrix = o.zero === 'u8' ? base : { ...base, zeros: undefined, zeroF16: new Uint16Array(rows * nG) };
  let grids: { scales: ArrayLike<number>; zeros: ArrayLike<number> };
  if (o.earlyStop === 'matrix') grids = hqqMatrix(w, rows, cols, base.bits, base.group, o);
  else {
    const scales = new Float64Array(rows * nG), zeros = new Float64Array(rows * nG);
    for (let k = 0; k < rows * nG; k++) {
      const r = Math.floor(k / nG), g = k % nG;
      ({ scale: scales[k], zero: zeros[k] } = hqqGroup(w, r * cols + g * base.group, r * cols + Math.min(cols, (g + 1) * base.group), base.bits, o));
    }
    grids = { scales, zeros };
  }
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nG; g++) {
      const k = r * nG + g, from = r * cols + g * base.group, to = r * cols + Math.min(cols, (g + 1) * base.group);
      const scale = grids.scales[k]!, zero = grids.zeros[k]!;
      const sBits = f32ToF16Bits(scale), zBits = f32ToF16Bits(zero);
      const s = f16BitsToF32(sBits), z = p.zeros ? zero : f16BitsToF32(zBits);
      if (!Number.isFinite(s) || !Number.isFinite(z) || s === 0) throw new ZipmlError('E_ARG', `hqq: row ${r} group ${g}: scale ${scale} / zero ${zero} do not fit fp16`);
      p.scales[k] = sBits;
      if (p.zeros) p.zeros[k] = z;
      else p.zeroF16![k] = zBits;
      // The codes are recomputed with the stored (fp16-rounded) grid, so what is stored is what was fitted.
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
