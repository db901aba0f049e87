// What bench/vectors measures: the datasets and, per dataset, the factory strings that zipml and
// Faiss both build (same string on both sides), plus the zipml-only ones (Faiss 1.7.3 has no
// RaBitQ). The graph peers (peers.mjs) run on every dataset with fixed build settings.
import { gaussianMixture } from '../../dist/src/vectors/index.js';
import { loadDataset as loadCodecDataset } from '../vectors-codecs/plan.mjs';

// The two sets the targets are judged on come first.
export const DATASETS = ['mnist', 'synthetic', 'nmslib8', 'cohere768', 'bge-m3'];
/** Not in the default run (it does not fit the run's time on this machine); --datasets synthetic1m. */
export const EXTRA_DATASETS = ['synthetic1m'];
export const QUICK_DATASETS = ['nmslib8', 'synthetic'];
/** The sets the speed targets are judged on. */
export const TARGET_DATASETS = ['mnist', 'synthetic'];

/** Base, queries and search metric ('l2', or 'ip' over L2-normalised rows for the cosine sets). */
export async function loadDataset(name, { quick = false } = {}) {
  if (name === 'synthetic1m') {
    const ds = gaussianMixture({ n: 1_000_000, d: 96 });
    return { ...ds, name, searchMetric: 'l2' };
  }
  return loadCodecDataset(name, { quick });
}

/**
 * nlist: Faiss's guide of about 4 sqrt(n) lists; on the 900-row text sets that would leave
 * 7.5 training rows per centroid, so there sqrt(n) (30 per centroid, Faiss's minimum without a
 * warning).
 */
export const nlistOf = (n) => Math.round(n >= 5000 ? 4 * Math.sqrt(n) : Math.sqrt(n));

/**
 * Both sides train on the first min(n, 64 nlist) base rows: all of every set but the synthetic
 * one, where 114,496 of the 200,000 i.i.d. rows (Faiss asks for at least 39 per centroid) halve
 * the coarse k-means that every IVF index of the run repeats.
 */
export const TRAIN_PER_LIST = 64;

/**
 * PQ sub-quantizers per dataset: `m4` for the 4-bit fast-scan PQ, `m8` for the 8-bit IVFPQ with
 * the same bytes per code (d % m == 0 for both); `opq`: whether the OPQ row runs. OPQ's rotation
 * is trained by alternating PQ training and a d x d Procrustes solve, 25 times by Faiss's default:
 * Faiss alone took 190 s on 20,000 x 128 synthetic rows here, and at d >= 512 zipml's SVDs take
 * minutes, so only nmslib8 runs it (the factory string working on both sides is the point there).
 * `unrefinedPQ`: whether PQ codes without re-ranking run. On the synthetic set they cannot reach
 * the frontier's recall (a development run: Faiss IVF1789,PQ32x4fs 0.044 and IVF1789,PQ16 0.30 at
 * best) and cost minutes of training per side, so only the refined ones run there. `refine`: the
 * codec of the compact re-ranking copy (default SQ8). On MNIST SQ6: hnswlib-node stores 3,285
 * bytes per vector there, and with SQ8 (784 bytes) plus the IVF centroids (132 bytes per vector
 * at nlist 379) and ids no configuration would fit in a quarter of that (821 bytes).
 */
export const PQ_CHOICES = {
  mnist: { m4: 56, m8: 28, opq: false, unrefinedPQ: true, refine: 'SQ6', compact: 'IVF32,PQ28x4fs,Refine(SQ8)' },
  nmslib8: { m4: 8, m8: 4, opq: true, unrefinedPQ: true },
  cohere768: { m4: 96, m8: 48, opq: false, unrefinedPQ: true },
  'bge-m3': { m4: 128, m8: 64, opq: false, unrefinedPQ: true },
  synthetic: { m4: 64, m8: 32, opq: false, unrefinedPQ: false },
  synthetic1m: { m4: 48, m8: 24, opq: false, unrefinedPQ: false },
};

/**
 * The indexes of one dataset, cheapest to build first. Each: `factory` (the string both sides
 * build), `faissFactory` (Faiss's string where it differs), `faiss` (false: zipml only), `family` ('flat', 'ivf': the IVF/PQ/SQ family the speed
 * target compares against, or 'rabitq'), `trainRows` (rows of the base both sides train on).
 */
export function indexPlan(ds) {
  const c = PQ_CHOICES[ds.name];
  const refine = c.refine ?? 'SQ8';
  const n = nlistOf(ds.nb);
  const ivf = `IVF${n}`;
  const trainRows = Math.min(ds.nb, TRAIN_PER_LIST * n);
  const e = (factory, family = 'ivf', extra = {}) => ({ factory, family, faiss: true, trainRows, ...extra });
  return [
    e('Flat', 'flat'),
    e(`${ivf},Flat`),
    e(`${ivf},SQ8`),
    ...(c.unrefinedPQ ? [e(`${ivf},PQ${c.m4}x4fs`)] : []),
    e(`${ivf},PQ${c.m4}x4fs,RFlat`),
    e(`${ivf},PQ${c.m4}x4fs,Refine(${refine})`),
    // "np": no polysemous training (a renumbering of the codebooks for Hamming pre-filtering
    // that zipml does not do and that changes no search result; 15 s of Faiss's build on nmslib8).
    ...(c.unrefinedPQ ? [e(`${ivf},PQ${c.m8}`, 'ivf', { faissFactory: `${ivf},PQ${c.m8}np` })] : []),
    ...(c.opq ? [e(`OPQ${c.m4},${ivf},PQ${c.m4}x4fs,RFlat`)] : []),
    // A compact configuration for the "quarter of hnswlib's bytes" check: few lists (centroids cost
    // d·4·nlist/n bytes per vector) and SQ8 re-ranking (819.6 bytes per vector on MNIST).
    ...(c.compact ? [e(c.compact, 'ivf', { trainRows: ds.nb })] : []),
    e('RaBitQ', 'rabitq', { faiss: false }),
    e(`${ivf},RaBitQ`, 'rabitq', { faiss: false }),
    e(`${ivf},RaBitQ,Refine(${refine})`, 'rabitq', { faiss: false }),
  ];
}
