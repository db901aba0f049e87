// The data of bench/vectors-kmeans: zipml's shared fixed-seed Gaussian mixture
// (src/vectors/datasets.ts, specified in docs/vector-io.md) with 1,000 components and seed 42,
// 200,000 x 128, no queries. docs/kmeans.md describes it.
//
//   node bench/vectors-kmeans/gen.mjs [out.f32]   # writes n x d little-endian float32 rows
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gaussianMixture } from '../../dist/src/vectors/datasets.js';

export const DEFAULTS = { n: 200_000, d: 128, components: 1000, seed: 42 };

/** The n x d rows (Float32Array) for the given parameters. */
export function kmeansBenchData({ n, d, components, seed } = DEFAULTS) {
  return gaussianMixture({ n, d, components, seed, nq: 0 }).base;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? 'gmm-200000x128.f32';
  const x = kmeansBenchData();
  writeFileSync(out, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  console.log(`wrote ${out}: ${DEFAULTS.n} x ${DEFAULTS.d} float32`);
}
