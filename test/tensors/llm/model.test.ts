/**
 * The runtime against an independent NumPy computation of the same checkpoint
 * (llama2c_reference.py: reads the file itself, float64, whole-sequence causal attention with no
 * KV cache), plus sampling, perplexity and bad checkpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isZipmlError } from '../../../src/core/errors.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { Sampler, argmax, generate } from '../../../src/tensors/llm/sampler.js';
import { lastDocs, logProb, perplexity, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { MODEL, TEXT, TOKENIZER, have, loadModel, loadText, loadTokenizer, modelBytes } from './util.js';
import { STORIES260K_GREEDY } from '../../util/stories260k.js';

const PY = '/usr/bin/python3';
const SCRIPT = 'test/tensors/llm/llama2c_reference.py';

function numpyAvailable(): boolean {
  return spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
}

test('logits equal an independent NumPy reference within 1e-4 at every position', (t) => {
  if (!have(t, MODEL, TOKENIZER)) return;
  if (!numpyAvailable()) {
    t.skip(`${PY} with numpy not available (apt install python3-numpy)`);
    return;
  }
  const tok = loadTokenizer();
  const seqs = [
    tok.encode('Once upon a time, there was a little girl named Lily.'),
    [1, 0, 2, 511, 258, 3, 100, 100, 100, 42],
    tok.encode(loadText().slice(0, 400)).slice(0, 120),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'zipml-llm-'));
  try {
    writeFileSync(join(dir, 'seqs.json'), JSON.stringify(seqs));
    writeFileSync(join(dir, 'model.bin'), modelBytes());
    const out = execFileSync(PY, [SCRIPT, join(dir, 'model.bin'), join(dir, 'seqs.json')], { maxBuffer: 1 << 28 }).toString();
    const ref = JSON.parse(out) as number[][][];
    const model = loadModel();
    let worst = 0;
    seqs.forEach((seq, s) => {
      seq.forEach((token, pos) => {
        const logits = model.forward(token, pos);
        const r = ref[s]![pos]!;
        for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - r[i]!));
      });
    });
    t.diagnostic(`max |ours - numpy| = ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-4, `max abs logit difference ${worst}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the restored checkpoint reproduces llama2.c\'s documented greedy output, token for token', (t) => {
  if (!have(t, MODEL, TOKENIZER)) return;
  const tok = loadTokenizer();
  const m = loadModel();
  // run.c from BOS at temperature 0: 200 forward steps; it stops early on BOS, which does not occur here.
  let token = 1;
  const out: number[] = [];
  for (let pos = 0; pos < 200; pos++) {
    token = argmax(m.forward(token, pos));
    out.push(token);
  }
  assert.equal(tok.decode([1, ...out]), STORIES260K_GREEDY);
});

test('greedy generation is deterministic; seeded sampling repeats per seed; top-p stays in the nucleus', (t) => {
  if (!have(t, MODEL, TOKENIZER)) return;
  const tok = loadTokenizer();
  const a = generate(loadModel(), tok, 'Once upon a time', { steps: 30, temperature: 0 });
  const b = generate(loadModel(), tok, 'Once upon a time', { steps: 30, temperature: 0 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.ok(a.text.startsWith('Once upon a time'));
  // Greedy equals argmax of the teacher-forced logits along its own output.
  const m = loadModel();
  for (let p = 0; p + 1 < a.tokens.length; p++) {
    const logits = m.forward(a.tokens[p]!, p);
    if (p + 1 >= tok.encode('Once upon a time').length) assert.equal(a.tokens[p + 1], argmax(logits));
  }
  const s1 = generate(loadModel(), tok, 'The cat', { steps: 25, temperature: 1, topP: 0.9, seed: 5 });
  const s2 = generate(loadModel(), tok, 'The cat', { steps: 25, temperature: 1, topP: 0.9, seed: 5 });
  assert.deepEqual(s1.tokens, s2.tokens);
  // Top-p: every sample lies in the smallest set of most likely tokens with mass > p.
  const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i * 1.7) * 3);
  const probs = Array.from(logits, (x) => Math.exp(x));
  const z = probs.reduce((x, y) => x + y, 0);
  const order = probs.map((p, i) => [p / z, i] as const).sort((x, y) => y[0] - x[0]);
  const nucleus = new Set<number>();
  let mass = 0;
  for (const [p, i] of order) {
    nucleus.add(i);
    mass += p;
    if (mass > 0.5) break;
  }
  const sampler = new Sampler({ temperature: 1, topP: 0.5, seed: 1 });
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) seen.add(sampler.sample(logits));
  for (const s of seen) assert.ok(nucleus.has(s), `sampled ${s} outside the nucleus`);
  assert.ok(seen.size > 1);
});

test('perplexity on held-out TinyStories: finite, reproducible, equals a direct sum of log-probs', (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const text = loadText();
  const docs = lastDocs(textDocuments(tok, text.slice(text.length - 20_000)), 600);
  const r = perplexity(loadModel(), docs);
  t.diagnostic(`perplexity ${r.perplexity.toFixed(2)} over ${r.count} tokens`);
  assert.ok(Number.isFinite(r.perplexity) && r.count >= 600);
  const again = perplexity(loadModel(), docs);
  assert.equal(again.nll, r.nll);
  let nll = 0, n = 0;
  const m = loadModel();
  for (const d of docs) {
    for (let i = 0; i + 1 < d.length; i++) {
      nll -= logProb(m.forward(d[i]!, i), d[i + 1]!);
      n++;
    }
  }
  assert.equal(n, r.count);
  assert.ok(Math.abs(nll - r.nll) < 1e-6 * nll);
});

test('bad checkpoints: truncated, oversized, NaN weight, bad token or position', (t) => {
  if (!have(t, MODEL)) return;
  const bytes = new Uint8Array(readFileSync(MODEL));
  assert.throws(() => LlamaModel.fromLlama2c(bytes.subarray(0, 20)), (e) => isZipmlError(e, 'E_TRUNCATED'));
  assert.throws(() => LlamaModel.fromLlama2c(bytes.subarray(0, bytes.length - 4)), (e) => isZipmlError(e, 'E_TRUNCATED'));
  const longer = new Uint8Array(bytes.length + 4);
  longer.set(bytes);
  assert.throws(() => LlamaModel.fromLlama2c(longer), (e) => isZipmlError(e, 'E_CORRUPT'));
  const nan = bytes.slice();
  new DataView(nan.buffer).setFloat32(28 + 4 * 1000, NaN, true);
  assert.throws(() => LlamaModel.fromLlama2c(nan), (e) => isZipmlError(e, 'E_CORRUPT') && /non-finite/.test(e.message));
  const badHeader = bytes.slice();
  new DataView(badHeader.buffer).setInt32(12, 7, true); // n_heads 7 does not divide dim 64
  assert.throws(() => LlamaModel.fromLlama2c(badHeader), (e) => isZipmlError(e, 'E_CORRUPT'));
  const m = LlamaModel.fromLlama2c(bytes);
  assert.throws(() => m.forward(512, 0), (e) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => m.forward(1, 512), (e) => isZipmlError(e, 'E_ARG'));
});
