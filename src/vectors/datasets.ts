/**
 * The evaluation sets every vectors benchmark and test uses: four real sets from the project's
 * shared data folder (Node only: they are read from disk) and a fixed-seed synthetic Gaussian
 * mixture. Each comes as base vectors, query vectors, the dimension and the metric to compare them
 * with. docs/vector-io.md describes each, and the generator exactly.
 */
import { ZipmlError, argCheck } from '../core/index.js';
import type { Metric } from './types.js';
import { toFloat32 } from './io/common.js';
import { parseIdx } from './io/idx.js';
import { parseTextVectors } from './io/text.js';
import { parseRawF32 } from './io/raw.js';
import { readFileBounded } from './io/files.js';
import { SeededRandom } from '../core/random.js';

export interface VectorDataset {
  name: string;
  /** nb x d, row-major. */
  base: Float32Array;
  nb: number;
  /** nq x d, row-major. */
  queries: Float32Array;
  nq: number;
  d: number;
  metric: Metric;
  description: string;
  /** For sets split by a seeded shuffle: each base / query row's index in the source file. */
  baseIds?: Int32Array;
  queryIds?: Int32Array;
}

export type SharedDatasetName = 'mnist' | 'nmslib8' | 'cohere768' | 'bge-m3';
export const SHARED_DATASETS: readonly SharedDatasetName[] = ['mnist', 'nmslib8', 'cohere768', 'bge-m3'];
/** The files each shared set reads, relative to the data root (tests use this to skip when absent). */
export const SHARED_DATASET_FILES: Readonly<Record<SharedDatasetName, readonly string[]>> = {
  mnist: ['vectors/mnist/t10k-images-idx3-ubyte.gz'],
  nmslib8: ['vectors/nmslib/final8_10K.txt', 'vectors/nmslib/final8_query1K.txt'],
  cohere768: ['vectors/cohere_wiki_768/cohere_1k_vectors'],
  'bge-m3': ['vectors/bge_m3/unit-data-1024-paragraph_queries.vec', 'vectors/bge_m3/unit-data-1024-sentence_queries.vec'],
};
/** Seed of the 90/10 split of the sets that ship without queries. */
export const SPLIT_SEED = 20240901;

