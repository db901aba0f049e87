/**
 * A small synthetic Llama checkpoint (llama2.c layout, seeded weights), a byte-fallback tokenizer
 * that covers any text, and a seeded English-like text: for tests that must run without
 * ../shared/data. The weights are random, so the model's outputs mean nothing; the tests hold
 * round trips, refusals and properties, not quality.
 */
import { type Llama2cConfig, llama2cTensorShapes } from '../../../src/tensors/formats/llama2c.js';
import { Llama2cTokenizer } from '../../../src/tensors/llm/tokenizer.js';
import { Rng } from '../../util/rng.js';

export const SYNTH_CONFIG: Omit<Llama2cConfig, 'vocabSize'> = { dim: 32, hiddenDim: 72, nLayers: 2, nHeads: 4, nKvHeads: 2, seqLen: 64, sharedClassifier: true };

const MERGES = ['th', 'he', 'an', 'in', 'on', 'er', 're', 'at', ' t', ' a', ' s', 'the', ' the', 'and', ' and', 'ing', 'ed'];

/** unk, BOS, EOS, the 256 byte tokens, " ", a..z, punctuation, then merges with rising scores. */
export function syntheticTokenizer(): Llama2cTokenizer {
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n'];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  pieces.push(' ', ...'abcdefghijklmnopqrstuvwxyz.,', ...MERGES);
  const enc = new TextEncoder();
  const scores = Float32Array.from(pieces, (p, i) => (i < 259 ? 0 : i < 259 + 29 ? -1000 : -100 + i));
  return new Llama2cTokenizer(pieces.map((p) => enc.encode(p)), scores);
}

/** A llama2.c checkpoint with seeded weights (norm gains near 1, linear weights ~N(0, 1/cols)). */
export function syntheticCheckpoint(seed = 1, cfg: Partial<Llama2cConfig> = {}): Uint8Array {
  const c: Llama2cConfig = { ...SYNTH_CONFIG, vocabSize: syntheticTokenizer().vocabSize, ...cfg };
  const rng = new Rng(seed);
  const weights: Record<string, Float32Array> = {};
  for (const { name, shape } of llama2cTensorShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1), cols = shape.at(-1)!;
    const f = new Float32Array(n);
    const rms = name.startsWith('rms');
    for (let i = 0; i < n; i++) f[i] = rms ? 1 + 0.1 * rng.normal() : (rng.normal() * (name === 'token_embedding_table' ? 1 : 1.5)) / Math.sqrt(cols);
    weights[name] = f;
  }
  const parts = llama2cTensorShapes(c).map((t) => weights[t.name]!);
  const out = new Uint8Array(28 + parts.reduce((s, p) => s + p.byteLength, 0));
  const dv = new DataView(out.buffer);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.sharedClassifier ? c.vocabSize : -c.vocabSize, c.seqLen].forEach((v, i) => dv.setInt32(4 * i, v, true));
  let at = 28;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer), at);
    at += p.byteLength;
  }
  return out;
}

const WORDS = ['the', 'cat', 'and', 'dog', 'ran', 'to', 'a', 'big', 'tree', 'in', 'park', 'she', 'said', 'hello', 'they', 'played', 'with', 'ball', 'sun', 'was', 'happy'];

/** `paragraphs` blank-line separated paragraphs of seeded sentences. */
export function syntheticText(paragraphs: number, seed = 7): string {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const s: string[] = [];
    const n = 2 + rng.int(3);
    for (let k = 0; k < n; k++) {
      const len = 4 + rng.int(6);
      const w = Array.from({ length: len }, () => WORDS[rng.int(WORDS.length)]!);
      w[0] = w[0]![0]!.toUpperCase() + w[0]!.slice(1);
      s.push(w.join(' ') + (rng.int(4) === 0 ? ',' : '.'));
    }
    out.push(s.join(' '));
  }
  return out.join('\n\n') + '\n';
}
