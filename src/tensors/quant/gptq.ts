/**
 * GPTQ (Frantar et al. 2022): quantize W column by column in the order of the input dimension,
 * and after each column spread its rounding error over the columns not yet quantized, weighted by
 * the inverse Hessian of the layer's reconstruction loss ‖(W − Ŵ)X‖², H = 2 X Xᵀ / n. As the paper:
 * 1% damping (λ = 0.01 · mean diag H), dead inputs (H_jj = 0) zeroed, the upper Cholesky factor U
 * of H⁻¹ (H⁻¹ = Uᵀ U) drives the updates, error feedback inside blocks of 128 columns and one
 * lazy batch update of the remaining columns per block. Optional act-order (columns by decreasing
 * diag H) with contiguous groups fitted lazily or statically, optional weights kept exact (SpQR
 * outliers, see outliers.ts), optional sequential calibration. The codes land in the same
 * PackedMatrix as RTN's.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import { type LlamaModel, type LinearName, LINEAR_NAMES } from '../llm/model.js';
import { DenseLinear } from '../llm/linear.js';
import { teacherForce } from '../llm/perplexity.js';
import { type PackedMatrix, groupsPerRow, putCode } from './packed.js';
import { type QuantLayer, packedBits } from './layers.js';
import { cholesky, inverseFromCholesky } from './linalg.js';
import { QuantArena, QuantLinear } from './qmatvec.js';
import { type QuantOptions, checkQuantOptions, emptyPacked, groupParams, quantizeValue } from './rtn.js';
import type { QuantizedModel } from './model.js';

export interface GptqOptions extends QuantOptions {
  /** Damping as a fraction of mean diag(H); default 0.01. */
  damp?: number;
  /** Columns per lazy batch; default 128. */
  blockSize?: number;
  /** Quantize columns by decreasing diag H; default false. */
  actOrder?: boolean;
  /** When group scales / zero points are fitted: 'lazy' (default) or 'static'; see gptqCore. */
  groupFit?: 'lazy' | 'static';
  /**
   * Fit each group's range by the reference quantizer's grid search (shrink the min/max range by
   * 1 − i/100, i < 80, keep the one with the least Σ|w − ŵ|^2.4) instead of plain min/max;
   * default false.
   */
  mse?: boolean;
}

/**
 * Scale / zero of a group by the reference GPTQ quantizer's `mse` search: the min/max range
 * (including 0; symmetric: ±max|w|) shrunk by p = 1 − i/grid for i < maxShrink·grid, keeping the
 * p with the least Σ |w − ŵ|^norm. Scales are fp16-rounded before the codes are chosen.
 */
export function searchGroupParams(w: Float32Array, n: number, bits: number, symmetric: boolean, grid = 100, maxShrink = 0.8, norm = 2.4): { scaleBits: number; zero: number } {
  const maxq = (1 << bits) - 1, half = 1 << (bits - 1);
  let lo = 0, hi = 0;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, w[i]!);
    hi = Math.max(hi, w[i]!);
  }
  const amax = Math.max(-lo, hi);
  const errOf = (scaleBits: number, zero: number): number => {
    const s = f16BitsToF32(scaleBits);
    let err = 0;
    for (let k = 0; k < n; k++) err += Math.abs(w[k]! - s * (quantizeValue(w[k]!, s, zero, maxq) - zero)) ** norm;
    return err;
  };
  // The plain min/max fit is a candidate too, so the search is never worse than it.
  let best = groupParams(w, 0, n, bits, symmetric), bestErr = errOf(best.scaleBits, best.zero);
  if (amax === 0) return best;
  for (let i = 0; i < Math.floor(maxShrink * grid); i++) {
    const p = 1 - i / grid;
    const s0 = symmetric ? (p * amax) / (half - 1) : (p * (hi - lo)) / maxq;
    const scaleBits = f32ToF16Bits(Math.max(s0, 2 ** -24));
    const zero = symmetric ? half : Math.min(maxq, Math.max(0, Math.round((-p * lo) / f16BitsToF32(scaleBits))));
    const err = errOf(scaleBits, zero);
    if (err < bestErr) [best, bestErr] = [{ scaleBits, zero }, err];
  }
  return best;
}

/** Σ x xᵀ over captured inputs (cols × cols, double) and how many were added. */
export class HessianAccumulator {
  readonly h: Float64Array;
  count = 0;
  constructor(readonly cols: number) {
    this.h = new Float64Array(cols * cols);
  }

