/**
 * y = W_q x on packed group-quantized weights. The WebAssembly SIMD kernel
 * (src/kernels/assembly/qmatmul.ts) reads the codes of every width (8, 6, 5, 4, 3, 2 bits)
 * straight from kernel memory, where a QuantLinear keeps them resident (codes, fp16 scales, zero
 * points: nothing is expanded to fp32); the reference path runs qmatvecReference, which computes
 * the same sums in plain TypeScript. test/tensors/quant/qmatvec.test.ts holds the two together.
 */
import { f16BitsToF32 } from '../../core/dtypes.js';
import { type WasmKernel, privateKernel } from '../../kernels/loader.js';
import * as qmatmulWasm from '../../kernels/generated/qmatmul.js';
import type { LinearOp } from '../llm/linear.js';
import { type PackedMatrix, bitsPerWeight, checkBatch, checkPacked, forEachVector, codeAt, groupsPerRow, symmetricZero, zeroPoint } from './packed.js';

/** The exports of src/kernels/assembly/qmatmul.ts (pointers are byte offsets in kernel memory). */
export interface QmatExports {
  qmatvec(bits: number, codes: number, rowBytes: number, scales: number, zeros: number, zeroKind: number, symZero: number, rows: number, cols: number, group: number, x: number, gs: number, out: number): void;
  qmatmul(bits: number, codes: number, rowBytes: number, scales: number, zeros: number, zeroKind: number, symZero: number, rows: number, cols: number, group: number, xs: number, n: number, gs: number, w: number, d: number, out: number): void;
  qtabvec(bits: number, codes: number, rowBytes: number, tables: number, tableCols: number, rows: number, cols: number, x: number, f: number, out: number): void;
  qtabmatmul(bits: number, codes: number, rowBytes: number, tables: number, tableCols: number, rows: number, cols: number, xs: number, n: number, f: number, w: number, d: number, out: number): void;
  matvecF32(w: number, rows: number, cols: number, x: number, out: number): void;
}

/** How the kernels read zero points: 0 = symmetric constant, 1 = u8 per group, 2 = fp16 per group. */
export const zeroKind = (p: PackedMatrix): number => (p.zeroF16 ? 2 : p.zeros ? 1 : 0);

/** Plain-TS y = W_q x: per group, scale * (sum q x - zero * sum x), in double. */
export function qmatvecReference(p: PackedMatrix, x: Float32Array, out: Float32Array): void {
  const nG = groupsPerRow(p.cols, p.group);
  const gs = new Float64Array(nG);
  for (let c = 0; c < p.cols; c++) gs[Math.floor(c / p.group)]! += x[c]!;
  for (let r = 0; r < p.rows; r++) {
    let y = 0;
    for (let g = 0; g < nG; g++) {
      let dot = 0;
      const c1 = Math.min(p.cols, (g + 1) * p.group);
      for (let c = g * p.group; c < c1; c++) dot += codeAt(p, r, c) * x[c]!;
      const i = r * nG + g;
      y += f16BitsToF32(p.scales[i]!) * (dot - zeroPoint(p, i) * gs[g]!);
    }
    out[r] = y;
  }
}

/** n rounded up to a multiple of 64 (kernel buffers start on cache lines). */
export const align = (n: number): number => Math.ceil(n / 64) * 64;

/**
 * Kernel memory shared by many packed layers (one model): a bump allocator over one private kernel
 * instance, so each layer's codes are copied in once and stay there.
 */
export class QuantArena {
  readonly kernel: WasmKernel<QmatExports> | null;
  private top = 0;

  constructor() {
    this.kernel = privateKernel<QmatExports>('qmatmul', qmatmulWasm.base64);
  }

  /** Offset of `bytes` fresh bytes in kernel memory (null kernel: never called). */
  alloc(bytes: number): number {
    const k = this.kernel!;
    const at = k.reserve(this.top + align(bytes)) + this.top;
    this.top += align(bytes);
    return at;
  }

