/**
 * TS side of the fast-scan kernels (src/kernels/assembly/fastscan.ts): the plain-TS references,
 * which the kernel tests require to give identical integers, and `BlockScanner`, which runs one
 * query's table over one packed list on whichever path is active.
 *
 * Packed lists stay resident in kernel memory: the first scan of a list copies it in, later scans
 * of the same Uint8Array with the same row count reuse the copy (an index scanned by many queries
 * pays the copy once). The cache is keyed by the array and its row count, so a list must change
 * only through appendFastScan (which changes n); it holds at most RESIDENT_LIMIT bytes and starts
 * over when full.
 */
import { ZipmlError } from '../../core/errors.js';
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as fastscanWasm from '../../kernels/generated/fastscan.js';
import { FS_BLOCK, fsBlockBytes, fsBlocks, fsM2 } from './layout.js';

interface FastscanExports {
  fsAccumulate(lut: number, codes: number, b0: number, b1: number, M2: number, out: number): void;
  fsScan(lut: number, codes: number, b0: number, b1: number, M2: number, n: number, limit: number, outRows: number, outSums: number, cap: number, scratch: number): number;
  scanNext(): number;
  fsBounds(lut: number, codes: number, factors: number, b0: number, b1: number, M2: number, consts: number, lower: number, upper: number, scratch: number): void;
}

/** Candidates one threshold-scan call may return (it stops after the block that leaves < 32 free). */
export const SCAN_CAPACITY = 1024;
// Blocks per fsAccumulate call (their sums go through a fixed window of kernel memory).
const ACC_BLOCKS = 1024;
// Fixed kernel memory: table (≤ 256·16), block scratch, candidate rows and sums, sums window.
const LUT_OFF = 0, SCRATCH_OFF = 4096, ROWS_OFF = 4096 + 64, SUMS_OFF = ROWS_OFF + 4 * SCAN_CAPACITY;
const ACC_OFF = SUMS_OFF + 2 * SCAN_CAPACITY;
const CONSTS_OFF = ACC_OFF + 64 * ACC_BLOCKS;
const LOWER_OFF = CONSTS_OFF + 64, UPPER_OFF = LOWER_OFF + 128 * ACC_BLOCKS;
const FIXED_BYTES = UPPER_OFF + 128 * ACC_BLOCKS;
/** Per-row factor floats per block in the layout fsBounds reads (four runs of 32). */
export const FS_FACTORS_PER_BLOCK = 128;
const RESIDENT_LIMIT = 1 << 30;

interface Resident {
  ptr: number;
  n: number;
  bytes: number;
  epoch: number;
}
const resident = new WeakMap<object, Resident>();
let epoch = 0;
let used = 0;
// The scanner whose table is in kernel memory now (scanners of several lists may interleave).
let lutOwner: object | null = null;

function kernel(): WasmKernel<FastscanExports> | null {
  return wasmKernel<FastscanExports>('fastscan', fastscanWasm.base64);
}

/**
 * The kernel-memory address of the first `bytes` bytes of an array (a packed list, or its factors),
 * copying it in unless it is there with the same row count n.
 */
function residentCodes(k: WasmKernel<FastscanExports>, array: Uint8Array | Float32Array, n: number, bytes: number): number {
  const r = resident.get(array);
  if (r && r.epoch === epoch && r.n === n && r.bytes === bytes) return r.ptr;
  if (bytes > RESIDENT_LIMIT) throw new ZipmlError('E_LIMIT', `fast-scan: a list of ${bytes} bytes exceeds the ${RESIDENT_LIMIT}-byte kernel cache`);
  if (used + bytes > RESIDENT_LIMIT) {
    epoch++;
    used = 0;
  }
  const base = k.reserve(FIXED_BYTES + used + bytes + 16);
  const ptr = base + FIXED_BYTES + used;
  k.u8.set(new Uint8Array(array.buffer, array.byteOffset, bytes), ptr);
  used += (bytes + 15) & ~15;
  resident.set(array, { ptr, n, bytes, epoch });
  return ptr;
}

function checkList(lut: Uint8Array, packed: Uint8Array, n: number, M: number, what: string): void {
  if (lut.length < fsM2(M) * 16) throw new ZipmlError('E_ARG', `${what}: the table has ${lut.length} bytes, expected ${fsM2(M) * 16}`);
  if (!Number.isInteger(n) || n < 0 || packed.length < fsBlocks(n) * fsBlockBytes(M)) {
    throw new ZipmlError('E_ARG', `${what}: ${packed.length} packed bytes hold fewer than ${n} rows of M = ${M}`);
  }
}

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