  add(x: Float32Array): void {
    const n = this.cols, h = this.h;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      for (let j = 0; j < n; j++) h[i * n + j]! += xi * x[j]!;
    }
    this.count++;
  }

  /** H = 2 Σ x xᵀ / count, as GPTQ scales it. */
  hessian(): Float64Array {
    const s = this.count > 0 ? 2 / this.count : 0;
    return this.h.map((v) => v * s);
  }
}

/** Options of the GPTQ core beyond the packed format. */
export interface GptqCoreOptions extends GptqOptions {
  /**
   * Weights kept exact (1 = keep; rows × cols): excluded from their group's scale / zero point,
   * given the code of 0, and their current (error-compensated) value returned in `kept`.
   */
  keep?: Uint8Array;
}

export interface GptqResult {
  packed: PackedMatrix;
  /** With `keep`: the value each kept weight must have (rows × cols, 0 elsewhere). */
  kept: Float32Array | undefined;
  /** The column order used (act-order permutation, or identity). */
  order: Int32Array;
}

/** Columns by decreasing diag H (GPTQ's act-order); ties keep the input order. */
export function actOrder(hessian: Float64Array, cols: number): Int32Array {
  const idx = Array.from({ length: cols }, (_, i) => i);
  idx.sort((a, b) => hessian[b * cols + b]! - hessian[a * cols + a]! || a - b);
  return Int32Array.from(idx);
}

/** The damped Hessian (dead inputs' weights zeroed in W) and U, the upper Cholesky factor of its inverse. */
export function dampedInverseFactor(W: Float64Array, rows: number, cols: number, hessian: Float64Array, damp: number): { h: Float64Array; u: Float64Array } {
  const H = Float64Array.from(hessian);
  let mean = 0;
  for (let j = 0; j < cols; j++) {
    if (H[j * cols + j] === 0) {
      H[j * cols + j] = 1; // a dead input: its weights cannot matter, zero them
      for (let r = 0; r < rows; r++) W[r * cols + j] = 0;
    }
    mean += H[j * cols + j]!;
  }
  const lambda = (damp * mean) / cols;
  for (let j = 0; j < cols; j++) H[j * cols + j]! += lambda;
  const lo = cholesky(inverseFromCholesky(cholesky(H, cols, 'gptq'), cols), cols, 'gptq');
  const u = new Float64Array(cols * cols); // upper factor = transpose of the lower one
  for (let i = 0; i < cols; i++) for (let j = i; j < cols; j++) u[i * cols + j] = lo[j * cols + i]!;
  return { h: H, u };
}

/**
 * W[:, order] and U for GPTQ's loop in the permuted column space (order = act-order or identity):
 * H[order][:, order] damped, dead inputs' weights zeroed, U the upper Cholesky factor of its inverse.
 */
export function permutedProblem(w: Float32Array, rows: number, cols: number, hessian: Float64Array, byActOrder: boolean, damp: number): { order: Int32Array; W: Float64Array; U: Float64Array } {
  const order = byActOrder ? actOrder(hessian, cols) : Int32Array.from({ length: cols }, (_, i) => i);
  const W = new Float64Array(rows * cols), Hp = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) W[r * cols + j] = w[r * cols + order[j]!]!;
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) Hp[i * cols + j] = hessian[order[i]! * cols + order[j]!]!;
  return { order, W, U: dampedInverseFactor(W, rows, cols, Hp, damp).u };
}

/** Records row r's error e of column j (block b0..b1) and spreads it over the block's later columns. */
export function feedBack(W: Float64Array, U: Float64Array, cols: number, err: Float64Array, bs: number, r: number, j: number, b0: number, b1: number, e: number): void {
  err[r * bs + (j - b0)] = e;
  if (e !== 0) for (let c = j + 1; c < b1; c++) W[r * cols + c]! -= e * U[j * cols + c]!;
}

/** GPTQ's lazy batch update: the block's errors applied to every column right of it at once. */
export function lazyBatchUpdate(W: Float64Array, U: Float64Array, rows: number, cols: number, err: Float64Array, bs: number, b0: number, b1: number): void {
  for (let r = 0; r < rows; r++) {
    for (let c = b1; c < cols; c++) {
      let s = 0;
      for (let j = b0; j < b1; j++) s += err[r * bs + (j - b0)]! * U[j * cols + c]!;
      W[r * cols + c]! -= s;
    }
  }
}

/**
 * The GPTQ column loop. With `actOrder` columns go by decreasing diag H. Groups stay contiguous
 * in the stored layout (no g_idx); a group's scale / zero point is fitted either when the loop
 * first reaches one of its columns, on the error-compensated weights (`groupFit: 'lazy'`, what
 * the reference does without act-order) or up front on the original weights (`'static'`, the
 * reference's static_groups).
 */
