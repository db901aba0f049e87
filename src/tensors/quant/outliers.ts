/**
 * SpQR-style outliers (Dettmers et al. 2023): the few weights whose quantization costs the most are
 * kept in fp16 in a sparse side matrix S, and the layer computes y = Q x + S x.
 *
 * Saliency is SpQR's leave-one-out criterion: for weight j of a (row, group), how much the group's
 * OBS error Σ_c (w_c − q(w_c))² / [H⁻¹]_cc falls when j is taken out of the group (its own error
 * goes, and the group's scale / zero point are refitted without it). The top `fraction` of a
 * matrix (default 1%) by saliency are chosen up front on the original weights (SpQR picks them
 * with a threshold inside its GPTQ pass; a fixed fraction makes the budget exact). GPTQ then runs
 * with those weights excluded from the group statistics and treated as exact: their code is the
 * group's zero (contributes 0), and S stores their error-compensated value.
 *
 * S layout (CSR): rowPtr (rows + 1 offsets: u16 while there are fewer than 65,536 outliers, u32
 * beyond), colIdx (u16 per outlier), values (fp16 per outlier); its storage, 16 or 32 bits per
 * row + 32 per outlier, counts in bits per weight.
 */
import { ZipmlError } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import type { LinearOp } from '../llm/linear.js';
import { linearStorageBits } from '../llm/compare.js';
import type { LlamaModel } from '../llm/model.js';
import type { QuantizedModel } from './model.js';
import { groupsPerRow } from './packed.js';
import { type GptqOptions, type CalibratedOptions, dampedInverseFactor, gptqCore, quantizeWithHessians } from './gptq.js';
import { packedBits } from './layers.js';
import { QuantArena, QuantLinear } from './qmatvec.js';
import { type QuantOptions, groupParams, quantizeValue } from './rtn.js';

export interface SparseOutliers {
  rows: number;
  cols: number;
  /** rows + 1 offsets into colIdx / values (u16 when nnz < 65,536). */
  rowPtr: Uint16Array | Uint32Array;
  colIdx: Uint16Array;
  /** fp16 bits. */
  values: Uint16Array;
}

/** S from a mask (1 = outlier) and the values to store (row-major rows × cols). */
export function sparseFromMask(values: Float32Array, mask: Uint8Array, rows: number, cols: number): SparseOutliers {
  if (cols > 65536) throw new ZipmlError('E_ARG', `outliers: ${cols} columns do not fit u16 column indices`);
  if (values.length !== rows * cols || mask.length !== rows * cols) throw new ZipmlError('E_ARG', `outliers: values / mask do not hold ${rows} x ${cols}`);
  let nnz = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) nnz++;
  const rowPtr = nnz < 65536 ? new Uint16Array(rows + 1) : new Uint32Array(rows + 1);
  for (let r = 0, n = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) if (mask[r * cols + c]) n++;
    rowPtr[r + 1] = n;
  }
  const colIdx = new Uint16Array(nnz), vals = new Uint16Array(nnz);
  for (let r = 0, k = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!mask[r * cols + c]) continue;
      colIdx[k] = c;
      vals[k++] = f32ToF16Bits(values[r * cols + c]!);
    }
  }
  return { rows, cols, rowPtr, colIdx, values: vals };
}

/** Storage bits of S. */
export const sparseBits = (s: SparseOutliers): number => 8 * s.rowPtr.BYTES_PER_ELEMENT * s.rowPtr.length + 32 * s.colIdx.length;

/** Bounds-checks S (it may come from outside). */
export function checkSparse(s: SparseOutliers): void {
  const bad = (m: string): never => {
    throw new ZipmlError('E_ARG', `outliers: ${m}`);
  };
  if (s.rowPtr.length !== s.rows + 1 || s.rowPtr[0] !== 0) bad(`rowPtr has ${s.rowPtr.length} entries, expected ${s.rows + 1} starting at 0`);
  const nnz = s.rowPtr[s.rows]!;
  if (s.colIdx.length !== nnz || s.values.length !== nnz) bad(`${s.colIdx.length} indices / ${s.values.length} values, rowPtr says ${nnz}`);
  for (let r = 0; r < s.rows; r++) if (s.rowPtr[r + 1]! < s.rowPtr[r]!) bad(`rowPtr decreases at row ${r}`);
  for (let k = 0; k < nnz; k++) if (s.colIdx[k]! >= s.cols) bad(`column index ${s.colIdx[k]} at ${k} is outside 0..${s.cols - 1}`);
}

/** out += S x. */
export function sparseMatvecAdd(s: SparseOutliers, x: Float32Array, out: Float32Array): void {
  for (let r = 0; r < s.rows; r++) {
    let y = 0;
    for (let k = s.rowPtr[r]!; k < s.rowPtr[r + 1]!; k++) y += f16BitsToF32(s.values[k]!) * x[s.colIdx[k]!]!;
    out[r] = out[r]! + y;
  }
}

