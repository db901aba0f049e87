/**
 * A crafted safetensors file whose F32, F16 and BF16 tensors hold every awkward bit pattern: ±0,
 * ±Inf, quiet and signalling NaNs with assorted payloads (both signs), the smallest and largest
 * subnormals, the smallest and largest normals, and a seeded run of random bit patterns. A lossless
 * packer must give all of them back bit for bit; any float round trip through JS numbers would
 * canonicalise the NaNs and fail.
 */
import { SeededRandom } from '../../core/random.js';
import { encodeSafetensors, type SafetensorsTensor } from './safetensors.js';

/** The special values of a float format with `e` exponent and `m` mantissa bits (as bit patterns). */
function specialPatterns(e: number, m: number): number[] {
  const sign = 2 ** (e + m);
  const expAll = (2 ** e - 1) * 2 ** m;
  const mMax = 2 ** m - 1;
  const quiet = 2 ** (m - 1);
  const positive = [
    0, // +0
    expAll, // +Inf
    expAll + quiet, // canonical quiet NaN
    expAll + quiet + 1, // quiet NaN with payload 1
    expAll + mMax, // all-ones NaN
    expAll + 1, // signalling NaN, smallest payload
    expAll + (quiet >>> 1 || 1), // signalling NaN, another payload
    1, // smallest subnormal
    mMax, // largest subnormal
    2 ** (m - 1), // a middle subnormal
    2 ** m, // smallest normal
    expAll - 1, // largest finite
    (2 ** (e - 1) - 1) * 2 ** m, // 1.0
  ];
  return [...positive, ...positive.map((p) => p + sign)];
}

/** Bit patterns (little-endian bytes) of `count` values: the specials, then seeded random patterns. */
function patternBytes(bytesPer: 2 | 4, e: number, m: number, count: number, rng: SeededRandom): Uint8Array {
  const out = new Uint8Array(count * bytesPer);
  const dv = new DataView(out.buffer);
  const sp = specialPatterns(e, m);
  for (let i = 0; i < count; i++) {
    const v = i < sp.length ? sp[i]! : bytesPer === 4 ? rng.u32() : rng.u32() & 0xffff;
    if (bytesPer === 4) dv.setUint32(i * 4, v >>> 0, true);
    else dv.setUint16(i * 2, v, true);
  }
  return out;
}

/** The tensors of the crafted file (names special_f32, special_f16, special_bf16), `count` >= 26 values each. */
export function specialFloatTensors(count = 1024, seed = 20261128): SafetensorsTensor[] {
  const rng = new SeededRandom(seed);
  return [
    { name: 'special_f32', dtype: 'F32', shape: [count], data: patternBytes(4, 8, 23, count, rng) },
    { name: 'special_f16', dtype: 'F16', shape: [count], data: patternBytes(2, 5, 10, count, rng) },
    { name: 'special_bf16', dtype: 'BF16', shape: [count], data: patternBytes(2, 8, 7, count, rng) },
  ];
}

/** The crafted safetensors file, for round-trip tests of the packer. */
export function specialFloatsSafetensors(count = 1024, seed = 20261128): Promise<Uint8Array> {
  return encodeSafetensors(specialFloatTensors(count, seed), { metadata: { purpose: 'NaN payloads, signed zeros, infinities, subnormals' } });
}
