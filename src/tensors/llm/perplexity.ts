/**
 * Teacher-forced evaluation: feed each document's tokens in order and score the next one. A
 * document is a token sequence starting with BOS; it is cut into windows of the model's seq_len
 * (the KV cache restarts at each window), and every token after the first of a window is scored.
 */
import { argCheck, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import type { LlamaModel } from './model.js';

export interface NextTokenStats {
  /** Tokens scored. */
  count: number;
  /** Sum of -ln p(token). */
  nll: number;
  /** exp(nll / count). */
  perplexity: number;
}

/** Log-softmax of logits at `target` (double precision). */
export function logProb(logits: Float32Array, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return logits[target]! - max - Math.log(sum);
}

/**
 * Runs every document through the model and calls `visit(logits, target)` for each scored
 * position; the shared loop of perplexity and distribution comparisons.
 */
export function teacherForce(model: LlamaModel, docs: readonly (readonly number[])[], visit: (logits: Float32Array, target: number) => void, opts: LongOpOptions = {}): void {
  const L = model.config.seqLen;
  const total = docs.reduce((s, d) => s + d.length, 0);
  let done = 0;
  for (const doc of docs) {
    for (let start = 0; start + 1 < doc.length; start += L) {
      throwIfAborted(opts.signal, 'perplexity');
      const end = Math.min(doc.length, start + L);
      for (let i = start; i + 1 < end; i++) visit(model.forward(doc[i]!, i - start), doc[i + 1]!);
    }
    done += doc.length;
    opts.onProgress?.(done, total);
  }
}

export function perplexity(model: LlamaModel, docs: readonly (readonly number[])[], opts: LongOpOptions = {}): NextTokenStats {
  let nll = 0, count = 0;
  teacherForce(model, docs, (logits, target) => {
    nll -= logProb(logits, target);
    count++;
  }, opts);
  argCheck(count > 0, 'perplexity needs at least one document of 2 or more tokens');
  return { count, nll, perplexity: Math.exp(nll / count) };
}

/**
 * Takes documents from the end of `docs` until `budget` scored tokens are reached (the held-out
 * slice: the last documents of a text).
 */
export function lastDocs(docs: readonly number[][], budget: number): number[][] {
  const out: number[][] = [];
  let n = 0;
  for (let i = docs.length - 1; i >= 0 && n < budget; i--) {
    if (docs[i]!.length < 2) continue;
    out.unshift(docs[i]!);
    n += docs[i]!.length - 1;
  }
  return out;
}

/**
 * Plain text to documents: split at blank lines (TinyStories as stored in ../shared/data marks no
 * story boundary, and paragraphs are blank-line separated too), trim each, encode each with BOS as
 * llama2.c's TinyStories pretokenization does per story.
 */
export function textDocuments(tok: { encode(t: string, o?: { bos?: boolean }): number[] }, text: string): number[][] {
  return text.split(/\n[ \t]*\n/).map((s) => s.trim()).filter((s) => s.length > 0).map((s) => tok.encode(s, { bos: true }));
}
