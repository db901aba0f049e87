/** HQQ: the l_p prox, the reference solver (NumPy), lower group error than RTN's zero-point codes, fp16 / u8 storage, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { hqqDefaults, hqqGroup, hqqMatrix, hqqStep, quantizeHQQ, shrinkLp } from '../../../src/tensors/quant/hqq.js';
import { bitsPerWeight, codeAt, type QuantBits } from '../../../src/tensors/quant/packed.js';
import { dequantize, quantizeRTN } from '../../../src/tensors/quant/rtn.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { quantizeModelMethod } from '../../../src/tensors/quant/methods.js';
import type { QuantizedModel } from '../../../src/tensors/quant/model.js';
import type { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { quantizeModel } from '../../../src/tensors/quant/registry.js';
import { syntheticCheckpoint } from './synthetic.js';

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

test('HQQ beats RTN (zero point, same group) in l_0.7 and l_2 error at every width, with an fp16 zero and with a u8 zero at RTN\'s exact storage', () => {
  const rng = new SeededRandom(21);
  const rows = 32, cols = 128;
  const w = heavyTailed(rng, rows * cols);
  for (const bits of [2, 3, 4, 5, 6, 8] as QuantBits[]) {
    const rp = quantizeRTN(w, rows, cols, { bits, group: 32, symmetric: false }), r = dequantize(rp);
    const [rl, r2] = [lpError(w, r, 0.7), lpError(w, r, 2)];
    for (const [name, o] of Object.entries({ reference: {}, 'u8 zero + scale': { zero: 'u8', updateScale: true } } as const)) {
      const hp = quantizeHQQ(w, rows, cols, { bits, group: 32, ...o }), h = dequantize(hp);
      if (name !== 'reference') assert.equal(bitsPerWeight(hp), bitsPerWeight(rp));
      const [hl, h2] = [lpError(w, h, 0.7), lpError(w, h, 2)];
      assert.ok(hl < rl, `${name} ${bits}-bit l0.7: HQQ ${hl} vs RTN ${rl}`);
      assert.ok(h2 < r2, `${name} ${bits}-bit l2: HQQ ${h2} vs RTN ${r2}`);
    }
  }
});

const PY = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'test', 'tensors', 'quant', 'hqq_reference.py');

test('hqqMatrix (reference settings) equals an independent NumPy run of the reference solver', (t) => {
  if (spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) {
    t.skip(`${PY} with numpy not available (apt install python3-numpy)`);
    return;
  }
  const rng = new SeededRandom(9);
  const rows = 12, cols = 128;
  const w = heavyTailed(rng, rows * cols);
  const dir = mkdtempSync(join(tmpdir(), 'hqq-'));
  try {
    for (const [bits, group] of [[4, 64], [3, 32], [2, 128]] as const) {
      const o = hqqDefaults({ bits, group });
      const ours = hqqMatrix(w, rows, cols, bits, group, o);
      assert.ok(ours.iterations > 1);
      writeFileSync(join(dir, 'in.json'), JSON.stringify({ w: [...w], rows, cols, bits, group, round_zero: o.roundZero, iters: o.iters }));
      const ref = JSON.parse(execFileSync(PY, [SCRIPT, join(dir, 'in.json')]).toString()) as { scale: number[]; zero: number[] };
      assert.equal(ref.zero.length, ours.zeros.length);
      ours.zeros.forEach((z, k) => assert.ok(Math.abs(z - ref.zero[k]!) < 1e-9 && Math.abs(ours.scales[k]! - ref.scale[k]!) < 1e-12, `${bits}-bit g${group} group ${k}: zero ${z} vs ${ref.zero[k]}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hqqStep with an integer zero: the chosen zero and scale minimize the quadratic sub-problem over every integer zero', () => {
  const rng = new SeededRandom(5);
  const w = heavyTailed(rng, 64);
  for (const bits of [2, 3, 4]) {
    const maxq = (1 << bits) - 1, o = hqqDefaults({ bits: bits as QuantBits, group: 64, zero: 'u8', updateScale: true });
    let lo = Infinity, hi = -Infinity;
    for (const v of w) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    const q = new Float64Array(64), tg = new Float64Array(64), next = { inv: 0, zero: 0 };
    hqqStep(w, 0, 64, maxq, maxq / (hi - lo), Math.round(-lo * maxq / (hi - lo)), 10, o, q, tg, next);
    assert.ok(Number.isInteger(next.zero) && next.zero >= 0 && next.zero <= maxq);
    const cost = (s: number, z: number): number => tg.reduce((a, t, i) => a + (t - s * (q[i]! - z)) ** 2, 0);
    const got = cost(1 / next.inv, next.zero);
    for (let z = 0; z <= maxq; z++) {
      let sdd = 0, sdt = 0;
      for (let i = 0; i < 64; i++) [sdd, sdt] = [sdd + (q[i]! - z) ** 2, sdt + (q[i]! - z) * tg[i]!];
      if (sdt > 0) assert.ok(got <= cost(sdt / sdd, z) + 1e-12, `${bits}-bit: zero ${next.zero} (${got}) vs ${z} (${cost(sdt / sdd, z)})`);
    }
  }
});

test('hqqGroup never ends above its min/max start in mean |error|, and stops early', () => {
  const rng = new SeededRandom(2);
  const w = heavyTailed(rng, 64);
  const o = hqqDefaults({ bits: 3, group: 64, earlyStop: 'group', updateScale: true });
  const g = hqqGroup(w, 0, 64, 3, o);
  const mae = (s: number, z: number): number => w.reduce((a, v) => a + Math.abs(v - s * (Math.min(7, Math.max(0, Math.round(v / s + z))) - z)), 0) / 64;
  let lo = Infinity, hi = -Infinity;
  for (const v of w) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const s0 = (hi - lo) / 7;
  assert.ok(mae(g.scale, g.zero) <= mae(s0, -lo / s0) + 1e-12);
  assert.ok(g.iterations >= 1 && g.iterations <= 21);
  // The reference's defaults: zero only, one early stop for the matrix, integer start at 4 bits.
  assert.deepEqual(hqqDefaults({ bits: 4, group: 64 }), { lpNorm: 0.7, beta: 10, kappa: 1.01, iters: 20, updateScale: false, earlyStop: 'matrix', roundZero: true, zero: 'f16' });
  assert.equal(hqqDefaults({ bits: 3, group: 64 }).roundZero, false);
});

test('quantizeHQQ stores fp16 scale and zero and codes consistent with them', () => {
  const rng = new SeededRandom(4);
  const rows = 5, cols = 80; // last group of each row is short
  const w = heavyTailed(rng, rows * cols);
  for (const zero of ['f16', 'u8'] as const) {
    const p = quantizeHQQ(w, rows, cols, { bits: 4, group: 32, updateScale: true, zero });
    assert.equal((p.zeroF16 ?? p.zeros)!.length, rows * 3);
    assert.equal(zero === 'u8' ? p.zeroF16 : p.zeros, undefined);
    const deq = dequantize(p);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const gi = r * 3 + Math.floor(c / 32), s = f16BitsToF32(p.scales[gi]!), z = p.zeros ? p.zeros[gi]! : f16BitsToF32(p.zeroF16![gi]!);
        const q = codeAt(p, r, c);
        assert.equal(q, Math.min(15, Math.max(0, Math.round(w[r * cols + c]! / s + z))));
        assert.equal(deq[r * cols + c], Math.fround(s * (q - z)));
      }
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
  err(() => quantizeHQQ(w, 1, 64, { bits: 4, group: 32, zero: 'u4' as 'u8' }));
  err(() => quantizeHQQ(w, 1, 64, { bits: 4, group: 32, earlyStop: 'row' as 'group' }));
});

test('registry: hqq moves zero and scale with fp16 zeros; hqq-u8 stores RTN\'s byte zeros (same bits per weight); symmetric is ignored', () => {
  const fp32 = (): LlamaModel => LlamaModel.fromLlama2c(syntheticCheckpoint(3));
  const codes = (q: QuantizedModel): Uint8Array[] => q.model.weights.blocks.map((b) => (b.w1 as QuantLinear).packed.codes);
  const viaRegistry = quantizeModel(fp32(), 'hqq', { bits: 3, group: 32, symmetric: true });
  const direct = quantizeModelMethod(fp32(), 'hqq', [], { bits: 3, group: 32, updateScale: true });
  assert.equal(viaRegistry.bitsPerWeight, direct.bitsPerWeight);
  assert.deepEqual(codes(viaRegistry), codes(direct));
  assert.notDeepEqual(codes(viaRegistry), codes(quantizeModelMethod(fp32(), 'hqq', [], { bits: 3, group: 32 })));
  const u8 = quantizeModel(fp32(), 'hqq-u8', { bits: 3, group: 32 });
  assert.ok((u8.model.weights.blocks[0]!.w1 as QuantLinear).packed.zeros instanceof Uint8Array);
  assert.equal(u8.bitsPerWeight, quantizeModel(fp32(), 'rtn', { bits: 3, group: 32, symmetric: false }).bitsPerWeight);
  assert.ok(u8.bitsPerWeight < viaRegistry.bitsPerWeight);
});
