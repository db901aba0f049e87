// One sweep point of a JavaScript-side library (zipml, hnswlib-node, usearch): one-query-at-a-time
// and batch search timed by sweep.mjs's rules, recall@10 by zipml's recallAtK against the exact
// ground truth.
import { recallAtK } from '../../dist/src/eval/index.js';
import { K } from '../vectors-codecs/lib.mjs';
import { bestTime, TIMING } from './sweep.mjs';

/**
 * `one(q, ids)`: search query q alone and write its K ids at ids[q*K ..]. `batch(n)` (optional):
 * search the first n queries (all when n is undefined) in one call and return their ids (n x K,
 * any integer-valued typed array). Recall is the batch search's where there is one, else the
 * loop's; both are kept.
 */
export async function measurePoint(ds, truth, { one, batch }) {
  const loopIds = new Int32Array(ds.nq * K).fill(-1);
  const loop = (n = ds.nq) => {
    for (let q = 0; q < n; q++) one(q, loopIds);
  };
  const warm = Math.min(TIMING.warmup, ds.nq);
  const l = await bestTime(loop, warm);
  const out = { ...rates('loop', l, ds.nq), loopRecall: recallAtK(loopIds, truth, ds.nq, K) };
  if (!batch) return { ...out, recall: out.loopRecall };
  let ids;
  const b = await bestTime(async (n) => {
    ids = await batch(n);
  }, warm);
  const batchRecall = recallAtK(ids, truth, ds.nq, K);
  return { ...out, ...rates('batch', b, ds.nq), batchRecall, recall: batchRecall };
}

/** A bestTime result as a point's fields: <mode>Seconds, <mode>CpuSeconds, <mode>Passes, <mode>Qps, <mode>CpuQps. */
export function rates(mode, t, nq) {
  return {
    [`${mode}Seconds`]: t.seconds, [`${mode}CpuSeconds`]: t.cpuSeconds, [`${mode}Passes`]: t.passes,
    [`${mode}Qps`]: nq / t.seconds, [`${mode}CpuQps`]: nq / t.cpuSeconds,
  };
}

/** Rows of a flat nq x d matrix as views, made once outside the timed loops. */
export function queryRows(ds) {
  return Array.from({ length: ds.nq }, (_, q) => ds.queries.subarray(q * ds.d, (q + 1) * ds.d));
}
