import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../src/core/errors.js';
import { ndcgAtK, oneRecallAtR, recallAtK } from '../../src/eval/retrieval.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);
const argError = (fn: () => unknown) => assert.throws(fn, (e: unknown) => isZipmlError(e, 'E_ARG'));

test('recall@k: the intersection of the top-k lists over k, averaged', () => {
  const found = Int32Array.from([1, 2, 3, 4, 5, 6]);
  const truth = Int32Array.from([3, 9, 1, 0, 7, 8, 9, 4]);
  close(recallAtK(found, truth, 2, 3), 2 / 6); // {1,2,3} ∩ {3,9,1} = 2; {4,5,6} ∩ {7,8,9} = 0
  close(recallAtK(found, truth, 2, 1), 0);
  close(recallAtK(truth, truth, 2, 4), 1);
  close(recallAtK([3, 3, 3], [3, 1, 2], 1, 3), 1 / 3, 0); // a repeated id counts once
  close(recallAtK([-1, -1], [-1, 5], 1, 2), 0); // -1 is "no result" on both sides
  close(recallAtK([5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6, 7], 1, 5), 1); // found rows may be shorter than truth rows
});

test('1-recall@R (Faiss R@R): the true nearest neighbour within the first R results', () => {
  const found = [1, 2, 3, 4, 5, 6];
  const truth = [3, 9, 7, 8];
  close(oneRecallAtR(found, truth, 2, 1), 0);
  close(oneRecallAtR(found, truth, 2, 3), 0.5);
  close(oneRecallAtR([7, 0], [7, 1, 2], 1, 1), 1);
});

test('nDCG@k: binary and graded gains, repeated ids, queries with no gain', () => {
  // DCG = 1/log2(2) + 0 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) + 1/2.
  close(ndcgAtK([11, 99, 10], [10, 11, 12], 1, 3), 0.7039180890341347);
  close(ndcgAtK([10, 11, 12], [10, 11, 12], 1, 3), 1);
  close(ndcgAtK([12, 11, 10], [10, 11, 12], 1, 3), 1, 1e-15); // binary gains: order within the true top-k is free
  close(ndcgAtK([11, 11, 11], [10, 11, 12], 1, 3), 1 / (1 + 1 / Math.log2(3) + 0.5));
  // Graded: gains 3, 2, 1 for 10, 11, 12; found 12, 10, 99: (1 + 3/log2(3)) / (3 + 2/log2(3) + 1/2).
  close(ndcgAtK([12, 10, 99], [10, 11, 12], 1, 3, { gains: [3, 2, 1] }), 0.6074915180456525);
  // The second query has no gain at all and is left out of the mean.
  close(ndcgAtK([10, 11, 12, 1, 2, 3], [10, 11, 12, 1, 2, 3], 2, 3, { gains: [1, 1, 1, 0, 0, 0] }), 1);
  argError(() => ndcgAtK([1, 2], [1, 2], 1, 2, { gains: [1] }));
  argError(() => ndcgAtK([1, 2], [1, 2], 1, 2, { gains: [1, -1] }));
});

test('retrieval metrics refuse shapes that do not fit', () => {
  argError(() => recallAtK([1, 2, 3], [1, 2], 2, 1));
  argError(() => recallAtK([1, 2], [1, 2], 1, 3));
  argError(() => recallAtK([1, 2], [1, 2], 0, 1));
  argError(() => oneRecallAtR([1, 2], [1, 2], 1, 0));
  argError(() => ndcgAtK([1, 2], [1], 1, 2));
});
