/**
 * Mixed precision: a bit width per block linear layer under a bits-per-weight budget.
 *
 * Sensitivity is measured, not guessed: for every layer (block × wq..w3) and candidate width, the
 * model with only that layer quantized is run over calibration text and its mean KL divergence
 * from the fp32 next-token distributions recorded (fp32 log-probabilities computed once). Widths
 * are then chosen greedily: start every layer at its cheapest width and repeatedly take the
 * upgrade (to any wider candidate) with the largest KL reduction per extra stored bit that still
 * fits the budget. Treating per-layer KLs as additive is the usual first-order assumption (HAWQ,
 * SqueezeLLM's sensitivity); the greedy step is exact when each layer's KL-vs-bits curve is convex.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import type { DenseLinear } from '../llm/linear.js';
import { type LinearName, type LlamaModel, LINEAR_NAMES } from '../llm/model.js';
import { compareToTrace, referenceTrace } from '../llm/compare.js';
import type { QuantizedModel } from './model.js';
import type { QuantBits } from './packed.js';
import type { QuantLayer } from './layers.js';

export interface WidthOption {
  bits: QuantBits;
  /** Storage bits of the layer at this width. */
  storageBits: number;
  /** Mean KL(fp32 || model with only this layer quantized), nats. */
  kl: number;
}

export interface LayerSensitivity {
  layer: number;
  name: LinearName;
  weights: number;
  options: WidthOption[];
}

/**
 * Quantizes every layer at every width with `quantize` and measures each alone against fp32 on
 * `docs`. Returns the sensitivities and the quantized layers (reused by the final model).
 */
export function measureSensitivity(
  model: LlamaModel,
  docs: readonly (readonly number[])[],
  widths: readonly QuantBits[],
  quantize: (layer: number, name: LinearName, op: DenseLinear, bits: QuantBits) => QuantLayer,
  opts: LongOpOptions = {},
): { sensitivity: LayerSensitivity[]; layers: Map<string, QuantLayer> } {
  const positions = docs.reduce((s, d) => s + Math.max(0, d.length - 1), 0);
  if (positions === 0) throw new ZipmlError('E_ARG', 'mixed: sensitivity needs calibration documents of 2 or more tokens');
  // The fp32 log-probabilities once; each candidate is scored against them (mean KL).
  const trace = referenceTrace(model, docs, { signal: opts.signal });
  const layers = new Map<string, QuantLayer>();
  const sensitivity: LayerSensitivity[] = [];
  const total = model.config.nLayers * LINEAR_NAMES.length * widths.length;
  for (let l = 0; l < model.config.nLayers; l++) {
    for (const name of LINEAR_NAMES) {
      const op = model.weights.blocks[l]![name] as DenseLinear;
      const options: WidthOption[] = [];
      for (const bits of widths) {
        throwIfAborted(opts.signal, 'mixed');
        const q = quantize(l, name, op, bits);
        layers.set(`${l}:${name}:${bits}`, q);
        const one = model.mapLinears((ll, n, o) => (ll === l && n === name ? q.op : o));
        options.push({ bits, storageBits: q.bits, kl: compareToTrace(trace, one, { signal: opts.signal }).klMean });
        opts.onProgress?.(layers.size, total);
      }
      sensitivity.push({ layer: l, name, weights: op.rows * op.cols, options });
    }
  }
  return { sensitivity, layers };
}

/**
 * Index into each layer's options under `budget` bits per weight (over all layers' weights):
 * greedy by KL reduction per extra bit. Throws when even the cheapest widths exceed the budget.
 */
export function allocateWidths(sens: readonly LayerSensitivity[], budget: number): number[] {
  const weights = sens.reduce((s, x) => s + x.weights, 0);
  const limit = budget * weights;
  const choice = sens.map((s) => s.options.reduce((best, o, i) => (o.storageBits < s.options[best]!.storageBits ? i : best), 0));
  let used = sens.reduce((s, x, i) => s + x.options[choice[i]!]!.storageBits, 0);
  if (used > limit * (1 + 1e-12)) throw new ZipmlError('E_ARG', `mixed: budget ${budget} bits/weight is below the cheapest widths (${(used / weights).toFixed(3)})`);
  for (;;) {
    let best = -1, bestOpt = -1, bestRatio = 0;
    sens.forEach((s, i) => {
      const cur = s.options[choice[i]!]!;
      s.options.forEach((o, k) => {
        const cost = o.storageBits - cur.storageBits, gain = cur.kl - o.kl;
        if (cost <= 0 || gain <= 0 || used + cost > limit) return;
        if (gain / cost > bestRatio) [best, bestOpt, bestRatio] = [i, k, gain / cost];
      });
    });
    if (best < 0) return choice;
    used += sens[best]!.options[bestOpt]!.storageBits - sens[best]!.options[choice[best]!]!.storageBits;
    choice[best] = bestOpt;
  }
}

export interface MixedResult extends QuantizedModel {
  /** The chosen width of every layer, with its measured sensitivity. */
  widths: { layer: number; name: LinearName; bits: QuantBits; kl: number }[];
  /** The measurement (sensitivities and every candidate layer), reusable for another budget. */
  measured: ReturnType<typeof measureSensitivity>;
}

/**
 * Mixed-precision model: sensitivities measured on `docs` with the layer quantizer `quantize` at
 * each of `widths`, widths chosen under `budget` bits per weight.
 */
export function quantizeModelMixed(
  model: LlamaModel,
  docs: readonly (readonly number[])[],
  opts: {
    budget: number;
    widths: readonly QuantBits[];
    quantize: (layer: number, name: LinearName, op: DenseLinear, bits: QuantBits) => QuantLayer;
    /** A measureSensitivity result to reuse (several budgets, one measurement). */
    measured?: ReturnType<typeof measureSensitivity>;
  } & LongOpOptions,
): MixedResult {
  if (opts.widths.length === 0) throw new ZipmlError('E_ARG', 'mixed: no candidate widths');
  const measured = opts.measured ?? measureSensitivity(model, docs, opts.widths, opts.quantize, opts);
  const { sensitivity, layers } = measured;
  const choice = allocateWidths(sensitivity, opts.budget);
  const picked = new Map<string, QuantLayer>();
  let bits = 0, weights = 0;
  const widths = sensitivity.map((s, i) => {
    const o = s.options[choice[i]!]!;
    picked.set(`${s.layer}:${s.name}`, layers.get(`${s.layer}:${s.name}:${o.bits}`)!);
    bits += o.storageBits;
    weights += s.weights;
    return { layer: s.layer, name: s.name, bits: o.bits, kl: o.kl };
  });
  const q = model.mapLinears((l, n) => picked.get(`${l}:${n}`)!.op);
  return { model: q, bitsPerWeight: bits / weights, weights, widths, measured };
}