/** Copies the listed rows of an n x d matrix. */
function gather(x: Float32Array, d: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(x.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/**
 * Splits n rows into base and queries: a Fisher–Yates shuffle of 0..n-1 seeded by `seed` picks
 * the first `nq` as queries; both parts keep file order.
 */
export function seededSplit(x: Float32Array, d: number, nq: number, seed: number): {
  base: Float32Array; queries: Float32Array; baseIds: Int32Array; queryIds: Int32Array;
} {
  const n = x.length / d;
  argCheck(Number.isInteger(n) && nq >= 0 && nq <= n, `seededSplit: cannot take ${nq} queries from ${n} rows`);
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new SeededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  const queryIds = perm.slice(0, nq).sort();
  const baseIds = perm.slice(nq).sort();
  return { base: gather(x, d, baseIds), queries: gather(x, d, queryIds), baseIds, queryIds };
}

// ---------------------------------------------------------------------------------------------

/** Reads the shared set `name` from `root` (default ../shared/data, relative to the working directory). */
export async function loadSharedDataset(name: SharedDatasetName, root = '../shared/data'): Promise<VectorDataset> {
  const files = SHARED_DATASET_FILES[name];
  if (!files) throw new ZipmlError('E_ARG', `unknown shared dataset '${String(name)}'; known: ${SHARED_DATASETS.join(', ')}`);
  const read = async (i: number) => {
    const path = `${root}/${files[i]!}`;
    try {
      return await readFileBounded(path, 64 << 20);
    } catch (e) {
      if (e instanceof ZipmlError && e.code === 'E_IO') throw new ZipmlError('E_IO', `shared dataset '${name}' needs ${path}: ${e.message}`, { cause: e });
      throw e;
    }
  };
  switch (name) {
    case 'mnist': {
      const img = parseIdx(await read(0));
      if (img.n !== 10000 || img.d !== 784) throw new ZipmlError('E_FORMAT', `mnist: expected 10000 x 784 images, got ${img.n} x ${img.d}`);
      const x = toFloat32(img);
      return {
        name, d: 784, metric: 'l2', nb: 9000, nq: 1000,
        base: x.slice(0, 9000 * 784), queries: x.slice(9000 * 784),
        description: 'MNIST t10k images (LeCun et al.), 28x28 uint8 pixels as f32 0..255; base = the first 9,000, queries = the last 1,000',
      };
    }
    case 'nmslib8': {
      const base = parseTextVectors(await read(0), { labels: 'none' });
      const queries = parseTextVectors(await read(1), { labels: 'none' });
      if (base.d !== 8 || queries.d !== 8) throw new ZipmlError('E_FORMAT', `nmslib8: expected 8 columns, got ${base.d} and ${queries.d}`);
      return {
        name, d: 8, metric: 'l2', base: base.data, nb: base.n, queries: queries.data, nq: queries.n,
        description: "NMSLIB 'final8' (Wiki-8 LDA topic histograms, rows sum to 1): 10,000 base vectors and the 1,000 queries of final8_query1K.txt",
      };
    }
    case 'cohere768': {
      const x = parseRawF32(await read(0), 768);
      return {
        name, d: 768, metric: 'cos', nb: x.n - 100, nq: 100, ...seededSplit(x.data, 768, 100, SPLIT_SEED),
        description: `Cohere multilingual-22-12 Wikipedia embeddings, 1,000 x 768 f32 (not normalised: norms 12.3..15.3); seeded 90/10 split (seed ${SPLIT_SEED})`,
      };
    }
    case 'bge-m3': {
      const a = parseRawF32(await read(0), 1024);
      const b = parseRawF32(await read(1), 1024);
      const x = new Float32Array(a.data.length + b.data.length);
      x.set(a.data);
      x.set(b.data, a.data.length);
      const nq = Math.round((a.n + b.n) / 10);
      return {
        name, d: 1024, metric: 'cos', nb: a.n + b.n - nq, nq, ...seededSplit(x, 1024, nq, SPLIT_SEED),
        description: `BAAI bge-m3 embeddings of Alice in Wonderland, 500 paragraphs then 500 sentences (1,000 x 1024, L2-normalised, 926 distinct rows); seeded 90/10 split (seed ${SPLIT_SEED})`,
      };
    }
  }
}

export interface GaussianMixtureOptions {
  /** Base vectors; default 200,000. */
  n?: number;
  d?: number;
  /** Mixture components; default 100. */
  components?: number;
  seed?: number;
  /** Queries, drawn from the same mixture; default 1,000. */
  nq?: number;
}

/**
 * A fixed-seed Gaussian mixture (default 200,000 x 128 base, 1,000 queries, 100 components,
 * seed 1), documented in docs/vector-io.md:
 *
 * - stream 0: centers c_k ~ N(0, I_d); then per component a weight w_k = 0.5 + U and a spread
 *   s_k = 0.2 + 0.4 U (U uniform in [0, 1)); weights are normalised to sum to 1;
 * - every point: component k drawn by weight, then x_j = c_kj + s_k a_j z_j with z_j ~ N(0, 1) and
 *   a_j = 4^(-j/(d-1)) (so variance decays 16x across dimensions, as in real embeddings where a
 *   few directions dominate);
 * - base points come from stream 1 and queries from stream 2, so changing nq leaves the base as
 *   it is and changing n leaves the queries; all streams are xoshiro128** seeded from (seed, stream).
 */
export function gaussianMixture(opts: GaussianMixtureOptions = {}): VectorDataset {
  const { n = 200_000, d = 128, components = 100, seed = 1, nq = 1000 } = opts;
  argCheck(Number.isSafeInteger(n) && n >= 0 && Number.isSafeInteger(nq) && nq >= 0, 'gaussianMixture: n and nq must be non-negative integers');
  argCheck(Number.isSafeInteger(d) && d >= 1 && Number.isSafeInteger(components) && components >= 1, 'gaussianMixture: d and components must be >= 1');
  argCheck((n + nq) * d <= 2 ** 30, `gaussianMixture: (n + nq) x d = ${(n + nq) * d} values exceed 2^30`);
  const rng0 = new SeededRandom(seed, 0);
  const centers = new Float64Array(components * d);
  for (let i = 0; i < centers.length; i++) centers[i] = rng0.normal();
  const cumulative = new Float64Array(components);
  const spread = new Float64Array(components);
  let total = 0;
  for (let k = 0; k < components; k++) {
    total += 0.5 + rng0.float();
    cumulative[k] = total;
    spread[k] = 0.2 + 0.4 * rng0.float();
  }
  const axis = Float64Array.from({ length: d }, (_, j) => (d === 1 ? 1 : 4 ** (-j / (d - 1))));
  const draw = (count: number, stream: number): Float32Array => {
    const rng = new SeededRandom(seed, stream);
    const out = new Float32Array(count * d);
    for (let i = 0; i < count; i++) {
      // Binary search of the cumulative weights for the first one above u * total.
      const u = rng.float() * total;
      let lo = 0, hi = components - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      const s = spread[lo]!;
      for (let j = 0; j < d; j++) out[i * d + j] = centers[lo * d + j]! + s * axis[j]! * rng.normal();
    }
    return out;
  };
  return {
    name: 'gaussian-mixture', d, metric: 'l2', base: draw(n, 1), nb: n, queries: draw(nq, 2), nq,
    description: `synthetic Gaussian mixture: ${n} base + ${nq} queries, d=${d}, ${components} components, seed ${seed} (generator in docs/vector-io.md)`,
  };
}
