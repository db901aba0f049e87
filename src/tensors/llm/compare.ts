/**
 * What a changed model (quantized, pruned, ...) costs against a reference on the same text:
 *   - perplexity of both (teacher-forced, both models fed the same tokens);
 *   - mean KL(p_ref || p_model) of the next-token distributions, in nats;
 *   - top-1 flip rate: positions where the argmax differs;
 *   - greedy agreement: from N prompts, each model continues T tokens greedily on its own output;
 *     the fraction of those T tokens identical at the same position, and the mean position of the
 *     first difference (T when there is none);
 *   - storage: bits per weight over the block linear layers (what quantizers change) and over the
 *     whole model (token embedding, norms and a separate classifier included), each layer counted
 *     with every scale, zero point, table and outlier its LinearOp reports.
 * The reference's side is computed once (ReferenceTrace) so many models can be held to it.
 */
import { ZipmlError, argCheck, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { DenseLinear, type LinearOp } from './linear.js';
import { LINEAR_NAMES, type LlamaModel } from './model.js';
import { teacherForce } from './perplexity.js';
import { argmax } from './sampler.js';

export interface ModelComparison {
  count: number;
  refPerplexity: number;
  perplexity: number;
  /** Mean over positions of KL(p_ref || p_model), in nats. */
  klMean: number;
  top1FlipRate: number;
  /** The model's negative log-likelihood summed over each document's scored positions (for paired tests). */
  docNll: Float64Array;
}

export interface GreedyAgreement {
  prompts: number;
  /** Greedy tokens generated per prompt. */
  steps: number;
  /** Fraction of generated tokens equal to the reference's at the same position. */
  agreement: number;
  /** Mean index (0-based) of the first generated token that differs; `steps` when none does. */
  meanFirstDivergence: number;
}

/** Most reference log-probabilities a trace holds (positions x vocabulary; 512 MiB of doubles). */
export const MAX_TRACE_VALUES = 1 << 26;

/** The reference model's side of a comparison, computed once. */
export interface ReferenceTrace {
  docs: readonly (readonly number[])[];
  vocabSize: number;
  count: number;
  nll: number;
  /** Scored positions of each document (windows of seq_len, window starts not scored). */
  docCount: Int32Array;
  /** The reference's negative log-likelihood summed per document. */
  docNll: Float64Array;
  /** Log-softmax at each scored position, count x vocabSize. */
  logProbs: Float64Array;
  top: Int32Array;
  prompts: number[][];
  steps: number;
  /** The reference's greedy continuation of each prompt. */
  greedy: number[][];
}

export interface TraceOptions extends LongOpOptions {
  /** Prompts for greedy agreement (default 0: none). */
  prompts?: readonly (readonly number[])[];
  /** Greedy tokens per prompt (default 32). */
  steps?: number;
}

function logSoftmax(logits: Float32Array, out: Float64Array, at = 0): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[at + i] = logits[i]! - lse;
}

/** Feeds `prompt` (BOS first) and returns the next `steps` argmax tokens, capped by seq_len. */
export function greedyContinuation(model: LlamaModel, prompt: readonly number[], steps: number): number[] {
  argCheck(prompt.length >= 1 && Number.isInteger(steps) && steps >= 0, 'greedyContinuation: a non-empty prompt and steps >= 0');
  const n = Math.min(steps, model.config.seqLen - prompt.length);
  argCheck(n >= 0, `greedyContinuation: prompt of ${prompt.length} tokens exceeds seq_len ${model.config.seqLen}`);
  let logits: Float32Array = new Float32Array(0);
  for (let i = 0; i < prompt.length; i++) logits = model.forward(prompt[i]!, i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = argmax(logits);
    out.push(t);
    if (i + 1 < n) logits = model.forward(t, prompt.length + i);
  }
  return out;
}

/**
 * Prompts for greedy agreement: the first `length` tokens (BOS included) of the first `count`
 * documents that have more than `length` tokens.
 */
export function greedyPrompts(docs: readonly (readonly number[])[], count: number, length: number): number[][] {
  return docs.filter((d) => d.length > length).slice(0, count).map((d) => d.slice(0, length));
}

/** Positions teacherForce scores in each document: every token but the first of each seq_len window. */
export function scoredPerDocument(docs: readonly (readonly number[])[], seqLen: number): Int32Array {
  return Int32Array.from(docs, (d) => {
    let n = 0;
    for (let start = 0; start + 1 < d.length; start += seqLen) n += Math.min(d.length, start + seqLen) - start - 1;
    return n;
  });
}

