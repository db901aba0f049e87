// The synthetic Gaussian-mixture set of bench/vectors-kmeans (described in docs/kmeans.md):
// `components` isotropic Gaussians in d dimensions with means drawn from N(0, I), a per-component
// standard deviation uniform in [0.25, 0.75), and mixture weights proportional to uniform [0.5, 1.5)
// draws; every point picks its component by weight. All draws come from one SplitMix32-style
// generator seeded with `seed` (test/util/rng.ts), in a fixed order, so the set is the same on
// every machine.
//
//   node bench/vectors-kmeans/gen.mjs [out.f32]   # writes n x d little-endian float32 rows
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../dist/test/util/rng.js';

export const DEFAULTS = { n: 200_000, d: 128, components: 1000, seed: 42 };

/** Returns { x: Float32Array (n x d), label: Int32Array (n) } for the given parameters. */
export function gaussianMixture({ n, d, components, seed } = DEFAULTS) {
  const rng = new Rng(seed);
  const means = new Float32Array(components * d);
  for (let i = 0; i < means.length; i++) means[i] = rng.normal();
  const sigma = new Float64Array(components);
  for (let c = 0; c < components; c++) sigma[c] = 0.25 + 0.5 * rng.float();
  const cdf = new Float64Array(components);
  let acc = 0;
  for (let c = 0; c < components; c++) cdf[c] = acc += 0.5 + rng.float();
  const x = new Float32Array(n * d);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.float() * acc;
    let lo = 0, hi = components - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    label[i] = lo;
    const s = sigma[lo], m = lo * d, o = i * d;
    for (let t = 0; t < d; t++) x[o + t] = means[m + t] + s * rng.normal();
  }
  return { x, label };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? 'gmm-200000x128.f32';
  const { x } = gaussianMixture();
  writeFileSync(out, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  console.log(`wrote ${out}: ${DEFAULTS.n} x ${DEFAULTS.d} float32`);
}
