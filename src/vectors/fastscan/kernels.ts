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
  fsTableStats(tables: number, nt: number, M: number, sign: number, mins: number): number;
  fsQuantizeTables(tables: number, nt: number, M: number, M2: number, sign: number, scale: number, mins: number, luts: number): void;
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
// Table quantization: up to QUANT_SUBTABLES sub-tables of 16 f32 per call (larger sets run on
// the reference, which gives the same bytes).
const QUANT_SUBTABLES = 4096;
const QT_OFF = UPPER_OFF + 128 * ACC_BLOCKS, QMINS_OFF = QT_OFF + 64 * QUANT_SUBTABLES;
const QLUT_OFF = QMINS_OFF + 4 * QUANT_SUBTABLES;
const FIXED_BYTES = QLUT_OFF + 32 * QUANT_SUBTABLES; // M2 ≤ 2M sub-tables out
// Below this many table entries the copies cost more than the kernel saves.
const QUANT_MIN_ENTRIES = 128;
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

/**
 * fsTableStats in f32: mins[i·M + m] = min_j sign·T_i[16m + j]; returns the largest f32 span
 * (NaN or ±Infinity when a value is not finite).
 */
export function fsTableStatsReference(tables: readonly Float32Array[], M: number, sign: number, mins: Float32Array): number {
  let span = 0;
  for (let i = 0; i < tables.length; i++) {
    const t = tables[i]!;
    for (let m = 0; m < M; m++) {
      let lo = Infinity, hi = -Infinity, bad = false;
      for (let j = 0; j < 16; j++) {
        const v = sign * t[m * 16 + j]!;
        if (v !== v) bad = true;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      mins[i * M + m] = lo;
      const w = Math.fround(hi - lo);
      span = bad ? NaN : span !== span ? span : Math.max(span, w);
    }
  }
  return span;
}

/** fsQuantizeTables in f32: luts[16(i·M2 + m) + j] = min(255, ⌊f32((sign·T − min)·scale) + 0.5⌋). */
export function fsQuantizeTablesReference(tables: readonly Float32Array[], M: number, sign: number, scale: number, mins: Float32Array, luts: Uint8Array): void {
  const f = Math.fround, M2 = fsM2(M);
  for (let i = 0; i < tables.length; i++) {
    const t = tables[i]!;
    for (let m = 0; m < M; m++) {
      const lo = mins[i * M + m]!, o = 16 * (i * M2 + m);
      for (let j = 0; j < 16; j++) {
        const x = f(f(f(sign * t[m * 16 + j]! - lo) * scale) + 0.5);
        luts[o + j] = x >= 255 ? 255 : Math.floor(x);
      }
    }
    if (M2 > M) luts.fill(0, 16 * (i * M2 + M), 16 * (i + 1) * M2);
  }
}

/**
 * Quantizes tables (M × 16 f32 each) with one common scale: minima into `mins` (nt·M), bytes
 * into `luts` (nt·M2·16). Returns the scale, or NaN when a value is not finite (nothing written
 * to luts then). WebAssembly or reference: the same bytes.
 */
export function quantizeTables(tables: readonly Float32Array[], M: number, sign: number, mins: Float32Array, luts: Uint8Array): number {
  const nt = tables.length, sub = nt * M;
  const k = sub * 16 >= QUANT_MIN_ENTRIES && sub <= QUANT_SUBTABLES ? kernel() : null;
  const scaleOf = (span: number): number => (span > 0 ? Math.fround(255 / span) : 1);
  if (!k) {
    const span = fsTableStatsReference(tables, M, sign, mins);
    if (!Number.isFinite(span)) return NaN;
    const scale = scaleOf(span);
    fsQuantizeTablesReference(tables, M, sign, scale, mins, luts);
    return scale;
  }
  const h = k.reserve(FIXED_BYTES);
  const f32 = new Float32Array(k.memory.buffer, h + QT_OFF, sub * 16);
  for (let i = 0; i < nt; i++) f32.set(tables[i]!.subarray(0, M * 16), i * M * 16);
  const span = k.exports.fsTableStats(h + QT_OFF, nt, M, sign, h + QMINS_OFF);
  mins.set(new Float32Array(k.memory.buffer, h + QMINS_OFF, sub));
  if (!Number.isFinite(span)) return NaN;
  const scale = scaleOf(span);
  const M2 = fsM2(M);
  k.exports.fsQuantizeTables(h + QT_OFF, nt, M, M2, sign, scale, h + QMINS_OFF, h + QLUT_OFF);
  luts.set(new Uint8Array(k.memory.buffer, h + QLUT_OFF, nt * M2 * 16));
  return scale;
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

/**
 * One query table over one packed list of n rows, on the WebAssembly path when available (the
 * table and the list are placed in kernel memory once per scanner), else the references.
 */
let views: { buffer: ArrayBuffer; i32: Int32Array; u16: Uint16Array } | null = null;
/** Int32 and Uint16 views of all kernel memory, rebuilt only after memory grows. */
function memoryViews(k: WasmKernel<FastscanExports>): { i32: Int32Array; u16: Uint16Array } {
  const buffer = k.memory.buffer;
  if (!views || views.buffer !== buffer) views = { buffer, i32: new Int32Array(buffer), u16: new Uint16Array(buffer) };
  return views;
}

// Candidate buffers shared by all scanners (one scan at a time per thread; a scanner per IVF list
// would otherwise allocate 6 KB per list and query).
const sharedRows = new Int32Array(SCAN_CAPACITY);
const sharedSums = new Uint16Array(SCAN_CAPACITY);

export class BlockScanner {
  /**
   * Candidate rows and sums of the last scan() (the first `count` entries). Shared by all
   * scanners: valid until the next scan() of any scanner.
   */
  readonly rows = sharedRows;
  readonly sums = sharedSums;
  count = 0;
  /** The first block the last scan() did not visit. */
  next = 0;
  nblocks = 0;
  lut: Uint8Array = new Uint8Array(0);
  packed: Uint8Array = new Uint8Array(0);
  n = 0;
  M = 1;
  private readonly k: WasmKernel<FastscanExports> | null;
  private codesPtr = 0;
  private M2 = 2;

  constructor(lut: Uint8Array, packed: Uint8Array, n: number, M: number) {
    this.k = kernel();
    this.reset(lut, packed, n, M);
  }

  /** Points the scanner at another table and list (an IVF search reuses one scanner per query). */
  reset(lut: Uint8Array, packed: Uint8Array, n: number, M: number): void {
    checkList(lut, packed, n, M, 'fast-scan');
    this.lut = lut;
    this.packed = packed;
    this.n = n;
    this.M = M;
    this.M2 = fsM2(M);
    this.nblocks = fsBlocks(n);
    if (lutOwner === this) lutOwner = null;
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
      // Element loops from cached whole-memory views: no view allocation per call.
      const v = memoryViews(k), r0 = (h + ROWS_OFF) >> 2, s0 = (h + SUMS_OFF) >> 1;
      for (let i = 0; i < cnt; i++) {
        this.rows[i] = v.i32[r0 + i]!;
        this.sums[i] = v.u16[s0 + i]!;
      }
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
