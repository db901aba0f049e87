/**
 * MatMulNBits export: a hand-built block decoded by the operator's definition (onnxruntime
 * docs/ContribOperators.md), exact packed <-> MatMulNBits round trips, the spec decoder against our
 * packed matvec, the ONNX file's initializers, and onnxruntime itself (Python onnxruntime when
 * installed; bench/quant/export-check.mjs runs onnxruntime-node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32ToF16Bits } from '../../../src/core/dtypes.js';
import { bufferSource } from '../../../src/tensors/layout.js';
import { readOnnxLayout } from '../../../src/tensors/formats/onnx.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import {
  type MatMulNBitsWeights, encodeMatMulNBitsModel, exportMatMulNBits, matMulNBitsFromPacked, matMulNBitsReference, packedFromMatMulNBits,
} from '../../../src/tensors/quant/onnx-matmulnbits.js';
import { QuantLinear, qmatvecReference } from '../../../src/tensors/quant/qmatvec.js';
import type { PackedMatrix } from '../../../src/tensors/quant/packed.js';
import { quantizeRTN } from '../../../src/tensors/quant/rtn.js';
import { Rng } from '../../util/rng.js';
import { syntheticWeights } from './synthetic-llama.js';

const rand = (n: number, seed: number): Float32Array => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal());
};

test('test vector: 4-bit block 32, K = 40 (two blocks, the second padded); q - 8 times the block scale', () => {
  // Row 0: block 0 bytes 0x98 (even k code 8, odd k code 9), block 1 bytes 0x7f; row 1: codes k % 16.
  const B = new Uint8Array(2 * 2 * 16);
  B.fill(0x98, 0, 16), B.fill(0x7f, 16, 32);
  for (let k = 0; k < 32; k++) B[32 + (k >> 1)]! |= (k % 16) << ((k & 1) * 4), B[48 + (k >> 1)]! |= (k % 16) << ((k & 1) * 4);
  const w: MatMulNBitsWeights = { K: 40, N: 2, bits: 4, blockSize: 32, B, scales: Uint16Array.from([0.5, 2, 1, 0.25].map(f32ToF16Bits)), zeroPoints: undefined };
  const a = Float32Array.from({ length: 40 }, (_, k) => k + 1);
  let y0 = 0, y1 = 0;
  for (let k = 0; k < 40; k++) {
    y0 += a[k]! * (k < 32 ? (k % 2) * 0.5 : (k % 2 ? 7 - 8 : 15 - 8) * 2);
    y1 += a[k]! * ((k % 16) - 8) * (k < 32 ? 1 : 0.25);
  }
  assert.deepEqual(matMulNBitsReference(w, a), Float32Array.of(y0, y1));
  // Zero points 4-bit packed per row: block 0 zero 9, block 1 zero 7 in row 0 -> different sums.
  const zp = { ...w, zeroPoints: Uint8Array.of(0x79, 0x88) };
  let z0 = 0;
  for (let k = 0; k < 40; k++) z0 += a[k]! * (k < 32 ? ((k % 2) + 8 - 9) * 0.5 : ((k % 2 ? 7 : 15) - 7) * 2);
  assert.equal(matMulNBitsReference(zp, a)[0], Math.fround(z0));
});

test('packed codes <-> MatMulNBits: exact round trip (4/8 bits, groups 32/64/128, zero points, ragged K); the spec decoder equals our matvec', () => {
  for (const bits of [4, 8] as const) {
    for (const group of [32, 64, 128] as const) {
      for (const symmetric of [true, false]) {
        for (const [rows, cols] of [[5, 172], [3, 64], [2, 257]] as const) {
          const p = quantizeRTN(rand(rows * cols, rows + cols + bits), rows, cols, { bits, group, symmetric });
          const w = matMulNBitsFromPacked(p);
          assert.equal(w.B.length, rows * Math.ceil(cols / group) * ((group * bits) / 8));
          assert.deepEqual(packedFromMatMulNBits(w), p);
          const x = rand(cols, 99), ours = new Float32Array(rows);
          qmatvecReference(p, x, ours);
          const ref = matMulNBitsReference(w, x);
          ref.forEach((v, i) => assert.ok(Math.abs(v - ours[i]!) <= 1e-5 * (1 + Math.abs(v)), `${bits}b g${group} ${symmetric} ${rows}x${cols} row ${i}: ${v} vs ${ours[i]}`));
        }
      }
    }
  }
  assert.throws(() => matMulNBitsFromPacked(quantizeRTN(rand(64, 1), 1, 64, { bits: 3, group: 32 })), /3-bit/);
});

/** Codes with real (fp16) zero points, as HQQ makes them: integer zero points shifted by quarters. */
function realZeros(bits: 4 | 8, rows: number, cols: number): PackedMatrix {
  const p = quantizeRTN(rand(rows * cols, 3 * bits), rows, cols, { bits, group: 32, symmetric: false });
  return { ...p, zeros: undefined, zeroF16: Uint16Array.from(p.zeros!, (z, i) => f32ToF16Bits(z + (i % 4) * 0.25)) };
}

