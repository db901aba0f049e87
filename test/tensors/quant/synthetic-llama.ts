/** A small random Llama model and tokenizer with chosen widths (e.g. multiples of 256 for Q4_K). */
import type { Llama2cConfig } from '../../../src/tensors/formats/llama2c.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { LINEAR_NAMES, type LlamaBlock, type LlamaWeights } from '../../../src/tensors/llm/model.js';
import { Llama2cTokenizer } from '../../../src/tensors/llm/tokenizer.js';
import { Rng } from '../../util/rng.js';

export function syntheticWeights(cfg: Partial<Llama2cConfig> = {}, seed = 7): LlamaWeights {
  const c: Llama2cConfig = { dim: 256, hiddenDim: 512, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 300, seqLen: 32, sharedClassifier: true, ...cfg };
  const rng = new Rng(seed);
  const rand = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * s);
  const kv = (c.dim / c.nHeads) * c.nKvHeads;
  const shape: Record<string, [number, number]> = { wq: [c.dim, c.dim], wk: [kv, c.dim], wv: [kv, c.dim], wo: [c.dim, c.dim], w1: [c.hiddenDim, c.dim], w2: [c.dim, c.hiddenDim], w3: [c.hiddenDim, c.dim] };
  const blocks: LlamaBlock[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const b: Partial<LlamaBlock> = { rmsAtt: rand(c.dim, 0.2).map((v) => 1 + v), rmsFfn: rand(c.dim, 0.2).map((v) => 1 + v) };
    for (const n of LINEAR_NAMES) {
      const [r, k] = shape[n]!;
      b[n] = new DenseLinear(rand(r * k, 1 / Math.sqrt(k)), r, k);
    }
    blocks.push(b as LlamaBlock);
  }
  const tokenEmbedding = rand(c.vocabSize * c.dim, 0.5);
  const classifier = new DenseLinear(c.sharedClassifier ? tokenEmbedding : rand(c.vocabSize * c.dim, 0.1), c.vocabSize, c.dim);
  return { config: c, tokenEmbedding, blocks, rmsFinal: rand(c.dim, 0.2).map((v) => 1 + v), classifier };
}

/** unk, BOS, EOS, 256 byte tokens, then " " and printable ASCII words up to `vocab` pieces. */
export function syntheticTokenizer(vocab = 300): Llama2cTokenizer {
  const enc = new TextEncoder();
  const pieces = [enc.encode('<unk>'), enc.encode('\n<s>\n'), enc.encode('\n</s>\n')];
  for (let b = 0; b < 256; b++) pieces.push(enc.encode(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  const words = [' ', ...'abcdefghijklmnopqrstuvwxyz'.split(''), ' t', ' th', ' the', 'é', 'on', ' on', 'ce'];
  for (let i = 0; pieces.length < vocab; i++) pieces.push(enc.encode(i < words.length ? words[i]! : `w${i}`));
  const scores = Float32Array.from(pieces, (_, i) => (i < 259 ? 0 : -i));
  return new Llama2cTokenizer(pieces, scores);
}
