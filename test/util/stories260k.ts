/**
 * The working stories260K checkpoint, derived from the copy in ../shared/data.
 *
 * The shared `models/llama2c/stories260K.bin` comes from plctlab/rvspoc-s2311-llama2, whose
 * `updateWeight.c` transposes the linear weights in place through a writable shared mmap. The
 * committed file had that done five times, so each of its wq, wk, wv, wo, w1, w2, w3 matrices is
 * T^5 of the trained one, where T reads a block as an (r x c) row-major matrix and writes its
 * transpose: (64 x 64) for wq/wo, (64 x 32) for wk/wv, (64 x 172) for w1/w3 and (172 x 64) for w2.
 * The embedding, norms and header are untouched. Run as it is (by llama2.c's own run.c as well)
 * the model emits noise; perplexity on TinyStories is above 10^4.
 *
 * We found this by comparing with ytmytm/llama2.c64's `release/weights.reu` (the same checkpoint,
 * unpermuted, after a 4-byte tag) and undo it here. The result is held to two known answers: its
 * SHA-256, and llama2.c's documented greedy output for this model (doc/stories260K.md and
 * test_all.py's expected_stdout), which a test checks token for token.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SHARED_STORIES260K = join('..', 'shared', 'data', 'models', 'llama2c', 'stories260K.bin');

/** SHA-256 of the trained checkpoint (header + weights), as run.c reads it. */
export const STORIES260K_SHA256 = 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696';

/** SHA-256 of the permuted copy in ../shared/data. */
export const SHARED_STORIES260K_SHA256 = '9414d5a285453a7eab631713d171753232c978f6f97654211469aff8be93c8d6';

/**
 * The first 200 tokens run.c prints from BOS at temperature 0 (llama2.c test_all.py's
 * expected_stdout, which is run.c's output with its final newline removed).
 */
export const STORIES260K_GREEDY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n' +
  "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\n" +
  'Lily was sad and didn\'t know what to do. She said, "I\'m sorry, Lily. I didn\'t know what to do."\n' +
  "Lily didn't want to help her mom, so she";

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** In-place (r x c) -> (c x r) transpose of one matrix's floats. */
function transpose(m: Float32Array, r: number, c: number): void {
  const src = m.slice();
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) m[j * r + i] = src[i * c + j]!;
}

/**
 * Undoes the five in-place transposes of the shared copy. Checks the input's SHA-256 first and
 * the output's after, so it can only ever return the trained checkpoint.
 */
export function restoreStories260K(shared: Uint8Array): Uint8Array {
  if (sha256(shared) !== SHARED_STORIES260K_SHA256) throw new Error('stories260K.bin in ../shared/data is not the expected file (SHA-256 differs)');
  const out = shared.slice();
  const f = new Float32Array(out.buffer, 28);
  const dim = 64, hidden = 172, layers = 5, kv = 32, vocab = 512;
  // [name, r, c] of the forward transpose, in file order after the embedding and rms_att.
  const mats: [number, number, number][] = [[dim, dim, dim * dim], [dim, kv, dim * kv], [dim, kv, dim * kv], [dim, dim, dim * dim]];
  let at = vocab * dim + layers * dim;
  for (const [r, c, n] of mats) {
    for (let l = 0; l < layers; l++) for (let k = 0; k < 5; k++) transpose(f.subarray(at + l * n, at + (l + 1) * n), c, r);
    at += layers * n;
  }
  at += layers * dim; // rms_ffn
  for (const [r, c] of [[dim, hidden], [hidden, dim], [dim, hidden]] as const) {
    const n = dim * hidden;
    for (let l = 0; l < layers; l++) for (let k = 0; k < 5; k++) transpose(f.subarray(at + l * n, at + (l + 1) * n), c, r);
    at += layers * n;
  }
  if (sha256(out) !== STORIES260K_SHA256) throw new Error('restoring stories260K.bin did not give the trained checkpoint (SHA-256 differs)');
  return out;
}

/** The trained checkpoint, or undefined when the shared data is missing. */
export function loadStories260K(): Uint8Array | undefined {
  if (!existsSync(SHARED_STORIES260K)) return undefined;
  return restoreStories260K(new Uint8Array(readFileSync(SHARED_STORIES260K)));
}
