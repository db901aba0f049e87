/**
 * PQ inverted lists resident in a private WebAssembly instance of the pqscan kernels, so that a
 * probed list is scanned in place: per list the caller writes one lookup table (M × ksub floats)
 * and one kernel call returns the list's values. Without it every probed list would be copied
 * into kernel memory first, which costs as much as scanning it.
 *
 * Layout in kernel memory: [table region][planes][scratch 256][out: longest list][lists...],
 * each list padded to a multiple of 16 rows plus slack, because pq4Scan reads 16 rows at a time
 * and up to 15 bytes past a row. The copy is rebuilt from the index's lists when they changed.
 */
import { privateKernel, type WasmKernel } from '../../kernels/loader.js';
import * as pqscanWasm from '../../kernels/generated/pqscan.js';
import { nibblePlanes, type PqscanExports } from '../codecs/pq.js';
import type { InvertedLists } from './lists.js';

// Lists with at least this many rows use the SIMD nibble kernel (its table set-up costs more
// than it saves on shorter lists).
const PQ4_MIN_ROWS = 64;
const SLACK = 16;

export class ResidentPQLists {
  private readonly k: WasmKernel<PqscanExports>;
  private readonly offsets: Float64Array;
  private readonly sizes: Int32Array;
  private readonly tablePtr: number;
  private readonly planesPtr: number;
  private readonly scratchPtr: number;
  private readonly outPtr: number;
  private readonly cs: number;
  readonly memoryBytes: number;

  /** Null when the WebAssembly path is not available (the caller scans from JS memory). */
  static create(lists: InvertedLists, M: number, nbits: number): ResidentPQLists | null {
    const k = privateKernel<PqscanExports>('pqscan', pqscanWasm.base64);
    return k ? new ResidentPQLists(k, lists, M, nbits) : null;
  }

  private constructor(k: WasmKernel<PqscanExports>, lists: InvertedLists, readonly M: number, readonly nbits: number) {
    this.k = k;
    const cs = lists.codeSize;
    this.cs = cs;
    const nlist = lists.nlist;
    this.offsets = new Float64Array(nlist);
    this.sizes = Int32Array.from(lists.sizes);
    let longest = 0, codeBytes = 0;
    for (let l = 0; l < nlist; l++) {
      const n = lists.sizes[l]!;
      longest = Math.max(longest, n);
      this.offsets[l] = codeBytes;
      codeBytes += ((((n + 15) & ~15) * cs + SLACK) + 63) & ~63;
    }
    const tableBytes = ((M << nbits) * 4 + 63) & ~63;
    const planesBytes = (M * 64 + 63) & ~63;
    const outBytes = (((longest + 15) & ~15) * 4 + 63) & ~63;
    const base = k.reserve(tableBytes + planesBytes + 256 + outBytes + codeBytes);
    this.tablePtr = base;
    this.planesPtr = base + tableBytes;
    this.scratchPtr = this.planesPtr + planesBytes;
    this.outPtr = this.scratchPtr + 256;
    const listsPtr = this.outPtr + outBytes;
    const u8 = k.u8;
    for (let l = 0; l < nlist; l++) {
      this.offsets[l] = listsPtr + this.offsets[l]!;
      u8.set(lists.list(l).codes, this.offsets[l]!);
    }
    this.memoryBytes = codeBytes;
  }

  /**
   * Values Σ_m table[m][code_m] of rows [from, from + n) of list l into out; `from` is a
   * multiple of 16 and n at most the kernel's output room (the longest list).
   */
  scan(l: number, table: Float32Array, from: number, n: number, out: Float32Array): void {
    if (n === 0) return;
    const k = this.k, M = this.M, cs = this.cs;
    const ptr = this.offsets[l]! + from * cs;
    if (this.nbits === 4 && n >= PQ4_MIN_ROWS) {
      k.u8.set(nibblePlanes(table, M), this.planesPtr);
      k.exports.pq4Scan(this.planesPtr, ptr, (n + 15) & ~15, cs, M, this.scratchPtr, this.outPtr);
    } else {
      new Float32Array(k.memory.buffer, this.tablePtr, table.length).set(table);
      k.exports.pqBitsScan(this.tablePtr, ptr, n, cs, M, this.nbits, this.outPtr);
    }
    out.set(new Float32Array(k.memory.buffer, this.outPtr, n));
  }
}