/** Document of each scored position, from per-document counts. */
function documentIndex(docCount: Int32Array): Int32Array {
  const out = new Int32Array(docCount.reduce((s, n) => s + n, 0));
  let at = 0;
  docCount.forEach((n, d) => {
    out.fill(d, at, at + n);
    at += n;
  });
  return out;
}

export function referenceTrace(ref: LlamaModel, docs: readonly (readonly number[])[], opts: TraceOptions = {}): ReferenceTrace {
  const V = ref.config.vocabSize;
  let positions = 0; // an upper bound: window starts are not scored
  for (const d of docs) positions += Math.max(0, d.length - 1);
  if (positions * V > MAX_TRACE_VALUES) throw new ZipmlError('E_LIMIT', `comparison of ${positions} positions x ${V} tokens exceeds ${MAX_TRACE_VALUES} values; use fewer tokens`);
  const logProbs = new Float64Array(positions * V), top = new Int32Array(positions);
  const docCount = scoredPerDocument(docs, ref.config.seqLen), docNll = new Float64Array(docs.length);
  const docOf = documentIndex(docCount);
  let count = 0, nll = 0;
  teacherForce(ref, docs, (logits, target) => {
    logSoftmax(logits, logProbs, count * V);
    top[count] = argmax(logits);
    const l = -logProbs[count * V + target]!;
    nll += l;
    docNll[docOf[count]!] += l;
    count++;
  }, opts);
  argCheck(count > 0, 'compareModels needs at least one document of 2 or more tokens');
  const prompts = (opts.prompts ?? []).map((p) => [...p]);
  const steps = opts.steps ?? 32;
  const greedy = prompts.map((p) => {
    throwIfAborted(opts.signal, 'greedy generation');
    return greedyContinuation(ref, p, steps);
  });
  return { docs, vocabSize: V, count, nll, docCount, docNll, logProbs: logProbs.subarray(0, count * V), top: top.subarray(0, count), prompts, steps, greedy };
}

/** Perplexity, KL and flips of `model` against a trace of the reference. */
export function compareToTrace(trace: ReferenceTrace, model: LlamaModel, opts: LongOpOptions = {}): ModelComparison {
  const V = trace.vocabSize;
  argCheck(model.config.vocabSize === V, 'compareModels: the models have different vocabularies');
  const b = new Float64Array(V), docNll = new Float64Array(trace.docs.length), docOf = documentIndex(trace.docCount);
  let k = 0, nll = 0, kl = 0, flips = 0;
  teacherForce(model, trace.docs, (logits, target) => {
    logSoftmax(logits, b);
    const a = trace.logProbs.subarray(k * V, (k + 1) * V);
    for (let t = 0; t < V; t++) kl += Math.exp(a[t]!) * (a[t]! - b[t]!);
    if (argmax(logits) !== trace.top[k]) flips++;
    nll -= b[target]!;
    docNll[docOf[k]!] -= b[target]!;
    k++;
  }, opts);
  return { count: k, refPerplexity: Math.exp(trace.nll / trace.count), perplexity: Math.exp(nll / k), klMean: kl / k, top1FlipRate: flips / k, docNll };
}

/**
 * A paired comparison of two models scored on the same trace: the mean per-token change of
 * negative log-likelihood from `a` to `b` (nats; b is better when negative), with its standard
 * error. Tokens of one document are not independent, so documents are the sampling unit: the
 * error is the cluster-robust (ratio-estimator) one over per-document sums. `exp(mean)` is the
 * perplexity ratio b / a; the interval is mean ± 1.96 standard errors mapped the same way.
 */
export interface PairedDifference {
  documents: number;
  tokens: number;
  meanNllChange: number;
  stdErr: number;
  perplexityRatio: number;
  ratioLow: number;
  ratioHigh: number;
}

/** `b` against `a` (`a` = 'reference' for the trace's own model). */
export function pairedDifference(trace: ReferenceTrace, a: ModelComparison | 'reference', b: ModelComparison): PairedDifference {
  const an = a === 'reference' ? trace.docNll : a.docNll, D = trace.docCount.length;
  argCheck(an.length === D && b.docNll.length === D, 'pairedDifference: both comparisons must come from this trace');
  let diff = 0, tokens = 0;
  for (let d = 0; d < D; d++) {
    diff += b.docNll[d]! - an[d]!;
    tokens += trace.docCount[d]!;
  }
  const mean = diff / tokens;
  let v = 0, docs = 0;
  for (let d = 0; d < D; d++) {
    if (trace.docCount[d] === 0) continue;
    v += (b.docNll[d]! - an[d]! - mean * trace.docCount[d]!) ** 2;
    docs++;
  }
  const stdErr = docs > 1 ? Math.sqrt((v * docs) / (docs - 1)) / tokens : NaN;
  return {
    documents: docs, tokens, meanNllChange: mean, stdErr, perplexityRatio: Math.exp(mean),
    ratioLow: Math.exp(mean - 1.96 * stdErr), ratioHigh: Math.exp(mean + 1.96 * stdErr),
  };
}

