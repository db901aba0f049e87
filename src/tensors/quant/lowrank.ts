/**
 * Low-rank correction of a quantized layer: the residual R = W − Ŵ (Ŵ what the quantized layer
 * computes, outliers included) is approximated by a rank-r product U V kept in fp16, and the layer
 * computes y = Ŵ x + U (V x). Plain: the truncated SVD of R (best in Frobenius norm). Hessian-
 * weighted (with H = L Lᵀ from calibration): the best rank-r fit of the output error ‖(R − UV) X‖,
 * i.e. the truncated SVD of R L mapped back by L⁻¹. Storage 16 r (rows + cols) bits.
 */
import { ZipmlError } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import type { DenseLinear, LinearOp } from '../llm/linear.js';
import { linearStorageBits } from '../llm/compare.js';
import type { QuantLayer } from './layers.js';
import { cholesky, lowerInverse, truncatedSvd } from './linalg.js';

export interface LowRank {
  rows: number;
  cols: number;
  rank: number;
  /** rows × rank, fp16 bits. */
  u: Uint16Array;
  /** rank × cols, fp16 bits. */
  v: Uint16Array;
}

export const lowRankBits = (lr: LowRank): number => 16 * lr.rank * (lr.rows + lr.cols);

/**
 * Rank-r U V ≈ W − Ŵ (both rows × cols, row-major). With `hessian` (cols × cols, e.g. GPTQ's,
 * damped by `damp` · mean diag like GPTQ) the fit minimizes the layer's output error instead.
 */
export function lowRankResidual(w: Float32Array, wq: Float32Array, rows: number, cols: number, rank: number, hessian?: Float64Array, damp = 0.01): LowRank {
  if (w.length !== rows * cols || wq.length !== rows * cols) throw new ZipmlError('E_ARG', `lowrank: weights do not hold ${rows} x ${cols}`);
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols)) throw new ZipmlError('E_ARG', `lowrank: rank ${rank} is outside 1..${Math.min(rows, cols)}`);
  const R = new Float64Array(rows * cols);
  for (let i = 0; i < R.length; i++) R[i] = w[i]! - wq[i]!;
  let L: Float64Array | undefined;
  if (hessian) {
    if (hessian.length !== cols * cols) throw new ZipmlError('E_ARG', `lowrank: Hessian has ${hessian.length} entries, expected ${cols} x ${cols}`);
    const H = Float64Array.from(hessian);
    let mean = 0;
    for (let j = 0; j < cols; j++) mean += H[j * cols + j]!;
    for (let j = 0; j < cols; j++) H[j * cols + j]! += (damp * mean) / cols + (H[j * cols + j] === 0 ? 1 : 0);
    L = cholesky(H, cols, 'lowrank');
  }
  // A = R L (or R), SVD A ≈ P Σ Qᵀ, then U = P √Σ, V = √Σ Qᵀ L⁻¹ (√Σ on both sides keeps fp16 in range).
  let A = R;
  if (L) {
    A = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let k = j; k < cols; k++) s += R[r * cols + k]! * L[k * cols + j]!;
        A[r * cols + j] = s;
      }
    }
  }
  const svd = truncatedSvd(A, rows, cols, rank);
  const k = svd.rank;
  let vt = svd.vt;
  if (L) {
    const li = lowerInverse(L, cols);
    vt = new Float64Array(k * cols);
    for (let t = 0; t < k; t++) {
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let j = c; j < cols; j++) s += svd.vt[t * cols + j]! * li[j * cols + c]!;
        vt[t * cols + c] = s;
      }
    }
  }
  const u = new Uint16Array(rows * rank), v = new Uint16Array(rank * cols);
  for (let t = 0; t < k; t++) {
    const sq = Math.sqrt(svd.sigma[t]!);
    for (let r = 0; r < rows; r++) u[r * rank + t] = f32ToF16Bits(svd.u[r * k + t]! * sq);
    for (let c = 0; c < cols; c++) v[t * cols + c] = f32ToF16Bits(vt[t * cols + c]! * sq);
  }
  return { rows, cols, rank, u, v };
}

/** U V as a dense row-major matrix (for tests and for folding into a reference). */
export function lowRankDense(lr: LowRank): Float32Array {
  const out = new Float32Array(lr.rows * lr.cols);
  for (let r = 0; r < lr.rows; r++) {
    for (let c = 0; c < lr.cols; c++) {
      let s = 0;
      for (let t = 0; t < lr.rank; t++) s += f16BitsToF32(lr.u[r * lr.rank + t]!) * f16BitsToF32(lr.v[t * lr.cols + c]!);
      out[r * lr.cols + c] = s;
    }
  }
  return out;
}

/** y = base x + U (V x). */
export class LowRankLinear implements LinearOp {
  readonly rows: number;
  readonly cols: number;
  private readonly uf: Float32Array;
  private readonly vf: Float32Array;
  private readonly t: Float64Array;

  constructor(readonly base: LinearOp, readonly lr: LowRank) {
    if (base.rows !== lr.rows || base.cols !== lr.cols) throw new ZipmlError('E_ARG', `lowrank: U V is ${lr.rows} x ${lr.cols}, the layer ${base.rows} x ${base.cols}`);
    if (lr.u.length !== lr.rows * lr.rank || lr.v.length !== lr.rank * lr.cols) throw new ZipmlError('E_ARG', `lowrank: U / V sizes do not match rank ${lr.rank}`);
    this.rows = base.rows;
    this.cols = base.cols;
    // fp16 → fp32 once: r (rows + cols) floats, small next to the layer.
    this.uf = Float32Array.from(lr.u, f16BitsToF32);
    this.vf = Float32Array.from(lr.v, f16BitsToF32);
    this.t = new Float64Array(lr.rank);
  }

  matvec(x: Float32Array, out: Float32Array): void {
    this.base.matvec(x, out);
    const { rank, cols } = this.lr, t = this.t;
    for (let k = 0; k < rank; k++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += this.vf[k * cols + c]! * x[c]!;
      t[k] = s;
    }
    for (let r = 0; r < this.rows; r++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += this.uf[r * rank + k]! * t[k]!;
      out[r] = out[r]! + s;
    }
  }

  /** Bits stored: the base layer's and the fp16 factors'. */
  get storageBits(): number {
    return linearStorageBits(this.base) + lowRankBits(this.lr);
  }
}

/** The matrix a layer op computes, read back column by column with unit vectors. */
export function denseOf(op: LinearOp): Float32Array {
  const w = new Float32Array(op.rows * op.cols), e = new Float32Array(op.cols), o = new Float32Array(op.rows);
  for (let c = 0; c < op.cols; c++) {
    e.fill(0);
    e[c] = 1;
    op.matvec(e, o);
    for (let r = 0; r < op.rows; r++) w[r * op.cols + c] = o[r]!;
  }
  return w;
}

/** A quantized layer plus the rank-r correction of its residual against the fp32 weights `w`. */
export function withLowRank(base: QuantLayer, w: DenseLinear, rank: number, hessian?: Float64Array): QuantLayer {
  const lr = lowRankResidual(w.weights, denseOf(base.op), w.rows, w.cols, rank, hessian);
  return { op: new LowRankLinear(base.op, lr), bits: base.bits + lowRankBits(lr) };
}