/** Sums of blocks [b0, b1): row 32b + j at out[32(b − b0) + j]. */
export function fsAccumulateReference(lut: Uint8Array, packed: Uint8Array, b0: number, b1: number, M: number, out: Uint16Array): void {
  const M2 = fsM2(M), bb = 16 * M2;
  for (let b = b0; b < b1; b++) {
    const o = b * bb;
    for (let j = 0; j < FS_BLOCK; j++) {
      let s = 0;
      for (let p = 0; p < M2 >> 1; p++) {
        const v = packed[o + 32 * p + j]!;
        s += lut[32 * p + (v & 15)]! + lut[32 * p + 16 + (v >> 4)]!;
      }
      out[(b - b0) * FS_BLOCK + j] = s;
    }
  }
}

/**
 * Threshold scan of blocks [b0, b1) of a list of n rows: the (row, sum) of rows with sum ≤ limit,
 * in row order; stops after the block that leaves fewer than 32 of `cap` slots free. Returns the
 * count and the first block not visited (the kernel's exact semantics).
 */
export function fsScanReference(lut: Uint8Array, packed: Uint8Array, b0: number, b1: number, M: number, n: number, limit: number, rows: Int32Array, sums: Uint16Array, cap: number): { count: number; next: number } {
  const block = new Uint16Array(FS_BLOCK);
  let count = 0, b = b0;
  while (b < b1) {
    fsAccumulateReference(lut, packed, b, b + 1, M, block);
    const end = Math.min(FS_BLOCK, n - b * FS_BLOCK);
    for (let j = 0; j < end; j++) {
      if (block[j]! <= limit) {
        rows[count] = b * FS_BLOCK + j;
        sums[count++] = block[j]!;
      }
    }
    b++;
    if (count > cap - 32) break;
  }
  return { count, next: b };
}

/**
 * fsBounds's arithmetic in the same f32 order: for rows of blocks [b0, b1), with
 * c = [A, α, β, γ, off, inv, cε, cq] and the factors of row r at 128⌊r/32⌋ + 32f + r mod 32:
 * key = ((A + α·|r|²) + β·cdot) + γ·(dp·(off + s·inv)), w = cε·err + cq·dp, lower/upper = key ∓ w.
 */
