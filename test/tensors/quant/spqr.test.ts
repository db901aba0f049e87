/** SpQR: the layer op equals its definition, bilevel statistics and bits are exact, in-loop outliers lower the layer error, the file codec round-trips and refuses bad fields. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { codeAt, rowBytesFor } from '../../../src/tensors/quant/packed.js';
import { quantizeGPTQ } from '../../../src/tensors/quant/gptq.js';
import { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { OutlierLinear } from '../../../src/tensors/quant/outliers.js';
import { decodeQuantizedModel, encodeQuantizedModel } from '../../../src/tensors/quant/file.js';
import { firstSlice } from '../../../src/tensors/quant/pipeline.js';
import { quantizeModel } from '../../../src/tensors/quant/registry.js';
import {
  SpqrLinear, checkSpqr, dequantizeSpqr, quantizeSpqr, spqrBits, spqrFromSections, spqrLayer, spqrMatvecReference, spqrSections, spqrStats,
} from '../../../src/tensors/quant/spqr.js';
import { layerError } from './quant-util.js';
import { syntheticCheckpoint, syntheticText, syntheticTokenizer } from './synthetic.js';

/** A correlated-input Hessian 2/n Σ x xᵀ (cols × cols). */
function hessian(rng: SeededRandom, cols: number, n = 300): Float64Array {
  const h = new Float64Array(cols * cols), x = new Float64Array(cols);
  for (let s = 0; s < n; s++) {
    const z = rng.normal();
    for (let i = 0; i < cols; i++) x[i] = z + 0.5 * rng.normal() * (1 + (i % 5));
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j]! += (2 * x[i]! * x[j]!) / n;
  }
  return h;
}

const rng0 = new SeededRandom(41);
const ROWS = 40, COLS = 72; // neither a multiple of 16 rows nor of 16 / 32 columns: partial groups and blocks
const W = Float32Array.from({ length: ROWS * COLS }, () => (rng0.float() < 0.01 ? 0.5 : 0.04) * rng0.normal());
const H = hessian(rng0, COLS);

test('SpqrLinear equals the reference product; statistics are the bilevel definition; bits are counted exactly', () => {
  const r = quantizeSpqr(W, ROWS, COLS, H, { bits: 3 });
  const m = r.matrix;
  checkSpqr(m);
  const rng = new SeededRandom(5);
  const op = new SpqrLinear(m);
  for (let k = 0; k < 3; k++) {
    const x = Float32Array.from({ length: COLS }, () => rng.normal());
    const y = new Float32Array(ROWS), ref = new Float32Array(ROWS);
    op.matvec(x, y);
    spqrMatvecReference(m, x, ref);
    for (let i = 0; i < ROWS; i++) assert.ok(Math.abs(y[i]! - ref[i]!) < 1e-5 * (1 + Math.abs(ref[i]!)), `row ${i}: ${y[i]} vs ${ref[i]}`);
  }
  // Scale of (row 21, group 2) by hand: row block 1 of group 2, 3-bit stat code.
  const { scale, zero } = spqrStats(m);
  const nB = Math.ceil(ROWS / 16), sb = rowBytesFor(ROWS, 3), b = 2 * nB + 1;
  const sc = codeAt({ bits: 3, rowBytes: sb, codes: m.scaleCodes }, 2, 21), zc = codeAt({ bits: 3, rowBytes: sb, codes: m.zeroCodes }, 2, 21);
  assert.equal(scale[2 * ROWS + 21], Math.fround(f16BitsToF32(m.scaleScale[b]!) * (sc - f16BitsToF32(m.scaleZero[b]!))));
  assert.equal(zero[2 * ROWS + 21], Math.fround(f16BitsToF32(m.zeroScale[b]!) * (zc - f16BitsToF32(m.zeroZero[b]!))));
  const deq = dequantizeSpqr(m);
  assert.equal(deq[21 * COLS + 40], Math.fround(scale[2 * ROWS + 21]! * (codeAt(m, 21, 40) - zero[2 * ROWS + 21]!)));
  // 72 columns → 5 groups of 16 (the last of 8); 40 rows → 3 row blocks; 4 fp16 per (group, block).
  const groups = 5, blocks = 3;
  assert.equal(spqrBits(m), 8 * ROWS * rowBytesFor(COLS, 3) + 2 * 8 * groups * rowBytesFor(ROWS, 3) + 4 * 16 * groups * blocks);
  const layer = spqrLayer(W, ROWS, COLS, H, { bits: 3 });
  assert.equal(layer.bits, spqrBits((layer.op.base as SpqrLinear).m) + 16 * (ROWS + 1) + 32 * layer.op.sparse.colIdx.length);
});

