import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as k from '../../src/vectors/codecs/vcodes.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { Rng } from '../util/rng.js';
import { assertClose } from './codec-util.js';

// Every WebAssembly kernel against its TS reference on random inputs (fixed seed): exact for
// Hamming, a relative 1e-5 for float sums (they add in another order). Sizes cross the
// 2,048-byte threshold above which the wrappers take the kernel path.
const skip = !simdSupported();

function floats(rng: Rng, n: number, pad = 0): Float32Array {
  const a = new Float32Array(n + pad);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

function withWasm(fn: () => void): void {
  setKernelPath('wasm-simd');
  try {
    fn();
  } finally {
    setKernelPath(undefined);
  }
}

test('sq8 and sq4 kernels equal their references', { skip }, () => {
  const rng = new Rng(1);
  withWasm(() => {
    for (const d of [1, 5, 16, 17, 33, 100, 257]) {
      const n = Math.ceil(4096 / d) + 3;
      const a = floats(rng, d, 64), s = floats(rng, d, 64), w = floats(rng, d, 64);
      for (const bits of [8, 4]) {
        const cs = bits === 8 ? d : Math.ceil(d / 2);
        const codes = rng.bytes(n * cs);
        if (bits === 4 && d % 2 === 1) for (let i = 0; i < n; i++) codes[i * cs + cs - 1]! &= 15;
        const got = new Float32Array(n), want = new Float32Array(n);
        const [l2, l2Ref, dot, dotRef] = bits === 8
          ? [k.sq8L2, k.sq8L2Reference, k.sq8Dot, k.sq8DotReference]
          : [k.sq4L2, k.sq4L2Reference, k.sq4Dot, k.sq4DotReference];
        l2(a, s, codes, n, cs, d, got);
        l2Ref(a, s, codes, n, cs, d, want);
        assertClose(got, want, 1e-5, `sq${bits}L2 d=${d}`);
        dot(w, codes, n, cs, d, got);
        dotRef(w, codes, n, cs, d, want);
        assertClose(got, want, 1e-5, `sq${bits}Dot d=${d}`);
      }
    }
  });
});

test('lut8, hamming and rabitqEx kernels equal their references', { skip }, () => {
  const rng = new Rng(2);
  withWasm(() => {
    for (const m of [1, 3, 8, 15, 16, 17, 40, 96]) {
      const cs = m + 5; // rows wider than the bytes the kernels read
      const n = Math.ceil(4096 / cs) + 1;
      const codes = rng.bytes(n * cs);
      const t = floats(rng, m * 256);
      const got = new Float32Array(n), want = new Float32Array(n);
      k.lut8(t, codes, n, cs, m, got);
      k.lut8Reference(t, codes, n, cs, m, want);
      assertClose(got, want, 1e-5, `lut8 m=${m}`);
      const q = rng.bytes(m);
      const hg = new Uint32Array(n), hw = new Uint32Array(n);
      k.hamming(q, codes, n, cs, m, hg);
      k.hammingReference(q, codes, n, cs, m, hw);
      assert.deepEqual(hg, hw, `hamming m=${m}`);
    }
    for (const d of [1, 7, 64, 77]) {
      for (const exBits of [1, 2, 3, 5, 8]) {
        const exOff = ((d + 7) >> 3) + 12;
        const cs = exOff + Math.ceil((d * exBits) / 8) + 8;
        const n = Math.ceil(4096 / cs) + 1;
        const codes = rng.bytes(n * cs);
        const q = floats(rng, d);
        const cb = -((1 << exBits) - 0.5);
        const got = new Float32Array(n), want = new Float32Array(n);
        k.rabitqEx(q, codes, n, cs, d, exBits, exOff, cb, got);
        k.rabitqExReference(q, codes, n, cs, d, exBits, exOff, cb, want);
        assertClose(got, want, 1e-5, `rabitqEx d=${d} B=${exBits}`);
      }
    }
  });
});

test('bitTables sums the chosen weight of each bit', () => {
  const rng = new Rng(3);
  const d = 13;
  const one = floats(rng, d), zero = floats(rng, d);
  const t = k.bitTables(one, zero, d);
  for (const [j, v] of [[0, 0], [0, 255], [0, 0b10100101], [1, 0b11111], [1, 0b100000]] as const) {
    let want = 0;
    for (let b = 0; b < 8 && 8 * j + b < d; b++) want += (v >> b) & 1 ? one[8 * j + b]! : zero[8 * j + b]!;
    assert.ok(Math.abs(t[j * 256 + v]! - want) < 1e-5, `byte ${j} value ${v}`);
  }
});
