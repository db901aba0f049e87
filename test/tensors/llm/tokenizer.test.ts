/** llama2.c BPE tokenizer: the tok512 file, round trips on TinyStories, run.c's merge rule, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isZipmlError } from '../../../src/core/errors.js';
import { BOS, EOS, Llama2cTokenizer } from '../../../src/tensors/llm/tokenizer.js';
import { fuzzDecoder } from '../../util/mutate.js';
import { TEXT, TOKENIZER, have, loadText, loadTokenizer } from './util.js';

/** run.c's encode written the direct way (string lookups, rescans every step): the oracle. */
function naiveEncode(tok: Llama2cTokenizer, text: string): number[] {
  const bytes = new TextEncoder().encode(text);
  const str = (ids: number[]): string[] => ids.map((i) => String.fromCharCode(...tok.pieces[i]!));
  const dict = new Map<string, number>();
  tok.pieces.forEach((p, i) => dict.has(String.fromCharCode(...p)) || dict.set(String.fromCharCode(...p), i));
  const find = (s: string): number => dict.get(s) ?? -1;
  const out = [BOS, find(' ')];
  for (let i = 0; i < bytes.length;) {
    let j = i + 1;
    while (j < bytes.length && (bytes[j]! & 0xc0) === 0x80 && j - i < 4) j++;
    const id = find(String.fromCharCode(...bytes.subarray(i, j)));
    if (id >= 0) out.push(id);
    else for (let b = i; b < j; b++) out.push(bytes[b]! + 3);
    i = j;
  }
  for (;;) {
    const s = str(out);
    let best = -1e10, at = -1, bestId = -1;
    for (let i = 0; i + 1 < out.length; i++) {
      const id = find(s[i]! + s[i + 1]!);
      if (id >= 0 && tok.scores[id]! > best) [best, at, bestId] = [tok.scores[id]!, i, id];
    }
    if (at < 0) return out;
    out.splice(at, 2, bestId);
  }
}

test('tok512: 512 pieces, specials and byte tokens where run.c expects them', (t) => {
  if (!have(t, TOKENIZER)) return;
  const tok = loadTokenizer();
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.decode([3 + 0x41], {}), 'A'); // <0x41> byte fallback
  assert.deepEqual(tok.encode(''), [BOS]);
  assert.deepEqual(tok.encode('', { bos: false, eos: true }), [EOS]);
  const ids = tok.encode('Once upon a time');
  assert.equal(ids[0], BOS);
  assert.equal(tok.decode(ids), 'Once upon a time');
});

test('encode equals the direct run.c merge loop on TinyStories lines and odd text', (t) => {
  if (!have(t, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const lines = loadText().split('\n').filter((l) => l.length > 0).slice(0, 40);
  for (const s of [...lines, 'naïve café ✓ 日本', '  two  spaces\tand tab', 'â€™ mojibake']) {
    assert.deepEqual(tok.encode(s), naiveEncode(tok, s), s);
  }
});

test('encode -> decode round-trips TinyStories text exactly (first 60,000 characters)', (t) => {
  if (!have(t, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const text = loadText().slice(0, 60_000);
  let tokens = 0;
  for (const line of text.split('\n')) {
    const ids = tok.encode(line);
    tokens += ids.length;
    assert.equal(tok.decode(ids), line);
  }
  // Byte level too, for a chunk with newlines inside (they go through <0x0A>).
  const chunk = text.slice(0, 3000);
  assert.equal(tok.decode(tok.encode(chunk)), chunk);
  assert.ok(tokens < text.length / 2, `BPE should compress: ${tokens} tokens for ${text.length} chars`);
});

test('fromC64: truncation, corruption and fuzzing give ZipmlError', (t) => {
  if (!have(t, TOKENIZER)) return;
  const bytes = new Uint8Array(readFileSync(TOKENIZER));
  for (const cut of [0, 1, 2, 100, 3000, bytes.length - 1]) {
    assert.throws(() => Llama2cTokenizer.fromC64(bytes.subarray(0, cut)), (e) => isZipmlError(e), `cut ${cut}`);
  }
  const badLen = bytes.slice();
  badLen[2 + 4 * 512 + 10] = 0; // length byte 0
  assert.throws(() => Llama2cTokenizer.fromC64(badLen), (e) => isZipmlError(e, 'E_CORRUPT'));
  const extra = new Uint8Array(bytes.length + 1);
  extra.set(bytes);
  assert.throws(() => Llama2cTokenizer.fromC64(extra), (e) => isZipmlError(e, 'E_CORRUPT'));
  const ref = Llama2cTokenizer.fromC64(bytes);
  const r = fuzzDecoder(bytes, 300, 7, (b) => Llama2cTokenizer.fromC64(b), (tok) => tok.vocabSize >= 3 && tok.pieces.every((p) => !p.includes(0)));
  assert.ok(r.rejected > 0);
  assert.equal(ref.vocabSize, 512);
});