test('fp16 zero points become float zero_points (unpacked, the type of A): exact round trip, spec decoder = our matvec', () => {
  for (const bits of [4, 8] as const) {
    const p = realZeros(bits, 6, 172);
    const w = matMulNBitsFromPacked(p);
    assert.equal(w.zeroPoints, undefined);
    assert.deepEqual(packedFromMatMulNBits(w), p);
    const x = rand(172, 5), ours = new Float32Array(6);
    qmatvecReference(p, x, ours);
    matMulNBitsReference(w, x).forEach((v, i) => assert.ok(Math.abs(v - ours[i]!) <= 1e-5 * (1 + Math.abs(v)), `${bits}-bit row ${i}`));
  }
});

test('the ONNX file holds B, scales and zero points as initializers with the operator\'s shapes and our bytes', async () => {
  const model = quantizeModelRTN(new LlamaModel(syntheticWeights({ dim: 64, hiddenDim: 172, nHeads: 8, nKvHeads: 4, vocabSize: 300 })), { bits: 4, group: 32, symmetric: false }).model;
  const { bytes, layers } = exportMatMulNBits(model);
  const layout = await readOnnxLayout(bufferSource(bytes));
  const byName = new Map(layout.tensors.map((t) => [t.name, t]));
  assert.equal(layout.tensors.length, 3 * layers.length);
  for (const { name, weights: w } of layers) {
    const nb = Math.ceil(w.K / 32);
    const B = byName.get(`${name}.B`)!, s = byName.get(`${name}.scales`)!, z = byName.get(`${name}.zero_points`)!;
    assert.deepEqual([B.dtype, B.shape, s.dtype, s.shape, z.dtype, z.shape], ['U8', [w.N, nb, 16], 'F32', [w.N * nb], 'U8', [w.N * Math.ceil(nb / 2)]]);
    assert.deepEqual(bytes.subarray(B.offset, B.offset + B.byteLength), w.B);
    const back = packedFromMatMulNBits({ ...w, B: bytes.slice(B.offset, B.offset + B.byteLength), zeroPoints: bytes.slice(z.offset, z.offset + z.byteLength) });
    assert.deepEqual(back, (model.weights.blocks[Number(name.split('.')[1])]![name.split('.')[2] as 'wq'] as QuantLinear).packed);
  }
});

function pythonOrt(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) if (spawnSync(py, ['-c', 'import onnxruntime, numpy'], { stdio: 'ignore' }).status === 0) return py;
  return null;
}

const ORT_SCRIPT = `
import json, sys
import numpy as np, onnxruntime as ort
res = []
for model, inputs in zip(sys.argv[1::2], sys.argv[2::2]):
    s = ort.InferenceSession(model, providers=['CPUExecutionProvider'])
    feeds = {k: np.array(v, dtype=np.float32).reshape(1, -1) for k, v in json.load(open(inputs)).items()}
    out = s.run(None, feeds)
    res.append({o.name: r.reshape(-1).tolist() for o, r in zip(s.get_outputs(), out)})
json.dump(res, sys.stdout)
`;

