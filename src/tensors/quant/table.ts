/**
 * Non-uniform weight codes: each row (or each (row, group)) has a table of 2^bits fp16 values
 * (bits 2, 3 or 4: 4, 8 or 16 entries) and a weight is the table entry its code selects,
 * W[r, c] = T[t(r, c)][q(r, c)], t = r for one table per row, t = r * groupsPerRow + floor(c / group)
 * for one per (row, group). The codes are bit-packed exactly like the integer codes of packed.ts
 * (per row, least significant bits first, every row starting on a byte). The tables are fp16 bits,
 * table t occupying entries t * 2^bits .. t * 2^bits + 2^bits - 1; entries need not be sorted.
 * This is the layout SqueezeLLM's k-means produces (kmeans.ts); TableLinear runs on it with the
 * WebAssembly SIMD kernels of src/kernels/assembly/qmatmul.ts (qtabvec, qtabmatmul).
 */
import { ZipmlError } from '../../core/errors.js';
import { f16BitsToF32 } from '../../core/dtypes.js';
import type { WasmKernel } from '../../kernels/loader.js';
import type { LinearOp } from '../llm/linear.js';
import { type QuantGroup, QUANT_GROUPS, checkBatch, codeAt, forEachVector, groupsPerRow, rowBytesFor } from './packed.js';
import { QuantArena, type QmatExports, align } from './qmatvec.js';

export type TableBits = 2 | 3 | 4;
export const TABLE_BITS: readonly TableBits[] = [4, 3, 2];

export interface TableMatrix {
  rows: number;
  cols: number;
  bits: TableBits;
  /** Columns per table: 32, 64 or 128 for a table per (row, group); 0 for one table per row. */
  group: QuantGroup | 0;
  rowBytes: number;
  /** rows * rowBytes bytes of table indices. */
  codes: Uint8Array;
  /** fp16 bits, rows * tablesPerRow * 2^bits. */
  tables: Uint16Array;
}

export const tablesPerRow = (t: Pick<TableMatrix, 'cols' | 'group'>): number => (t.group ? groupsPerRow(t.cols, t.group) : 1);

/** Checks a table matrix's fields and array sizes. */
export function checkTable(t: TableMatrix): void {
  const bad = (m: string): never => {
    throw new ZipmlError('E_ARG', `table matrix: ${m}`);
  };
  if (!TABLE_BITS.includes(t.bits)) bad(`bit width ${t.bits} is not one of ${TABLE_BITS.join(', ')}`);
  if (t.group !== 0 && !QUANT_GROUPS.includes(t.group)) bad(`group ${t.group} is not 0 (a table per row) or one of ${QUANT_GROUPS.join(', ')}`);
  if (!Number.isInteger(t.rows) || !Number.isInteger(t.cols) || t.rows < 1 || t.cols < 1) bad(`shape ${t.rows} x ${t.cols}`);
  if (t.rowBytes !== rowBytesFor(t.cols, t.bits) || t.codes.length !== t.rows * t.rowBytes) bad(`codes hold ${t.codes.length} bytes, expected ${t.rows} x ${rowBytesFor(t.cols, t.bits)}`);
  const n = t.rows * tablesPerRow(t) << t.bits;
  if (t.tables.length !== n) bad(`${t.tables.length} table entries, expected ${n}`);
  if (t.tables.some((h) => (h & 0x7c00) === 0x7c00)) bad('a table entry is infinite or NaN');
}

/** Index of the first entry of the table that weight (r, c) uses. */
export const tableBase = (t: TableMatrix, r: number, c: number): number => (r * tablesPerRow(t) + (t.group ? Math.floor(c / t.group) : 0)) << t.bits;

/** W as the codes represent it, row-major fp32. */
export function dequantizeTable(t: TableMatrix): Float32Array {
  const out = new Float32Array(t.rows * t.cols);
  for (let r = 0; r < t.rows; r++) {
    for (let c = 0; c < t.cols; c++) out[r * t.cols + c] = f16BitsToF32(t.tables[tableBase(t, r, c) + codeAt(t, r, c)]!);
  }
  return out;
}

/** Storage in bits per weight: codes (with row padding) and the fp16 tables. */
export function tableBitsPerWeight(t: TableMatrix): number {
  return (8 * t.codes.length + 16 * t.tables.length) / (t.rows * t.cols);
}

/** Plain-TS y = T[q] x, summed in double. */
export function tableMatvecReference(t: TableMatrix, x: Float32Array, out: Float32Array): void {
  for (let r = 0; r < t.rows; r++) {
    let y = 0;
    for (let c = 0; c < t.cols; c++) y += f16BitsToF32(t.tables[tableBase(t, r, c) + codeAt(t, r, c)]!) * x[c]!;
    out[r] = y;
  }
}

/** A linear layer on value-table codes; the WASM kernels run when SIMD is available. */
export class TableLinear implements LinearOp {
  readonly rows: number;
  readonly cols: number;
  private readonly k: WasmKernel<QmatExports> | null;
  private ptr = { codes: 0, tables: 0, x: 0, f: 0, out: 0 };

  constructor(readonly table: TableMatrix, private readonly arena: QuantArena | null = new QuantArena()) {
    checkTable(table);
    this.rows = table.rows;
    this.cols = table.cols;
    this.k = arena?.kernel ?? null;
    if (!this.k) return;
    const a = arena!;
    this.ptr = { codes: a.put(table.codes), tables: a.put(table.tables), x: a.alloc(4 * table.cols), f: a.alloc(128), out: a.alloc(4 * table.rows) };
  }

  get usesKernel(): boolean {
    return this.k !== null;
  }

  get bitsPerWeight(): number {
    return tableBitsPerWeight(this.table);
  }

  private get tableCols(): number {
    return this.table.group || this.table.cols;
  }

  matvec(x: Float32Array, out: Float32Array): void {
    const k = this.k, t = this.table;
    if (!k) {
      tableMatvecReference(t, x, out);
      return;
    }
    const a = this.ptr, buf = k.memory.buffer;
    new Float32Array(buf, a.x, t.cols).set(x.subarray(0, t.cols));
    k.exports.qtabvec(t.bits, a.codes, t.rowBytes, a.tables, this.tableCols, t.rows, t.cols, a.x, a.f, a.out);
    out.set(new Float32Array(buf, a.out, t.rows));
  }

  /** Y = X T[q]^T for n row-major vectors: x is n x cols, out is n x rows. */
  matmul(x: Float32Array, n: number, out: Float32Array): void {
    const t = this.table;
    const k = this.k;
    if (!k) {
      forEachVector(t.rows, t.cols, x, n, out, (xv, o) => tableMatvecReference(t, xv, o));
      return;
    }
    checkBatch(t.rows, t.cols, x, n, out);
    const xb = align(4 * n * t.cols), ob = align(4 * n * t.rows);
    const xs = this.arena!.scratch(xb + ob + 512 + 4 * n), o = xs + xb, w = o + ob, d = w + 512;
    const buf = k.memory.buffer;
    new Float32Array(buf, xs, n * t.cols).set(x.subarray(0, n * t.cols));
    k.exports.qtabmatmul(t.bits, this.ptr.codes, t.rowBytes, this.ptr.tables, this.tableCols, t.rows, t.cols, xs, n, this.ptr.f, w, d, o);
    out.set(new Float32Array(buf, o, n * t.rows));
  }
}
