/**
 * How far a lossy reconstruction is from the original, and what it cost: MSE, SNR and bits per
 * value. Sums run in f64, so the figures do not depend on the order of f32 rounding.
 */
import { ZipmlError } from '../core/index.js';

export interface MseReport {
  /** Mean over vectors of ||x - y||²: the "reconstruction error" Faiss's benchmarks print. */
  perVector: number;
  /** Mean over all values of (x - y)², i.e. perVector / d. */
  perDimension: number;
  /** Mean over vectors of (x_j - y_j)², for each dimension j. */
  byDimension: Float64Array;
  /** ||x_i - y_i||² for each vector i. */
  byVector: Float64Array;
}

function sameLength(x: ArrayLike<number>, y: ArrayLike<number>, what: string): void {
  if (x.length !== y.length) throw new ZipmlError('E_ARG', `${what}: original has ${x.length} values, reconstruction ${y.length}`);
}

/** Reconstruction MSE of y against x, both n x d row-major. */
export function mse(x: ArrayLike<number>, y: ArrayLike<number>, d: number): MseReport {
  sameLength(x, y, 'mse');
  if (!Number.isSafeInteger(d) || d < 1 || x.length % d !== 0) throw new ZipmlError('E_ARG', `mse: ${x.length} values are not rows of d = ${d}`);
  const n = x.length / d;
  if (n === 0) throw new ZipmlError('E_ARG', 'mse: no vectors');
  const byDimension = new Float64Array(d);
  const byVector = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const e = x[i * d + j]! - y[i * d + j]!;
      s += e * e;
      byDimension[j]! += e * e;
    }
    byVector[i] = s;
    total += s;
  }
  for (let j = 0; j < d; j++) byDimension[j]! /= n;
  return { perVector: total / n, perDimension: total / (n * d), byDimension, byVector };
}

/**
 * Signal-to-noise ratio in dB, 10 log10(Σx² / Σ(x - y)²). Infinity for an exact reconstruction,
 * -Infinity for a zero signal with any error.
 */
export function snrDb(x: ArrayLike<number>, y: ArrayLike<number>): number {
  sameLength(x, y, 'snrDb');
  let signal = 0, noise = 0;
  for (let i = 0; i < x.length; i++) {
    const e = x[i]! - y[i]!;
    signal += x[i]! * x[i]!;
    noise += e * e;
  }
  if (noise === 0) return Infinity;
  return 10 * Math.log10(signal / noise);
}

/** Compressed size in bits per stored value: 8 * bytes / values (32 for raw f32). */
export function bitsPerValue(bytes: number, values: number): number {
  if (!(bytes >= 0) || !(values > 0)) throw new ZipmlError('E_ARG', `bitsPerValue: need bytes >= 0 and values > 0, got ${bytes} and ${values}`);
  return (8 * bytes) / values;
}
