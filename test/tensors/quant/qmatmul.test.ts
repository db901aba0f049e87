/** Matrix x matrix on integer codes: the WASM kernel against the reference at every width and zero kind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { SeededRandom } from '../../../src/core/random.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { QuantArena, QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { linearMatmul, qmatmulReference } from '../../../src/tensors/quant/qmatmul.js';
import { quantizeRTN } from '../../../src/tensors/quant/rtn.js';
import { withF16Zeros, forEachKernelPath } from './quant-util.js';

test('qmatmul: kernel equals the reference for n = 1..9 vectors, every width, symmetric / u8 / fp16 zero points', () => {
  forEachKernelPath((path) => {
    let seed = 500;
    const arena = new QuantArena();
    for (const [rows, cols] of [[1, 33], [5, 172], [3, 300], [4, 64]] as const) {
      for (const bits of [8, 6, 5, 4, 3, 2] as QuantBits[]) {
        for (const group of [32, 128] as QuantGroup[]) {
          for (const zk of ['sym', 'u8', 'f16'] as const) {
            const rng = new SeededRandom(seed++);
            const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05);
            const p = zk === 'f16' ? withF16Zeros(w, rows, cols, bits, group, seed++) : quantizeRTN(w, rows, cols, { bits, group, symmetric: zk === 'sym' });
            const lin = new QuantLinear(p, arena);
            const n = 1 + (seed % 9);
            const x = Float32Array.from({ length: n * cols }, () => rng.normal());
            const y = new Float32Array(n * rows), ref = new Float32Array(n * rows);
            lin.matmul(x, n, y);
            qmatmulReference(p, x, n, ref);
            for (let i = 0; i < n * rows; i++) {
              assert.ok(Math.abs(y[i]! - ref[i]!) <= 1e-5 * (1 + Math.abs(ref[i]!)), `${path} ${rows}x${cols} b${bits} g${group} ${zk} n${n} [${i}]: ${y[i]} vs ${ref[i]}`);
            }
          }
        }
      }
    }
  });
});

test('linearMatmul falls back to one matvec per vector for layers without matmul; sizes are checked', () => {
  const rng = new SeededRandom(9);
  const w = Float32Array.from({ length: 3 * 40 }, () => rng.normal());
  const dense = new DenseLinear(w, 3, 40);
  const x = Float32Array.from({ length: 2 * 40 }, () => rng.normal());
  const y = new Float32Array(6), one = new Float32Array(3);
  linearMatmul(dense, x, 2, y);
  dense.matvec(x.subarray(40), one);
  assert.deepEqual(y.subarray(3), one);
  assert.throws(() => linearMatmul(dense, x, 3, y), (e) => isZipmlError(e, 'E_ARG'));
  const p = quantizeRTN(w, 3, 40, { bits: 4, group: 32 });
  assert.throws(() => new QuantLinear(p, null).matmul(x, 2, new Float32Array(5)), (e) => isZipmlError(e, 'E_ARG'));
});
