/**
 * GPTQ (Frantar et al. 2022): quantize W column by column in the order of the input dimension,
 * and after each column spread its rounding error over the columns not yet quantized, weighted by
 * the inverse Hessian of the layer's reconstruction loss ‖(W − Ŵ)X‖², H = 2 X Xᵀ / n. As the paper:
 * 1% damping (λ = 0.01 · mean diag H), dead inputs (H_jj = 0) zeroed, the upper Cholesky factor U
 * of H⁻¹ (H⁻¹ = Uᵀ U) drives the updates, error feedback inside blocks of 128 columns and one
 * lazy batch update of the remaining columns per block. Group scales / zero points are fitted, like
 * RTN's, when the column loop reaches a group's first column, on the weights updated so far. The
 * codes land in the same PackedMatrix as RTN's.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { f16BitsToF32 } from '../../core/dtypes.js';
import type { LlamaModel, LinearName } from '../llm/model.js';
import { DenseLinear } from '../llm/linear.js';
import { teacherForce } from '../llm/perplexity.js';
import { type PackedMatrix, bitsPerWeight, groupsPerRow, putCode } from './packed.js';
import { QuantArena, QuantLinear } from './qmatvec.js';
import { type QuantOptions, checkQuantOptions, emptyPacked, groupParams, quantizeValue } from './rtn.js';
import type { QuantizedModel } from './model.js';

export interface GptqOptions extends QuantOptions {
  /** Damping as a fraction of mean diag(H); default 0.01. */
  damp?: number;
  /** Columns per lazy batch; default 128. */
  blockSize?: number;
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

/** Lower Cholesky factor of a symmetric positive definite n × n matrix (in place into a copy). */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! * l[j * n + k]!;
    if (!(d > 0)) throw new ZipmlError('E_ARG', `gptq: Hessian is not positive definite at column ${j} (raise damping)`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Inverse of SPD A from its lower Cholesky factor L: A⁻¹ = L⁻ᵀ L⁻¹. */
function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  const li = new Float64Array(n * n); // L⁻¹, lower
  for (let j = 0; j < n; j++) {
    li[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * li[k * n + j]!;
      li[i * n + j] = -s / l[i * n + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

/** GPTQ of row-major W (rows × cols) with Hessian H (cols × cols, e.g. HessianAccumulator.hessian()). */
export function quantizeGPTQ(w: Float32Array, rows: number, cols: number, hessian: Float64Array, opts: GptqOptions): PackedMatrix {
  checkQuantOptions(rows, cols, opts, w.length);
  if (hessian.length !== cols * cols) throw new ZipmlError('E_ARG', `gptq: Hessian has ${hessian.length} entries, expected ${cols} x ${cols}`);
  const damp = opts.damp ?? 0.01, bs = opts.blockSize ?? 128;
  if (!(damp > 0) || !Number.isInteger(bs) || bs < 1 || bs % opts.group !== 0) throw new ZipmlError('E_ARG', `gptq: damp ${damp} must be > 0 and blockSize ${bs} a multiple of the group`);
  const W = Float64Array.from(w);
  for (let i = 0; i < W.length; i++) if (!Number.isFinite(W[i]!)) throw new ZipmlError('E_ARG', `gptq: weight ${i} is ${W[i]}`);
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
  // U = upper Cholesky factor of H⁻¹ (transpose of the lower one).
  const lo = cholesky(inverseFromCholesky(cholesky(H, cols), cols), cols);
  const U = (i: number, j: number): number => lo[j * cols + i]!;

  const p = emptyPacked(rows, cols, opts);
  const nG = groupsPerRow(cols, p.group), maxq = (1 << p.bits) - 1;
  const scale = new Float64Array(rows), zero = new Float64Array(rows);
  const err = new Float64Array(rows * bs);
  const row = new Float32Array(p.group);
  for (let b0 = 0; b0 < cols; b0 += bs) {
    const b1 = Math.min(cols, b0 + bs);
    for (let j = b0; j < b1; j++) {
      if (j % p.group === 0) {
        const g = j / p.group, g1 = Math.min(cols, j + p.group);
        for (let r = 0; r < rows; r++) {
          for (let c = j; c < g1; c++) row[c - j] = W[r * cols + c]!;
          const prm = groupParams(row, 0, g1 - j, p.bits, p.symmetric);
          p.scales[r * nG + g] = prm.scaleBits;
          if (p.zeros) p.zeros[r * nG + g] = prm.zero;
          scale[r] = f16BitsToF32(prm.scaleBits);
          zero[r] = prm.zero;
        }
      }
      const d = U(j, j);
      for (let r = 0; r < rows; r++) {
        const v = W[r * cols + j]!;
        const q = quantizeValue(v, scale[r]!, zero[r]!, maxq);
        putCode(p.codes, p.rowBytes, p.bits, r, j, q);
        const e = (v - scale[r]! * (q - zero[r]!)) / d;
        err[r * bs + (j - b0)] = e;
        // Error feedback inside the block.
        for (let c = j + 1; c < b1; c++) W[r * cols + c]! -= e * U(j, c);
      }
    }
    // Lazy batch update of everything right of the block.
    for (let r = 0; r < rows; r++) {
      for (let c = b1; c < cols; c++) {
        let s = 0;
        for (let j = b0; j < b1; j++) s += err[r * bs + (j - b0)]! * U(j, c);
        W[r * cols + c]! -= s;
      }
    }
  }
  return p;
}

const hessianKey = (l: number, name: LinearName): string => `${l}:${name === 'wk' || name === 'wv' ? 'wq' : name === 'w3' ? 'w1' : name}`;

/** Inputs of every block linear layer captured by running the fp32 model over `docs`. */
export function captureHessians(model: LlamaModel, docs: readonly (readonly number[])[], opts: LongOpOptions = {}): Map<string, HessianAccumulator> {
  const acc = new Map<string, HessianAccumulator>();
  const prev = model.linearInputHook;
  model.linearInputHook = (l, name, x) => {
    // wq/wk/wv and w1/w3 see the same input; one accumulator serves each group.
    const key = hessianKey(l, name);
    if (key !== `${l}:${name}`) return;
    let a = acc.get(key);
    if (!a) acc.set(key, (a = new HessianAccumulator(x.length)));
    a.add(x);
  };
  try {
    teacherForce(model, docs, () => {}, opts);
  } finally {
    model.linearInputHook = prev;
  }
  return acc;
}

/**
 * GPTQ of every block linear layer with Hessians from one fp32 pass over the calibration docs
 * (not the paper's sequential pass through already-quantized blocks).
 */
export function quantizeModelGPTQ(model: LlamaModel, calibration: readonly (readonly number[])[], opts: GptqOptions & LongOpOptions): QuantizedModel {
  const hs = captureHessians(model, calibration, { signal: opts.signal });
  const arena = new QuantArena();
  let bits = 0, weights = 0;
  const q = model.mapLinears((l, name, op) => {
    throwIfAborted(opts.signal, 'gptq');
    if (!(op instanceof DenseLinear)) throw new ZipmlError('E_ARG', `gptq: layer ${l} ${name} is not an fp32 layer`);
    const a = hs.get(hessianKey(l, name));
    if (!a) throw new ZipmlError('E_ARG', `gptq: no calibration inputs reached layer ${l} ${name}`);
    const packed = quantizeGPTQ(op.weights, op.rows, op.cols, a.hessian(), opts);
    bits += bitsPerWeight(packed) * op.rows * op.cols;
    weights += op.rows * op.cols;
    return new QuantLinear(packed, arena);
  });
  return { model: q, bitsPerWeight: bits / weights, weights };
}
