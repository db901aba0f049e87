/** GPTQ: reduces to RTN when inputs are uncorrelated; beats RTN's layer reconstruction error on real and synthetic calibration data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { SeededRandom } from '../../../src/core/random.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { lastDocs, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { HessianAccumulator, actOrder, captureHessians, gptqCore, quantizeGPTQ, searchGroupParams } from '../../../src/tensors/quant/gptq.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { dequantize, groupParams, quantizeRTN, quantizeValue } from '../../../src/tensors/quant/rtn.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { MODEL, TEXT, TOKENIZER, have, loadModel, loadText, loadTokenizer } from '../llm/util.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { firstSlice } from '../../../src/tensors/quant/pipeline.js';
import { syntheticCheckpoint, syntheticText, syntheticTokenizer } from './synthetic.js';

/** Σ_r Δ_r H Δ_rᵀ with Δ = W − Ŵ: ‖(W − Ŵ)X‖² up to the factor 2/n inside H. */
function reconError(w: Float32Array, wq: Float32Array, rows: number, cols: number, h: Float64Array): number {
  let total = 0;
  const d = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) d[c] = w[r * cols + c]! - wq[r * cols + c]!;
    for (let i = 0; i < cols; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += h[i * cols + j]! * d[j]!;
      total += d[i]! * s;
    }
  }
  return total;
}

test('with H = identity GPTQ makes exactly RTN codes (no cross-column error to feed back)', () => {
  const rng = new SeededRandom(11);
  const rows = 8, cols = 96;
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.1);
  const h = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) h[i * cols + i] = 1;
  for (const symmetric of [true, false]) {
    const g = quantizeGPTQ(w, rows, cols, h, { bits: 4, group: 32, symmetric });
    const r = quantizeRTN(w, rows, cols, { bits: 4, group: 32, symmetric });
    assert.deepEqual(g.codes, r.codes);
    assert.deepEqual(g.scales, r.scales);
  }
});

test('synthetic correlated inputs: GPTQ reconstruction error below RTN at 4, 3 and 2 bits', () => {
  const rng = new SeededRandom(5);
  const rows = 24, cols = 128, n = 600, k = 16;
  // x = A z + small noise: strongly correlated inputs, as activations are.
  const A = Float64Array.from({ length: cols * k }, () => rng.normal());
  const acc = new HessianAccumulator(cols);
  const x = new Float32Array(cols);
  for (let s = 0; s < n; s++) {
    const z = Array.from({ length: k }, () => rng.normal());
    for (let i = 0; i < cols; i++) {
      let v = 0.05 * rng.normal();
      for (let t = 0; t < k; t++) v += A[i * k + t]! * z[t]!;
      x[i] = v;
    }
    acc.add(x);
  }
  const h = acc.hessian();
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05);
  for (const bits of [4, 3, 2] as QuantBits[]) {
    for (const group of [32, 128] as QuantGroup[]) {
      for (const symmetric of [true, false]) {
        const eg = reconError(w, dequantize(quantizeGPTQ(w, rows, cols, h, { bits, group, symmetric })), rows, cols, h);
        const er = reconError(w, dequantize(quantizeRTN(w, rows, cols, { bits, group, symmetric })), rows, cols, h);
        assert.ok(eg < er, `bits ${bits} g${group} sym ${symmetric}: GPTQ ${eg} vs RTN ${er}`);
      }
    }
  }
});

test('stories260K: Hessians captured on TinyStories; GPTQ beats RTN on every layer of block 0 at 4 bits', (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const docs = lastDocs(textDocuments(tok, loadText().slice(0, 20_000)), 400);
  const model = loadModel();
  const hs = captureHessians(model, docs);
  assert.equal(hs.size, 5 * 4); // wq(=wk=wv), wo, w1(=w3), w2 per layer
  assert.equal(model.linearInputHook, undefined);
  const lines: string[] = [];
  for (const name of ['wq', 'wk', 'wo', 'w1', 'w2'] as const) {
    const op = model.weights.blocks[0]![name] as DenseLinear;
    const key = `0:${name === 'wk' ? 'wq' : name}`;
    const h = hs.get(key)!.hessian();
    const opts = { bits: 4 as const, group: 32 as const, symmetric: false };
    const eg = reconError(op.weights, dequantize(quantizeGPTQ(op.weights, op.rows, op.cols, h, opts)), op.rows, op.cols, h);
    const er = reconError(op.weights, dequantize(quantizeRTN(op.weights, op.rows, op.cols, opts)), op.rows, op.cols, h);
    lines.push(`${name} ${(eg / er).toFixed(3)}`);
    assert.ok(eg < er, `${name}: GPTQ ${eg} vs RTN ${er}`);
  }
  t.diagnostic(`GPTQ / RTN reconstruction error, block 0, 4-bit g32: ${lines.join(', ')}`);
});

test('act-order: columns by decreasing diag H; with a diagonal H the permuted loop writes RTN codes back in place', () => {
  const rng = new SeededRandom(13);
  const rows = 6, cols = 96;
  const h = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) h[i * cols + i] = 0.1 + rng.float();
  h[5 * cols + 5] = h[7 * cols + 7] = 2; // a tie keeps the input order
  const order = actOrder(h, cols);
  assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: cols }, (_, i) => i));
  for (let k = 1; k < cols; k++) assert.ok(h[order[k - 1]! * (cols + 1)]! >= h[order[k]! * (cols + 1)]!);
  assert.ok(order.indexOf(5) < order.indexOf(7));
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.1);
  for (const groupFit of ['lazy', 'static'] as const) {
    const g = gptqCore(w, rows, cols, h, { bits: 3, group: 32, symmetric: false, actOrder: true, groupFit });
    assert.deepEqual(g.order, order);
    const r = quantizeRTN(w, rows, cols, { bits: 3, group: 32, symmetric: false });
    assert.deepEqual(g.packed.codes, r.codes);
    assert.deepEqual(g.packed.zeros, r.zeros);
  }
});