test('outliers are chosen inside the loop: within the budget, exact where kept, and they lower the layer error', () => {
  const none = quantizeSpqr(W, ROWS, COLS, H, { bits: 3, fraction: 0 });
  assert.equal(none.sparse.colIdx.length, 0);
  assert.equal(none.threshold, Infinity);
  const budget = Math.floor(0.01 * ROWS * COLS);
  const some = spqrLayer(W, ROWS, COLS, H, { bits: 3, fraction: 0.01 });
  const nnz = some.op.sparse.colIdx.length;
  assert.ok(nnz > 0 && nnz <= budget, `${nnz} outliers, budget ${budget}`);
  const plain = new OutlierLinear(new SpqrLinear(none.matrix), none.sparse);
  const e0 = layerError(W, ROWS, COLS, H, plain), e1 = layerError(W, ROWS, COLS, H, some.op);
  assert.ok(e1 < 0.8 * e0, `with outliers ${e1} vs ${e0}`);
  // H = I (no cross-column feedback): a kept weight is exactly its code's value plus its fp16 side value.
  const eye = new Float64Array(COLS * COLS);
  for (let i = 0; i < COLS; i++) eye[i * COLS + i] = 1;
  const k = quantizeSpqr(W, ROWS, COLS, eye, { bits: 3, actOrder: false, fraction: 0.01 });
  const dq = dequantizeSpqr(k.matrix), sp = k.sparse;
  assert.ok(sp.colIdx.length > 0);
  for (let r = 0; r < ROWS; r++) {
    for (let j = sp.rowPtr[r]!; j < sp.rowPtr[r + 1]!; j++) {
      const i = r * COLS + sp.colIdx[j]!, v = dq[i]! + f16BitsToF32(sp.values[j]!);
      assert.ok(Math.abs(v - W[i]!) <= 1e-3 * Math.abs(W[i]!), `kept weight ${i}: ${v} vs ${W[i]}`);
    }
  }
  // A fixed τ: smaller τ keeps more weights.
  const a = quantizeSpqr(W, ROWS, COLS, H, { bits: 3, threshold: 2 }), b = quantizeSpqr(W, ROWS, COLS, H, { bits: 3, threshold: 0.5 });
  assert.ok(b.sparse.colIdx.length > a.sparse.colIdx.length, `${b.sparse.colIdx.length} vs ${a.sparse.colIdx.length}`);
  // Groups of 16 with 3-bit statistics and no outliers beat 3-bit GPTQ with group 32 and fp16 statistics here, at fewer bits.
  const g32 = quantizeGPTQ(W, ROWS, COLS, H, { bits: 3, group: 32, symmetric: false, actOrder: true });
  const eg = layerError(W, ROWS, COLS, H, new QuantLinear(g32, null));
  assert.ok(e0 < eg, `spqr g16 ${e0} vs gptq g32 ${eg}`);
});