export function fsBoundsReference(lut: Uint8Array, packed: Uint8Array, factors: Float32Array, b0: number, b1: number, M: number, c: Float32Array, lower: Float32Array, upper: Float32Array): void {
  const f = Math.fround;
  const sums = new Uint16Array(FS_BLOCK);
  for (let b = b0; b < b1; b++) {
    fsAccumulateReference(lut, packed, b, b + 1, M, sums);
    for (let j = 0; j < FS_BLOCK; j++) {
      const o = b * FS_FACTORS_PER_BLOCK + j;
      const rn2 = factors[o]!, dp = factors[o + 32]!, cd = factors[o + 64]!, err = factors[o + 96]!;
      const e = f(dp * f(c[4]! + f(sums[j]! * c[5]!)));
      const key = f(f(f(c[0]! + f(c[1]! * rn2)) + f(c[2]! * cd)) + f(c[3]! * e));
      const w = f(f(c[6]! * err) + f(c[7]! * dp));
      const r = (b - b0) * FS_BLOCK + j;
      lower[r] = f(key - w);
      upper[r] = f(key + w);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

/**
 * One query table over one packed list of n rows, on the WebAssembly path when available (the
 * table and the list are placed in kernel memory once per scanner), else the references.
 */
export class BlockScanner {
  /** Candidate rows and sums of the last scan() (the first `count` entries). */
  readonly rows = new Int32Array(SCAN_CAPACITY);
  readonly sums = new Uint16Array(SCAN_CAPACITY);
  count = 0;
  /** The first block the last scan() did not visit. */
  next = 0;
  readonly nblocks: number;
  private readonly k: WasmKernel<FastscanExports> | null;
  private codesPtr = 0;
  private readonly M2: number;

  constructor(readonly lut: Uint8Array, readonly packed: Uint8Array, readonly n: number, readonly M: number) {
    checkList(lut, packed, n, M, 'fast-scan');
    this.M2 = fsM2(M);
    this.nblocks = fsBlocks(n);
    this.k = n > 0 ? kernel() : null;
  }

  /** Places the table and the list in kernel memory unless they are still there. */
  private ensure(k: WasmKernel<FastscanExports>): void {
    this.codesPtr = residentCodes(k, this.packed, this.n, this.nblocks * fsBlockBytes(this.M));
    if (lutOwner !== this) {
      k.u8.set(this.lut.subarray(0, this.M2 * 16), k.heapBase + LUT_OFF);
      lutOwner = this;
    }
  }

  /**
   * Candidates of blocks [b0, b1) with sum ≤ limit (−1 … 65535) into rows/sums; sets count and
   * next. Stops early when SCAN_CAPACITY − 32 candidates are held: call again from `next`.
   */
  scan(b0: number, b1: number, limit: number): number {
    const k = this.k;
    if (!Number.isInteger(b0) || !Number.isInteger(b1) || b0 < 0 || b1 > this.nblocks || !Number.isInteger(limit)) {
      throw new ZipmlError('E_ARG', `fast-scan: blocks [${b0}, ${b1}) and limit ${limit} must be integers within the list's ${this.nblocks} blocks`);
    }
    if (limit < 0 || b0 >= b1) {
      this.count = 0;
      this.next = b1;
      return 0;
    }
    if (!k) {
      const r = fsScanReference(this.lut, this.packed, b0, b1, this.M, this.n, limit, this.rows, this.sums, SCAN_CAPACITY);
      this.count = r.count;
      this.next = r.next;
      return r.count;
    }
    this.ensure(k);
    const h = k.heapBase;
    const cnt = k.exports.fsScan(h + LUT_OFF, this.codesPtr, b0, b1, this.M2, this.n, Math.min(limit, 65535), h + ROWS_OFF, h + SUMS_OFF, SCAN_CAPACITY, h + SCRATCH_OFF);
    this.count = cnt;
    this.next = k.exports.scanNext();
    if (cnt > 0) {
      this.rows.set(new Int32Array(k.memory.buffer, h + ROWS_OFF, cnt));
      this.sums.set(new Uint16Array(k.memory.buffer, h + SUMS_OFF, cnt));
    }
    return cnt;
  }

  /**
   * Lower and upper bounds of all n rows (fsBounds; see fsBoundsReference for the arithmetic):
   * `factors` holds FS_FACTORS_PER_BLOCK floats per block, `consts` the 8 constants.
   */
  bounds(factors: Float32Array, consts: Float32Array, lower: Float32Array, upper: Float32Array): void {
    if (factors.length < this.nblocks * FS_FACTORS_PER_BLOCK || consts.length < 8 || lower.length < this.n || upper.length < this.n) {
      throw new ZipmlError('E_ARG', `fast-scan bounds: arrays too short for ${this.n} rows`);
    }
    const k = this.k;
    for (let b0 = 0; b0 < this.nblocks; b0 += ACC_BLOCKS) {
      const b1 = Math.min(this.nblocks, b0 + ACC_BLOCKS);
      const rows = Math.min(this.n, b1 * FS_BLOCK) - b0 * FS_BLOCK;
      if (!k) {
        const lo = new Float32Array((b1 - b0) * FS_BLOCK), up = new Float32Array((b1 - b0) * FS_BLOCK);
        fsBoundsReference(this.lut, this.packed, factors, b0, b1, this.M, consts, lo, up);
        lower.set(lo.subarray(0, rows), b0 * FS_BLOCK);
        upper.set(up.subarray(0, rows), b0 * FS_BLOCK);
        continue;
      }
      this.ensure(k);
      const fptr = residentCodes(k, factors, this.n, this.nblocks * FS_FACTORS_PER_BLOCK * 4);
      // Placing the factors may have grown memory or moved the cache epoch: re-check the codes.
      this.ensure(k);
      const h = k.heapBase;
      k.u8.set(new Uint8Array(consts.buffer, consts.byteOffset, 32), h + CONSTS_OFF);
      k.exports.fsBounds(h + LUT_OFF, this.codesPtr, fptr, b0, b1, this.M2, h + CONSTS_OFF, h + LOWER_OFF, h + UPPER_OFF, h + SCRATCH_OFF);
      lower.set(new Float32Array(k.memory.buffer, h + LOWER_OFF, rows), b0 * FS_BLOCK);
      upper.set(new Float32Array(k.memory.buffer, h + UPPER_OFF, rows), b0 * FS_BLOCK);
    }
  }

  /** The sums of all n rows. */
  accumulate(out: Uint16Array): void {
    if (out.length < this.n) throw new ZipmlError('E_ARG', `fast-scan accumulate: output of ${out.length} for ${this.n} rows`);
    const k = this.k;
    for (let b0 = 0; b0 < this.nblocks; b0 += ACC_BLOCKS) {
      const b1 = Math.min(this.nblocks, b0 + ACC_BLOCKS);
      const rows = Math.min(this.n, b1 * FS_BLOCK) - b0 * FS_BLOCK;
      if (!k) {
        const tmp = new Uint16Array((b1 - b0) * FS_BLOCK);
        fsAccumulateReference(this.lut, this.packed, b0, b1, this.M, tmp);
        out.set(tmp.subarray(0, rows), b0 * FS_BLOCK);
        continue;
      }
      this.ensure(k);
      const h = k.heapBase;
      k.exports.fsAccumulate(h + LUT_OFF, this.codesPtr, b0, b1, this.M2, h + ACC_OFF);
      out.set(new Uint16Array(k.memory.buffer, h + ACC_OFF, rows), b0 * FS_BLOCK);
    }
  }
}

/** The uint16 sums of all n rows of a packed list under a quantized table (lut: M2 × 16 bytes). */
export function fastScanAccumulate(lut: Uint8Array, packed: Uint8Array, n: number, M: number, out: Uint16Array): void {
  new BlockScanner(lut, packed, n, M).accumulate(out);
}
