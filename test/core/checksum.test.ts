import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xxh32, Xxh32, xxh32StripesReference } from '../../src/core/checksum.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { Rng } from '../util/rng.js';

// xxHash's sanity buffer: byteGen starts at PRIME32, each byte is its top 8 bits, then
// byteGen *= PRIME64 (mod 2^64). Vectors from xxHash's cli/xsum_sanity_check.c and
// tests/sanity_test_vectors.h.
const PRIME32 = 2654435761;
function sanityBuffer(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let g = BigInt(PRIME32);
  const p64 = 11400714785074694797n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < n; i++) {
    out[i] = Number(g >> 56n);
    g = (g * p64) & mask;
  }
  return out;
}
const VECTORS: Array<[number, number, number]> = [
  [0, 0, 0x02cc5d05], [0, PRIME32, 0x36b78ae7], [1, 0, 0xcf65b03e], [1, PRIME32, 0xb4545aa4],
  [2, 0, 0x1151bee4], [3, 0, 0xc23884f5], [4, 0, 0xa9de7ce9], [4, PRIME32, 0x2baafe83],
  [8, 0, 0xa3f6f44b], [9, 0, 0xffb82a24], [14, 0, 0x1208e7e2], [14, PRIME32, 0x6af1d1fe],
  [16, 0, 0x93ba3759], [16, PRIME32, 0xa94fc1e1], [17, 0, 0x89fdc23e], [17, PRIME32, 0xc9910739],
  [32, 0, 0xd89829ec], [32, PRIME32, 0xa5c44467], [64, 0, 0x02e95dbb], [128, 0, 0x0fd07b71],
  [129, 0, 0x68c9ec37], [222, 0, 0x5bd11dbd], [222, PRIME32, 0x58803c5f], [240, 0, 0xfa6b6557],
  [241, 0, 0xe5f7c54d], [403, 0, 0x6675ff5a], [512, 0, 0xd485c30a], [2048, 0, 0x7c535464],
  [2367, 0, 0x4c8a9773], [2367, PRIME32, 0x6d5366f6], [4160, 0, 0xdb0d9141],
];

for (const path of ['reference', 'wasm-simd'] as const) {
  test(`xxh32 published vectors (${path})`, { skip: path === 'wasm-simd' && !simdSupported() }, () => {
    setKernelPath(path);
    try {
      const buf = sanityBuffer(4160);
      for (const [len, seed, want] of VECTORS) {
        assert.equal(xxh32(buf.subarray(0, len), seed), want, `len ${len} seed ${seed}`);
      }
    } finally {
      setKernelPath(undefined);
    }
  });
}

test('xxh32 streaming equals one-shot for every split', () => {
  const rng = new Rng(7);
  const data = rng.bytes(3000);
  const whole = xxh32(data, 12345);
  for (let cut = 0; cut <= data.length; cut += 37) {
    const h = new Xxh32(12345).update(data.subarray(0, cut)).update(data.subarray(cut)).digest();
    assert.equal(h, whole, `split at ${cut}`);
  }
  // Many tiny pieces.
  const s = new Xxh32(12345);
  for (let i = 0; i < data.length; i += 5) s.update(data.subarray(i, i + 5));
  assert.equal(s.digest(), whole);
});

test('xxh32 stripe kernel equals its TS reference on random input', { skip: !simdSupported() }, async () => {
  const { wasmKernel } = await import('../../src/kernels/loader.js');
  const gen = await import('../../src/kernels/generated/xxh32.js');
  const k = wasmKernel<{ stripes(s: number, p: number, n: number): void }>('xxh32', gen.base64)!;
  const rng = new Rng(99);
  for (let trial = 0; trial < 50; trial++) {
    const stripes = rng.int(300);
    const data = rng.bytes(stripes * 16);
    const lanes = new Uint32Array([rng.u32(), rng.u32(), rng.u32(), rng.u32()]);
    const ref = lanes.slice();
    xxh32StripesReference(ref, data, stripes);
    const base = k.reserve(16 + data.length);
    new Uint32Array(k.memory.buffer, base, 4).set(lanes);
    k.u8.set(data, base + 16);
    k.exports.stripes(base, base + 16, stripes);
    assert.deepEqual(new Uint32Array(k.memory.buffer, base, 4).slice(), ref);
  }
});
