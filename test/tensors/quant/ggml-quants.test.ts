/**
 * ggml block codecs. Hand-built test vectors follow the block definitions in llama.cpp
 * ggml/src/ggml-common.h (block_q8_0, block_q4_0, block_q5_0, block_q4_K) and the arithmetic of
 * ggml/src/ggml-quants.c (dequantize_row_q8_0 / _q4_0 / _q5_0 / _q4_K, get_scale_min_k4,
 * quantize_row_q8_0_ref / _q4_0_ref, nearest_int); then round trips, error bounds, and gguf-py
 * (llama.cpp's NumPy port of the same functions) as an independent reference when installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f32ToF16Bits } from '../../../src/core/dtypes.js';
import {
  GGML_BLOCK, type GgmlEncodeType, dequantizeQ4_0, dequantizeQ5_K, dequantizeQ6_K, dequantizeQ4_K, dequantizeQ5_0, dequantizeQ8_0, firstBadBlock, getScaleMinK4, ggmlDequantize,
  ggmlQuantize, halfToFloat, nearestInt, quantizeQ4_0, quantizeQ8_0,
} from '../../../src/tensors/quant/ggml-quants.js';
import { Rng } from '../../util/rng.js';
import { GGUF_PY_MISSING, ggufPython, pyDequantize, pyQuantize } from './gguf-py.js';

const half = (v: number): [number, number] => {
  const h = f32ToF16Bits(v);
  return [h & 0xff, h >> 8];
};

function gaussian(n: number, seed: number, scale = 0.05): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * scale * (i % 97 === 0 ? 8 : 1); // a few outliers
  return x;
}

test('Q8_0 test vector: d = 0.25, qs[j] = j - 16 gives (j - 16) / 4', () => {
  const b = new Uint8Array(34);
  [b[0], b[1]] = half(0.25);
  for (let j = 0; j < 32; j++) b[2 + j] = (j - 16) & 0xff;
  const y = dequantizeQ8_0(b, 32);
  for (let j = 0; j < 32; j++) assert.equal(y[j], (j - 16) / 4);
});

test('Q4_0 test vector: d = 0.5, byte j = j | (15 - j) << 4 gives x[j] = (j - 8) / 2, x[j + 16] = (7 - j) / 2', () => {
  const b = new Uint8Array(18);
  [b[0], b[1]] = half(0.5);
  for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
  const y = dequantizeQ4_0(b, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(y[j], (j - 8) / 2);
    assert.equal(y[j + 16], (7 - j) / 2);
  }
});

test('Q5_0 test vector: the fifth bit of element j is bit j of qh (little-endian u32)', () => {
  const b = new Uint8Array(22);
  [b[0], b[1]] = half(1);
  const qh = 0xaaaa5555;
  b[2] = qh & 0xff, b[3] = (qh >>> 8) & 0xff, b[4] = (qh >>> 16) & 0xff, b[5] = qh >>> 24;
  for (let j = 0; j < 16; j++) b[6 + j] = 0x3c; // low nibble 12, high nibble 3
  const y = dequantizeQ5_0(b, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(y[j], (12 | (((qh >>> j) & 1) << 4)) - 16);
    assert.equal(y[j + 16], (3 | (((qh >>> (j + 16)) & 1) << 4)) - 16);
  }
});

// One Q4_K super-block: d = 1, dmin = 0.5, 6-bit scales sc[j] and mins m[j] packed as ggml-common.h
// documents (bytes 0-3: sc[0..3] low 6 bits, top 2 bits = sc[4..7] >> 4; bytes 4-7 the same for m;
// bytes 8-11: sc[4..7] & 15 | (m[4..7] & 15) << 4).
const SC = [1, 2, 3, 4, 17, 33, 49, 63], MN = [0, 1, 2, 3, 20, 40, 60, 63];
function q4kBlock(): Uint8Array {
  const b = new Uint8Array(144);
  [b[0], b[1]] = half(1);
  [b[2], b[3]] = half(0.5);
  for (let j = 0; j < 4; j++) {
    b[4 + j] = SC[j]! | ((SC[j + 4]! >> 4) << 6);
    b[8 + j] = MN[j]! | ((MN[j + 4]! >> 4) << 6);
    b[12 + j] = (SC[j + 4]! & 15) | ((MN[j + 4]! & 15) << 4);
  }
  // Chunk k (32 bytes) holds sub-block 2k in low nibbles and 2k + 1 in high nibbles.
  for (let k = 0; k < 4; k++) for (let l = 0; l < 32; l++) b[16 + 32 * k + l] = (l % 16) | ((15 - (l % 16)) << 4);
  return b;
}

test('Q4_K test vector: get_scale_min_k4 unpacks the 6-bit scales and mins; x = d*sc*q - dmin*m', () => {
  const b = q4kBlock();
  for (let j = 0; j < 8; j++) assert.deepEqual(getScaleMinK4(j, b, 4), [SC[j], MN[j]]);
  const y = dequantizeQ4_K(b, 256);
  for (let j = 0; j < 8; j++) {
    for (let l = 0; l < 32; l++) {
      const q = j % 2 === 0 ? l % 16 : 15 - (l % 16);
      assert.equal(y[32 * j + l], SC[j]! * q - 0.5 * MN[j]!, `sub-block ${j} element ${l}`);
    }
  }
});

test('Q5_K test vector (decode only): Q4_K with qh[32] before qs; bit 2k / 2k+1 of qh[l] adds 16 to sub-block 2k / 2k+1', () => {
  const k4 = q4kBlock();
  const b = new Uint8Array(176);
  b.set(k4.subarray(0, 16));
  b.fill(0b10101010, 16, 48); // odd sub-blocks get the fifth bit
  b.set(k4.subarray(16), 48);
  const y = dequantizeQ5_K(b, 256);
  for (let j = 0; j < 8; j++) {
    for (let l = 0; l < 32; l++) {
      const q = (j % 2 === 0 ? l % 16 : 15 - (l % 16)) + (j % 2) * 16;
      assert.equal(y[32 * j + l], SC[j]! * q - 0.5 * MN[j]!, `sub-block ${j} element ${l}`);
    }
  }
});

test('Q6_K test vector (decode only): ql low/high nibbles and qh 2-bit pairs make q, x = d * scales[j] * (q - 32)', () => {
  // block_q6_K: ql[128], qh[64], int8 scales[16], half d at byte 208. In each 128-value half,
  // element l + 32m (m = 0..3) takes ql[l] low, ql[l + 32] low, ql[l] high, ql[l + 32] high nibble
  // and bits 2m..2m+1 of qh[l]; its scale is scales[8h + l / 16 + 2m].
  const b = new Uint8Array(210);
  b.fill(0x21, 0, 128); // low nibble 1, high nibble 2
  b.fill(0b11100100, 128, 192); // m0 -> 0, m1 -> 1, m2 -> 2, m3 -> 3
  for (let j = 0; j < 16; j++) b[192 + j] = (j - 8) & 0xff;
  [b[208], b[209]] = half(0.5);
  const q = [1 | (0 << 4), 1 | (1 << 4), 2 | (2 << 4), 2 | (3 << 4)];
  const y = dequantizeQ6_K(b, 256);
  for (let k = 0; k < 256; k++) {
    const h = k >> 7, m = (k & 127) >> 5, l = k & 31;
    assert.equal(y[k], 0.5 * (8 * h + (l >> 4) + 2 * m - 8) * (q[m]! - 32), `element ${k}`);
  }
  assert.throws(() => ggmlQuantize('Q6_K' as GgmlEncodeType, new Float32Array(256)), /decode only/);
});

test('nearest_int rounds half to even, like adding 1.5 * 2^23 in float', () => {
  assert.deepEqual([2.5, 3.5, -2.5, 0.49999997, 7.5, -0.5].map(nearestInt), [2, 4, -2, 0, 8, 0]);
});

test('Q8_0 reference quantizer: d = amax / 127, qs = roundf(x / d) (half away from zero)', () => {
  const x = new Float32Array(32);
  x.set([127, -63.5, 1, 0.5, -0.5, 2.4999]);
  const b = quantizeQ8_0(x);
  assert.equal(halfToFloat(b[0]! | (b[1]! << 8)), 1);
  assert.deepEqual(Array.from(b.subarray(2, 8), (v) => (v << 24) >> 24), [127, -64, 1, 1, -1, 2]);
});

test('Q4_0 reference quantizer: d = (signed value of largest magnitude) / -8, codes trunc(x / d + 8.5) capped at 15', () => {
  const x = new Float32Array(32);
  x.set([-8, 7, 3.5, -0.5, 0.2]);
  let b = quantizeQ4_0(x);
  assert.equal(halfToFloat(b[0]! | (b[1]! << 8)), 1);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((j) => b[2 + j]! & 15), [0, 15, 12, 8, 8, 8]);
  x.set([8, -7, 0, 0, 0]);
  b = quantizeQ4_0(x);
  assert.equal(halfToFloat(b[0]! | (b[1]! << 8)), -1);
  assert.deepEqual([0, 1, 2].map((j) => b[2 + j]! & 15), [0, 15, 8]);
  assert.equal(b[2]! >> 4, 8); // element 16 (zero) sits in byte 0's high nibble
});

test('round trips: the decoded values re-encode to the same blocks (Q8_0, Q4_0, Q5_0), and error bounds hold', () => {
  const x = gaussian(32 * 64, 1);
  for (const type of ['Q8_0', 'Q4_0', 'Q5_0'] as const) {
    const b = ggmlQuantize(type, x);
    const y = ggmlDequantize(type, b, x.length);
    assert.deepEqual(ggmlQuantize(type, y), b, `${type} is a fixed point`);
    for (let i = 0; i < x.length; i++) {
      const o = (i >> 5) * GGML_BLOCK[type].bytes;
      const d = Math.abs(halfToFloat(b[o]! | (b[o + 1]! << 8)));
      // Q8_0 rounds to nearest (|err| <= d/2); Q4_0/Q5_0 may clip the side opposite the extreme by
      // one step. Codes are fitted to the float d, stored as fp16 (relative error <= 2^-11), which
      // adds up to |code| * d * 2^-11.
      const maxCode = type === 'Q8_0' ? 128 : type === 'Q4_0' ? 8 : 16;
      const bound = (type === 'Q8_0' ? d / 2 : d) + maxCode * d * 2 ** -11;
      assert.ok(Math.abs(x[i]! - y[i]!) <= bound * (1 + 1e-6), `${type} element ${i}: |${x[i]} - ${y[i]}| > ${bound}`);
    }
  }
});

test('Q4_K: scales and mins fit 6 bits, each value within one sub-block step, RMS error small, all-zero and constant blocks', () => {
  const x = gaussian(256 * 16, 2);
  const b = ggmlQuantize('Q4_K', x);
  const y = ggmlDequantize('Q4_K', b, x.length);
  let se = 0, sx = 0;
  for (let i = 0; i < x.length; i++) {
    const o = (i >> 8) * 144, j = (i & 255) >> 5;
    const [sc, m] = getScaleMinK4(j, b, o + 4);
    const step = halfToFloat(b[o]! | (b[o + 1]! << 8)) * sc, lo = -halfToFloat(b[o + 2]! | (b[o + 3]! << 8)) * m;
    // Inside the sub-block's grid [lo, lo + 15 step] the error is at most half a step (plus the
    // grid's own rounding); outside it, the distance to the nearest end.
    const clamped = Math.min(Math.max(x[i]!, lo), lo + 15 * step);
    assert.ok(Math.abs(clamped - y[i]!) <= step / 2 + 1e-6, `element ${i}`);
    se += (x[i]! - y[i]!) ** 2, sx += x[i]! ** 2;
  }
  const rel = Math.sqrt(se / sx);
  assert.ok(rel < 0.12, `relative RMS error ${rel}`);
  assert.deepEqual(ggmlDequantize('Q4_K', ggmlQuantize('Q4_K', new Float32Array(256)), 256), new Float32Array(256));
  const c = new Float32Array(256).fill(-0.75);
  assert.ok(ggmlDequantize('Q4_K', ggmlQuantize('Q4_K', c), 256).every((v) => Math.abs(v + 0.75) < 0.75 / 63 / 2 + 1e-6));
});

test('firstBadBlock finds an infinite or NaN fp16 scale; bad lengths are refused', () => {
  const b = ggmlQuantize('Q4_K', gaussian(512, 3));
  assert.equal(firstBadBlock('Q4_K', b), -1);
  const c = b.slice();
  c[144 + 3] = 0x7e; // dmin of block 1 = NaN
  assert.equal(firstBadBlock('Q4_K', c), 1);
  assert.throws(() => ggmlQuantize('Q8_0', new Float32Array(33)), /multiple of the block size/);
  assert.throws(() => ggmlDequantize('Q4_0', new Uint8Array(17), 32), /17 bytes/);
  assert.throws(() => ggmlQuantize('Q4_0', Float32Array.of(...new Array(31).fill(0), NaN)), /NaN/);
});

test('gguf-py: same Q8_0 / Q4_0 / Q5_0 bytes from its quantizers, same floats from its dequantizers (all six types)', (t) => {
  if (!ggufPython()) {
    t.skip(GGUF_PY_MISSING);
    return;
  }
  const x = gaussian(256 * 32, 4);
  // Exact zeros, ties and a constant block exercise the edge cases of each rule.
  x.fill(0, 0, 32);
  x.fill(0.3, 32, 64);
  for (let i = 64; i < 96; i++) x[i] = (i - 80) / 4;
  for (const type of ['Q8_0', 'Q4_0', 'Q5_0', 'Q4_K'] as GgmlEncodeType[]) {
    const ours = ggmlQuantize(type, x);
    if (type !== 'Q4_K') assert.deepEqual(ours, pyQuantize(type, x), `${type} blocks`); // gguf-py has no Q4_K quantizer
    assert.deepEqual(ggmlDequantize(type, ours, x.length), pyDequantize(type, ours, x.length), `${type} values`);
  }
  // Q6_K (decode only): random blocks with a finite d.
  const q6 = new Rng(8).bytes(210 * 8);
  for (let i = 0; i < 8; i++) [q6[210 * i + 208], q6[210 * i + 209]] = half(0.01 * (i + 1));
  assert.deepEqual(ggmlDequantize('Q6_K', q6, 2048), pyDequantize('Q6_K', q6, 2048), 'Q6_K values');
  const q5 = new Rng(9).bytes(176 * 8);
  for (let i = 0; i < 8; i++) [q5[176 * i], q5[176 * i + 1], q5[176 * i + 2], q5[176 * i + 3]] = [...half(0.01 * (i + 1)), ...half(0.002 * i)];
  assert.deepEqual(ggmlDequantize('Q5_K', q5, 2048), pyDequantize('Q5_K', q5, 2048), 'Q5_K values');
});
