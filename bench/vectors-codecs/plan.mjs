// What bench/vectors-codecs measures: the datasets, the metric each is searched with, and the codecs
// run on each (zipml factory name, the Faiss index built for it, the target it answers).
import { loadSharedDataset, gaussianMixture, normalizeRows } from '../../dist/src/vectors/index.js';

export const DATASETS = ['mnist', 'nmslib8', 'cohere768', 'bge-m3', 'synthetic'];
export const QUICK_DATASETS = ['nmslib8', 'synthetic'];
/** --quick runs the synthetic set at this size (the queries stay the same 1,000). */
export const QUICK_SYNTHETIC_N = 20_000;

/**
 * Per dataset: PQ with M x 8 and M x 4 bits (d % M == 0), OPQ with the M x 8 PQ, and RQ at the
 * M x 8 PQ's bytes. On the l2 sets RQ stores its norm in one byte (_Nqint8, Faiss's compressed-
 * domain L2 search; plain RQ would decode every code), so it has one stage fewer; on the cosine
 * sets (inner product of normalised vectors) RQ needs no norm.
 *
 * Training, where it deviates from "both sides train on the whole base with Faiss's defaults"
 * (to keep the full run near 15 minutes on 2 shared cores; the tables say so on each row):
 * - `opqRows`, `rqRows`: OPQ and RQ train on the first rows only (the synthetic rows are i.i.d.
 *   draws, MNIST's are in file order); the base is still encoded whole. RQ's training runs a beam
 *   search (5 beams x 256 codewords per stage) over every training row and a k-means on 5 residuals
 *   per row at each stage: about 470 s (zipml) and 115 s (Faiss) on MNIST's 9,000 rows.
 * - `rqKmeans`: plain k-means per stage (Faiss's Train_default, zipml's trainType 'kmeans')
 *   instead of the default progressive-dimension k-means, whose PCA needs more training rows than
 *   dimensions in Faiss 1.7.3 (bge-m3: 900 rows, d = 1024; Faiss throws in PCAMatrix::prepare_Ab).
 */
const CHOICES = {
  mnist: { pq8: 'PQ16x8', pq4: 'PQ28x4', opq: 'OPQ16,PQ16x8', rq: 'RQ15x8_Nqint8', rqRows: 2_000 },
  nmslib8: { pq8: 'PQ4x8', pq4: 'PQ8x4', opq: 'OPQ4,PQ4x8', rq: 'RQ3x8_Nqint8' },
  cohere768: { pq8: 'PQ16x8', pq4: 'PQ32x4', opq: 'OPQ16,PQ16x8', rq: 'RQ16x8' },
  'bge-m3': { pq8: 'PQ16x8', pq4: 'PQ32x4', opq: 'OPQ16,PQ16x8', rq: 'RQ16x8', rqKmeans: true },
  synthetic: { pq8: 'PQ16x8', pq4: 'PQ32x4', opq: 'OPQ16,PQ16x8', rq: 'RQ15x8_Nqint8', opqRows: 10_000, rqRows: 10_000 },
};

/**
 * OPQ alternates 50 times (Faiss's default) between training a PQ and solving a d x d Procrustes
 * problem by SVD. zipml's SVD is float64 JavaScript (about 7 s per iteration at d = 768 on this
 * machine, against well under 1 s for Faiss's LAPACK), so on the sets with d >= 512 both sides
 * run this many iterations instead; the tables say so.
 */
export const OPQ_NITER_HIGH_D = 5;

/**
 * Loads a dataset and turns it into what both sides get: base, queries and the metric of the
 * search over codes ('l2', or 'ip' over L2-normalised rows for the cosine sets).
 */
export async function loadDataset(name, { quick = false } = {}) {
  const ds = name === 'synthetic'
    ? gaussianMixture(quick ? { n: QUICK_SYNTHETIC_N } : {})
    : await loadSharedDataset(name);
  if (ds.metric !== 'cos') return { ...ds, name, searchMetric: ds.metric };
  return {
    ...ds, name, searchMetric: 'ip',
    base: normalizeRows(ds.base, ds.d), queries: normalizeRows(ds.queries, ds.d),
    description: `${ds.description}; base and queries L2-normalised, searched by inner product`,
  };
}

/**
 * The codec entries of a dataset. Each: `key` (file names), `name` (zipml's createCodec name, or
 * null for Faiss-only rows), `faiss` (what faiss_codecs.py builds: a factory string with its
 * training settings, or IndexLSH parameters; null for zipml-only rows), `group` (the issue's
 * target it answers: SQ8, SQ4, PQx8, PQx4, OPQ, RQ; or binary / rabitq),
 * `hamming` (binary codes: also search ours by Hamming distance, as Faiss's IndexLSH does),
 * `trainRows` (rows of the base both sides train on), `trainOptions` (zipml's train() options,
 * the same settings as in `faiss`).
 */
export function codecPlan(ds, { quick = false } = {}) {
  const c = CHOICES[ds.name];
  const all = ds.nb;
  const rabitqBytes = Math.ceil(ds.d / 8) + 12;
  const entry = (key, name, group, extra = {}) => ({ key, name, group, faiss: { factory: name }, hamming: false, trainRows: all, ...extra });
  const plan = [
    entry('SQ8', 'SQ8', 'SQ8'),
    entry('SQ4', 'SQ4', 'SQ4'),
    // "np": Faiss's factory turns on polysemous training for PQ, a simulated-annealing renumbering
    // of each codebook's centroids for Hamming-distance filtering. zipml does not implement it; it
    // changes neither the reconstruction nor ADC distances, only the training time (14 s of
    // 14.4 s for PQ4x8 on nmslib8), so both sides train without it.
    entry('PQx8', c.pq8, 'PQx8', { faiss: { factory: `${c.pq8}np` } }),
    entry('PQx4', c.pq4, 'PQx4', { faiss: { factory: `${c.pq4}np` } }),
    entry('OPQ', c.opq, 'OPQ', {
      faiss: { factory: `${c.opq}np`, ...(ds.d >= 512 ? { niter: OPQ_NITER_HIGH_D } : {}) },
      trainRows: Math.min(all, c.opqRows ?? all),
      trainOptions: ds.d >= 512 ? { niter: OPQ_NITER_HIGH_D } : undefined,
    }),
    entry('RQ', c.rq, 'RQ', {
      faiss: { factory: c.rq, ...(c.rqKmeans ? { trainType: 0 } : {}) },
      trainRows: Math.min(all, c.rqRows ?? all),
      trainOptions: c.rqKmeans ? { trainType: 'kmeans' } : undefined,
    }),
    entry('LSH', 'LSH', 'binary', { hamming: true }),
    entry('LSHrt', 'LSHrt', 'binary', { hamming: true }),
    entry('RaBitQ', 'RaBitQ', 'rabitq', { faiss: null }),
    // Faiss-only: sign bits of a random projection to as many bits as RaBitQ stores in total
    // (signs + its three f32 factors), so RaBitQ also meets binary codes at equal bytes.
    entry('LSHeq', null, 'binary-equal-bytes', {
      faiss: { lsh: { nbits: 8 * rabitqBytes, rotate: true, thresholds: true } },
      label: `IndexLSH ${8 * rabitqBytes} bits, rt`,
    }),
  ];
  // --quick: OPQ and RQ take minutes on the synthetic set; nmslib8 still covers every codec.
  return quick && ds.name === 'synthetic' ? plan.filter((e) => e.group !== 'OPQ' && e.group !== 'RQ') : plan;
}
