import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScalarQuantizer, SQ_TYPES, sqTypeFromName } from '../../src/vectors/codecs/sq.js';
import { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from '../../src/core/dtypes.js';
import { isZipmlError } from '../../src/core/errors.js';
import type { Metric } from '../../src/vectors/types.js';
import { gaussian, decodeThenDistance, assertClose, bothPaths } from './codec-util.js';

const METRICS: Metric[] = ['l2', 'ip', 'cos'];

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

test('SQ codes equal Faiss 1.7.3 ScalarQuantizer codes bit for bit', () => {
  // Codes and Σ|decoded| produced by python3-faiss 1.7.3 on this very data (see docs/codecs.md).
  const n = 7, d = 6;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = Math.sin(i * 1.3 + j * 0.7) * 3 + j * 0.1;
  const golden: Array<[string, string, number]> = [
    ['8bit', '77dbfdffa756faffaf650d00bd700a00146d1a000062b1ff00539ffdffdf94efffed8b3cfff0924a0005', 79.93386840820312],
    ['6bit', '9dedff6905fdbf660300ee2600c406060060eb0f0075faff0de4feebe203ff4e4a4000', 79.84574890136719],
    ['4bit', 'c7fe59fe5a006b00610150fa40e9dfe8df38ef4800', 80.19574737548828],
    ['8bit_uniform', '75c8f6ebae5febe8b2622110b466210727732100175fb7f7094ba3e9ffdb8fdaf8db9547efdb99491415', 79.86343383789062],
    ['4bit_uniform', 'b6de5add5a016a01620151ea40d9cfc8ce48ce4911', 79.22624969482422],
  ];
  for (const [qt, codes, absSum] of golden) {
    const sq = new ScalarQuantizer(d, qt);
    sq.train(x);
    const c = sq.encode(x);
    assert.equal(hex(c), codes, qt);
    let s = 0;
    for (const v of sq.decode(c)) s += Math.abs(v);
    assert.ok(Math.abs(s - absSum) < 1e-4, `${qt} decode sum ${s} vs ${absSum}`);
  }
});

test('SQ round trip: error within half a step per dimension', () => {
  const d = 37, n = 500;
  const x = gaussian(1, n, d, 2, 0.3);
  for (const qt of ['8bit', '6bit', '4bit', '8bit_uniform', '6bit_uniform', '4bit_uniform'] as const) {
    const sq = new ScalarQuantizer(d, qt);
    sq.train(x);
    assert.equal(sq.codeSize, Math.ceil((d * sq.bits) / 8));
    const y = sq.decode(sq.encode(x));
    const levels = (1 << sq.bits) - 1;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const half = sq.vdiff[sq.uniform ? 0 : j]! / levels / 2;
        const err = Math.abs(y[i * d + j]! - x[i * d + j]!);
        assert.ok(err <= half * (1 + 1e-4) + 1e-6, `${qt} [${i},${j}] err ${err} > ${half}`);
      }
    }
  }
});

test('SQfp16 / SQbf16 round trips are exactly the dtypes conversions', () => {
  const d = 19;
  const x = gaussian(2, 40, d, 1000);
  x[0] = 1e-8; // f16 subnormal range
  x[1] = 70000; // f16 overflow to Inf
  const f16 = new ScalarQuantizer(d, 'SQfp16');
  assert.ok(f16.isTrained);
  assert.deepEqual(f16.decode(f16.encode(x)), f16ToF32(f32ToF16(x)));
  const bf = new ScalarQuantizer(d, 'SQbf16');
  assert.deepEqual(bf.decode(bf.encode(x)), bf16ToF32(f32ToBf16(x)));
  assert.equal(f16.codeSize, 2 * d);
});

test('SQ compressed-domain distances equal decode-then-distance (all types, metrics, paths)', async () => {
  const d = 45, n = 300;
  const x = gaussian(3, n, d, 1.5, 0.2);
  const queries = gaussian(4, 3, d, 1.5, -0.1);
  await bothPaths((path) => {
    for (const qt of SQ_TYPES) {
      const sq = new ScalarQuantizer(d, qt);
      sq.train(x);
      const codes = sq.encode(x);
      for (let qi = 0; qi < 3; qi++) {
        const q = queries.subarray(qi * d, (qi + 1) * d);
        for (const metric of METRICS) {
          const out = new Float32Array(n);
          sq.distances(q, metric)(codes, n, out);
          assertClose(out, decodeThenDistance(sq, q, codes, metric), 2e-5, `${qt} ${metric} ${path}`);
        }
      }
    }
  });
});

test('SQ names and Faiss factory strings', () => {
  assert.equal(sqTypeFromName('SQ8'), '8bit');
  assert.equal(sqTypeFromName('SQ4_uniform'), '4bit_uniform');
  assert.equal(sqTypeFromName('SQfp16'), 'fp16');
  assert.equal(sqTypeFromName('SQ7'), undefined);
  assert.equal(new ScalarQuantizer(3, '6bit').name, 'SQ6');
  assert.equal(new ScalarQuantizer(3, 'SQbf16').name, 'SQbf16');
});

test('SQ bad input gives ZipmlError', () => {
  const sq = new ScalarQuantizer(4, 'SQ8');
  const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');
  assert.throws(() => sq.encode(new Float32Array(4)), (e) => isArg(e) && /not trained/.test((e as Error).message));
  assert.throws(() => sq.train(new Float32Array(0)), (e) => isArg(e) && /empty/.test((e as Error).message));
  assert.throws(() => sq.train(new Float32Array(6)), isArg);
  assert.throws(() => sq.train(new Float32Array([0, 1, NaN, 2])), (e) => isArg(e) && /non-finite/.test((e as Error).message));
  sq.train(gaussian(1, 10, 4));
  assert.throws(() => sq.encode(new Float32Array(5)), isArg);
  assert.throws(() => sq.decode(new Uint8Array(5)), isArg);
  assert.throws(() => sq.distances(new Float32Array(3), 'l2'), isArg);
  assert.throws(() => sq.distances(new Float32Array(4), 'hamming' as Metric), isArg);
  const f = sq.distances(new Float32Array(4), 'l2');
  assert.throws(() => f(new Uint8Array(7), 2, new Float32Array(2)), isArg);
  assert.throws(() => f(new Uint8Array(8), 2, new Float32Array(1)), isArg);
  assert.throws(() => new ScalarQuantizer(4, 'SQ3'), isArg);
  assert.throws(() => new ScalarQuantizer(0, 'SQ8'), isArg);
});
