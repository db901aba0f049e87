/** TFLite: the real models (FLOAT16 totals from MANIFEST.md, int8 and float files), hostile offsets, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../../src/tensors/layout.js';
import { readTfliteLayout } from '../../../src/tensors/formats/tflite.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, sharedFile } from './util.js';

test('tflite: MediaPipe BlazeFace models: FLOAT16 and INT32 constant tensors as in MANIFEST.md', async (t) => {
  const facts: [string, number, number, number][] = [
    ['face_detection_short_range.tflite', 74, 202_780, 11],
    ['face_detection_full_range.tflite', 178, 1_028_138, 11],
    ['face_detection_back.tflite', 138, 272_480, 2],
  ];
  for (const [f, n16, bytes16, n32] of facts) {
    const bytes = await sharedFile(t, `models/mediapipe/${f}`);
    if (!bytes) return;
    const l = await readTfliteLayout(bufferSource(bytes));
    assertLayoutSane(l, bytes.length);
    const f16 = l.tensors.filter((x) => x.dtype === 'F16');
    assert.equal(f16.length, n16, f);
    assert.equal(f16.reduce((s, x) => s + x.byteLength, 0), bytes16, f);
    assert.equal(l.tensors.filter((x) => x.dtype === 'I32').length, n32, f);
    // Decoded as FP16 the weights are finite and of sane size (a wrong offset would not be).
    for (const x of f16) {
      const h = new Uint16Array(bytes.slice(x.offset, x.offset + x.byteLength).buffer);
      for (let i = 0; i < h.length; i++) assert.ok((h[i]! & 0x7c00) !== 0x7c00, `${f} ${x.name}: Inf/NaN at ${i}`);
    }
  }
});

test('tflite: int8 and float models from tflite-micro', async (t) => {
  const facts: [string, string, number][] = [
    ['mobilenet_v2_quantized_1x3x224x224.tflite', 'I8', 3_469_760],
    ['person_detect.tflite', 'I8', 207_968],
    ['hello_world_float.tflite', 'F32', 1_284],
    ['mnist_trained_lstm.tflite', 'F32', 38_120],
    ['dtln_noise_suppression.tflite', 'I8', 361_088],
    ['micro_speech_quantized.tflite', 'I8', 16_640],
  ];
  for (const [f, dtype, total] of facts) {
    const bytes = await sharedFile(t, `models/tflite/${f}`);
    if (!bytes) return;
    const l = await readTfliteLayout(bufferSource(bytes));
    assertLayoutSane(l, bytes.length);
    assert.equal(l.tensors.filter((x) => x.dtype === dtype).reduce((s, x) => s + x.byteLength, 0), total, f);
    for (const x of l.tensors) assert.equal(x.offset % 4, 0, `${f} ${x.name}: flatbuffer vectors are aligned`);
  }
  const mb = await sharedFile(t, 'models/tflite/mobilenet_v2_quantized_1x3x224x224.tflite');
  if (!mb) return;
  const l = await readTfliteLayout(bufferSource(mb));
  assert.ok(l.tensors.reduce((s, x) => s + x.byteLength, 0) > 0.85 * mb.length, 'weights are most of MobileNetV2');
  assert.ok(l.tensors.filter((x) => x.dtype === 'I8').some((x) => x.shape.length === 4), 'conv kernels keep their 4-D shape');
});

test('tflite: hostile offsets and fuzzing', async (t) => {
  const bytes = await sharedFile(t, 'models/tflite/hello_world_float.tflite');
  if (!bytes) return;
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
  const edit = (f: (b: Uint8Array) => void) => {
    const b = bytes.slice();
    f(b);
    return readTfliteLayout(bufferSource(b));
  };
  await rejectsWith(edit((b) => (b[4] = 0x58)), 'E_FORMAT', /TFL3/);
  await rejectsWith(edit((b) => dv(b).setUint32(0, 0x7ffffff0, true)), 'E_CORRUPT', /outside/);
  const root = dv(bytes).getUint32(0, true);
  await rejectsWith(edit((b) => dv(b).setInt32(root, -0x100000, true)), 'E_TRUNCATED');
  await rejectsWith(readTfliteLayout(bufferSource(bytes.subarray(0, bytes.length - 100))), 'E_TRUNCATED');
  const r = await fuzzLayout(bytes, 2000, 23, (s) => readTfliteLayout(s));
  assert.ok(r.rejected > 100, `${r.rejected} rejected`);
});
