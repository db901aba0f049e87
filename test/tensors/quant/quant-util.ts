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
