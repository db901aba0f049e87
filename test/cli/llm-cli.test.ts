/** zipml quantize / eval / generate on a synthetic model, and on the restored stories260K when present. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeQuantizedModel } from '../../src/tensors/quant/file.js';
import { generate } from '../../src/tensors/llm/sampler.js';
import { zipml } from '../util/cli.js';
import { syntheticCheckpoint, syntheticText, syntheticTokenizer } from '../tensors/quant/synthetic.js';
import { MODEL, TOKENIZER, have, modelBytes } from '../tensors/llm/util.js';
import { STORIES260K_GREEDY } from '../util/stories260k.js';

/** Exit code 2 and exactly one line on stderr matching `msg`. */
function refused(r: { code: number; stderr: string }, msg: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, msg);
}

test('quantize -> eval -> generate on a synthetic model; bad input refused with one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-llm-cli-'));
  try {
    const model = join(dir, 'model.bin'), text = join(dir, 'text.txt'), out = join(dir, 'q.zq');
    const ckpt = syntheticCheckpoint(9);
    await writeFile(model, ckpt);
    await writeFile(join(dir, 'tokenizer.bin'), syntheticTokenizer().toLlama2cBin()); // found beside the model
    await writeFile(text, syntheticText(80));

    const q = await zipml('quantize', model, '--method', 'gptq', '--bits', '4', '--group', '32', '--zero-point', '--calib', text, '--calib-tokens', '300', '-o', out);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /gptq 4-bit g32 zero point .* bits\/weight 4\.\d+ over the block linear layers .* over the whole model/);
    assert.match(q.stderr, /calibration: \d+ documents, 3\d\d tokens \(characters 0\.\./);
    const file = decodeQuantizedModel(new Uint8Array(await readFile(out)));
    assert.deepEqual(file.meta.method, { name: 'gptq', bits: 4, group: 32, zeroPoint: true, calibrationTokens: file.meta.method['calibrationTokens']! });
    assert.equal(file.tokenizer?.vocabSize, syntheticTokenizer().vocabSize);
    refused(await zipml('quantize', model, '--bits', '4', '-o', out), /^zipml: E_ARG: .*exists; pass --force/);
    assert.equal((await zipml('quantize', model, '--bits', '3', '--group', '64', '-o', out, '--force')).code, 0);
    // inspect describes it as a container (it is not a packed model file).
    const ins = await zipml('inspect', out);
    assert.equal(ins.code, 0, ins.stderr);
    assert.match(ins.stdout, /"kind": "tensors\.llm\.quant"/);

    const e = await zipml('eval', out, '--against', model, '--text', text, '--tokens', '300', '--prompts', '3', '--steps', '12', '--json');
    assert.equal(e.code, 0, e.stderr);
    const j = JSON.parse(e.stdout) as Record<string, unknown> & { storage: { linearBitsPerWeight: number; modelBitsPerWeight: number }; greedy: { prompts: number; steps: number; agreement: number } };
    assert.equal(j['format'], 'zipml-quant');
    assert.ok(j.storage.linearBitsPerWeight > 3 && j.storage.linearBitsPerWeight < 4, `${j.storage.linearBitsPerWeight}`);
    assert.ok(j.storage.modelBitsPerWeight > j.storage.linearBitsPerWeight);
    assert.ok((j['klMean'] as number) > 0 && (j['perplexity'] as number) > 1);
    assert.equal(j.greedy.prompts, 3);
    assert.equal(j.greedy.steps, 12);
    const plain = await zipml('eval', out, '--against', model, '--text', text, '--tokens', '300', '--prompts', '3', '--steps', '12');
    assert.match(plain.stdout, /perplexity [\d.]+\n/);
    assert.match(plain.stdout, /greedy agreement [\d.]+% of 12 tokens over 3 prompts, first divergence at token/);
    const bitsOnly = await zipml('eval', model);
    assert.match(bitsOnly.stdout, /bits\/weight 32\.000 over the block linear layers/);

    // generate: the CLI prints what the library's generate gives for the same seed.
    const g = await zipml('generate', out, 'the cat', '--steps', '20', '--temperature', '0.8', '--top-p', '0.9', '--seed', '4');
    assert.equal(g.code, 0, g.stderr);
    const want = generate(decodeQuantizedModel(new Uint8Array(await readFile(out))).model, syntheticTokenizer(), 'the cat', { steps: 20, temperature: 0.8, topP: 0.9, seed: 4 });
    assert.equal(g.stdout, `${want.text}\n`);
    assert.equal((await zipml('generate', out, 'the cat', '--steps', '20', '--temperature', '0.8', '--seed', '4')).stdout, g.stdout);

    // Bad input.
    refused(await zipml('quantize', model, '--bits', '7', '-o', join(dir, 'x')), /^zipml: E_ARG: rtn: a 7-bit width cannot be held by the packed format here \(supported: 8, 6, 5, 4, 3, 2\)$/);
    refused(await zipml('quantize', model, '--method', 'gptq', '-o', join(dir, 'x')), /E_ARG: .*needs calibration text: pass --calib/);
    refused(await zipml('quantize', model, '--method', 'awq', '-o', join(dir, 'x')), /E_ARG: unknown quantization method 'awq'/);
    await writeFile(join(dir, 'cut.bin'), ckpt.subarray(0, ckpt.length - 10));
    refused(await zipml('eval', join(dir, 'cut.bin')), /^zipml: E_TRUNCATED: .*cut\.bin: not a zipml quantized model, and as a llama2\.c checkpoint: .*header implies \d+ bytes/);
    const nan = ckpt.slice();
    new DataView(nan.buffer).setFloat32(28 + 4 * 100, NaN, true);
    await writeFile(join(dir, 'nan.bin'), nan);
    refused(await zipml('generate', join(dir, 'nan.bin'), 'x'), /E_CORRUPT: .*tensor 'token_embedding_table' has a non-finite weight at element 100/);
    const shape = ckpt.slice();
    new DataView(shape.buffer).setInt32(4, 80, true); // hidden_dim no longer matches the weights
    await writeFile(join(dir, 'shape.bin'), shape);
    refused(await zipml('eval', join(dir, 'shape.bin')), /E_TRUNCATED: .*header implies/);
    await writeFile(join(dir, 'g.gguf'), new TextEncoder().encode('GGUF\x03\0\0\0'));
    refused(await zipml('eval', join(dir, 'g.gguf')), /^zipml: E_(TRUNCATED|CORRUPT|FORMAT): .*g\.gguf: /);
    refused(await zipml('quantize', out, '-o', join(dir, 'x')), /E_ARG: .*already a quantized model/);
    refused(await zipml('eval', out, '--against', model), /--against needs --text/);
    await rm(join(dir, 'tokenizer.bin'));
    refused(await zipml('generate', model, 'x'), /E_ARG: .*no tokenizer found for generation; pass --tokenizer/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the restored stories260K through the CLI: greedy output is llama2.c\'s, before and after 8-bit RTN', async (t) => {
  if (!have(t, MODEL, TOKENIZER)) return;
  const dir = await mkdtemp(join(tmpdir(), 'zipml-llm-cli-'));
  try {
    const model = join(dir, 'stories260K.bin');
    await writeFile(model, modelBytes());
    const g = await zipml('generate', model, '', '--temperature', '0', '--steps', '60', '--tokenizer', TOKENIZER);
    assert.equal(g.code, 0, g.stderr);
    assert.ok(STORIES260K_GREEDY.startsWith(g.stdout.trimEnd()) && g.stdout.length > 150, g.stdout);
    const out = join(dir, 'q8.zq');
    assert.equal((await zipml('quantize', model, '--bits', '8', '--group', '32', '--tokenizer', TOKENIZER, '-o', out)).code, 0);
    const g8 = await zipml('generate', out, '', '--temperature', '0', '--steps', '60');
    assert.equal(g8.stdout, g.stdout);
    // The same 8-bit RTN codes as GGUF Q8_0 (moved into blocks unchanged): same greedy text.
    const gguf = join(dir, 'q8.gguf');
    const w = await zipml('quantize', model, '--bits', '8', '--group', '32', '--tokenizer', TOKENIZER, '-o', gguf);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /GGUF Q8_0/);
    assert.equal((await zipml('generate', gguf, '', '--temperature', '0', '--steps', '60')).stdout, g.stdout);
    const onnx = join(dir, 'q4.onnx');
    const x = await zipml('quantize', model, '--bits', '4', '--group', '32', '--tokenizer', TOKENIZER, '-o', onnx);
    assert.equal(x.code, 0, x.stderr);
    assert.match(x.stdout, /ONNX MatMulNBits, 35 layers/);
    refused(await zipml('quantize', model, '--bits', '3', '--tokenizer', TOKENIZER, '-o', join(dir, 'q3.gguf')), /--bits 3 has no GGUF block type here; pass --gguf-type/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
