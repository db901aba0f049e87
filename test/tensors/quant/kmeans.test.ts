/** Sensitivity-weighted k-means (SqueezeLLM-style): fixed points, error against RTN, the model-level run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { compareModels } from '../../../src/tensors/llm/compare.js';
import { lastDocs, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { quantizeKMeans, quantizeModelKMeans, weightedKMeans1D } from '../../../src/tensors/quant/kmeans.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { dequantize, quantizeRTN } from '../../../src/tensors/quant/rtn.js';
import { TableLinear, dequantizeTable, tableBitsPerWeight } from '../../../src/tensors/quant/table.js';
import type { TableBits } from '../../../src/tensors/quant/table.js';
import { MODEL, TEXT, TOKENIZER, have, loadModel, loadText, loadTokenizer } from '../llm/util.js';

/** Heavy-tailed rows (a Student-t-like mix) and positive, uneven column sensitivities. */
function data(rows: number, cols: number, seed: number): { w: Float32Array; sens: Float64Array } {
  const rng = new SeededRandom(seed);
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05 * (rng.float() < 0.05 ? 4 : 1));
  const sens = Float64Array.from({ length: cols }, () => Math.exp(2 * rng.normal()));
  return { w, sens };
}

const weightedError = (w: Float32Array, d: Float32Array, sens: Float64Array, cols: number): number => {
  let e = 0;
  for (let i = 0; i < w.length; i++) e += sens[i % cols]! * (w[i]! - d[i]!) ** 2;
  return e;
};

test('weightedKMeans1D: converged centroids are fixed points of the update; each value sits at its nearest centroid', () => {
  const rng = new SeededRandom(4);
  for (const k of [4, 8, 16]) {
    const n = 300;
    const v = Float64Array.from({ length: n }, () => rng.normal() + (rng.float() < 0.3 ? 3 : 0));
    const a = Float64Array.from({ length: n }, () => rng.float() ** 2);
    const km = weightedKMeans1D(v, a, k);
    assert.ok(km.converged, `k ${k} did not converge in ${km.iterations} iterations`);
    const num = new Float64Array(k), den = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      num[km.assign[i]!]! += a[i]! * v[i]!;
      den[km.assign[i]!]! += a[i]!;
      const d = Math.abs(v[i]! - km.centroids[km.assign[i]!]!);
      for (const c of km.centroids) assert.ok(d <= Math.abs(v[i]! - c) + 1e-12, 'a value is not at its nearest centroid');
    }
    for (let j = 0; j < k; j++) if (den[j]! > 0) assert.ok(Math.abs(num[j]! / den[j]! - km.centroids[j]!) < 1e-12, `centroid ${j} moves under the update`);
    for (let j = 1; j < k; j++) assert.ok(km.centroids[j]! >= km.centroids[j - 1]!);
  }
  // k >= distinct values: the loss is zero.
  const few = weightedKMeans1D([1, 1, 2, 5, 5, 5], [1, 2, 3, 1, 1, 1], 4);
  assert.equal(few.loss, 0);
});

test('k-means codes: weighted error below RTN at the same code width, and below unweighted k-means', () => {
  const rows = 16, cols = 512;
  const { w, sens } = data(rows, cols, 11);
  for (const bits of [4, 3, 2] as TableBits[]) {
    const km = quantizeKMeans(w, rows, cols, sens, { bits });
    const plain = quantizeKMeans(w, rows, cols, null, { bits });
    const eKm = weightedError(w, dequantizeTable(km), sens, cols);
    const ePlain = weightedError(w, dequantizeTable(plain), sens, cols);
    const eRtn = weightedError(w, dequantize(quantizeRTN(w, rows, cols, { bits, group: 128, symmetric: false })), sens, cols);
    assert.ok(eKm < eRtn, `${bits} bits: k-means ${eKm} vs RTN g128 ${eRtn}`);
    assert.ok(eKm < ePlain, `${bits} bits: weighted ${eKm} vs unweighted ${ePlain}`);
    assert.ok(Math.abs(tableBitsPerWeight(km) - (bits + (16 << bits) / cols)) < 1e-12);
    // Every code is the nearest fp16 table entry of its weight.
    const d = dequantizeTable(km);
    for (let r = 0; r < rows; r++) {
      const tab = Array.from(km.tables.subarray(r << bits, (r + 1) << bits), f16BitsToF32);
      for (let c = 0; c < cols; c++) {
        const x = w[r * cols + c]!, got = Math.abs(x - d[r * cols + c]!);
        for (const e of tab) assert.ok(got <= Math.abs(x - e));
      }
    }
  }
  // Per-group tables fit better than one per row (more tables).
  const g = quantizeKMeans(w, rows, cols, sens, { bits: 3, scope: 32 });
  assert.ok(weightedError(w, dequantizeTable(g), sens, cols) < weightedError(w, dequantizeTable(quantizeKMeans(w, rows, cols, sens, { bits: 3 })), sens, cols));
});

test('k-means: bad input gives E_ARG', () => {
  const { w, sens } = data(2, 64, 1);
  const err = (f: () => unknown): void => assert.throws(f, (e) => isZipmlError(e, 'E_ARG'));
  err(() => quantizeKMeans(w, 2, 64, sens, { bits: 5 as TableBits }));
  err(() => quantizeKMeans(w, 2, 64, sens, { bits: 4, scope: 48 as 32 }));
  err(() => quantizeKMeans(w, 3, 64, sens, { bits: 4 }));
  err(() => quantizeKMeans(w, 2, 64, sens.subarray(1), { bits: 4 }));
  err(() => quantizeKMeans(w, 2, 64, Float64Array.from(sens, (s, i) => (i === 3 ? NaN : s)), { bits: 4 }));
  err(() => quantizeKMeans(Float32Array.from(w, (v, i) => (i === 5 ? Infinity : v)), 2, 64, sens, { bits: 4 }));
  err(() => weightedKMeans1D([], [], 4));
});

test('stories260K: sensitivity-weighted k-means 3-bit beats RTN 3-bit g32 on KL, running on the table kernel', (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const text = loadText();
  const evalDocs = lastDocs(textDocuments(tok, text.slice(text.length - 8000)), 300);
  const calib = lastDocs(textDocuments(tok, text.slice(0, 6000)), 600);
  const km = quantizeModelKMeans(loadModel(), calib, { bits: 3 });
  const rtn = quantizeModelRTN(loadModel(), { bits: 3, group: 32, symmetric: false });
  assert.ok(km.model.weights.blocks[0]!.wq instanceof TableLinear);
  const cKm = compareModels(loadModel(), km.model, evalDocs);
  const cRtn = compareModels(loadModel(), rtn.model, evalDocs);
  t.diagnostic(`k-means 3-bit per row: ${km.bitsPerWeight.toFixed(3)} bits/weight, ppl ${cKm.perplexity.toFixed(3)} (fp32 ${cKm.refPerplexity.toFixed(3)}), KL ${cKm.klMean.toFixed(4)}; RTN 3-bit g32 zero point: ${rtn.bitsPerWeight.toFixed(3)} bits/weight, ppl ${cRtn.perplexity.toFixed(3)}, KL ${cRtn.klMean.toFixed(4)}`);
  // At 64-column rows a per-row table of 8 fp16 values costs 2 bits per weight; the KL is compared at equal code width.
  assert.ok(Math.abs(km.bitsPerWeight - rtn.bitsPerWeight) < 1.5);
  assert.ok(cKm.klMean < cRtn.klMean, `k-means KL ${cKm.klMean} vs RTN ${cRtn.klMean}`);
});
