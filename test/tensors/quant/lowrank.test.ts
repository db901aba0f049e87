/** Low-rank correction: recovers a low-rank residual, the op equals the dense sum, the Hessian-weighted fit lowers the output error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { SeededRandom } from '../../../src/core/random.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { LowRankLinear, lowRankBits, lowRankDense, lowRankResidual } from '../../../src/tensors/quant/lowrank.js';

test('a rank-3 residual is recovered to fp16 precision; the op computes Ŵx + U(Vx)', () => {
  const rng = new SeededRandom(5);
  const rows = 40, cols = 72, k = 3;
  const a = Float64Array.from({ length: rows * k }, () => rng.normal() * 0.1), b = Float64Array.from({ length: k * cols }, () => rng.normal() * 0.1);
  const wq = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const w = Float32Array.from(wq, (v, i) => {
    const r = Math.floor(i / cols), c = i % cols;
    let s = 0;
    for (let t = 0; t < k; t++) s += a[r * k + t]! * b[t * cols + c]!;
    return v + s;
  });
  const lr = lowRankResidual(w, wq, rows, cols, k);
  assert.equal(lowRankBits(lr), 16 * k * (rows + cols));
  const uv = lowRankDense(lr);
  let maxErr = 0, maxR = 0;
  for (let i = 0; i < w.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(uv[i]! - (w[i]! - wq[i]!)));
    maxR = Math.max(maxR, Math.abs(w[i]! - wq[i]!));
  }
  assert.ok(maxErr < 2e-3 * maxR, `max error ${maxErr} (residual up to ${maxR})`);
  const op = new LowRankLinear(new DenseLinear(wq, rows, cols), lr);
  const x = Float32Array.from({ length: cols }, () => rng.normal());
  const y = new Float32Array(rows), yd = new Float32Array(rows);
  op.matvec(x, y);
  new DenseLinear(Float32Array.from(wq, (v, i) => v + uv[i]!), rows, cols).matvec(x, yd);
  for (let i = 0; i < rows; i++) assert.ok(Math.abs(y[i]! - yd[i]!) < 1e-4);
});

test('Hessian-weighted fit has a lower output error ‖ΔX‖ than the plain SVD at the same rank', () => {
  const rng = new SeededRandom(6);
  const rows = 24, cols = 48, n = 300;
  const X = Float64Array.from({ length: n * cols }, (_, i) => rng.normal() * (1 + 4 * ((i % cols) < 6 ? 1 : 0)));
  const h = new Float64Array(cols * cols);
  for (let s = 0; s < n; s++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j]! += (2 * X[s * cols + i]! * X[s * cols + j]!) / n;
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal());
  const wq = new Float32Array(rows * cols);
  const outErr = (uv: Float32Array): number => {
    let t = 0;
    for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) t += (w[r * cols + i]! - uv[r * cols + i]!) * h[i * cols + j]! * (w[r * cols + j]! - uv[r * cols + j]!);
    return t;
  };
  const plain = outErr(lowRankDense(lowRankResidual(w, wq, rows, cols, 4)));
  const weighted = outErr(lowRankDense(lowRankResidual(w, wq, rows, cols, 4, h)));
  assert.ok(weighted < 0.9 * plain, `weighted ${weighted} vs plain ${plain}`);
});

test('lowRankResidual rejects a bad rank and mismatched shapes', () => {
  const w = new Float32Array(12);
  const err = (f: () => unknown): void => assert.throws(f, (e) => isZipmlError(e, 'E_ARG'));
  err(() => lowRankResidual(w, w, 3, 4, 0));
  err(() => lowRankResidual(w, w, 3, 4, 4));
  err(() => lowRankResidual(w, new Float32Array(11), 3, 4, 1));
  err(() => lowRankResidual(w, w, 3, 4, 1, new Float64Array(3)));
});
