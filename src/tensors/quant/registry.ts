/**
 * The weight-quantization methods as one table. A method is an entry: its name, whether it needs
 * calibration text, and a function from an fp32 model (and options) to a QuantizedModel. The CLI,
 * the benchmark and the docs enumerate this table, so adding a method means adding one entry here.
 * The options object is shared and open: each method reads the knobs it knows (damp, actOrder,
 * outliers, rank, budget, scope, ...) and ignores the rest.
 */
import { ZipmlError, type LongOpOptions } from '../../core/errors.js';
import type { LlamaModel } from '../llm/model.js';
import { quantizeModelKMeans } from './kmeans.js';
import { type SpqrBits, quantizeModelSpqr } from './spqr.js';
import type { HessianAccumulator } from './gptq.js';
import { type MethodOptions, quantizeModelMethod, quantizeModelMixedMethod } from './methods.js';
import type { TableBits } from './table.js';
import type { QuantizedModel } from './model.js';
import { QUANT_BITS, QUANT_GROUPS, type QuantBits, type QuantGroup } from './packed.js';
import type { QuantOptions } from './rtn.js';

export type TokenDocs = readonly (readonly number[])[];

export interface QuantizeOptions extends QuantOptions, LongOpOptions {
  /** Token documents the model is run over to capture layer inputs (methods with needsCalibration). */
  calibration?: TokenDocs;
  /** GPTQ: damping as a fraction of mean diag(H) (default 0.01). */
  damp?: number;
  /** GPTQ: columns per lazy batch (default 128). */
  blockSize?: number;
  /** GPTQ: quantize columns in order of decreasing diag(H) (default true). */
  actOrder?: boolean;
  /** GPTQ: the reference quantizer's search for each group's range (default true). */
  mse?: boolean;
  /**
   * GPTQ / SpQR: capture each block's Hessians with the blocks before it quantized, as the
   * references do (default true unless `hessians` is given).
   */
  sequential?: boolean;
  /** GPTQ / SpQR: Hessians captured once on the fp32 model (captureHessians), reused instead of capturing (then not sequential). */
  hessians?: Map<string, HessianAccumulator>;
  /** Fraction of weights kept in fp16 as sparse outliers (SpQR-style), e.g. 0.01. */
  outliers?: number;
  /** Rank of a low-rank correction of the quantization residual. */
  rank?: number;
  /** Mixed precision: target bits per weight over the quantized layers. */
  budget?: number;
  /** Which layers a method applies to (method-defined, e.g. 'attn', 'ffn'). */
  scope?: string;
  /** k-means: one value table per row (default) or per group of `group` columns. */
  tables?: 'row' | 'group';
}

export interface QuantMethod {
  /** The name the CLI and the benchmark use (`--method NAME`). */
  readonly name: string;
  readonly description: string;
  /** True when `calibration` must be given. */
  readonly needsCalibration: boolean;
  /** Bit widths the method can produce (default: every width the packed format holds). */
  readonly bits?: readonly number[];
  /** Groups the method can produce (default: the packed format's 32, 64, 128). */
  readonly groups?: readonly number[];
  /** True when the method only makes codes with a zero point (symmetric: false). */
  readonly zeroPointOnly?: boolean;
  quantize(model: LlamaModel, opts: QuantizeOptions): QuantizedModel;
}

/**
 * GPTQ's options as the references run it: act-order, the reference quantizer's range search, and
 * sequential calibration (each block's Hessians captured through the blocks before it, already
 * quantized) unless Hessians captured on the fp32 model are passed in.
 */
const gptqDefaults = (opts: QuantizeOptions): MethodOptions => ({
  ...opts, actOrder: opts.actOrder ?? true, mse: opts.mse ?? true, lowRank: opts.rank, fraction: opts.outliers,
  sequential: opts.sequential ?? opts.hessians === undefined,
});

/**
 * HQQ as issue 7 specifies it: the half-quadratic fit moves the zero point and the scale
 * (`updateScale`; the reference's own default moves the zero only, see docs/quant-methods.md).
 * HQQ has no symmetric form: `symmetric` is ignored.
 */
const hqqEntry = (opts: QuantizeOptions, zero: 'f16' | 'u8'): MethodOptions => ({
  ...opts, symmetric: false, updateScale: true, zero, lowRank: opts.rank, lowRankWeighted: false,
});

