/**
 * What the model-level quantizers share: walking a model's block linear layers (fp32 in, a
 * LinearOp and its storage bits out), abort and progress, and the bits-per-weight tally.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { f16BitsToF32 } from '../../core/dtypes.js';
import { DenseLinear, type LinearOp } from '../llm/linear.js';
import type { LinearName, LlamaModel } from '../llm/model.js';
import type { QuantizedModel } from './model.js';
import { type PackedMatrix, bitsPerWeight, codeAt, groupsPerRow } from './packed.js';

/** Group codes with a real (fp16) zero point per (row, group): weight = s (q − z). */
export type RealZeroMatrix = PackedMatrix & { zeroF16: Uint16Array };

/** W as real-zero codes represent it, row-major fp32. */
export function dequantizeRealZero(p: RealZeroMatrix): Float32Array {
  const out = new Float32Array(p.rows * p.cols), nG = groupsPerRow(p.cols, p.group);
  for (let r = 0; r < p.rows; r++) {
    for (let c = 0; c < p.cols; c++) {
      const i = r * nG + Math.floor(c / p.group);
      out[r * p.cols + c] = f16BitsToF32(p.scales[i]!) * (codeAt(p, r, c) - f16BitsToF32(p.zeroF16[i]!));
    }
  }
  return out;
}

/** Storage bits of a real-zero matrix: codes, fp16 scales, fp16 zero points. */
export const realZeroBits = (p: RealZeroMatrix): number => 8 * p.codes.length + 16 * p.scales.length + 16 * p.zeroF16.length;

/** A quantized layer: the op the runtime calls and the bits it stores. */
export interface QuantLayer {
  op: LinearOp;
  bits: number;
}

/**
 * The layer op of real-zero codes. Until the packed kernels read fp16 zero points it runs the
 * dequantized weights (identical products; the storage counted is the packed one).
 */
export function realZeroLinear(p: RealZeroMatrix, deq: Float32Array): QuantLayer {
  return { op: new DenseLinear(deq, p.rows, p.cols), bits: realZeroBits(p) };
}

/** Storage bits of an integer-zero packed matrix. */
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
