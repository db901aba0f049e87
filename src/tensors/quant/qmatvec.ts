/**
 * y = W_q x on packed group-quantized weights. The WebAssembly SIMD kernel
 * (src/kernels/assembly/qmatmul.ts) reads 8- and 4-bit codes straight from kernel memory, where a
 * QuantLinear keeps them resident (codes, fp16 scales, zero points: nothing is expanded to fp32);
 * 2- and 3-bit codes, and the reference path, run qmatvecReference, which computes the same sums
 * in plain TypeScript. test/tensors/quant/qmatvec.test.ts holds the two together.
 */
import { f16BitsToF32 } from '../../core/dtypes.js';
import { type WasmKernel, privateKernel } from '../../kernels/loader.js';
import * as qmatmulWasm from '../../kernels/generated/qmatmul.js';
import type { LinearOp } from '../llm/linear.js';
import { type PackedMatrix, bitsPerWeight, checkPacked, codeAt, groupsPerRow, symmetricZero } from './packed.js';

interface QmatExports {
  qmatvec8(codes: number, rowBytes: number, scales: number, zeros: number, symZero: number, rows: number, cols: number, group: number, x: number, gs: number, out: number): void;
  qmatvec4(codes: number, rowBytes: number, scales: number, zeros: number, symZero: number, rows: number, cols: number, group: number, x: number, gs: number, out: number): void;
}

/** Plain-TS y = W_q x: per group, scale * (sum q x - zero * sum x), in double. */
export function qmatvecReference(p: PackedMatrix, x: Float32Array, out: Float32Array): void {
  const nG = groupsPerRow(p.cols, p.group), z0 = symmetricZero(p.bits);
  const gs = new Float64Array(nG);
  for (let c = 0; c < p.cols; c++) gs[Math.floor(c / p.group)]! += x[c]!;
  for (let r = 0; r < p.rows; r++) {
    let y = 0;
    for (let g = 0; g < nG; g++) {
      let dot = 0;
      const c1 = Math.min(p.cols, (g + 1) * p.group);
      for (let c = g * p.group; c < c1; c++) dot += codeAt(p, r, c) * x[c]!;
      const i = r * nG + g;
      y += f16BitsToF32(p.scales[i]!) * (dot - (p.zeros ? p.zeros[i]! : z0) * gs[g]!);
    }
    out[r] = y;
  }
}

const align = (n: number): number => (n + 63) & ~63;

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

  /** Bytes allocated so far. */
  get bytes(): number {
    return this.top;
  }
}

/** A linear layer on packed codes; the kernel path for 8 and 4 bits when SIMD is available. */
export class QuantLinear implements LinearOp {
  readonly rows: number;
  readonly cols: number;
  private readonly k: WasmKernel<QmatExports> | null;
  private ptr = { codes: 0, scales: 0, zeros: 0, x: 0, gs: 0, out: 0 };

  constructor(readonly packed: PackedMatrix, arena: QuantArena | null = new QuantArena()) {
    checkPacked(packed);
    this.rows = packed.rows;
    this.cols = packed.cols;
    this.k = arena?.kernel && (packed.bits === 8 || packed.bits === 4) ? arena.kernel : null;
    if (!this.k) return;
    const p = packed, nG = groupsPerRow(p.cols, p.group);
    const put = (src: Uint8Array): number => {
      const at = arena!.alloc(src.length);
      this.k!.u8.set(src, at);
      return at;
    };
    this.ptr = {
      codes: put(p.codes),
      scales: put(new Uint8Array(p.scales.buffer, p.scales.byteOffset, p.scales.byteLength)),
      zeros: p.zeros ? put(p.zeros) : 0,
      x: arena!.alloc(4 * p.cols),
      gs: arena!.alloc(4 * nG),
      out: arena!.alloc(4 * p.rows),
    };
  }

  /** Whether matvec runs the WASM kernel (8 or 4 bits with SIMD) rather than the reference. */
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
    const fn = p.bits === 8 ? k.exports.qmatvec8 : k.exports.qmatvec4;
    fn(a.codes, p.rowBytes, a.scales, a.zeros, symmetricZero(p.bits), p.rows, p.cols, p.group, a.x, a.gs, a.out);
    out.set(new Float32Array(buf, a.out, p.rows));
  }
}
