/**
 * A linear layer whose weights stay in ggml blocks (Q8_0, Q4_0, Q5_0, Q4_K). matvec decodes one
 * row at a time into a scratch row with ggml's own dequantizer and sums in double in column order,
 * so its output is bit-identical to a DenseLinear holding ggml's dequantized weights while only the
 * blocks (plus one row of floats) are kept in memory.
 */
import { ZipmlError } from '../../core/errors.js';
import type { LinearOp } from '../llm/linear.js';
import { type GgmlBlockType, GGML_BLOCK, ggmlBlockBytes, ggmlDequantize } from './ggml-quants.js';

export class GgmlLinear implements LinearOp {
  readonly rowBytes: number;
  private readonly row: Float32Array;

  constructor(readonly type: GgmlBlockType, readonly blocks: Uint8Array, readonly rows: number, readonly cols: number) {
    this.rowBytes = ggmlBlockBytes(type, cols);
    if (blocks.length !== rows * this.rowBytes) throw new ZipmlError('E_ARG', `${type} linear: ${blocks.length} bytes for ${rows} x ${cols} (needs ${rows * this.rowBytes})`);
    this.row = new Float32Array(cols);
  }

  /** Storage bits per weight (codes and block scales). */
  get bitsPerWeight(): number {
    return (8 * GGML_BLOCK[this.type].bytes) / GGML_BLOCK[this.type].values;
  }

  /** Row r as ggml dequantizes it. */
  dequantizeRow(r: number, out: Float32Array = new Float32Array(this.cols)): Float32Array {
    return ggmlDequantize(this.type, this.blocks.subarray(r * this.rowBytes, (r + 1) * this.rowBytes), this.cols, out);
  }

  /** The whole matrix as ggml dequantizes it, row-major. */
  dequantize(): Float32Array {
    return ggmlDequantize(this.type, this.blocks, this.rows * this.cols);
  }

  matvec(x: Float32Array, out: Float32Array): void {
    const w = this.row, n = this.cols;
    for (let r = 0; r < this.rows; r++) {
      this.dequantizeRow(r, w);
      let s = 0;
      for (let c = 0; c < n; c++) s += w[c]! * x[c]!;
      out[r] = s;
    }
  }
}