test('onnxruntime runs the exported MatMulNBits layers and matches our packed matvec (4 and 8 bits, with and without zero points)', (t) => {
  const py = pythonOrt();
  if (!py) {
    t.skip('no Python with onnxruntime (pip install onnxruntime); bench/quant/export-check.mjs checks with onnxruntime-node');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'zipml-ort-'));
  try {
    // onnxruntime 1.30's CPU kernel takes float zero points only for 2 and 4 bits (spec: any width).
    const cases = ([[4, true], [4, false], [8, true], [8, false], [4, 'f16']] as const).map(([bits, symmetric], c) => {
      const rtn = quantizeModelRTN(new LlamaModel(syntheticWeights({ dim: 64, hiddenDim: 172, nHeads: 8, nKvHeads: 4, vocabSize: 300 }, bits)), { bits, group: 32, symmetric: symmetric === true }).model;
      const model = symmetric !== 'f16' ? rtn : rtn.mapLinears((_l, _n, op) => new QuantLinear(realZeros(4, op.rows, op.cols)));
      const { bytes, layers } = exportMatMulNBits(model);
      const feeds: Record<string, number[]> = {};
      for (const l of layers) feeds[`${l.name}.A`] = Array.from(rand(l.weights.K, l.weights.N));
      writeFileSync(join(dir, `m${c}.onnx`), bytes);
      writeFileSync(join(dir, `a${c}.json`), JSON.stringify(feeds));
      return { bits, symmetric, model, layers, feeds };
    });
    const args = cases.flatMap((_, c) => [join(dir, `m${c}.onnx`), join(dir, `a${c}.json`)]);
    const outs = JSON.parse(execFileSync(py, ['-c', ORT_SCRIPT, ...args], { maxBuffer: 1 << 26 }).toString()) as Record<string, number[]>[];
    cases.forEach(({ bits, symmetric, model, layers, feeds }, c) => {
      let worst = 0;
      for (const l of layers) {
        const [, li, n] = l.name.split('.');
        const op = model.weights.blocks[Number(li)]![n as 'wq'] as QuantLinear;
        const ours = new Float32Array(op.rows);
        op.matvec(Float32Array.from(feeds[`${l.name}.A`]!), ours);
        outs[c]![`${l.name}.Y`]!.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ours[i]!) / (1 + Math.abs(ours[i]!)))));
      }
      t.diagnostic(`${bits}-bit ${symmetric === 'f16' ? 'fp16 zero points' : symmetric ? 'symmetric' : 'zero points'}: max relative |onnxruntime - ours| ${worst.toExponential(2)}`);
      assert.ok(worst < 1e-5, `${bits}-bit symmetric=${symmetric}: ${worst}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fp32 layers are RTN-quantized (4 bits, block 32, symmetric by default) on export', () => {
  const model = new LlamaModel(syntheticWeights({ dim: 64, hiddenDim: 172, nHeads: 8, nKvHeads: 4, vocabSize: 300 }));
  const { layers } = exportMatMulNBits(model);
  const w2 = model.weights.blocks[0]!.w2 as unknown as { weights: Float32Array; rows: number; cols: number };
  assert.deepEqual(layers.find((l) => l.name === 'blk.0.w2')!.weights, matMulNBitsFromPacked(quantizeRTN(w2.weights, w2.rows, w2.cols, { bits: 4, group: 32 })));
  const z8 = exportMatMulNBits(model, { bits: 8, blockSize: 64, symmetric: false }).layers[0]!.weights;
  assert.deepEqual([z8.bits, z8.blockSize, z8.zeroPoints?.length], [8, 64, 64 * 1]);
});

test('bad arguments: repeated layer names, initializer sizes', () => {
  const w = matMulNBitsFromPacked(quantizeRTN(rand(64, 2), 1, 64, { bits: 4, group: 32 }));
  assert.throws(() => encodeMatMulNBitsModel([{ name: 'a', weights: w }, { name: 'a', weights: w }]), /repeats/);
  assert.throws(() => encodeMatMulNBitsModel([{ name: 'a', weights: { ...w, B: w.B.subarray(1) } }]), /initializer 'a.B' has 31 bytes/);
  assert.throws(() => packedFromMatMulNBits({ ...w, scales: w.scales.subarray(1) }), /do not match/);
});
