/**
 * Next-token sampling as run.c's sampler: temperature 0 is greedy (argmax, lowest id on ties);
 * otherwise logits / temperature, softmax, then either plain multinomial sampling or top-p
 * (nucleus) sampling over the smallest set of most likely tokens whose mass exceeds p. The coin
 * comes from SeededRandom, so a seed fixes the whole generation.
 */
import { argCheck, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { SeededRandom } from '../../core/random.js';
import { type LlamaModel, softmax } from './model.js';
import { BOS, type Llama2cTokenizer } from './tokenizer.js';

export interface SamplerOptions {
  /** 0 = greedy. Default 1. */
  temperature?: number;
  /** Nucleus mass in (0, 1]; 1 (default) samples from the whole distribution. */
  topP?: number;
  seed?: number;
}

export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export class Sampler {
  readonly temperature: number;
  readonly topP: number;
  private readonly rng: SeededRandom;
  private probs = new Float32Array(0);
  private order = new Int32Array(0);

  constructor(opts: SamplerOptions = {}) {
    this.temperature = opts.temperature ?? 1;
    this.topP = opts.topP ?? 1;
    argCheck(Number.isFinite(this.temperature) && this.temperature >= 0, `temperature must be >= 0, got ${this.temperature}`);
    argCheck(this.topP > 0 && this.topP <= 1, `topP must be in (0, 1], got ${this.topP}`);
    this.rng = new SeededRandom(opts.seed ?? 0);
  }

  /** The next token for these logits (not modified). */
  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const n = logits.length;
    if (this.probs.length !== n) {
      this.probs = new Float32Array(n);
      this.order = new Int32Array(n);
    }
    const p = this.probs;
    for (let i = 0; i < n; i++) p[i] = logits[i]! / this.temperature;
    softmax(p);
    const coin = this.rng.float();
    if (this.topP >= 1) {
      let cdf = 0;
      for (let i = 0; i < n; i++) {
        cdf += p[i]!;
        if (coin < cdf) return i;
      }
      return n - 1;
    }
    // run.c drops tokens below (1 - p) / (n - 1) before sorting: they cannot be in the nucleus.
    const cutoff = (1 - this.topP) / (n - 1);
    let m = 0;
    for (let i = 0; i < n; i++) if (p[i]! >= cutoff) this.order[m++] = i;
    const idx = Array.from(this.order.subarray(0, m)).sort((a, b) => p[b]! - p[a]! || a - b);
    let mass = 0, last = idx.length - 1;
    for (let i = 0; i < idx.length; i++) {
      mass += p[idx[i]!]!;
      if (mass > this.topP) {
        last = i;
        break;
      }
    }
    const r = coin * mass;
    let cdf = 0;
    for (let i = 0; i <= last; i++) {
      cdf += p[idx[i]!]!;
      if (r < cdf) return idx[i]!;
    }
    return idx[last]!;
  }
}

export interface GenerateOptions extends SamplerOptions, LongOpOptions {
  /** Tokens to produce after the prompt (capped by the model's seq_len). */
  steps: number;
}

/** run.c's generate loop: BOS + prompt, then sample until `steps` tokens or BOS. Returns text and ids. */
export function generate(model: LlamaModel, tok: Llama2cTokenizer, prompt: string, opts: GenerateOptions): { text: string; tokens: number[] } {
  const sampler = new Sampler(opts);
  const prompt_ = tok.encode(prompt, { bos: true });
  const total = Math.min(model.config.seqLen, prompt_.length + opts.steps);
  const tokens = [...prompt_];
  let token = tokens[0]!;
  for (let pos = 0; pos + 1 < total; pos++) {
    throwIfAborted(opts.signal, 'generate');
    const logits = model.forward(token, pos);
    const next = pos + 1 < prompt_.length ? prompt_[pos + 1]! : sampler.sample(logits);
    if (next === BOS) break;
    if (pos + 1 >= prompt_.length) tokens.push(next);
    token = next;
    opts.onProgress?.(pos + 1, total - 1);
  }
  return { text: tok.decode(tokens), tokens };
}
