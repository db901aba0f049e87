import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../src/core/errors.js';
import { bitsPerValue, mse, snrDb } from '../../src/eval/distortion.js';

const argError = (fn: () => unknown) => assert.throws(fn, (e: unknown) => isZipmlError(e, 'E_ARG'));

test('mse: per vector, per dimension, by dimension and by vector', () => {
  // Errors (0, 1) and (0, -2).
  const r = mse(Float32Array.from([1, 2, 3, 4]), Float32Array.from([1, 1, 3, 6]), 2);
  assert.equal(r.perVector, 2.5);
  assert.equal(r.perDimension, 1.25);
  assert.deepEqual(Array.from(r.byDimension), [0, 2.5]);
  assert.deepEqual(Array.from(r.byVector), [1, 4]);
  assert.equal(mse([0.1, 0.2], [0.1, 0.2], 1).perVector, 0);
  argError(() => mse([1, 2, 3], [1, 2, 3], 2));
  argError(() => mse([1, 2], [1], 1));
  argError(() => mse([], [], 1));
});

test('snrDb: 10 log10(signal energy / error energy)', () => {
  assert.ok(Math.abs(snrDb([1, 2, 3, 4], [1, 1, 3, 6]) - 7.781512503836437) < 1e-12); // 30 / 5
  assert.equal(snrDb([1, 2], [1, 2]), Infinity);
  assert.equal(snrDb([0, 0], [1, 0]), -Infinity);
  assert.ok(Math.abs(snrDb([10], [9]) - 20) < 1e-12);
  argError(() => snrDb([1], [1, 2]));
});

test('bitsPerValue: 8 * bytes / values', () => {
  assert.equal(bitsPerValue(16, 128), 1); // PQ16x8 on 128-d vectors
  assert.equal(bitsPerValue(512, 128), 32); // raw f32
  assert.equal(bitsPerValue(0, 10), 0);
  argError(() => bitsPerValue(1, 0));
  argError(() => bitsPerValue(-1, 4));
});