export function gptqCore(w: Float32Array, rows: number, cols: number, hessian: Float64Array, opts: GptqCoreOptions): GptqResult {
  checkQuantOptions(rows, cols, opts, w.length);
  if (hessian.length !== cols * cols) throw new ZipmlError('E_ARG', `gptq: Hessian has ${hessian.length} entries, expected ${cols} x ${cols}`);
  const damp = opts.damp ?? 0.01, bs = opts.blockSize ?? 128, fit = opts.groupFit ?? 'lazy';
  if (!(damp > 0) || !Number.isInteger(bs) || bs < 1 || bs % opts.group !== 0) throw new ZipmlError('E_ARG', `gptq: damp ${damp} must be > 0 and blockSize ${bs} a multiple of the group`);
  if (fit !== 'lazy' && fit !== 'static') throw new ZipmlError('E_ARG', `gptq: groupFit ${String(fit)} is not lazy or static`);
  const keep = opts.keep;
  if (keep && keep.length !== rows * cols) throw new ZipmlError('E_ARG', `gptq: keep mask has ${keep.length} entries, expected ${rows * cols}`);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `gptq: weight ${i} is ${w[i]}`);
  const { order, W, U } = permutedProblem(w, rows, cols, hessian, opts.actOrder ?? false, damp);
  const pos = new Int32Array(cols); // original column -> permuted position
  for (let j = 0; j < cols; j++) pos[order[j]!] = j;

  const p = emptyPacked(rows, cols, opts);
  const nG = groupsPerRow(cols, p.group), maxq = (1 << p.bits) - 1;
  const scale = new Float64Array(rows * nG), zero = new Float64Array(rows * nG), fitted = new Uint8Array(nG);
  const kept = keep ? new Float32Array(rows * cols) : undefined;
  const buf = new Float32Array(p.group);
  const fitGroup = (g: number, src: (r: number, c: number) => number): void => {
    const c0 = g * p.group, c1 = Math.min(cols, c0 + p.group);
    for (let r = 0; r < rows; r++) {
      let n = 0;
      for (let c = c0; c < c1; c++) if (!keep || !keep[r * cols + c]) buf[n++] = src(r, c);
      const prm = opts.mse ? searchGroupParams(buf, n, p.bits, p.symmetric) : groupParams(buf, 0, n, p.bits, p.symmetric);
      p.scales[r * nG + g] = prm.scaleBits;
      if (p.zeros) p.zeros[r * nG + g] = prm.zero;
      scale[r * nG + g] = f16BitsToF32(prm.scaleBits);
      zero[r * nG + g] = prm.zero;
    }
    fitted[g] = 1;
  };
  if (fit === 'static') for (let g = 0; g < nG; g++) fitGroup(g, (r, c) => w[r * cols + c]!);

  const err = new Float64Array(rows * bs);
  for (let b0 = 0; b0 < cols; b0 += bs) {
    const b1 = Math.min(cols, b0 + bs);
    for (let j = b0; j < b1; j++) {
      const oc = order[j]!, g = Math.floor(oc / p.group);
      if (!fitted[g]) fitGroup(g, (r, c) => W[r * cols + pos[c]!]!);
      const d = U[j * cols + j]!;
      for (let r = 0; r < rows; r++) {
        const v = W[r * cols + j]!, gi = r * nG + g;
        let e: number;
        if (keep && keep[r * cols + oc]) {
          // Kept exact: the code contributes 0 and the side structure carries the value.
          putCode(p.codes, p.rowBytes, p.bits, r, oc, zero[gi]!);
          kept![r * cols + oc] = v;
          e = 0;
        } else {
          const q = quantizeValue(v, scale[gi]!, zero[gi]!, maxq);
          putCode(p.codes, p.rowBytes, p.bits, r, oc, q);
          e = (v - scale[gi]! * (q - zero[gi]!)) / d;
        }
        feedBack(W, U, cols, err, bs, r, j, b0, b1, e);
      }
    }
    lazyBatchUpdate(W, U, rows, cols, err, bs, b0, b1);
  }
  return { packed: p, kept, order };
}

/** GPTQ of row-major W (rows × cols) with Hessian H (cols × cols, e.g. HessianAccumulator.hessian()). */
export function quantizeGPTQ(w: Float32Array, rows: number, cols: number, hessian: Float64Array, opts: GptqOptions): PackedMatrix {
  return gptqCore(w, rows, cols, hessian, opts).packed;
}

/** Key of a layer's Hessian in captureHessians' map (wq/wk/wv and w1/w3 share theirs). */
export const hessianKey = (l: number, name: LinearName): string => `${l}:${name === 'wk' || name === 'wv' ? 'wq' : name === 'w3' ? 'w1' : name}`;

