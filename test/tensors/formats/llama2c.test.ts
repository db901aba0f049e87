/** llama2.c checkpoints: stories260K (header from MANIFEST.md), writer round trips (shared and separate classifier), fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../../src/tensors/layout.js';
import { type Llama2cConfig, encodeLlama2c, llama2cTensorShapes, readLlama2cLayout } from '../../../src/tensors/formats/llama2c.js';
import { bytesEqual } from '../../util/mutate.js';
import { Rng } from '../../util/rng.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, sharedFile } from './util.js';

test('llama2.c: stories260K header, shared classifier, 264,128 floats', async (t) => {
  const bytes = await sharedFile(t, 'models/llama2c/stories260K.bin');
  if (!bytes) return;
  const l = await readLlama2cLayout(bufferSource(bytes));
  assertLayoutSane(l, bytes.length);
  assert.deepEqual(
    [l.metadata.dim, l.metadata.hidden_dim, l.metadata.n_layers, l.metadata.n_heads, l.metadata.n_kv_heads, l.metadata.vocab_size, l.metadata.seq_len],
    ['64', '172', '5', '8', '4', '512', '512'],
  );
  assert.equal(l.metadata.shared_classifier, 'true');
  assert.equal(l.tensors.length, 13);
  assert.equal(l.tensors.reduce((s, x) => s + x.byteLength / 4, 0), 264_128);
  assert.deepEqual(l.tensors.find((x) => x.name === 'wk')!.shape, [5, 32, 64]);
  assert.equal(l.tensors[0]!.offset, 28);
  // Rewritten from its regions, the checkpoint is identical.
  const cfg: Llama2cConfig = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true };
  const again = await encodeLlama2c(cfg, Object.fromEntries(l.tensors.map((x) => [x.name, bytes.subarray(x.offset, x.offset + x.byteLength)])));
  assert.ok(bytesEqual(again, bytes));
});

function randomCheckpoint(rng: Rng, shared: boolean): { cfg: Llama2cConfig; weights: Record<string, Float32Array> } {
  const nKvHeads = 1 + rng.int(2);
  const nHeads = nKvHeads * (1 + rng.int(2));
  const cfg: Llama2cConfig = { dim: nHeads * 2 * (1 + rng.int(3)), hiddenDim: 3 + rng.int(9), nLayers: 1 + rng.int(3), nHeads, nKvHeads, vocabSize: 5 + rng.int(20), seqLen: 1 + rng.int(9), sharedClassifier: shared };
  const weights = Object.fromEntries(llama2cTensorShapes(cfg).map(({ name, shape }) => [name, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal())]));
  return { cfg, weights };
}

test('llama2.c: writer -> reader round trip with shared and separate classifiers', async () => {
  const rng = new Rng(9);
  for (let i = 0; i < 10; i++) {
    const shared = i % 2 === 0;
    const { cfg, weights } = randomCheckpoint(rng, shared);
    const file = await encodeLlama2c(cfg, weights);
    assert.equal(new DataView(file.buffer).getInt32(20, true), shared ? cfg.vocabSize : -cfg.vocabSize, 'sign of vocab_size');
    const l = await readLlama2cLayout(bufferSource(file));
    assertLayoutSane(l, file.length);
    assert.equal(l.tensors.length, shared ? 13 : 14);
    assert.equal(l.tensors.at(-1)!.name, shared ? 'freq_cis_imag' : 'wcls');
    for (const r of l.tensors) {
      const w = weights[r.name]!;
      assert.ok(bytesEqual(file.subarray(r.offset, r.offset + r.byteLength), new Uint8Array(w.buffer)), r.name);
    }
  }
});

test('llama2.c: lying headers are refused', async () => {
  const { cfg, weights } = randomCheckpoint(new Rng(1), false);
  const file = await encodeLlama2c(cfg, weights);
  await rejectsWith(readLlama2cLayout(bufferSource(file.subarray(0, file.length - 4))), 'E_TRUNCATED', /separate classifier/);
  const flipped = file.slice();
  new DataView(flipped.buffer).setInt32(20, cfg.vocabSize, true); // claims shared: the file is too long
  await rejectsWith(readLlama2cLayout(bufferSource(flipped)), 'E_CORRUPT');
  const huge = file.slice();
  new DataView(huge.buffer).setInt32(0, 0x7fffffff, true);
  await rejectsWith(readLlama2cLayout(bufferSource(huge)), 'E_CORRUPT', /dim/);
  const odd = file.slice();
  new DataView(odd.buffer).setInt32(12, 3, true); // n_heads not dividing dim evenly
  await rejectsWith(readLlama2cLayout(bufferSource(odd)), 'E_CORRUPT');
  await rejectsWith(encodeLlama2c(cfg, { ...weights, wq: new Float32Array(1) }), 'E_ARG');
});

test('llama2.c: fuzzing gives ZipmlError or a sane layout', async () => {
  const { cfg, weights } = randomCheckpoint(new Rng(2), true);
  const r = await fuzzLayout(await encodeLlama2c(cfg, weights), 3000, 3, (s) => readLlama2cLayout(s));
  assert.ok(r.rejected > 500, `${r.rejected} rejected`);
});