export const QUANT_METHODS: QuantMethod[] = [
  {
    name: 'rtn',
    description: 'round to nearest, per group (the baseline)',
    needsCalibration: false,
    quantize: (model, opts) => quantizeModelMethod(model, 'rtn', opts.calibration ?? [], { ...opts, lowRank: opts.rank, lowRankWeighted: false }),
  },
  {
    name: 'hqq',
    description: 'HQQ: calibration-free half-quadratic fit of zero point and scale under an l_p loss, fp16 zero points (Badri & Shaji 2023)',
    needsCalibration: false,
    quantize: (model, opts) => quantizeModelMethod(model, 'hqq', opts.calibration ?? [], hqqEntry(opts, 'f16')),
  },
  {
    name: 'hqq-u8',
    description: "HQQ with the zero point an integer byte (RTN's zero-point storage, so the same bits per weight)",
    needsCalibration: false,
    quantize: (model, opts) => quantizeModelMethod(model, 'hqq', opts.calibration ?? [], hqqEntry(opts, 'u8')),
  },
  {
    name: 'gptq',
    description: 'GPTQ: column-wise quantization with Hessian-weighted error feedback, act-order, range search and sequential calibration on by default (Frantar et al. 2022)',
    needsCalibration: true,
    quantize: (model, opts) => quantizeModelMethod(model, 'gptq', opts.calibration!, gptqDefaults(opts)),
  },
  {
    name: 'gptq-outliers',
    description: 'GPTQ with SpQR-style outliers: the most salient weights (--outliers, default 1%) kept in fp16 in a sparse side matrix',
    needsCalibration: true,
    quantize: (model, opts) => quantizeModelMethod(model, 'gptq-outliers', opts.calibration!, gptqDefaults(opts)),
  },
  {
    name: 'spqr',
    description: 'SpQR: GPTQ with groups of 16 whose scales and zero points are 3-bit quantized, and outliers (--outliers, default 1%) chosen inside the loop and kept in fp16 (Dettmers et al. 2023)',
    needsCalibration: true,
    bits: [4, 3, 2],
    groups: [16, 32, 64, 128],
    zeroPointOnly: true,
    quantize: (model, opts) => quantizeModelSpqr(model, opts.calibration!, {
      bits: opts.bits as SpqrBits, group: opts.group, damp: opts.damp, blockSize: opts.blockSize, actOrder: opts.actOrder, fraction: opts.outliers,
      sequential: opts.sequential ?? opts.hessians === undefined, hessians: opts.hessians, signal: opts.signal, onProgress: opts.onProgress,
    }),
  },
  {
    name: 'kmeans',
    description: 'non-uniform codes: sensitivity-weighted 1-D k-means per row or group, fp16 value tables (SqueezeLLM-style, diag(H) as the sensitivity)',
    needsCalibration: true,
    bits: [4, 3, 2],
    quantize: (model, opts) => quantizeModelKMeans(model, opts.calibration!, {
      bits: opts.bits as TableBits, scope: opts.tables === 'group' ? opts.group : 'row', signal: opts.signal, onProgress: opts.onProgress,
    }),
  },
  {
    name: 'mixed',
    description: 'mixed precision: GPTQ widths 2/3/4/8 per layer from measured KL sensitivity under a bits-per-weight budget (--budget, default --bits + 0.5)',
    needsCalibration: true,
    quantize: (model, opts) => quantizeModelMixedMethod(model, 'gptq', opts.calibration!, { ...gptqDefaults(opts), budget: opts.budget ?? opts.bits + 0.5 }),
  },
];

/** The entry called `name`; E_ARG listing the known names otherwise. */
export function quantMethod(name: string): QuantMethod {
  const m = QUANT_METHODS.find((x) => x.name === name);
  if (!m) throw new ZipmlError('E_ARG', `unknown quantization method '${name}' (known: ${QUANT_METHODS.map((x) => x.name).join(', ')})`);
  return m;
}

/** Whether the packed format (and the method, if it restricts them) can hold this width. */
export function methodSupportsBits(m: QuantMethod, bits: number): boolean {
  return (QUANT_BITS as readonly number[]).includes(bits) && (m.bits === undefined || m.bits.includes(bits));
}

/** Checks bits and group against what the format holds (a clear E_ARG, before any work is done). */
export function checkBitsAndGroup(m: QuantMethod, bits: number, group: number): asserts bits is QuantBits {
  if (!methodSupportsBits(m, bits)) {
    throw new ZipmlError('E_ARG', `${m.name}: a ${bits}-bit width cannot be held by the packed format here (supported: ${QUANT_BITS.filter((b) => methodSupportsBits(m, b)).join(', ')})`);
  }
  const groups = m.groups ?? QUANT_GROUPS;
  if (!groups.includes(group)) throw new ZipmlError('E_ARG', `${m.name}: group ${group} is not one of ${groups.join(', ')}`);
}

/** Runs method `name` on an fp32 model, after checking its options. */
export function quantizeModel(model: LlamaModel, name: string, opts: QuantizeOptions): QuantizedModel {
  const m = quantMethod(name);
  checkBitsAndGroup(m, opts.bits, opts.group as QuantGroup);
  if (m.needsCalibration && (!opts.calibration || !opts.calibration.some((d) => d.length >= 2))) {
    throw new ZipmlError('E_ARG', `${m.name} needs calibration text (documents of 2 or more tokens)`);
  }
  return m.quantize(model, opts);
}
