import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../src/core/errors.js';
import { klDivergence, klDivergenceFromLogits, top1FlipRate } from '../../src/eval/distributions.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);
const argError = (fn: () => unknown) => assert.throws(fn, (e: unknown) => isZipmlError(e, 'E_ARG'));

test('KL divergence of probability rows, in nats', () => {
  // 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = ln(5/3).
  close(klDivergence([0.5, 0.5], [0.9, 0.1]), 0.5108256237659907);
  close(klDivergence([1, 0], [0.5, 0.5]), Math.LN2);
  assert.equal(klDivergence([0.2, 0.8], [0.2, 0.8]), 0);
  assert.equal(klDivergence([0.5, 0.5], [1, 0]), Infinity);
  argError(() => klDivergence([0.5, 0.5], [0.5]));
  argError(() => klDivergence([2, -1], [0.5, 0.5]));
  argError(() => klDivergence([3, 1], [0.5, 0.5])); // logits, not probabilities
  argError(() => klDivergence([NaN, 1], [0.5, 0.5]));
});

test('KL divergence from logits: shift invariant, per row, mean and max', () => {
  // Row 0: softmax(0, 0) = (0.5, 0.5) against (0.9, 0.1) given as shifted logs; row 1 identical.
  const ref = [0, 0, 1, 2];
  const test_ = [Math.log(0.9) + 7, Math.log(0.1) + 7, -4, -3];
  const r = klDivergenceFromLogits(ref, test_, 2);
  close(r.perRow[0]!, 0.5108256237659907, 1e-12);
  close(r.perRow[1]!, 0, 1e-15);
  close(r.mean, 0.5108256237659907 / 2, 1e-12);
  close(r.max, 0.5108256237659907, 1e-12);
  // Large logits do not overflow.
  close(klDivergenceFromLogits([1000, 1000], [2000, 2000], 2).mean, 0, 1e-15);
  argError(() => klDivergenceFromLogits([1, 2, 3], [1, 2, 3], 2));
  argError(() => klDivergenceFromLogits([1, Infinity], [1, 2], 2));
  argError(() => klDivergenceFromLogits([], [], 2));
});

test('top-1 flip rate: rows whose argmax moved; ties go to the first index', () => {
  const ref = [1, 3, 2, 5, 5, 0, 0, 0, 1];
  const test_ = [1, 2, 3, 5, 4, 0, 1, 0, 0];
  close(top1FlipRate(ref, test_, 3), 2 / 3);
  assert.equal(top1FlipRate(ref, ref, 3), 0);
  assert.equal(top1FlipRate([NaN, 1], [0, 1], 2), 0); // NaN never wins
  argError(() => top1FlipRate([1, 2], [1, 2, 3], 1));
});
