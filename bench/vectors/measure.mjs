// One sweep point of a JavaScript-side library (zipml, hnswlib-node, usearch): one-query-at-a-time
// and batch search timed by sweep.mjs's rules, recall@10 by zipml's recallAtK against the exact
// ground truth.
import { recallAtK } from '../../dist/src/eval/index.js';
import { K } from '../vectors-codecs/lib.mjs';
import { bestTime, TIMING } from './sweep.mjs';

/**
 * `one(q, ids)` (or `oneAsync`, awaited): search query q alone and write its K ids at ids[q*K ..]. `batch(n)` (optional):
 * search the first n queries in one call and return their ids (n x K, any integer-valued typed
 * array). Recall is the batch search's where there is one, else the loop's; both are kept (the
 * loop's only when its passes covered every query: with a batch search, a slow loop is timed on
 * the first queries only).
 */
export async function measurePoint(ds, truth, { one, oneAsync, batch }) {
  const loopIds = new Int32Array(ds.nq * K).fill(-1);
  // oneAsync: a library whose search returns a promise (LanceDB); awaited one query at a time.
  const loop = oneAsync
    ? async (n) => {
      for (let q = 0; q < n; q++) await oneAsync(q, loopIds);
    }
    : (n) => {
      for (let q = 0; q < n; q++) one(q, loopIds);
    };
  const warm = Math.min(TIMING.warmup, ds.nq);
  const l = await bestTime(loop, warm, ds.nq, Boolean(batch));
  const out = { ...rates('loop', l), loopRecall: l.queries === ds.nq ? recallAtK(loopIds, truth, ds.nq, K) : undefined };
  if (!batch) return { ...out, recall: out.loopRecall };
  let ids;
  const b = await bestTime(async (n) => {
    ids = await batch(n);
  }, warm, ds.nq);
  const batchRecall = recallAtK(ids, truth, ds.nq, K);
  return { ...out, ...rates('batch', b), batchRecall, recall: batchRecall };
}

/**
 * A bestTime result as a point's fields: <mode>Seconds and <mode>CpuSeconds (of the best pass),
 * <mode>Passes, <mode>Queries (per pass), <mode>Qps, <mode>CpuQps.
 */
export function rates(mode, t) {
  return {
    [`${mode}Seconds`]: t.seconds, [`${mode}CpuSeconds`]: t.cpuSeconds, [`${mode}Passes`]: t.passes, [`${mode}Queries`]: t.queries,
    [`${mode}Qps`]: t.queries / t.seconds, [`${mode}CpuQps`]: t.queries / t.cpuSeconds,
  };
}

/** Rows of a flat nq x d matrix as views, made once outside the timed loops. */
export function queryRows(ds) {
  return Array.from({ length: ds.nq }, (_, q) => ds.queries.subarray(q * ds.d, (q + 1) * ds.d));
}
