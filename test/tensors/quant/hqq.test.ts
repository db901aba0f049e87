/** HQQ: the l_p prox, lower group error than RTN's zero-point codes, fp16 storage, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { hqqGroup, hqqDefaults, quantizeHQQ, shrinkLp } from '../../../src/tensors/quant/hqq.js';
import { codeAt, type QuantBits } from '../../../src/tensors/quant/packed.js';
import { dequantize, quantizeRTN } from '../../../src/tensors/quant/rtn.js';

test('shrinkLp: soft-thresholding at p = 1, the generalized threshold |x|^(p-1)/β below 1', () => {
  assert.equal(shrinkLp(0.5, 10, 1), 0.4);
  assert.equal(shrinkLp(-0.5, 10, 1), -0.4);
  assert.equal(shrinkLp(0.05, 10, 1), 0);
  const x = 2, p = 0.7, beta = 4;
  assert.ok(Math.abs(shrinkLp(x, beta, p) - (x - Math.pow(x + 1e-8, p - 1) / beta)) < 1e-15);
  assert.equal(shrinkLp(0.01, 4, 0.7), 0); // small errors are absorbed by the quadratic term
});

/** Heavy-tailed rows (Student-t, 3 dof), like LLM weights. */
function heavyTailed(rng: SeededRandom, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const z = rng.normal(), c = rng.normal() ** 2 + rng.normal() ** 2 + rng.normal() ** 2;
    return (0.05 * z) / Math.sqrt(c / 3);
  });
}

const lpError = (w: Float32Array, q: Float32Array, p: number): number => w.reduce((s, v, i) => s + Math.abs(v - q[i]!) ** p, 0);

test('HQQ beats RTN (zero point, same bits and group) in l_0.7 and l_2 error at every width (2, 3, 4, 5, 6, 8 bits)', () => {
  const rng = new SeededRandom(21);
  const rows = 32, cols = 128;
  const w = heavyTailed(rng, rows * cols);
  for (const bits of [2, 3, 4, 5, 6, 8] as QuantBits[]) {
    const h = dequantize(quantizeHQQ(w, rows, cols, { bits, group: 32 }));
    const r = dequantize(quantizeRTN(w, rows, cols, { bits, group: 32, symmetric: false }));
    const [hp, rp, h2, r2] = [lpError(w, h, 0.7), lpError(w, r, 0.7), lpError(w, h, 2), lpError(w, r, 2)];
    assert.ok(hp < rp, `${bits}-bit l0.7: HQQ ${hp} vs RTN ${rp}`);
    assert.ok(h2 < r2, `${bits}-bit l2: HQQ ${h2} vs RTN ${r2}`);
  }
});

test('hqqGroup never ends above its min/max start in mean |error|, and stops early', () => {
  const rng = new SeededRandom(2);
  const w = heavyTailed(rng, 64);
  const o = hqqDefaults({ bits: 3, group: 64 });
  const g = hqqGroup(w, 0, 64, 3, o);
  const mae = (s: number, z: number): number => w.reduce((a, v) => a + Math.abs(v - s * (Math.min(7, Math.max(0, Math.round(v / s + z))) - z)), 0) / 64;
  let lo = Infinity, hi = -Infinity;
  for (const v of w) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const s0 = (hi - lo) / 7;
  assert.ok(mae(g.scale, g.zero) <= mae(s0, -lo / s0) + 1e-12);
  assert.ok(g.iterations >= 1 && g.iterations <= 20);
});

test('quantizeHQQ stores fp16 scale and zero and codes consistent with them', () => {
  const rng = new SeededRandom(4);
  const rows = 5, cols = 80; // last group of each row is short
  const w = heavyTailed(rng, rows * cols);
  const p = quantizeHQQ(w, rows, cols, { bits: 4, group: 32, updateScale: true });
  assert.equal(p.zeroF16.length, rows * 3);
  const deq = dequantize(p);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const gi = r * 3 + Math.floor(c / 32), s = f16BitsToF32(p.scales[gi]!), z = f16BitsToF32(p.zeroF16[gi]!);
      const q = codeAt(p, r, c);
      assert.equal(q, Math.min(15, Math.max(0, Math.round(w[r * cols + c]! / s + z))));
      assert.equal(deq[r * cols + c], Math.fround(s * (q - z)));
    }
  }
});

test('quantizeHQQ rejects NaN weights and bad knobs', () => {
  const w = new Float32Array(64).fill(0.1);
  const err = (f: () => unknown): void => assert.throws(f, (e) => isZipmlError(e, 'E_ARG'));
  w[3] = NaN;
  err(() => quantizeHQQ(w, 1, 64, { bits: 4, group: 32 }));
  w[3] = 0.1;
  err(() => quantizeHQQ(w, 1, 64, { bits: 4, group: 32, lpNorm: 0 }));
  err(() => quantizeHQQ(w, 1, 64, { bits: 4, group: 32, kappa: 0.5 }));
  err(() => quantizeHQQ(w, 1, 64, { bits: 7 as QuantBits, group: 32 }));
});
