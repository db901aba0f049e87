/**
 * How much a compressed model's output distribution moved: KL divergence and the rate at which
 * the most likely token changes (llama.cpp's `--kl-divergence` reports the same two figures).
 * Natural logarithms throughout, so KL is in nats.
 */
import { ZipmlError } from '../core/index.js';

/** Largest |Σp - 1| accepted for a probability row (f32 softmax over a large vocabulary drifts ~1e-6). */
export const PROBABILITY_SUM_TOLERANCE = 1e-3;

function checkProbabilities(p: ArrayLike<number>, name: string): void {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (!(v >= 0) || !Number.isFinite(v)) throw new ZipmlError('E_ARG', `${name}[${i}] = ${v} is not a probability`);
    sum += v;
  }
  if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) throw new ZipmlError('E_ARG', `${name} sums to ${sum}, not 1 (logits? use klDivergenceFromLogits)`);
}

/**
 * KL(p || q) = Σ p_i ln(p_i / q_i) for two probability rows. Terms with p_i = 0 are 0; a q_i = 0
 * under p_i > 0 makes it Infinity.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length || p.length === 0) throw new ZipmlError('E_ARG', `klDivergence: rows of ${p.length} and ${q.length} values`);
  checkProbabilities(p, 'p');
  checkProbabilities(q, 'q');
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi === 0) continue;
    kl += pi * Math.log(pi / q[i]!);
  }
  return kl;
}

function rowCount(ref: ArrayLike<number>, test: ArrayLike<number>, width: number, what: string): number {
  if (!Number.isSafeInteger(width) || width < 1) throw new ZipmlError('E_ARG', `${what}: width must be >= 1, got ${width}`);
  if (ref.length !== test.length || ref.length % width !== 0 || ref.length === 0) {
    throw new ZipmlError('E_ARG', `${what}: ${ref.length} and ${test.length} values are not equal sets of rows of ${width}`);
  }
  return ref.length / width;
}

/** ln Σ exp(x_i) over one row, shifted by the max so nothing overflows. */
function logSumExp(x: ArrayLike<number>, at: number, width: number): number {
  let m = -Infinity;
  for (let i = 0; i < width; i++) m = Math.max(m, x[at + i]!);
  if (m === -Infinity || !Number.isFinite(m)) throw new ZipmlError('E_ARG', `logits row at ${at} has no finite maximum (${m})`);
  let s = 0;
  for (let i = 0; i < width; i++) s += Math.exp(x[at + i]! - m);
  return m + Math.log(s);
}

/**
 * KL(softmax(ref) || softmax(test)) for each row of two logit matrices (rows of `width`, e.g.
 * one per token position over the vocabulary), with its mean and maximum.
 */
export function klDivergenceFromLogits(
  ref: ArrayLike<number>, test: ArrayLike<number>, width: number,
): { mean: number; max: number; perRow: Float64Array } {
  const rows = rowCount(ref, test, width, 'klDivergenceFromLogits');
  const perRow = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const at = r * width;
    const lr = logSumExp(ref, at, width);
    const lt = logSumExp(test, at, width);
    let kl = 0;
    for (let i = 0; i < width; i++) {
      const lp = ref[at + i]! - lr;
      const p = Math.exp(lp);
      if (p > 0) kl += p * (lp - (test[at + i]! - lt));
    }
    // Rounding can leave a tiny negative for identical rows; KL is never below 0.
    perRow[r] = Math.max(0, kl);
  }
  let sum = 0, max = 0;
  for (const v of perRow) {
    sum += v;
    max = Math.max(max, v);
  }
  return { mean: sum / rows, max, perRow };
}

/** Index of the first largest value of a row (numpy's argmax); NaN never wins. */
function argmax(x: ArrayLike<number>, at: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (x[at + i]! > x[at + best]! || Number.isNaN(x[at + best]!)) best = i;
  return best;
}

/**
 * Fraction of rows whose most likely entry differs between ref and test (logits or
 * probabilities alike: argmax is the same for both). Ties go to the lowest index.
 */
export function top1FlipRate(ref: ArrayLike<number>, test: ArrayLike<number>, width: number): number {
  const rows = rowCount(ref, test, width, 'top1FlipRate');
  let flips = 0;
  for (let r = 0; r < rows; r++) if (argmax(ref, r * width, width) !== argmax(test, r * width, width)) flips++;
  return flips / rows;
}
