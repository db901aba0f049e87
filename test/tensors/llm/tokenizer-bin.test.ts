/** llama2.c's own tokenizer.bin layout: reading, writing, both layouts by sniffing, hostile input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isZipmlError } from '../../../src/core/errors.js';
import { Llama2cTokenizer, MAX_PIECE_BYTES } from '../../../src/tensors/llm/tokenizer.js';
import { fuzzDecoder } from '../../util/mutate.js';
import { TEXT, TOKENIZER, have, loadText } from './util.js';

/** A tokenizer.bin written field by field, as run.c's build_tokenizer reads it. */
function binOf(maxLen: number, tokens: [number, string | Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  const parts = tokens.map(([s, p]) => [s, typeof p === 'string' ? enc.encode(p) : p] as const);
  const out = new Uint8Array(4 + parts.reduce((n, [, p]) => n + 8 + p.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, maxLen, true);
  let at = 4;
  for (const [s, p] of parts) {
    dv.setFloat32(at, s, true);
    dv.setInt32(at + 4, p.length, true);
    out.set(p, at + 8);
    at += 8 + p.length;
  }
  return out;
}

const SMALL: [number, string][] = [[0, '<unk>'], [0, '\n<s>\n'], [0, '\n</s>\n'], [-1, ' '], [-2, 'a'], [-3, 'b'], [-0.5, 'ab'], [-0.25, ' ab']];

test('fromLlama2cBin reads the fields run.c reads, and encodes with them', () => {
  const bytes = binOf(6, SMALL);
  const tok = Llama2cTokenizer.fromLlama2cBin(bytes);
  assert.equal(tok.vocabSize, 8);
  assert.deepEqual(Array.from(tok.scores), SMALL.map(([s]) => s));
  assert.equal(new TextDecoder().decode(tok.pieces[7]), ' ab');
  assert.deepEqual(tok.encode('ab'), [1, 7]); // ' ' + 'a' + 'b' -> 'ab' (score -0.5) -> ' ab' (-0.25)
  assert.deepEqual(Llama2cTokenizer.fromLlama2cBin(bytes, 8).pieces, tok.pieces);
  assert.deepEqual(tok.toLlama2cBin(), bytes);
  assert.deepEqual(Llama2cTokenizer.fromBytes(bytes).pieces, tok.pieces);
});

test('tok512 in both layouts is the same vocabulary; fromBytes takes either', (t) => {
  if (!have(t, TOKENIZER, TEXT)) return;
  const c64 = Llama2cTokenizer.fromC64(new Uint8Array(readFileSync(TOKENIZER)));
  const bin = c64.toLlama2cBin();
  assert.equal(new DataView(bin.buffer).getInt32(0, true), Math.max(...c64.pieces.map((p) => p.length)));
  const back = Llama2cTokenizer.fromLlama2cBin(bin, 512);
  assert.deepEqual(back.pieces, c64.pieces);
  assert.deepEqual(back.scores, c64.scores);
  const sample = loadText().slice(0, 5000);
  assert.deepEqual(Llama2cTokenizer.fromBytes(bin).encode(sample), c64.encode(sample));
  assert.equal(Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(TOKENIZER)), 512).vocabSize, 512);
});

test('hostile tokenizer.bin input gives ZipmlError saying what and where', () => {
  const good = binOf(6, SMALL);
  const cases: [string, () => unknown, string, RegExp][] = [
    ['empty', () => Llama2cTokenizer.fromLlama2cBin(new Uint8Array(2)), 'E_TRUNCATED', /shorter than the 4-byte/],
    ['max_token_length 0', () => Llama2cTokenizer.fromLlama2cBin(binOf(0, SMALL)), 'E_CORRUPT', /max_token_length 0/],
    ['max_token_length huge', () => Llama2cTokenizer.fromLlama2cBin(binOf(MAX_PIECE_BYTES + 1, SMALL)), 'E_CORRUPT', /max_token_length/],
    ['piece longer than declared', () => Llama2cTokenizer.fromLlama2cBin(binOf(2, SMALL)), 'E_CORRUPT', /token 0 has length 5, outside 0..max_token_length 2/],
    ['negative length', () => Llama2cTokenizer.fromLlama2cBin(((b) => (new DataView(b.buffer).setInt32(8, -1, true), b))(good.slice())), 'E_CORRUPT', /length -1/],
    ['NaN score', () => Llama2cTokenizer.fromLlama2cBin(binOf(6, [[NaN, 'x'], ...SMALL])), 'E_CORRUPT', /score of token 0 is NaN/],
    ['cut in a string', () => Llama2cTokenizer.fromLlama2cBin(good.subarray(0, good.length - 1)), 'E_TRUNCATED', /string of token 7/],
    ['cut in a header', () => Llama2cTokenizer.fromLlama2cBin(good.subarray(0, 4 + 13 + 3)), 'E_TRUNCATED', /token 1 header/],
    ['more tokens than the model', () => Llama2cTokenizer.fromLlama2cBin(good, 6), 'E_CORRUPT', /bytes after token 5/],
    ['fewer tokens than the model', () => Llama2cTokenizer.fromLlama2cBin(good, 9), 'E_TRUNCATED', /token 8 header/],
    ['two tokens', () => Llama2cTokenizer.fromLlama2cBin(binOf(6, SMALL.slice(0, 2))), 'E_CORRUPT', /2 tokens, fewer than 3/],
    ['neither layout', () => Llama2cTokenizer.fromBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])), 'E_FORMAT', /either layout: as tok512-c64: .*; as tokenizer.bin: /],
  ];
  for (const [name, f, code, msg] of cases) assert.throws(f, (e) => isZipmlError(e, code as 'E_ARG') && msg.test(e.message), name);
  const r = fuzzDecoder(good, 400, 3, (b) => Llama2cTokenizer.fromLlama2cBin(b), (tok) => tok.vocabSize >= 3 && tok.pieces.every((p) => p.length <= MAX_PIECE_BYTES) && tok.scores.every(Number.isFinite));
  assert.ok(r.rejected > 100, `rejected ${r.rejected}`);
});