  /** Copies `src` in (with 16 bytes of slack after it, which SIMD loads may read); its offset. */
  put(src: Uint8Array | Uint16Array): number {
    const at = this.alloc(src.byteLength + 16);
    this.kernel!.u8.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
    return at;
  }

  /** Offset of `bytes` of scratch above everything allocated (valid until the next alloc). */
  scratch(bytes: number): number {
    return this.kernel!.reserve(this.top + align(bytes)) + this.top;
  }

  /** Bytes allocated so far. */
  get bytes(): number {
    return this.top;
  }
}

/** A linear layer on packed codes; the kernel path whenever SIMD is available. */
export class QuantLinear implements LinearOp {
  readonly rows: number;
  readonly cols: number;
  private readonly k: WasmKernel<QmatExports> | null;
  private readonly arena: QuantArena | null;
  private ptr = { codes: 0, scales: 0, zeros: 0, x: 0, gs: 0, out: 0 };

  constructor(readonly packed: PackedMatrix, arena: QuantArena | null = new QuantArena()) {
    checkPacked(packed);
    this.rows = packed.rows;
    this.cols = packed.cols;
    this.k = arena?.kernel ?? null;
    this.arena = arena;
    if (!this.k) return;
    const p = packed, nG = groupsPerRow(p.cols, p.group), a = arena!;
    const zeros = p.zeroF16 ?? p.zeros;
    this.ptr = {
      codes: a.put(p.codes),
      scales: a.put(p.scales),
      zeros: zeros ? a.put(zeros) : 0,
      x: a.alloc(4 * p.cols),
      gs: a.alloc(4 * nG),
      out: a.alloc(4 * p.rows),
    };
  }

  /** Whether matvec runs the WASM kernel rather than the reference. */
  get usesKernel(): boolean {
    return this.k !== null;
  }

  /** Storage bits per weight of the packed form. */
  get bitsPerWeight(): number {
    return bitsPerWeight(this.packed);
  }

  matvec(x: Float32Array, out: Float32Array): void {
    const k = this.k;
    if (!k) {
      qmatvecReference(this.packed, x, out);
      return;
    }
    const p = this.packed, a = this.ptr, buf = k.memory.buffer;
    new Float32Array(buf, a.x, p.cols).set(x.subarray(0, p.cols));
    k.exports.qmatvec(p.bits, a.codes, p.rowBytes, a.scales, a.zeros, zeroKind(p), symmetricZero(p.bits), p.rows, p.cols, p.group, a.x, a.gs, a.out);
    out.set(new Float32Array(buf, a.out, p.rows));
  }

  /** Y = X W_q^T for n row-major vectors: x is n x cols, out is n x rows (the codes are read once). */
  matmul(x: Float32Array, n: number, out: Float32Array): void {
    const p = this.packed;
    const k = this.k;
    if (!k) {
      forEachVector(p.rows, p.cols, x, n, out, (xv, o) => qmatvecReference(p, xv, o));
      return;
    }
    checkBatch(p.rows, p.cols, x, n, out);
    const nG = groupsPerRow(p.cols, p.group), a = this.ptr;
    const base = this.arena!.scratch(4 * (n * p.cols + n * nG + p.group + n + n * p.rows) + 512);
    const xs = base, gs = xs + align(4 * n * p.cols), w = gs + align(4 * n * nG), d = w + align(4 * p.group), o = d + align(4 * n);
    const buf = k.memory.buffer;
    new Float32Array(buf, xs, n * p.cols).set(x.subarray(0, n * p.cols));
    k.exports.qmatmul(p.bits, a.codes, p.rowBytes, a.scales, a.zeros, zeroKind(p), symmetricZero(p.bits), p.rows, p.cols, p.group, xs, n, gs, w, d, o);
    out.set(new Float32Array(buf, o, n * p.rows));
  }
}