test('sections round-trip; bad fields are E_FORMAT / E_CORRUPT; bad options E_ARG', () => {
  const m = quantizeSpqr(W, ROWS, COLS, H, { bits: 4, group: 32, statGroup: 8 }).matrix;
  const { meta, sections } = spqrSections(m);
  const reader = (s: Record<string, Uint8Array>) => (name: string, length: number): Uint8Array => {
    const b = s[name];
    if (!b || b.length !== length) throw new Error(`section ${name}: ${b?.length} bytes, expected ${length}`);
    return b;
  };
  const back = spqrFromSections({ ...meta }, reader(sections), ROWS, COLS);
  assert.deepEqual(dequantizeSpqr(back), dequantizeSpqr(m));
  assert.throws(() => spqrFromSections({ ...meta, bits: 5 }, reader(sections), ROWS, COLS), (e) => isZipmlError(e, 'E_FORMAT'));
  for (const bad of [{ group: 1 }, { group: 'x' }, { statBits: 9 }, { statGroup: 0 }]) {
    assert.throws(() => spqrFromSections({ ...meta, ...bad }, reader(sections), ROWS, COLS), (e) => isZipmlError(e, 'E_CORRUPT'), JSON.stringify(bad));
  }
  const inf = new Uint8Array(sections['scale_scale']!);
  inf[1] = 0x7c;
  assert.throws(() => spqrFromSections({ ...meta }, reader({ ...sections, scale_scale: inf }), ROWS, COLS), (e) => isZipmlError(e, 'E_CORRUPT') && /infinite or NaN/.test(e.message));
  const bad = (o: object): void => assert.throws(() => quantizeSpqr(W, ROWS, COLS, H, { bits: 3, ...o }), (e) => isZipmlError(e, 'E_ARG'), JSON.stringify(o));
  bad({ bits: 5 });
  bad({ group: 1 });
  bad({ group: 24 }); // not a divisor of the 128-column block
  bad({ statBits: 1 });
  bad({ threshold: -1 });
  bad({ fraction: 1 });
  assert.throws(() => quantizeSpqr(W, ROWS, COLS, H.subarray(1), { bits: 3 }), (e) => isZipmlError(e, 'E_ARG'));
  const nan = Float32Array.from(W);
  nan[7] = NaN;
  assert.throws(() => quantizeSpqr(nan, ROWS, COLS, H, { bits: 3 }), (e) => isZipmlError(e, 'E_ARG') && /weight 7/.test(e.message));
});

test('registry: spqr quantizes a model at group 16, and the file stores and restores it exactly', () => {
  const fp32 = (): LlamaModel => LlamaModel.fromLlama2c(syntheticCheckpoint(5));
  const calib = firstSlice(syntheticTokenizer(), syntheticText(60), 400).docs;
  const q = quantizeModel(fp32(), 'spqr', { bits: 3, group: 16 as 32, calibration: calib });
  const blk = q.model.weights.blocks[0]!;
  assert.ok(blk.w2 instanceof OutlierLinear && blk.w2.base instanceof SpqrLinear);
  assert.ok(q.bitsPerWeight > 3 && q.bitsPerWeight < 5, `${q.bitsPerWeight}`);
  const back = decodeQuantizedModel(encodeQuantizedModel(q.model)).model;
  const x = Float32Array.from({ length: blk.w2.cols }, (_, i) => Math.sin(i));
  const y1 = new Float32Array(blk.w2.rows), y2 = new Float32Array(blk.w2.rows);
  blk.w2.matvec(x, y1);
  back.weights.blocks[0]!.w2.matvec(x, y2);
  assert.deepEqual(y2, y1);
  assert.throws(() => quantizeModel(fp32(), 'spqr', { bits: 3, group: 48 as 32, calibration: calib }), (e) => isZipmlError(e, 'E_ARG') && /group 48 is not one of 16, 32, 64, 128/.test(e.message));
  assert.throws(() => quantizeModel(fp32(), 'spqr', { bits: 8, group: 16 as 32, calibration: calib }), (e) => isZipmlError(e, 'E_ARG') && /supported: 4, 3, 2/.test(e.message));
});
