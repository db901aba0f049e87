/**
 * What the model-level quantizers share: walking a model's block linear layers (fp32 in, a
 * LinearOp and its storage bits out), abort and progress, and the bits-per-weight tally.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { DenseLinear, type LinearOp } from '../llm/linear.js';
import type { LinearName, LlamaModel } from '../llm/model.js';
import type { QuantizedModel } from './model.js';
import { type PackedMatrix, bitsPerWeight } from './packed.js';

/** A quantized layer: the op the runtime calls and the bits it stores. */
export interface QuantLayer {
  op: LinearOp;
  bits: number;
}

/** Storage bits of a packed matrix (codes, scales, zero points). */
export const packedBits = (p: PackedMatrix): number => bitsPerWeight(p) * p.rows * p.cols;

/**
 * Maps every fp32 block linear layer of `model` through `quantize` and tallies bits per weight;
 * `onProgress(done, total)` counts layers.
 */
export function quantizeLayers(
  model: LlamaModel,
  what: string,
  opts: LongOpOptions,
  quantize: (layer: number, name: LinearName, op: DenseLinear) => QuantLayer,
): QuantizedModel {
  const total = model.config.nLayers * 7;
  let bits = 0, weights = 0, done = 0;
  const q = model.mapLinears((l, name, op) => {
    throwIfAborted(opts.signal, what);
    if (!(op instanceof DenseLinear)) throw new ZipmlError('E_ARG', `${what}: layer ${l} ${name} is not an fp32 layer`);
    const r = quantize(l, name, op);
    bits += r.bits;
    weights += op.rows * op.cols;
    opts.onProgress?.(++done, total);
    return r.op;
  });
  return { model: q, bitsPerWeight: bits / weights, weights };
}