/** y = Q x + S x: a quantized layer plus its fp16 outliers. */
export class OutlierLinear implements LinearOp {
  readonly rows: number;
  readonly cols: number;
  constructor(readonly base: LinearOp, readonly sparse: SparseOutliers) {
    if (base.rows !== sparse.rows || base.cols !== sparse.cols) throw new ZipmlError('E_ARG', `outliers: S is ${sparse.rows} x ${sparse.cols}, the layer ${base.rows} x ${base.cols}`);
    checkSparse(sparse);
    this.rows = base.rows;
    this.cols = base.cols;
  }

  matvec(x: Float32Array, out: Float32Array): void {
    this.base.matvec(x, out);
    sparseMatvecAdd(this.sparse, x, out);
  }

  /** Bits stored: the base layer's and the side matrix's (offsets, indices, fp16 values). */
  get storageBits(): number {
    return linearStorageBits(this.base) + sparseBits(this.sparse);
  }
}

/**
 * SpQR's leave-one-out saliency of every weight (rows × cols), for group-wise RTN codes of
 * `opts` and the diagonal of H⁻¹ (`hinvDiag`, cols).
 */
export function outlierSaliency(w: Float32Array, rows: number, cols: number, hinvDiag: Float64Array, opts: QuantOptions): Float64Array {
  const sym = opts.symmetric ?? true, maxq = (1 << opts.bits) - 1, G = opts.group;
  const sal = new Float64Array(rows * cols);
  const buf = new Float32Array(G);
  const errOf = (r: number, c0: number, c1: number, skip: number): number => {
    let m = 0;
    for (let c = c0; c < c1; c++) if (c !== skip) buf[m++] = w[r * cols + c]!;
    const { scaleBits, zero } = groupParams(buf, 0, m, opts.bits, sym);
    const s = f16BitsToF32(scaleBits);
    let e = 0;
    for (let c = c0; c < c1; c++) {
      if (c === skip) continue;
      const v = w[r * cols + c]!;
      const d = v - s * (quantizeValue(v, s, zero, maxq) - zero);
      e += (d * d) / hinvDiag[c]!;
    }
    return e;
  };
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groupsPerRow(cols, G); g++) {
      const c0 = g * G, c1 = Math.min(cols, c0 + G);
      const base = errOf(r, c0, c1, -1);
      for (let j = c0; j < c1; j++) sal[r * cols + j] = base - errOf(r, c0, c1, j);
    }
  }
  return sal;
}

/** Mask (1 = outlier) of the `count` largest saliencies. */
export function topMask(saliency: Float64Array, count: number): Uint8Array {
  const mask = new Uint8Array(saliency.length);
  const n = Math.max(0, Math.min(saliency.length, Math.round(count)));
  const idx = Array.from({ length: saliency.length }, (_, i) => i).sort((a, b) => saliency[b]! - saliency[a]! || a - b);
  for (let k = 0; k < n; k++) mask[idx[k]!] = 1;
  return mask;
}

export interface OutlierOptions extends GptqOptions {
  /** Fraction of each matrix kept in fp16; default 0.01. */
  fraction?: number;
}

/** GPTQ of one layer with its SpQR outliers: the codes, S, and the op computing Q x + S x. */
export function quantizeGPTQOutliers(w: Float32Array, rows: number, cols: number, hessian: Float64Array, opts: OutlierOptions, arena: QuantArena | null = null): { op: OutlierLinear; bits: number } {
  const fraction = opts.fraction ?? 0.01;
  if (!(fraction >= 0 && fraction < 1)) throw new ZipmlError('E_ARG', `outliers: fraction ${fraction} is outside [0, 1)`);
  const { u } = dampedInverseFactor(Float64Array.from(w), rows, cols, hessian, opts.damp ?? 0.01);
  // diag H⁻¹ = column norms² of U (H⁻¹ = Uᵀ U).
  const hinv = new Float64Array(cols);
  for (let k = 0; k < cols; k++) for (let j = k; j < cols; j++) hinv[j]! += u[k * cols + j]! ** 2;
  const keep = topMask(outlierSaliency(w, rows, cols, hinv, opts), fraction * rows * cols);
  const r = gptqCore(w, rows, cols, hessian, { ...opts, keep });
  const sparse = sparseFromMask(r.kept!, keep, rows, cols);
  return { op: new OutlierLinear(new QuantLinear(r.packed, arena), sparse), bits: packedBits(r.packed) + sparseBits(sparse) };
}

/** GPTQ with SpQR outliers on every block linear layer. */
export function quantizeModelGPTQOutliers(model: LlamaModel, calibration: readonly (readonly number[])[], opts: OutlierOptions & CalibratedOptions): QuantizedModel {
  const arena = new QuantArena();
  return quantizeWithHessians(model, calibration, 'gptq+outliers', opts, (_l, _n, op, h) => quantizeGPTQOutliers(op.weights, op.rows, op.cols, h, opts, arena));
}