/** Greedy agreement of `model` with the reference's continuations in the trace. */
export function greedyAgreement(trace: ReferenceTrace, model: LlamaModel, opts: LongOpOptions = {}): GreedyAgreement {
  let same = 0, total = 0, firstSum = 0;
  trace.prompts.forEach((p, i) => {
    throwIfAborted(opts.signal, 'greedy generation');
    const r = trace.greedy[i]!, m = greedyContinuation(model, p, trace.steps);
    let first = r.length;
    for (let j = 0; j < r.length; j++) {
      if (r[j] === m[j]) same++;
      else if (first === r.length) first = j;
    }
    total += r.length;
    firstSum += first;
  });
  const n = trace.prompts.length;
  return { prompts: n, steps: trace.steps, agreement: total > 0 ? same / total : NaN, meanFirstDivergence: n > 0 ? firstSum / n : NaN };
}

export function compareModels(ref: LlamaModel, model: LlamaModel, docs: readonly (readonly number[])[], opts: LongOpOptions = {}): ModelComparison {
  return compareToTrace(referenceTrace(ref, docs, opts), model, opts);
}

/**
 * Bits a linear layer stores. A LinearOp reports its own storage through `storageBits` (total) or
 * `bitsPerWeight` (QuantLinear: codes, scales, zero points); fp32 layers count 32 bits a weight.
 */
export function linearStorageBits(op: LinearOp): number {
  const o = op as LinearOp & { storageBits?: unknown; bitsPerWeight?: unknown };
  if (typeof o.storageBits === 'number') return o.storageBits;
  if (typeof o.bitsPerWeight === 'number') return o.bitsPerWeight * op.rows * op.cols;
  if (op instanceof DenseLinear) return 32 * op.rows * op.cols;
  throw new ZipmlError('E_ARG', `cannot count the storage of a ${op.constructor.name} layer (it reports neither storageBits nor bitsPerWeight)`);
}

export interface ModelStorage {
  /** Weights in the block linear layers (wq, wk, wv, wo, w1, w2, w3 of every block). */
  linearWeights: number;
  linearBits: number;
  /** Every parameter: the block linears, token embedding, RMSNorm gains, a separate classifier. */
  modelWeights: number;
  modelBits: number;
  linearBitsPerWeight: number;
  modelBitsPerWeight: number;
}

/**
 * Storage of a model: the block linears as their LinearOps report it, the rest (embedding, norms,
 * classifier) as the float32 the runtime holds. A shared classifier is counted once.
 */
export function modelStorage(model: LlamaModel): ModelStorage {
  const w = model.weights;
  let linearWeights = 0, linearBits = 0;
  for (const b of w.blocks) {
    for (const n of LINEAR_NAMES) {
      linearWeights += b[n].rows * b[n].cols;
      linearBits += linearStorageBits(b[n]);
    }
  }
  let rest = w.tokenEmbedding.length + w.rmsFinal.length + w.blocks.reduce((s, b) => s + b.rmsAtt.length + b.rmsFfn.length, 0);
  let restBits = 32 * rest;
  if (!model.config.sharedClassifier) {
    rest += w.classifier.rows * w.classifier.cols;
    restBits += linearStorageBits(w.classifier);
  }
  return {
    linearWeights, linearBits, modelWeights: linearWeights + rest, modelBits: linearBits + restBits,
    linearBitsPerWeight: linearBits / linearWeights, modelBitsPerWeight: (linearBits + restBits) / (linearWeights + rest),
  };
}

export interface Evaluation extends ModelComparison {
  greedy: GreedyAgreement;
  storage: ModelStorage;
}

/** Everything above for one model against a reference trace. */
export function evaluateAgainst(trace: ReferenceTrace, model: LlamaModel, opts: LongOpOptions = {}): Evaluation {
  return { ...compareToTrace(trace, model, opts), greedy: greedyAgreement(trace, model, opts), storage: modelStorage(model) };
}
