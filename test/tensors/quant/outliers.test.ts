/** SpQR-style outliers: Q + S reproduces the kept weights exactly, saliency finds planted outliers, S is bounds-checked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { gptqCore } from '../../../src/tensors/quant/gptq.js';
import { OutlierLinear, checkSparse, outlierSaliency, quantizeGPTQOutliers, sparseBits, sparseFromMask, topMask } from '../../../src/tensors/quant/outliers.js';
import { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { dequantize, quantizeRTN } from '../../../src/tensors/quant/rtn.js';
import { bitsPerWeight } from '../../../src/tensors/quant/packed.js';
import { layerError } from './quant-util.js';

const fp16Exact = (x: number): number => f16BitsToF32(f32ToF16Bits(x));
const identity = (n: number): Float64Array => {
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = 1;
  return h;
};

test('Q + S reproduces the dense matrix: kept weights exact, the rest as RTN without them in the group statistics', () => {
  const rng = new SeededRandom(9);
  const rows = 12, cols = 96;
  const w = Float32Array.from({ length: rows * cols }, () => fp16Exact(rng.normal() * 0.05));
  const keep = new Uint8Array(rows * cols);
  for (let k = 0; k < 20; k++) {
    const i = rng.int(rows * cols);
    keep[i] = 1;
    w[i] = fp16Exact(w[i]! * 20); // a real outlier
  }
  for (const symmetric of [true, false]) {
    // H = I: GPTQ has no cross-column feedback, so kept values are the original weights.
    const r = gptqCore(w, rows, cols, identity(cols), { bits: 3, group: 32, symmetric, keep });
    const s = sparseFromMask(r.kept!, keep, rows, cols);
    const q = dequantize(r.packed);
    const dense = Float32Array.from(q);
    for (let ri = 0; ri < rows; ri++) for (let k = s.rowPtr[ri]!; k < s.rowPtr[ri + 1]!; k++) dense[ri * cols + s.colIdx[k]!]! += f16BitsToF32(s.values[k]!);
    // The same codes as RTN on the matrix with the outliers replaced by an in-range value.
    const inRange = Float32Array.from(w, (v, i) => (keep[i] ? 0 : v));
    const rtn = dequantize(quantizeRTN(inRange, rows, cols, { bits: 3, group: 32, symmetric }));
    for (let i = 0; i < w.length; i++) {
      if (keep[i]) {
        assert.equal(q[i], 0, 'the code under an outlier contributes 0');
        assert.equal(dense[i], w[i], `kept weight ${i}`);
      } else assert.equal(dense[i], rtn[i], `weight ${i}`);
    }
    // The layer op: y = Q x + S x equals the dense product.
    const op = new OutlierLinear(new QuantLinear(r.packed, null), s);
    const x = Float32Array.from({ length: cols }, () => rng.normal());
    const y = new Float32Array(rows), yd = new Float32Array(rows);
    op.matvec(x, y);
    new DenseLinear(dense, rows, cols).matvec(x, yd);
    for (let i = 0; i < rows; i++) assert.ok(Math.abs(y[i]! - yd[i]!) < 1e-5, `row ${i}: ${y[i]} vs ${yd[i]}`);
    assert.equal(sparseBits(s), 16 * (rows + 1) + 32 * 20);
  }
});

test('leave-one-out saliency ranks planted outliers first; the top-1% mask has exactly 1%', () => {
  const rng = new SeededRandom(10);
  const rows = 16, cols = 128;
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.02);
  const planted = new Set<number>();
  while (planted.size < 10) planted.add(rng.int(rows * cols));
  for (const i of planted) w[i] = 0.5 * (rng.float() < 0.5 ? -1 : 1);
  const sal = outlierSaliency(w, rows, cols, new Float64Array(cols).fill(1), { bits: 3, group: 32, symmetric: false });
  const mask = topMask(sal, 10);
  for (const i of planted) assert.equal(mask[i], 1, `planted outlier ${i} not selected`);
  assert.equal(topMask(sal, 0.01 * rows * cols).reduce((s, v) => s + v, 0), Math.round(0.01 * rows * cols));
});

test('GPTQ + outliers: lower layer error than GPTQ alone at 3 bits, bits counted with S', () => {
  const rng = new SeededRandom(12);
  const rows = 32, cols = 64, n = 400;
  const acc = new Float64Array(cols * cols);
  const x = new Float64Array(cols);
  for (let s = 0; s < n; s++) {
    const z = rng.normal();
    for (let i = 0; i < cols; i++) x[i] = z + 0.5 * rng.normal();
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) acc[i * cols + j]! += (2 * x[i]! * x[j]!) / n;
  }
  const w = Float32Array.from({ length: rows * cols }, () => (rng.float() < 0.01 ? 0.6 : 0.03) * rng.normal());
  const err = (op: { matvec(x: Float32Array, o: Float32Array): void }): number => layerError(w, rows, cols, acc, op);
  const opts = { bits: 3 as const, group: 32 as const, symmetric: false };
  const plain = gptqCore(w, rows, cols, acc, opts).packed;
  const out = quantizeGPTQOutliers(w, rows, cols, acc, { ...opts, fraction: 0.01 });
  assert.ok(err(out.op) < 0.7 * err(new QuantLinear(plain, null)), `with outliers ${err(out.op)} vs ${err(new QuantLinear(plain, null))}`);
  assert.equal(out.bits, bitsPerWeight(plain) * rows * cols + 16 * (rows + 1) + 32 * Math.round(0.01 * rows * cols));
});

test('checkSparse rejects corrupt structures', () => {
  const good = sparseFromMask(new Float32Array([1, 2, 3, 4]), new Uint8Array([1, 0, 0, 1]), 2, 2);
  checkSparse(good);
  const err = (s: typeof good): void => assert.throws(() => checkSparse(s), (e) => isZipmlError(e, 'E_ARG'));
  err({ ...good, rowPtr: new Uint32Array([0, 1]) });
  err({ ...good, rowPtr: new Uint16Array([1, 1, 2]) });
  err({ ...good, rowPtr: new Uint32Array([0, 2, 1]) });
  err({ ...good, colIdx: new Uint16Array([0, 5]) });
  err({ ...good, values: new Uint16Array(1) });
  assert.throws(() => new OutlierLinear(new DenseLinear(new Float32Array(6), 2, 3), good), (e) => isZipmlError(e, 'E_ARG'));
});
