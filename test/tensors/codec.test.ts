/**
 * The tensor codec's building blocks: byte grouping (WASM kernel vs the TS reference) and chunk
 * coding (round trips on weights-like, special and degenerate data, identical payloads on both
 * kernel paths, hostile payloads rejected with ZipmlError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupBytes, ungroupBytes, schemeElementBytes, GROUP_SCHEMES, bytegroupKernel, kernelGroup, kernelUngroup, type GroupScheme } from '../../src/tensors/pack/grouping.js';
import { encodeChunk, decodeChunk, chunkInfo, StreamType, ChunkLayout, f16PlainSplitSmaller } from '../../src/tensors/pack/chunk.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { f32ToBf16, f32ToF16 } from '../../src/core/dtypes.js';
import { ZipmlError } from '../../src/core/errors.js';
import { xxh32 } from '../../src/core/checksum.js';
import { Rng } from '../util/rng.js';
import { mutate, bytesEqual } from '../util/mutate.js';

function weights(n: number, seed: number, scale = 0.02): Float32Array {
  const rng = new Rng(seed);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = rng.normal() * scale;
  return w;
}

/** f32 bit patterns that stress the exponent move: NaN payloads, ±0, ±Inf, subnormals, extremes. */
function specials(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const u = new Uint32Array(n);
  const fixed = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff,
    0x00000001, 0x807fffff, 0x00400000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000];
  for (let i = 0; i < n; i++) u[i] = i < fixed.length ? fixed[i]! : rng.int(3) === 0 ? fixed[rng.int(fixed.length)]! : rng.u32();
  return new Uint8Array(u.buffer);
}

