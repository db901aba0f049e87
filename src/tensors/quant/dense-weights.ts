/**
 * The fp32 weights a LinearOp stands for, row-major (rows x cols): read directly from the layer
 * types we know (fp32, packed group codes, value tables, ggml blocks), from a layer's own `dequantize()` when
 * it has one, and otherwise by probing matvec with unit vectors (exact for layers that sum
 * w * x in any order, since every other term is zero).
 */
import { DenseLinear, type LinearOp } from '../llm/linear.js';
import { GgmlLinear } from './ggml-linear.js';
import { QuantLinear } from './qmatvec.js';
import { dequantize } from './rtn.js';
import { TableLinear, dequantizeTable } from './table.js';

interface Dequantizable {
  dequantize(): Float32Array;
}
const hasDequantize = (op: LinearOp): op is LinearOp & Dequantizable => typeof (op as Partial<Dequantizable>).dequantize === 'function';

export function denseWeights(op: LinearOp): Float32Array {
  if (op instanceof DenseLinear) return op.weights;
  if (op instanceof QuantLinear) return dequantize(op.packed);
  if (op instanceof TableLinear) return dequantizeTable(op.table);
  if (op instanceof GgmlLinear || hasDequantize(op)) {
    const w = op.dequantize();
    if (w.length === op.rows * op.cols) return w;
  }
  const w = new Float32Array(op.rows * op.cols);
  const e = new Float32Array(op.cols), y = new Float32Array(op.rows);
  for (let c = 0; c < op.cols; c++) {
    e[c] = 1;
    op.matvec(e, y);
    e[c] = 0;
    for (let r = 0; r < op.rows; r++) w[r * op.cols + c] = y[r]!;
  }
  return w;
}
