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
import type { PqscanExports } from '../codecs/pq.js';

interface ResidentExports extends PqscanExports {
  combineTable(qt: number, pre: number, n: number, out: number): void;
  planesOf(t: number, M: number, out: number): void;
}

/** Reference of the combineTable kernel: an IVF-PQ list's table pre_l − 2·qt, in f32. */
export function combineTableReference(qt: Float32Array, pre: Float32Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(pre[i]! - Math.fround(2 * qt[i]!));
}
import type { InvertedLists } from './lists.js';

// Lists with at least this many rows use the SIMD nibble kernel (its table set-up costs more
// than it saves on shorter lists).
const PQ4_MIN_ROWS = 64;
const SLACK = 16;

export class ResidentPQLists {
  private readonly k: WasmKernel<ResidentExports>;
  private readonly prePtr: number;
  private readonly qtPtr: number;
  private readonly per: number;
  private readonly offsets: Float64Array;
  private readonly sizes: Int32Array;
  private readonly tablePtr: number;
  private readonly planesPtr: number;
  private readonly scratchPtr: number;
  private readonly outPtr: number;
  private readonly cs: number;
  readonly memoryBytes: number;

  /** Null when the WebAssembly path is not available (the caller scans from JS memory). */
  static create(lists: InvertedLists, M: number, nbits: number, pre: Float32Array | null = null): ResidentPQLists | null {
    const k = privateKernel<ResidentExports>('pqscan', pqscanWasm.base64);
    return k ? new ResidentPQLists(k, lists, M, nbits, pre) : null;
  }

  /**
   * `pre`: IVF-PQ precomputed tables (nlist × M·ksub), kept resident too, so that scanPre builds
   * each list's table in kernel memory from the query's table set by setQueryTable.
   */
  private constructor(k: WasmKernel<ResidentExports>, lists: InvertedLists, readonly M: number, readonly nbits: number, pre: Float32Array | null) {
    this.k = k;
    this.per = M << nbits;
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
    const preBytes = pre ? (pre.length * 4 + 63) & ~63 : 0;
    const base = k.reserve(2 * tableBytes + preBytes + planesBytes + 256 + outBytes + codeBytes);
    this.qtPtr = base;
    this.prePtr = base + tableBytes;
    this.tablePtr = this.prePtr + preBytes;
    this.planesPtr = this.tablePtr + tableBytes;
    this.scratchPtr = this.planesPtr + planesBytes;
    this.outPtr = this.scratchPtr + 256;
    const listsPtr = this.outPtr + outBytes;
    if (pre) new Float32Array(k.memory.buffer, this.prePtr, pre.length).set(pre);
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
    new Float32Array(this.k.memory.buffer, this.tablePtr, table.length).set(table);
    this.scanTable(l, from, n, out);
  }

  /** Sets the query's inner-product table (M × ksub) for scanPre. */
  setQueryTable(qt: Float32Array): void {
    new Float32Array(this.k.memory.buffer, this.qtPtr, qt.length).set(qt);
  }

  /** scan() with list l's table pre_l − 2·qt built in kernel memory (see create's `pre`). */
  scanPre(l: number, from: number, n: number, out: Float32Array): void {
    if (n === 0) return;
    this.k.exports.combineTable(this.qtPtr, this.prePtr + l * this.per * 4, this.per, this.tablePtr);
    this.scanTable(l, from, n, out);
  }

  /** The scan of rows [from, from + n) of list l with the table at tablePtr. */
  private scanTable(l: number, from: number, n: number, out: Float32Array): void {
    const k = this.k, M = this.M, cs = this.cs;
    const ptr = this.offsets[l]! + from * cs;
    if (this.nbits === 4 && n >= PQ4_MIN_ROWS) {
      k.exports.planesOf(this.tablePtr, M, this.planesPtr);
      k.exports.pq4Scan(this.planesPtr, ptr, (n + 15) & ~15, cs, M, this.scratchPtr, this.outPtr);
    } else {
      k.exports.pqBitsScan(this.tablePtr, ptr, n, cs, M, this.nbits, this.outPtr);
    }
    out.set(new Float32Array(k.memory.buffer, this.outPtr, n));
  }
}
