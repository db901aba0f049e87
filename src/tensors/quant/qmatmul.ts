/**
 * Matrix x matrix on packed weights: Y = X W^T for a batch of n input vectors (prompt prefill,
 * batched evaluation). QuantLinear.matmul and TableLinear.matmul run the WebAssembly SIMD kernels
 * (qmatmul, qtabmatmul in src/kernels/assembly/qmatmul.ts), which unpack each group of a row once
 * into a small f32 scratch (at most 128 floats, never the whole W) and dot it with all n vectors,
 * so the codes are read once per product instead of n times. The references here define the
 * result: n matrix-vector references, one per vector.
 */
import type { LinearOp } from '../llm/linear.js';
import { type PackedMatrix, forEachVector } from './packed.js';
import { qmatvecReference } from './qmatvec.js';
import { type TableMatrix, tableMatvecReference } from './table.js';

/** A linear layer that also multiplies a batch: x is n x cols row-major, out n x rows. */
export interface BatchLinearOp extends LinearOp {
  matmul(x: Float32Array, n: number, out: Float32Array): void;
}

/** Plain-TS Y = X W_q^T for integer codes. */
export function qmatmulReference(p: PackedMatrix, x: Float32Array, n: number, out: Float32Array): void {
  forEachVector(p.rows, p.cols, x, n, out, (xv, o) => qmatvecReference(p, xv, o));
}

/** Plain-TS Y = X T[q]^T for value-table codes. */
export function tableMatmulReference(t: TableMatrix, x: Float32Array, n: number, out: Float32Array): void {
  forEachVector(t.rows, t.cols, x, n, out, (xv, o) => tableMatvecReference(t, xv, o));
}

/** Y = X W^T through any LinearOp: its matmul when it has one, else one matvec per vector. */
export function linearMatmul(op: LinearOp | BatchLinearOp, x: Float32Array, n: number, out: Float32Array): void {
  if ('matmul' in op) op.matmul(x, n, out);
  else forEachVector(op.rows, op.cols, x, n, out, (xv, o) => op.matvec(xv, o));
}
