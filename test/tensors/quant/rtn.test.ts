/** RTN group quantization: bit packing, error bounds, the packed kernel against its reference, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32 } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { setKernelPath, simdSupported } from '../../../src/kernels/loader.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { type QuantBits, type QuantGroup, bitsPerWeight, codeAt, groupsPerRow, putCode, rowBytesFor, symmetricZero } from '../../../src/tensors/quant/packed.js';
import { QuantArena, QuantLinear, qmatvecReference } from '../../../src/tensors/quant/qmatvec.js';
import { dequantize, quantizeRTN } from '../../../src/tensors/quant/rtn.js';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  // Rows of different magnitudes and a few outliers, like real weight rows.
  return Float32Array.from({ length: rows * cols }, (_, i) => rng.normal() * (0.05 + 0.1 * (Math.floor(i / cols) % 3)) * (rng.float() < 0.01 ? 8 : 1));
}

test('putCode / codeAt round-trip random codes at every width, rows byte-aligned', () => {
  const rng = new SeededRandom(3);
  for (const bits of [2, 3, 4, 5, 6, 8] as const) {
    const rows = 5, cols = 37, rowBytes = rowBytesFor(cols, bits);
    const codes = new Uint8Array(rows * rowBytes);
    const want = Array.from({ length: rows * cols }, () => rng.u32() & ((1 << bits) - 1));
    want.forEach((q, i) => putCode(codes, rowBytes, bits, Math.floor(i / cols), i % cols, q));
    const p = { rows, cols, bits, group: 32 as const, symmetric: true, rowBytes, codes, scales: new Uint16Array(rows * 2), zeros: undefined };
    want.forEach((q, i) => assert.equal(codeAt(p, Math.floor(i / cols), i % cols), q));
  }
  // 4-bit order: element 2k in the low nibble of byte k.
  const c = new Uint8Array(1);
  putCode(c, 1, 4, 0, 0, 0x3);
  putCode(c, 1, 4, 0, 1, 0xa);
  assert.equal(c[0], 0xa3);
});

test('quantizeRTN: error within half a step, codes in range, symmetric grids are fixed points', () => {
  for (const bits of [8, 6, 5, 4, 3, 2] as QuantBits[]) {
    for (const group of [32, 64, 128] as QuantGroup[]) {
      for (const symmetric of [true, false]) {
        const rows = 6, cols = 172;
        const w = randomMatrix(rows, cols, bits * 1000 + group + (symmetric ? 1 : 0));
        const p = quantizeRTN(w, rows, cols, { bits, group, symmetric });
        const d = dequantize(p);
        const nG = groupsPerRow(cols, group);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const s = f16BitsToF32(p.scales[r * nG + Math.floor(c / group)]!);
            const err = Math.abs(w[r * cols + c]! - d[r * cols + c]!);
            assert.ok(err <= s / 2 + 1e-7, `bits ${bits} group ${group} sym ${symmetric}: |err| ${err} > s/2 = ${s / 2}`);
          }
        }
        // Symmetric codes are a fixed point: the grid's own values requantize to themselves.
        if (symmetric) assert.deepEqual(dequantize(quantizeRTN(d, rows, cols, { bits, group, symmetric })), d);
        const bpw = bitsPerWeight(p);
        const expect = bits + 16 / group + (symmetric ? 0 : 8 / group);
        assert.ok(Math.abs(bpw - expect) < 0.2, `bits per weight ${bpw} vs ${expect}`);
      }
    }
  }
  // Symmetric: the largest magnitude of a group is exact (up to the fp16 scale).
  const w = Float32Array.from([0.5, -1, 0.25, 0, ...new Array(28).fill(0.1)]);
  const p = quantizeRTN(w, 1, 32, { bits: 4, group: 32 });
  assert.equal(codeAt(p, 0, 1), symmetricZero(4) - 7);
  assert.ok(Math.abs(dequantize(p)[1]! + 1) < 1e-3);
});

test('packed matvec: WASM kernel (every width) and reference agree with dequantized fp32 on seeded shapes', () => {
  const shapes: [number, number][] = [[5, 64], [7, 172], [3, 33], [13, 300], [64, 64], [1, 16], [2, 17]];
  const paths = simdSupported() ? (['wasm-simd', 'reference'] as const) : (['reference'] as const);
  let seed = 1;
  try {
    for (const path of paths) {
      setKernelPath(path);
      const arena = new QuantArena();
      for (const [rows, cols] of shapes) {
        for (const bits of [8, 6, 5, 4, 3, 2] as QuantBits[]) {
          for (const group of [32, 64, 128] as QuantGroup[]) {
            for (const symmetric of [true, false]) {
              const w = randomMatrix(rows, cols, seed++);
              const rng = new SeededRandom(seed++);
              const x = Float32Array.from({ length: cols }, () => rng.normal());
              const p = quantizeRTN(w, rows, cols, { bits, group, symmetric });
              const lin = new QuantLinear(p, arena);
              assert.equal(lin.usesKernel, path === 'wasm-simd');
              const y = new Float32Array(rows), ref = new Float32Array(rows), dense = new Float32Array(rows);
              lin.matvec(x, y);
              qmatvecReference(p, x, ref);
              new DenseLinear(dequantize(p), rows, cols).matvec(x, dense);
              for (let r = 0; r < rows; r++) {
                let mag = 0;
                for (let c = 0; c < cols; c++) mag += Math.abs(w[r * cols + c]! * x[c]!);
                const tol = 1e-5 * (mag + 1);
                assert.ok(Math.abs(y[r]! - ref[r]!) <= tol, `${path} ${rows}x${cols} b${bits} g${group} sym ${symmetric} row ${r}: ${y[r]} vs ${ref[r]}`);
                assert.ok(Math.abs(dense[r]! - ref[r]!) <= tol, `dense ${rows}x${cols} b${bits}: ${dense[r]} vs ${ref[r]}`);
              }
            }
          }
        }
      }
    }
  } finally {
    setKernelPath(undefined);
  }
});

test('bad input gives ZipmlError: bit width, group, shape, NaN, scale overflow', () => {
  const w = new Float32Array(64).fill(0.5);
  const err = (f: () => unknown): void => assert.throws(f, (e) => isZipmlError(e, 'E_ARG'));
  err(() => quantizeRTN(w, 1, 64, { bits: 7 as QuantBits, group: 32 }));
  err(() => quantizeRTN(w, 1, 64, { bits: 4, group: 48 as QuantGroup }));
  err(() => quantizeRTN(w, 2, 64, { bits: 4, group: 32 }));
  const nan = w.slice();
  nan[9] = NaN;
  err(() => quantizeRTN(nan, 1, 64, { bits: 4, group: 32 }));
  err(() => quantizeRTN(new Float32Array(32).fill(1e9), 1, 32, { bits: 8, group: 32 }));
  const p = quantizeRTN(w, 1, 64, { bits: 4, group: 32 });
  err(() => new QuantLinear({ ...p, codes: p.codes.subarray(1) }));
  err(() => new QuantLinear({ ...p, zeros: new Uint8Array(2) }));
});
