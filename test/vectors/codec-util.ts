/** Shared helpers of the vector codec tests: seeded data sets and decode-then-distance. */
import assert from 'node:assert/strict';
import { Rng } from '../util/rng.js';
import type { Metric, VectorCodec } from '../../src/vectors/types.js';
import { rowDistance } from '../../src/vectors/codecs/sq.js';

/** n×d standard normal values times `scale`, plus `offset`. */
export function gaussian(seed: number, n: number, d: number, scale = 1, offset = 0): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = offset + scale * rng.normal();
  return x;
}

/**
 * A Gaussian mixture of k clusters in d dimensions: centres 1 + N(0, 1) per coordinate (drawn from
 * `centreSeed`, so base and query sets share them), cluster c with its own spread
 * σ_c = 0.5 + 1.5·((7c) mod k)/k, points = centre + σ_c·N(0, 1). Clusters overlap partly, norms
 * vary between clusters, and the data is not centred at the origin.
 */
export function mixture(seed: number, n: number, d: number, k: number, centreSeed = 999): Float32Array {
  const crng = new Rng(centreSeed);
  const centres = new Float32Array(k * d);
  for (let i = 0; i < centres.length; i++) centres[i] = 1 + crng.normal();
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = rng.int(k);
    const sigma = 0.5 + (1.5 * ((7 * c) % k)) / k;
    for (let j = 0; j < d; j++) x[i * d + j] = centres[c * d + j]! + sigma * rng.normal();
  }
  return x;
}

/** Distances from q to each decoded code, in float64 (the reference of every compressed path). */
export function decodeThenDistance(codec: VectorCodec, q: Float32Array, codes: Uint8Array, metric: Metric): Float32Array {
  const x = codec.decode(codes);
  const n = x.length / codec.d;
  let qn = 0;
  for (let j = 0; j < q.length; j++) qn += q[j]! * q[j]!;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rowDistance(q, x, i * codec.d, codec.d, metric, Math.sqrt(qn));
  return out;
}

/** |a_i − b_i| ≤ rtol·max(|b|) + atol for every i (a scale-aware float comparison). */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string, atol = 0): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    assert.ok(err <= rtol * scale + atol, `${what}: index ${i}: ${a[i]} vs ${b[i]} (scale ${scale})`);
  }
}

/** Runs fn on both kernel paths (WebAssembly SIMD where available, then plain TS). */
export async function bothPaths(fn: (path: 'wasm-simd' | 'reference') => void): Promise<void> {
  const { setKernelPath, simdSupported } = await import('../../src/kernels/loader.js');
  const paths: Array<'wasm-simd' | 'reference'> = simdSupported() ? ['wasm-simd', 'reference'] : ['reference'];
  for (const p of paths) {
    setKernelPath(p);
    try {
      fn(p);
    } finally {
      setKernelPath(undefined);
    }
  }
}

/** Indices of the k smallest (or largest, for similarities) values. */
export function topK(dist: ArrayLike<number>, k: number, largest: boolean): number[] {
  const idx = Array.from({ length: dist.length }, (_, i) => i);
  idx.sort((a, b) => (largest ? dist[b]! - dist[a]! : dist[a]! - dist[b]!));
  return idx.slice(0, k);
}