function u8(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

test('grouping: the f32 exponent fills stream 0 and the sign tops stream 1', () => {
  const v = new Float32Array([1.5, -2, 0]);
  const out = new Uint8Array(12);
  groupBytes('f32', u8(v), out);
  // 1.5 = 0x3fc00000: exponent 127, mantissa top 7 bits 1000000; -2 = 0xc0000000: exponent 128, sign 1.
  assert.deepEqual([...out.subarray(0, 3)], [127, 128, 0]);
  assert.deepEqual([...out.subarray(3, 6)], [0x40, 0x80, 0]);
  const bf = new Uint16Array([0x3fc0, 0xc000]);
  const o2 = new Uint8Array(4);
  groupBytes('bf16', u8(bf), o2);
  assert.deepEqual([...o2], [127, 128, 0x40, 0x80]);
});

test('grouping: kernel equals reference, and ungrouping inverts, on every scheme and odd lengths', () => {
  const k = bytegroupKernel();
  const rng = new Rng(7);
  for (const scheme of GROUP_SCHEMES) {
    const e = schemeElementBytes(scheme);
    for (const m of [0, 1, 15, 16, 17, 255, 1000, 4099]) {
      const src = rng.bytes(m * e);
      const ref = new Uint8Array(src.length);
      groupBytes(scheme, src, ref);
      const streams = Array.from({ length: e }, (_, i) => ref.subarray(i * m, (i + 1) * m));
      const back = new Uint8Array(src.length);
      ungroupBytes(scheme, streams, back);
      assert.ok(bytesEqual(back, src), `${scheme} m=${m}: reference round trip`);
      if (!k) continue;
      const base = k.reserve(2 * src.length + 64);
      k.u8.set(src, base);
      kernelGroup(k, scheme, base, m, base + src.length);
      assert.ok(bytesEqual(k.u8.slice(base + src.length, base + 2 * src.length), ref), `${scheme} m=${m}: kernel grouping`);
      k.u8.fill(0, base, base + src.length);
      kernelUngroup(k, scheme, base + src.length, m, base);
      assert.ok(bytesEqual(k.u8.slice(base, base + src.length), src), `${scheme} m=${m}: kernel ungrouping`);
    }
  }
});

function cases(): Array<[string, GroupScheme, Uint8Array]> {
  const w = weights(70_000, 1);
  const rng = new Rng(3);
  return [
    ['f32 weights', 'f32', u8(w)],
    ['bf16 weights', 'bf16', u8(f32ToBf16(w))],
    ['f16 weights', 'f16', u8(f32ToF16(w))],
    ['f32 specials', 'f32', specials(5000, 2)],
    ['f16 specials', 'f16', new Uint8Array(specials(5000, 4).buffer.slice(0, 10_000))],
    ['int8', 'b1', Uint8Array.from({ length: 30_001 }, () => Math.round(rng.normal() * 20) & 255)],
    ['i32 small', 'b4', u8(Int32Array.from({ length: 9_999 }, () => rng.int(1000) - 500))],
    ['i64', 'b8', u8(BigInt64Array.from({ length: 999 }, () => BigInt(rng.int(1 << 20))))],
    ['zeros', 'f32', new Uint8Array(4096)],
    ['random', 'b2', rng.bytes(20_000)],
    ['one value', 'b1', new Uint8Array(1).fill(9)],
  ];
}

for (const path of ['wasm-simd', 'reference'] as const) {
  test(`chunks: exact round trip on every scheme (${path})`, { skip: path === 'wasm-simd' && !simdSupported() ? 'no WebAssembly SIMD' : false }, () => {
    setKernelPath(path);
    try {
      for (const [name, scheme, data] of cases()) {
        const payload = encodeChunk(data, scheme);
        const out = new Uint8Array(data.length);
        decodeChunk(payload, scheme, out);
        assert.ok(bytesEqual(out, data), `${name}: round trip`);
        assert.ok(payload.length <= data.length + 1 + 9 * schemeElementBytes(scheme), `${name}: never much above raw`);
      }
    } finally {
      setKernelPath(undefined);
    }
  });
}

test('chunks: F16 values whose sign goes with their exponent take the plain split (layout 4) and round-trip on both paths', () => {
  // Negative values have exponent 14, positive ones 10, mantissas random: the plain split keeps
  // sign and exponent in one byte (3 bits of it), the rotated split spreads them over two streams.
  const rng = new Rng(21);
  const h = new Uint16Array(32_768);
  for (let i = 0; i < h.length; i++) h[i] = rng.int(2) ? 0x8000 | (14 << 10) | rng.int(1024) : (10 << 10) | rng.int(1024);
  const data = new Uint8Array(h.buffer);
  assert.equal(f16PlainSplitSmaller(data), true);
  assert.equal(f16PlainSplitSmaller(new Uint8Array(f32ToF16(weights(32_768, 22)).buffer)), false, 'learned-like weights keep the rotation');
  for (const path of simdSupported() ? (['wasm-simd', 'reference'] as const) : (['reference'] as const)) {
    setKernelPath(path);
    try {
      const payload = encodeChunk(data, 'f16');
      assert.equal(payload[0], ChunkLayout.AsB2, path);
      assert.equal(chunkInfo(payload, 'f16', data.length).scheme, 'b2');
      const out = new Uint8Array(data.length);
      decodeChunk(payload, 'f16', out);
      assert.ok(bytesEqual(out, data), `${path}: round trip`);
    } finally {
      setKernelPath(undefined);
    }
  }
});

test('chunks: both kernel paths write the same payload', { skip: !simdSupported() ? 'no WebAssembly SIMD' : false }, () => {
  for (const [name, scheme, data] of cases()) {
    setKernelPath('wasm-simd');
    const a = encodeChunk(data, scheme);
    setKernelPath('reference');
    const b = encodeChunk(data, scheme);
    setKernelPath(undefined);
    assert.ok(bytesEqual(a, b), name);
  }
});

test('chunks: weights compress through the exponent stream, mantissa bytes stay raw', () => {
  const data = u8(weights(65_536, 5));
  const p = encodeChunk(data, 'f32');
  const info = chunkInfo(p, 'f32', data.length);
  assert.notEqual(info.streams[0]!.type, StreamType.Raw);
  assert.ok(info.streams[0]!.length < 65_536 * 0.5, `exponent stream ${info.streams[0]!.length} bytes`);
  assert.equal(info.streams[3]!.type, StreamType.Raw);
  // Gaussian weights: exponent entropy is ~3 bits, so the chunk lands near (3/8 + 3) / 4 of raw.
  assert.ok(p.length / data.length < 0.86 && p.length / data.length > 0.8, `ratio ${p.length / data.length}`);
});

test('chunks: hostile payloads give ZipmlError, never another exception', () => {
  const rng = new Rng(11);
  for (const [name, scheme, data] of cases().slice(0, 6)) {
    const payload = encodeChunk(data, scheme);
    for (let i = 0; i < 400; i++) {
      const { data: bad } = mutate(payload, rng);
      const out = new Uint8Array(data.length);
      try {
        decodeChunk(bad, scheme, out);
      } catch (e) {
        assert.ok(e instanceof ZipmlError, `${name}: mutation ${i} threw ${(e as Error).message}`);
      }
    }
    assert.throws(() => decodeChunk(payload, scheme, new Uint8Array(data.length + schemeElementBytes(scheme))), ZipmlError);
    assert.throws(() => decodeChunk(payload.subarray(0, payload.length - 1), scheme, new Uint8Array(data.length)), ZipmlError);
  }
});

test('chunks: a repetitive f32 chunk (a fixed basis) takes the LZ stream and round-trips', () => {
  // A cosine basis like an STFT's: few distinct values, repeated in patterns.
  const n = 64, w = new Float32Array(n * 256);
  for (let k = 0; k < n; k++) for (let t = 0; t < 256; t++) w[k * 256 + t] = Math.fround(Math.cos((2 * Math.PI * k * t) / 256));
  const data = u8(w);
  const withLz = encodeChunk(data, 'f32', { lzLevel: 1 });
  const without = encodeChunk(data, 'f32');
  const info = chunkInfo(withLz, 'f32', data.length);
  assert.equal(info.streams.length, 1);
  assert.equal(info.streams[0]!.type, StreamType.Lz);
  assert.ok(withLz.length < without.length * 0.5, `lz ${withLz.length} vs ${without.length}`);
  const out = new Uint8Array(data.length);
  decodeChunk(withLz, 'f32', out);
  assert.ok(bytesEqual(out, data));
  // Learned weights do not repeat: LZ is not even tried there.
  const plain = encodeChunk(u8(weights(20_000, 8)), 'f32', { lzLevel: 1 });
  assert.notEqual(chunkInfo(plain, 'f32', 80_000).streams[0]!.type, StreamType.Lz);
});

test('chunks: the fused WebAssembly decoder agrees with the reference on valid and mutated payloads', { skip: !simdSupported() ? 'no WebAssembly SIMD' : false }, () => {
  const rng = new Rng(31);
  const skewed = Uint8Array.from({ length: 3000 }, () => (rng.int(50) === 0 ? rng.int(256) : 7 + rng.int(2)));
  const all: Array<[string, GroupScheme, Uint8Array]> = [
    ...cases(),
    // Narrow rANS (stream under 4 KiB) and f16 plain split.
    ['small skewed b1', 'b1', skewed],
    ['f16 plain split', 'f16', new Uint8Array(Uint16Array.from({ length: 8192 }, () => (rng.int(2) ? 0x8000 | (14 << 10) : 10 << 10) | rng.int(1024)).buffer)],
  ];
  const seen = new Set<StreamType>();
  const decodeOn = (path: 'wasm-simd' | 'reference', payload: Uint8Array, scheme: GroupScheme, n: number, checksum?: number): Uint8Array | string => {
    setKernelPath(path);
    try {
      const out = new Uint8Array(n);
      decodeChunk(payload, scheme, out, checksum);
      return out;
    } catch (e) {
      assert.ok(e instanceof ZipmlError, `${path} threw ${(e as Error).message}`);
      return (e as ZipmlError).code;
    } finally {
      setKernelPath(undefined);
    }
  };
  for (const [name, scheme, data] of all) {
    const payload = encodeChunk(data, scheme);
    for (const s of chunkInfo(payload, scheme, data.length).streams) seen.add(s.type);
    const good = decodeOn('wasm-simd', payload, scheme, data.length, xxh32(payload));
    assert.ok(good instanceof Uint8Array && bytesEqual(good, data), `${name}: fused round trip`);
    assert.equal(decodeOn('wasm-simd', payload, scheme, data.length, xxh32(payload) ^ 1), 'E_CORRUPT', `${name}: checksum checked`);
    for (let i = 0; i < 300; i++) {
      const { data: bad, kind } = mutate(payload, rng);
      const a = decodeOn('wasm-simd', bad, scheme, data.length), b = decodeOn('reference', bad, scheme, data.length);
      if (typeof a === 'string' || typeof b === 'string') assert.equal(typeof a, typeof b, `${name}: mutation ${i} (${kind}): fused ${String(a)}, reference ${String(b)}`);
      else assert.ok(bytesEqual(a, b), `${name}: mutation ${i} (${kind}) decodes differently`);
    }
  }
  for (const t of [StreamType.Raw, StreamType.Rle, StreamType.Huffman, StreamType.Rans]) assert.ok(seen.has(t), `stream type ${t} covered`);
});
