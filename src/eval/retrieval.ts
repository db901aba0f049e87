/**
 * Search quality against exact ground truth. Results and ground truth are nq rows of ids
 * (row-major, any row length >= k): `found` from the index under test, `truth` from exact
 * brute-force search, nearest first. Negative ids (-1, Faiss's "no result") never match. An id
 * that `found` repeats within a row counts once.
 *
 * With ties in the true distances the true top-k is not unique, so recall can read slightly low
 * for a correct search; ground truth by an exact search with a fixed tie order keeps it stable.
 */
import { ZipmlError } from '../core/index.js';

export type IdRows = ArrayLike<number>;

/** Row length of an nq-row id matrix, checked to hold at least `k` per row. */
function rowLength(name: string, ids: IdRows, nq: number, k: number): number {
  if (!Number.isSafeInteger(nq) || nq < 1) throw new ZipmlError('E_ARG', `nq must be a positive integer, got ${nq}`);
  if (!Number.isSafeInteger(k) || k < 1) throw new ZipmlError('E_ARG', `k must be a positive integer, got ${k}`);
  const len = ids.length / nq;
  if (!Number.isInteger(len)) throw new ZipmlError('E_ARG', `${name}: ${ids.length} ids are not ${nq} equal rows`);
  if (len < k) throw new ZipmlError('E_ARG', `${name}: rows of ${len} ids, fewer than k = ${k}`);
  return len;
}

/**
 * recall@k: the mean over queries of |found top-k ∩ true top-k| / k, Faiss's
 * `knn_intersection_measure` (what ann-benchmarks calls recall, "10@10" for k = 10).
 */
export function recallAtK(found: IdRows, truth: IdRows, nq: number, k: number): number {
  const fs = rowLength('found', found, nq, k);
  const ts = rowLength('truth', truth, nq, k);
  const want = new Set<number>();
  const seen = new Set<number>();
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    want.clear();
    seen.clear();
    for (let j = 0; j < k; j++) if (truth[q * ts + j]! >= 0) want.add(truth[q * ts + j]!);
    for (let j = 0; j < k; j++) {
      const id = found[q * fs + j]!;
      if (want.has(id) && !seen.has(id)) hits++;
      seen.add(id);
    }
  }
  return hits / (nq * k);
}

/**
 * 1-recall@R, Faiss's "R@R": the fraction of queries whose true nearest neighbour is among the
 * first R results. `oneRecallAtR(found, truth, nq, 1)` is the R@1 of Faiss's benchmarks.
 */
export function oneRecallAtR(found: IdRows, truth: IdRows, nq: number, r: number): number {
  const fs = rowLength('found', found, nq, r);
  const ts = rowLength('truth', truth, nq, 1);
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const nn = truth[q * ts]!;
    if (nn < 0) continue;
    for (let j = 0; j < r; j++) {
      if (found[q * fs + j] === nn) {
        hits++;
        break;
      }
    }
  }
  return hits / nq;
}

export interface NdcgOptions {
  /**
   * Graded relevance: `gains[q * rowLength + j]` is the gain of `truth[q * rowLength + j]`
   * (same shape as truth). Default: binary, gain 1 for each of the true top-k.
   */
  gains?: ArrayLike<number>;
}

/**
 * nDCG@k = DCG / ideal DCG with DCG = Σ_{i<k} gain(found_i) / log2(i + 2), averaged over queries.
 * Ids outside the truth row (or past its first k, with binary gains) gain 0. Queries whose ideal
 * DCG is 0 (graded gains all zero) are left out of the mean; the mean of no queries is 0.
 */
export function ndcgAtK(found: IdRows, truth: IdRows, nq: number, k: number, opts: NdcgOptions = {}): number {
  const fs = rowLength('found', found, nq, k);
  const ts = rowLength('truth', truth, nq, k);
  const gains = opts.gains;
  if (gains && gains.length !== truth.length) throw new ZipmlError('E_ARG', `gains: ${gains.length} values for ${truth.length} truth ids`);
  const discount = Float64Array.from({ length: k }, (_, i) => 1 / Math.log2(i + 2));
  const gainOf = new Map<number, number>();
  let sum = 0, counted = 0;
  for (let q = 0; q < nq; q++) {
    gainOf.clear();
    const width = gains ? ts : k;
    for (let j = 0; j < width; j++) {
      const id = truth[q * ts + j]!;
      const g = gains ? gains[q * ts + j]! : 1;
      if (!(g >= 0) || !Number.isFinite(g)) throw new ZipmlError('E_ARG', `gains: value ${g} at query ${q}, rank ${j} is not a finite gain >= 0`);
      if (id >= 0 && !gainOf.has(id)) gainOf.set(id, g);
    }
    const ideal = [...gainOf.values()].sort((a, b) => b - a);
    let idcg = 0;
    for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += ideal[i]! * discount[i]!;
    if (idcg === 0) continue;
    let dcg = 0;
    for (let i = 0; i < k; i++) {
      const id = found[q * fs + i]!;
      const g = gainOf.get(id);
      if (g !== undefined) {
        dcg += g * discount[i]!;
        gainOf.delete(id); // a repeated id gains once
      }
    }
    sum += dcg / idcg;
    counted++;
  }
  return counted ? sum / counted : 0;
}
