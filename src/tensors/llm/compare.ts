/**
 * What a changed model (quantized, pruned, ...) costs against a reference on the same text:
 * perplexity of both, mean KL(p_ref || p_model) of the next-token distributions, and the top-1
 * flip rate (positions where the argmax differs). Teacher-forced, both models fed the same tokens.
 */
import { argCheck, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import type { LlamaModel } from './model.js';
import { logProb } from './perplexity.js';
import { argmax } from './sampler.js';

export interface ModelComparison {
  count: number;
  refPerplexity: number;
  perplexity: number;
  /** Mean over positions of KL(p_ref || p_model), in nats. */
  klMean: number;
  top1FlipRate: number;
}

function logSoftmax(logits: Float32Array, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
}

export function compareModels(ref: LlamaModel, model: LlamaModel, docs: readonly (readonly number[])[], opts: LongOpOptions = {}): ModelComparison {
  const V = ref.config.vocabSize, L = ref.config.seqLen;
  argCheck(model.config.vocabSize === V, 'compareModels: the models have different vocabularies');
  const a = new Float64Array(V), b = new Float64Array(V);
  let count = 0, nllRef = 0, nll = 0, kl = 0, flips = 0;
  for (const doc of docs) {
    throwIfAborted(opts.signal, 'compareModels');
    for (let i = 0; i + 1 < doc.length; i++) {
      const pos = i % L;
      if (pos === L - 1) continue; // windows of seq_len, as teacherForce cuts them
      const lr = ref.forward(doc[i]!, pos);
      logSoftmax(lr, a);
      const top = argmax(lr);
      const lm = model.forward(doc[i]!, pos);
      logSoftmax(lm, b);
      for (let t = 0; t < V; t++) kl += Math.exp(a[t]!) * (a[t]! - b[t]!);
      if (argmax(lm) !== top) flips++;
      nllRef -= a[doc[i + 1]!]!;
      nll -= logProb(lm, doc[i + 1]!);
      count++;
    }
  }
  argCheck(count > 0, 'compareModels needs at least one document of 2 or more tokens');
  return { count, refPerplexity: Math.exp(nllRef / count), perplexity: Math.exp(nll / count), klMean: kl / count, top1FlipRate: flips / count };
}
