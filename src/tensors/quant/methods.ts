/**
 * One entry point per quantization method for whole models (what the CLI and bench/quant call):
 * RTN, HQQ, GPTQ, GPTQ with SpQR outliers, each optionally with a low-rank residual correction,
 * and mixed precision over any of them. All return model.ts's QuantizedModel shape.
 */
import { ZipmlError } from '../../core/errors.js';
import type { DenseLinear } from '../llm/linear.js';
import type { LinearName, LlamaModel } from '../llm/model.js';
import { type CalibratedOptions, type GptqOptions, captureHessians, hessianKey, quantizeGPTQ, quantizeWithHessians } from './gptq.js';
import { type HqqOptions, quantizeHQQ } from './hqq.js';
import { type QuantLayer, packedBits, quantizeLayers } from './layers.js';
import { withLowRank } from './lowrank.js';
import { type MixedResult, measureSensitivity, quantizeModelMixed } from './mixed.js';
import type { QuantizedModel } from './model.js';
import { quantizeGPTQOutliers } from './outliers.js';
import type { QuantBits } from './packed.js';
import { QuantArena, QuantLinear } from './qmatvec.js';
import { quantizeRTN } from './rtn.js';

export type QuantMethod = 'rtn' | 'hqq' | 'gptq' | 'gptq-outliers';
export const QUANT_METHODS: readonly QuantMethod[] = ['rtn', 'hqq', 'gptq', 'gptq-outliers'];

export interface MethodOptions extends GptqOptions, Omit<HqqOptions, 'bits' | 'group'>, CalibratedOptions {
  /** gptq-outliers: fraction of each matrix kept in fp16 (default 0.01). */
  fraction?: number;
  /** Rank of a low-rank correction of each layer's residual (0 or absent: none). */
  lowRank?: number;
  /** Fit the low-rank correction to the layer's output error (needs calibration); default true. */
  lowRankWeighted?: boolean;
}

/** Whether `method` with `opts` uses calibration text. */
export const needsCalibration = (method: QuantMethod, opts: MethodOptions): boolean =>
  method === 'gptq' || method === 'gptq-outliers' || ((opts.lowRank ?? 0) > 0 && opts.lowRankWeighted !== false);

type LayerFn = (layer: number, name: LinearName, op: DenseLinear, hessian: Float64Array | undefined, bits: QuantBits) => QuantLayer;

/** The per-layer quantizer of a method (bits given per call, so mixed precision can vary it). */
export function layerQuantizer(method: QuantMethod, opts: MethodOptions): LayerFn {
  const arena = new QuantArena();
  const base: LayerFn = (_l, _n, op, h, bits) => {
    const o = { ...opts, bits };
    switch (method) {
      case 'rtn': {
        const p = quantizeRTN(op.weights, op.rows, op.cols, o);
        return { op: new QuantLinear(p, arena), bits: packedBits(p) };
      }
      case 'hqq': {
        const p = quantizeHQQ(op.weights, op.rows, op.cols, o);
        return { op: new QuantLinear(p, arena), bits: packedBits(p) };
      }
      case 'gptq': {
        const p = quantizeGPTQ(op.weights, op.rows, op.cols, need(h), o);
        return { op: new QuantLinear(p, arena), bits: packedBits(p) };
      }
      case 'gptq-outliers':
        return quantizeGPTQOutliers(op.weights, op.rows, op.cols, need(h), o, arena);
      default:
        throw new ZipmlError('E_ARG', `quantize: unknown method ${String(method)} (one of ${QUANT_METHODS.join(', ')})`);
    }
  };
  const rank = opts.lowRank ?? 0;
  if (rank === 0) return base;
  const weighted = opts.lowRankWeighted !== false;
  return (l, n, op, h, bits) => withLowRank(base(l, n, op, h, bits), op, rank, weighted ? need(h) : undefined);
}

function need(h: Float64Array | undefined): Float64Array {
  if (!h) throw new ZipmlError('E_ARG', 'quantize: this method needs calibration text (a Hessian per layer)');
  return h;
}

/** Every block linear layer of `model` quantized by `method` at `opts.bits`. */
export function quantizeModelMethod(model: LlamaModel, method: QuantMethod, calibration: readonly (readonly number[])[], opts: MethodOptions): QuantizedModel {
  const f = layerQuantizer(method, opts);
  if (!needsCalibration(method, opts)) return quantizeLayers(model, method, opts, (l, n, op) => f(l, n, op, undefined, opts.bits));
  if (calibration.length === 0) throw new ZipmlError('E_ARG', `quantize: ${method} needs calibration documents`);
  return quantizeWithHessians(model, calibration, method, opts, (l, n, op, h) => f(l, n, op, h, opts.bits));
}

export interface MixedMethodOptions extends MethodOptions {
  /** Bits-per-weight budget over the block linear layers. */
  budget: number;
  /** Candidate widths; default [2, 3, 4, 8]. */
  widths?: QuantBits[];
  /** Calibration documents used to measure sensitivity (the first ones); default: all. */
  sensitivityDocs?: number;
  /** A measureSensitivity result to reuse (same method, options and widths). */
  measured?: ReturnType<typeof measureSensitivity>;
}

/** Mixed precision over `method`: per-layer widths from measured KL sensitivity under `budget`. */
export function quantizeModelMixedMethod(model: LlamaModel, method: QuantMethod, calibration: readonly (readonly number[])[], opts: MixedMethodOptions): MixedResult {
  if (calibration.length === 0) throw new ZipmlError('E_ARG', 'mixed: sensitivity is measured on calibration documents; none given');
  const hs = needsCalibration(method, opts) ? opts.hessians ?? captureHessians(model, calibration, { signal: opts.signal }) : undefined;
  const f = layerQuantizer(method, opts);
  const docs = calibration.slice(0, opts.sensitivityDocs ?? calibration.length);
  return quantizeModelMixed(model, docs, {
    budget: opts.budget,
    widths: opts.widths ?? [2, 3, 4, 8],
    quantize: (l, n, op, bits) => f(l, n, op, hs?.get(hessianKey(l, n))?.hessian(), bits),
    measured: opts.measured,
    signal: opts.signal,
    onProgress: opts.onProgress,
  });
}