test('act-order GPTQ on correlated inputs with one dominant column beats RTN and in-order GPTQ', () => {
  const rng = new SeededRandom(14);
  const rows = 16, cols = 64, n = 500;
  const acc = new HessianAccumulator(cols);
  const x = new Float32Array(cols);
  for (let s = 0; s < n; s++) {
    const z = rng.normal();
    // Late columns carry most of the energy: in-order GPTQ quantizes them last, with nowhere to push their error.
    for (let i = 0; i < cols; i++) x[i] = (i >= 48 ? 5 : 1) * (z + 0.3 * rng.normal());
    acc.add(x);
  }
  const h = acc.hessian();
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05);
  const opts = { bits: 3 as const, group: 32 as const, symmetric: false };
  const ea = reconError(w, dequantize(gptqCore(w, rows, cols, h, { ...opts, actOrder: true }).packed), rows, cols, h);
  const eg = reconError(w, dequantize(quantizeGPTQ(w, rows, cols, h, opts)), rows, cols, h);
  const er = reconError(w, dequantize(quantizeRTN(w, rows, cols, opts)), rows, cols, h);
  assert.ok(ea < eg && eg < er, `act-order ${ea}, in order ${eg}, RTN ${er}`);
});

test('mse range search: lower Σ|w − ŵ|^2.4 than min/max on heavy-tailed groups, and GPTQ with it still beats RTN', () => {
  const rng = new SeededRandom(15);
  const n = 32;
  let better = 0;
  for (let t = 0; t < 50; t++) {
    const w = Float32Array.from({ length: n }, () => rng.normal() * (rng.float() < 0.05 ? 6 : 1));
    for (const symmetric of [true, false]) {
      const err = (prm: { scaleBits: number; zero: number }): number => {
        const s = f16BitsToF32(prm.scaleBits);
        return w.reduce((a, v) => a + Math.abs(v - s * (quantizeValue(v, s, prm.zero, 7) - prm.zero)) ** 2.4, 0);
      };
      const es = err(searchGroupParams(w, n, 3, symmetric)), em = err(groupParams(w, 0, n, 3, symmetric));
      assert.ok(es <= em * (1 + 1e-6), `search ${es} vs min/max ${em}`);
      if (es < em * 0.99) better++;
    }
  }
  assert.ok(better > 50, `search strictly better on ${better} of 100 groups`);
  const h = new Float64Array(64 * 64);
  for (let i = 0; i < 64; i++) h[i * 64 + i] = 1;
  const w = Float32Array.from({ length: 4 * 64 }, () => rng.normal());
  const g = dequantize(quantizeGPTQ(w, 4, 64, h, { bits: 3, group: 32, symmetric: false, mse: true }));
  const r = dequantize(quantizeRTN(w, 4, 64, { bits: 3, group: 32, symmetric: false }));
  assert.ok(reconError(w, g, 4, 64, h) < reconError(w, r, 4, 64, h));
});

test('gptq rejects a wrong Hessian size, bad damping, and a block that splits groups', () => {
  const w = new Float32Array(64).fill(0.1);
  const h = new Float64Array(64 * 64);
  const err = (f: () => unknown): void => assert.throws(f, (e) => isZipmlError(e, 'E_ARG'));
  err(() => quantizeGPTQ(w, 1, 64, new Float64Array(10), { bits: 4, group: 32 }));
  err(() => quantizeGPTQ(w, 1, 64, h, { bits: 4, group: 32, damp: 0 }));
  err(() => quantizeGPTQ(w, 1, 64, h, { bits: 4, group: 64, blockSize: 96 }));
  err(() => gptqCore(w, 1, 64, h, { bits: 4, group: 32, keep: new Uint8Array(3) }));
});

test('captureHessians(only = l) stops each pass after block l and gives exactly the full capture of that block', () => {
  const model = LlamaModel.fromLlama2c(syntheticCheckpoint(5));
  const docs = firstSlice(syntheticTokenizer(), syntheticText(30), 300).docs;
  const full = captureHessians(model, docs);
  const nL = model.config.nLayers;
  for (const l of [0, nL - 1]) {
    // Count what runs after block l: the next block's first linear (none may run when l is not the last).
    let later = 0;
    const probe = model.mapLinears((ll, name, op) => (ll === l + 1 && name === 'wq' ? { rows: op.rows, cols: op.cols, matvec: (x: Float32Array, o: Float32Array) => (later++, op.matvec(x, o)) } : op));
    const one = captureHessians(probe, docs, {}, l);
    assert.equal(later, 0);
    assert.deepEqual([...one.keys()].sort(), [...full.keys()].filter((k) => k.startsWith(`${l}:`)).sort());
    for (const [k, a] of one) {
      assert.equal(a.count, full.get(k)!.count, k);
      assert.deepEqual(a.h, full.get(k)!.h, k);
    }
  }
  assert.equal(model.linearInputHook, undefined);
});