/** Thrown by the capture hook to end a forward pass once block `only` has been seen (never escapes). */
const STOP = Symbol('capture done');

/**
 * Inputs of every block linear layer (or of block `only`) captured by running `model` over `docs`
 * (the positions teacherForce runs). With `only`, each forward pass is cut right after that
 * block's last linear input: later blocks and the classifier cannot change what it sees, and
 * sequential calibration then costs about half of a full pass per block.
 */
export function captureHessians(model: LlamaModel, docs: readonly (readonly number[])[], opts: LongOpOptions = {}, only?: number): Map<string, HessianAccumulator> {
  const acc = new Map<string, HessianAccumulator>();
  const prev = model.linearInputHook;
  const lastInput: LinearName = 'w2'; // the block's last linear: the FFN's down projection
  model.linearInputHook = (l, name, x) => {
    if (only !== undefined && l !== only) return;
    // wq/wk/wv and w1/w3 see the same input; one accumulator serves each group.
    const key = hessianKey(l, name);
    if (key === `${l}:${name}`) {
      let a = acc.get(key);
      if (!a) acc.set(key, (a = new HessianAccumulator(x.length)));
      a.add(x);
    }
    if (only !== undefined && name === lastInput) throw STOP;
  };
  try {
    if (only === undefined) teacherForce(model, docs, () => {}, opts);
    else {
      const L = model.config.seqLen;
      for (const doc of docs) {
        for (let start = 0; start + 1 < doc.length; start += L) {
          throwIfAborted(opts.signal, 'calibration');
          const end = Math.min(doc.length, start + L);
          for (let i = start; i + 1 < end; i++) {
            try {
              model.forward(doc[i]!, i - start);
            } catch (e) {
              if (e !== STOP) throw e;
            }
          }
        }
      }
    }
  } finally {
    model.linearInputHook = prev;
  }
  return acc;
}

export interface CalibratedOptions extends LongOpOptions {
  /**
   * Capture each block's Hessians with the blocks before it already quantized (the reference's
   * sequential pass), one calibration pass per block; default false: one fp32 pass for all.
   */
  sequential?: boolean;
  /** Hessians already captured (captureHessians) on the fp32 model; not with `sequential`. */
  hessians?: Map<string, HessianAccumulator>;
}

/**
 * Quantizes every block linear layer of `model` with `quantize(layer, name, op, H)`, H from the
 * calibration docs; `onProgress` counts layers.
 */
export function quantizeWithHessians(
  model: LlamaModel,
  calibration: readonly (readonly number[])[],
  what: string,
  opts: CalibratedOptions,
  quantize: (layer: number, name: LinearName, op: DenseLinear, hessian: Float64Array) => QuantLayer,
): QuantizedModel {
  const done = new Map<string, QuantLayer>();
  let hs = opts.sequential ? undefined : opts.hessians ?? captureHessians(model, calibration, { signal: opts.signal });
  let cur = model;
  for (let l = 0; l < model.config.nLayers; l++) {
    if (opts.sequential) hs = captureHessians(cur, calibration, { signal: opts.signal }, l);
    for (const name of LINEAR_NAMES) {
      throwIfAborted(opts.signal, what);
      const op = model.weights.blocks[l]![name];
      if (!(op instanceof DenseLinear)) throw new ZipmlError('E_ARG', `${what}: layer ${l} ${name} is not an fp32 layer`);
      const a = hs!.get(hessianKey(l, name));
      if (!a) throw new ZipmlError('E_ARG', `${what}: no calibration inputs reached layer ${l} ${name}`);
      done.set(`${l}:${name}`, quantize(l, name, op, a.hessian()));
      opts.onProgress?.(done.size, 7 * model.config.nLayers);
    }
    cur = model.mapLinears((ll, name, op) => done.get(`${ll}:${name}`)?.op ?? op);
  }
  let bits = 0, weights = 0;
  for (const b of model.weights.blocks) for (const n of LINEAR_NAMES) weights += b[n].rows * b[n].cols;
  for (const r of done.values()) bits += r.bits;
  return { model: cur, bitsPerWeight: bits / weights, weights };
}

/** GPTQ of every block linear layer (codes in the packed format, run by QuantLinear). */
export function quantizeModelGPTQ(model: LlamaModel, calibration: readonly (readonly number[])[], opts: GptqOptions & CalibratedOptions): QuantizedModel {
  const arena = new QuantArena();
  return quantizeWithHessians(model, calibration, 'gptq', opts, (_l, _n, op, h) => {
    const packed = quantizeGPTQ(op.weights, op.rows, op.cols, h, opts);
    return { op: new QuantLinear(packed, arena), bits: packedBits(packed) };
  });
}
