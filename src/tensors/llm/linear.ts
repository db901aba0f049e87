/**
 * A linear layer as the runtime sees it: y = W x with W of rows x cols (output x input, the
 * llama2.c / PyTorch orientation). The fp32 layer and the packed quantized layers
 * (src/tensors/quant) both implement it, so a model runs with either without knowing which.
 */
export interface LinearOp {
  readonly rows: number;
  readonly cols: number;
  /** out[r] = sum_c W[r, c] * x[c]; `out` has `rows` floats, `x` has `cols`. */
  matvec(x: Float32Array, out: Float32Array): void;
}

/** Row-major fp32 weights; sums in double, stored as float32. */
export class DenseLinear implements LinearOp {
  constructor(readonly weights: Float32Array, readonly rows: number, readonly cols: number) {}

  matvec(x: Float32Array, out: Float32Array): void {
    const w = this.weights, n = this.cols;
    for (let r = 0, o = 0; r < this.rows; r++, o += n) {
      let s = 0;
      for (let c = 0; c < n; c++) s += w[o + c]! * x[c]!;
      out[r] = s;
    }
  }
}
