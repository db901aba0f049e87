/**
 * A whole model with its block linear layers (wq, wk, wv, wo, w1, w2, w3) RTN-quantized and run
 * on the packed codes. The token embedding and the classifier stay fp32 (in stories260K they are
 * one shared matrix, and the embedding is a table lookup, not a matmul); say so when counting bits.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { DenseLinear } from '../llm/linear.js';
import { LINEAR_NAMES, type LlamaModel } from '../llm/model.js';
import { bitsPerWeight } from './packed.js';
import { QuantArena, QuantLinear } from './qmatvec.js';
import { type QuantOptions, quantizeRTN } from './rtn.js';

export interface QuantizedModel {
  model: LlamaModel;
  /** Bits per weight over the quantized layers (codes, scales, zero points). */
  bitsPerWeight: number;
  /** Weights that were quantized. */
  weights: number;
}

export function quantizeModelRTN(model: LlamaModel, opts: QuantOptions & LongOpOptions): QuantizedModel {
  const arena = new QuantArena();
  const total = model.config.nLayers * LINEAR_NAMES.length;
  let bits = 0, weights = 0, done = 0;
  const q = model.mapLinears((l, name, op) => {
    throwIfAborted(opts.signal, 'quantize');
    opts.onProgress?.(done++, total);
    if (!(op instanceof DenseLinear)) throw new ZipmlError('E_ARG', `quantize: layer ${l} ${name} is not an fp32 layer`);
    const packed = quantizeRTN(op.weights, op.rows, op.cols, opts);
    bits += bitsPerWeight(packed) * op.rows * op.cols;
    weights += op.rows * op.cols;
    return new QuantLinear(packed, arena);
  });
  opts.onProgress?.(total, total);
  return { model: q, bitsPerWeight: bits / weights, weights };
}
