/** Value-table codes: layout, dequantize, bits per weight, the SIMD kernels against the reference, checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { type QuantGroup, putCode, rowBytesFor } from '../../../src/tensors/quant/packed.js';
import { QuantArena } from '../../../src/tensors/quant/qmatvec.js';
import { tableMatmulReference } from '../../../src/tensors/quant/qmatmul.js';
import { type TableBits, type TableMatrix, TableLinear, checkTable, dequantizeTable, tableBitsPerWeight, tableMatvecReference, tablesPerRow } from '../../../src/tensors/quant/table.js';
import { forEachKernelPath } from './quant-util.js';

/** Random codes and random (unsorted, signed) fp16 tables. */
export function randomTable(rows: number, cols: number, bits: TableBits, group: QuantGroup | 0, seed: number): TableMatrix {
  const rng = new SeededRandom(seed);
  const rowBytes = rowBytesFor(cols, bits), codes = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) putCode(codes, rowBytes, bits, r, c, rng.u32() & ((1 << bits) - 1));
  const tables = Uint16Array.from({ length: (rows * tablesPerRow({ cols, group })) << bits }, () => f32ToF16Bits(rng.normal() * 0.1));
  return { rows, cols, bits, group, rowBytes, codes, tables };
}

const SHAPES: [number, number][] = [[1, 16], [1, 33], [3, 100], [7, 172], [4, 300], [2, 64]];


test('dequantizeTable picks entry q of the row / group table; bits per weight counts the tables', () => {
  const t = randomTable(2, 70, 3, 32, 1);
  t.codes.fill(0);
  putCode(t.codes, t.rowBytes, 3, 1, 65, 5); // row 1, column 65: group 2, entry 5
  const d = dequantizeTable(t);
  const tab1g2 = (1 * 3 + 2) * 8;
  assert.equal(d[70 + 65], f16BitsToF32(t.tables[tab1g2 + 5]!));
  assert.equal(d[70 + 64], f16BitsToF32(t.tables[tab1g2]!));
  assert.equal(d[0], f16BitsToF32(t.tables[0]!));
  assert.equal(tableBitsPerWeight(t), (8 * 2 * 27 + 16 * 2 * 3 * 8) / 140);
  const perRow = randomTable(4, 4096, 4, 0, 2);
  assert.ok(Math.abs(tableBitsPerWeight(perRow) - (4 + 256 / 4096)) < 1e-12);
});

test('table matvec and matmul: WASM kernels equal the reference (and dense fp32) at 4/3/2 bits, per row and per group', () => {
  forEachKernelPath((path) => {
    let seed = 100;
    const arena = new QuantArena();
    for (const [rows, cols] of SHAPES) {
      for (const bits of [4, 3, 2] as TableBits[]) {
        for (const group of [0, 32, 128] as (QuantGroup | 0)[]) {
          const t = randomTable(rows, cols, bits, group, seed++);
          const lin = new TableLinear(t, arena);
          assert.equal(lin.usesKernel, path === 'wasm-simd');
          const rng = new SeededRandom(seed++);
          for (const n of [1, 3, 6]) {
            const x = Float32Array.from({ length: n * cols }, () => rng.normal());
            const y = new Float32Array(n * rows), ref = new Float32Array(n * rows), mv = new Float32Array(rows), dense = new Float32Array(rows);
            lin.matmul(x, n, y);
            tableMatmulReference(t, x, n, ref);
            const dl = new DenseLinear(dequantizeTable(t), rows, cols);
            for (let j = 0; j < n; j++) {
              const xj = x.subarray(j * cols, (j + 1) * cols);
              lin.matvec(xj, mv);
              dl.matvec(xj, dense);
              for (let r = 0; r < rows; r++) {
                const want = ref[j * rows + r]!, tol = 1e-5 * (1 + Math.sqrt(cols));
                const tag = `${path} ${rows}x${cols} b${bits} g${group} n${n} vec ${j} row ${r}`;
                assert.ok(Math.abs(y[j * rows + r]! - want) <= tol, `matmul ${tag}: ${y[j * rows + r]} vs ${want}`);
                assert.ok(Math.abs(mv[r]! - want) <= tol, `matvec ${tag}: ${mv[r]} vs ${want}`);
                assert.ok(Math.abs(dense[r]! - want) <= tol, `dense ${tag}`);
              }
            }
          }
        }
      }
    }
  });
});

test('checkTable: bad bit width, group, sizes, a NaN entry give E_ARG; matmul checks its sizes', () => {
  const t = randomTable(2, 64, 4, 32, 7);
  const bad = (u: TableMatrix): void => assert.throws(() => checkTable(u), (e) => isZipmlError(e, 'E_ARG'));
  bad({ ...t, bits: 5 as TableBits });
  bad({ ...t, group: 48 as QuantGroup });
  bad({ ...t, codes: t.codes.subarray(1) });
  bad({ ...t, tables: t.tables.subarray(1) });
  const nan = t.tables.slice();
  nan[3] = 0x7e00;
  bad({ ...t, tables: nan });
  assert.throws(() => new TableLinear(t, null).matmul(new Float32Array(10), 1, new Float32Array(2)), (e) => isZipmlError(e, 'E_ARG'));
});
