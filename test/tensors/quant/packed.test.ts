/** fp16 zero points (HQQ-style real z): dequantize, bits per weight, the kernel against the reference, checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { type PackedMatrix, type QuantBits, type QuantGroup, bitsPerWeight, checkPacked, codeAt, groupsPerRow } from '../../../src/tensors/quant/packed.js';
import { QuantArena, QuantLinear, qmatvecReference } from '../../../src/tensors/quant/qmatvec.js';
import { dequantize } from '../../../src/tensors/quant/rtn.js';
import { withF16Zeros, forEachKernelPath } from './quant-util.js';

function randomW(rows: number, cols: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05);
}

test('fp16 zero points: dequantize is s * (q - z) with the real z; bits per weight counts 16 bits per group', () => {
  const rows = 3, cols = 100, group = 32;
  const p = withF16Zeros(randomW(rows, cols, 1), rows, cols, 4, group, 2);
  checkPacked(p);
  const d = dequantize(p), nG = groupsPerRow(cols, group);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * nG + Math.floor(c / group);
      const want = Math.fround(f16BitsToF32(p.scales[i]!) * (codeAt(p, r, c) - f16BitsToF32(p.zeroF16![i]!)));
      assert.equal(d[r * cols + c], want);
    }
  }
  assert.ok(p.zeroF16!.some((z) => !Number.isInteger(f16BitsToF32(z))));
  assert.equal(bitsPerWeight(p), (8 * p.codes.length + 32 * rows * nG) / (rows * cols));
});

test('fp16 zero points: kernel equals the reference at every width on awkward shapes', () => {
  forEachKernelPath((path) => {
    let seed = 10;
    const arena = new QuantArena();
    for (const [rows, cols] of [[1, 33], [7, 172], [5, 300], [2, 64]] as const) {
      for (const bits of [8, 6, 5, 4, 3, 2] as QuantBits[]) {
        for (const group of [32, 128] as QuantGroup[]) {
          const p = withF16Zeros(randomW(rows, cols, seed++), rows, cols, bits, group, seed++);
          const rng = new SeededRandom(seed++);
          const x = Float32Array.from({ length: cols }, () => rng.normal());
          const y = new Float32Array(rows), ref = new Float32Array(rows);
          new QuantLinear(p, arena).matvec(x, y);
          qmatvecReference(p, x, ref);
          for (let r = 0; r < rows; r++) assert.ok(Math.abs(y[r]! - ref[r]!) <= 1e-5 * (1 + Math.abs(ref[r]!)), `${path} ${rows}x${cols} b${bits} g${group}: ${y[r]} vs ${ref[r]}`);
        }
      }
    }
  });
});

test('checkPacked rejects both zero kinds, a wrong count, a NaN zero point', () => {
  const p = withF16Zeros(randomW(2, 64, 5), 2, 64, 4, 32, 6);
  const bad = (q: PackedMatrix): void => assert.throws(() => checkPacked(q), (e) => isZipmlError(e, 'E_ARG'));
  bad({ ...p, zeros: new Uint8Array(4) });
  bad({ ...p, zeroF16: new Uint16Array(3) });
  bad({ ...p, zeroF16: Uint16Array.from([0x7e00, 0, 0, 0]) });
  bad({ ...p, symmetric: true });
});
