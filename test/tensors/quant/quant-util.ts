/** Test helpers shared by the packed-format tests. */
import { f32ToF16Bits } from '../../../src/core/dtypes.js';
import { SeededRandom } from '../../../src/core/random.js';
import { type KernelPath, setKernelPath, simdSupported } from '../../../src/kernels/loader.js';
import type { PackedMatrix, QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { quantizeRTN } from '../../../src/tensors/quant/rtn.js';

/** RTN with integer zeros, then each zero moved by a seeded fraction and stored as fp16. */
export function withF16Zeros(w: Float32Array, rows: number, cols: number, bits: QuantBits, group: QuantGroup, seed: number): PackedMatrix {
  const p = quantizeRTN(w, rows, cols, { bits, group, symmetric: false });
  const rng = new SeededRandom(seed);
  const zeroF16 = Uint16Array.from(p.zeros!, (z) => f32ToF16Bits(z + rng.float() - 0.5));
  return { ...p, zeros: undefined, zeroF16 };
}


/** Runs fn on the WASM SIMD path (where the runtime has SIMD) and on the reference path. */
export function forEachKernelPath(fn: (path: KernelPath) => void): void {
  const paths: KernelPath[] = simdSupported() ? ['wasm-simd', 'reference'] : ['reference'];
  try {
    for (const path of paths) {
      setKernelPath(path);
      fn(path);
    }
  } finally {
    setKernelPath(undefined);
  }
}

/** Σ_r Δ_r H Δ_rᵀ (Δ = W − Ŵ) of the matrix Ŵ an op computes, read back through unit vectors. */
export function layerError(w: Float32Array, rows: number, cols: number, h: Float64Array, op: { matvec(x: Float32Array, o: Float32Array): void }): number {
  const wq = new Float32Array(rows * cols), e = new Float32Array(cols), o = new Float32Array(rows);
  for (let c = 0; c < cols; c++) {
    e.fill(0);
    e[c] = 1;
    op.matvec(e, o);
    for (let r = 0; r < rows; r++) wq[r * cols + c] = o[r]!;
  }
  let t = 0;
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) t += (w[r * cols + i]! - wq[r * cols + i]!) * h[i * cols + j]! * (w[r * cols + j]! - wq[r * cols + j]!);
  return t;
}
