/**
 * GGUF: a file built by hand from the spec, writer -> reader round trips (plain and quantized
 * types, every KV value type), real Q5_1 blocks from rwkv.cpp's file carried through GGUF,
 * hostile headers, fuzzing; the ggml block table against ggml's static_asserts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../../src/tensors/layout.js';
import { GgufType, type GgufKV, type GgufTensorSpec, encodeGguf, readGgufHeader, readGgufLayout } from '../../../src/tensors/formats/gguf.js';
import { ggmlTypeByName } from '../../../src/tensors/formats/ggml-types.js';
import { readGgmfLayout } from '../../../src/tensors/formats/ggmf.js';
import { bytesEqual } from '../../util/mutate.js';
import { Rng } from '../../util/rng.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, sharedFile } from './util.js';

/** Little-endian byte builder for hand-made files. */
class Bytes {
  parts: number[] = [];
  u32(v: number) { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 255); return this; }
  u64(v: number) { this.u32(v % 2 ** 32); return this.u32(Math.floor(v / 2 ** 32)); }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.parts.push(...b); return this; }
  pad(to: number) { while (this.parts.length % to) this.parts.push(0); return this; }
  raw(b: ArrayLike<number>) { this.parts.push(...Array.from(b)); return this; }
  get length() { return this.parts.length; }
  bytes() { return Uint8Array.from(this.parts); }
}

test('gguf: ggml block sizes match ggml-common.h', () => {
  const expect: Record<string, [number, number]> = {
    Q4_0: [32, 18], Q4_1: [32, 20], Q5_0: [32, 22], Q5_1: [32, 24], Q8_0: [32, 34], Q8_1: [32, 36], Q2_K: [256, 84], Q3_K: [256, 110],
    Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210], Q8_K: [256, 292], IQ2_XXS: [256, 66], IQ2_XS: [256, 74], IQ3_XXS: [256, 98],
    IQ1_S: [256, 50], IQ4_NL: [32, 18], IQ3_S: [256, 110], IQ2_S: [256, 82], IQ4_XS: [256, 136], IQ1_M: [256, 56], TQ1_0: [256, 54], TQ2_0: [256, 66], MXFP4: [32, 17],
  };
  for (const [name, [b, s]] of Object.entries(expect)) {
    const t = ggmlTypeByName(name)!;
    assert.deepEqual([t.blockSize, t.typeSize], [b, s], name);
  }
});

test('gguf: a file built by hand from the spec', async () => {
  const b = new Bytes().u32(0x46554747).u32(3).u64(2).u64(2);
  b.str('general.architecture').u32(GgufType.STRING).str('llama');
  b.str('general.alignment').u32(GgufType.U32).u32(64);
  b.str('tok_embd').u32(2).u64(4).u64(3).u32(0).u64(0); // F32 ne = [4, 3]: 48 bytes
  b.str('blk.0.q').u32(1).u64(64).u32(2).u64(64); // Q4_0 ne = [64]: 2 blocks of 18 bytes
  b.pad(64);
  const dataOffset = b.length;
  const f32 = new Rng(1).bytes(48), q4 = new Rng(2).bytes(36);
  b.raw(f32).pad(64).raw(q4);
  const file = b.bytes();
  const l = await readGgufLayout(bufferSource(file));
  assertLayoutSane(l, file.length);
  assert.equal(l.metadata['general.architecture'], 'llama');
  assert.equal(l.metadata['gguf.alignment'], '64');
  assert.deepEqual(l.tensors.map((t) => [t.name, t.dtype, t.shape, t.offset, t.byteLength]), [
    ['tok_embd', 'F32', [3, 4], dataOffset, 48],
    ['blk.0.q', 'GGML_Q4_0', [64], dataOffset + 64, 36],
  ]);
});

function allKv(rng: Rng): GgufKV[] {
  return [
    { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
    { key: 'a.u8', type: GgufType.U8, value: 200 }, { key: 'a.i8', type: GgufType.I8, value: -100 },
    { key: 'a.u16', type: GgufType.U16, value: 60000 }, { key: 'a.i16', type: GgufType.I16, value: -30000 },
    { key: 'a.u32', type: GgufType.U32, value: 4e9 }, { key: 'a.i32', type: GgufType.I32, value: -2e9 },
    { key: 'a.f32', type: GgufType.F32, value: 0.5 }, { key: 'a.bool', type: GgufType.BOOL, value: true },
    { key: 'a.u64', type: GgufType.U64, value: 2n ** 63n + 5n }, { key: 'a.i64', type: GgufType.I64, value: -(2n ** 62n) },
    { key: 'a.f64', type: GgufType.F64, value: Math.PI },
    { key: 'tokenizer.tokens', type: GgufType.ARRAY, value: { itemType: GgufType.STRING, items: Array.from({ length: 100 }, (_, i) => `tok${i}é`) } },
    { key: 'tokenizer.scores', type: GgufType.ARRAY, value: { itemType: GgufType.F32, items: Array.from({ length: 100 }, () => Math.fround(rng.normal())) } },
    { key: 'nested', type: GgufType.ARRAY, value: { itemType: GgufType.ARRAY, items: [{ itemType: GgufType.I32, items: [1, -2] }, { itemType: GgufType.I32, items: [] }] } },
  ];
}

test('gguf: writer -> reader round trip, plain and quantized tensors, every KV type', async () => {
  const rng = new Rng(5);
  for (const alignment of [32, 64, 1]) {
    const specs: GgufTensorSpec[] = [
      { name: 'f32', dtype: 'F32', shape: [3, 5], data: rng.bytes(60) },
      { name: 'f16', dtype: 'F16', shape: [7], data: rng.bytes(14) },
      { name: 'bf16', dtype: 'BF16', shape: [2, 2, 3], data: rng.bytes(24) },
      { name: 'i8', dtype: 'I8', shape: [9], data: rng.bytes(9) },
      { name: 'q4_0', dtype: 'GGML_Q4_0', shape: [2, 64], data: rng.bytes(4 * 18) },
      { name: 'q4_k', dtype: 'GGML_Q4_K', shape: [512], data: rng.bytes(2 * 144) },
      { name: 'q8_0', dtype: 'Q8_0', shape: [32], data: rng.bytes(34) },
    ];
    const kv = allKv(rng);
    const file = await encodeGguf(specs, { alignment, kv });
    const h = await readGgufHeader(bufferSource(file));
    assert.equal(h.alignment, alignment);
    const got = h.kv.filter((x) => x.key !== 'general.alignment');
    assert.deepEqual(got, kv);
    const l = await readGgufLayout(bufferSource(file));
    assertLayoutSane(l, file.length);
    assert.equal(file.length % alignment, 0, 'ggml pads after the last tensor too');
    for (const s of specs) {
      const r = l.tensors.find((x) => x.name === s.name)!;
      assert.deepEqual(r.shape, s.shape);
      assert.equal(r.offset % alignment, 0);
      assert.ok(bytesEqual(file.subarray(r.offset, r.offset + r.byteLength), s.data as Uint8Array), s.name);
    }
    assert.equal(l.tensors.find((x) => x.name === 'q8_0')!.dtype, 'GGML_Q8_0');
  }
});

test('gguf: real Q5_1 blocks from the rwkv.cpp file survive a GGUF round trip', async (t) => {
  const bytes = await sharedFile(t, 'models/rwkv/tiny-rwkv-5v2-730K-Q5_1.bin');
  if (!bytes) return;
  const src = await readGgmfLayout(bufferSource(bytes));
  const specs = src.tensors.map((r) => ({ name: r.name, dtype: r.dtype, shape: r.shape, data: bytes.subarray(r.offset, r.offset + r.byteLength) }));
  const file = await encodeGguf(specs, { kv: [{ key: 'general.architecture', type: GgufType.STRING, value: 'rwkv' }] });
  const l = await readGgufLayout(bufferSource(file));
  assert.equal(l.tensors.length, 270);
  assert.ok(l.tensors.filter((x) => x.dtype === 'GGML_Q5_1').length > 0);
  for (const s of specs) {
    const r = l.tensors.find((x) => x.name === s.name)!;
    assert.equal(r.dtype, s.dtype);
    assert.ok(bytesEqual(file.subarray(r.offset, r.offset + r.byteLength), s.data));
  }
});

test('gguf: hostile headers', async () => {
  const base = () => new Bytes().u32(0x46554747).u32(3);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(2 ** 40).u64(0).bytes())), 'E_LIMIT', /tensor count/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(0).u64(1).u64(2 ** 50).bytes())), 'E_LIMIT');
  await rejectsWith(readGgufLayout(bufferSource(base().u64(0).u64(1).str('k').u32(GgufType.ARRAY).u32(GgufType.U64).u64(1e9).bytes())), 'E_LIMIT');
  await rejectsWith(readGgufLayout(bufferSource(base().u64(0).u64(1).str('k').u32(99).bytes())), 'E_CORRUPT', /value type/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(0).u64(1).str('general.alignment').u32(GgufType.U32).u32(48).bytes())), 'E_CORRUPT', /power-of-two/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(0).u64(2).str('k').u32(GgufType.U8).raw([1]).str('k').u32(GgufType.U8).raw([1]).bytes())), 'E_CORRUPT', /repeats/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(1).u64(0).str('t').u32(5).bytes())), 'E_LIMIT', /dimensions/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(1).u64(0).str('t').u32(1).u64(4).u32(77).u64(0).bytes())), 'E_FORMAT', /ggml type/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(1).u64(0).str('t').u32(1).u64(4).u32(0).u64(8).bytes())), 'E_CORRUPT', /alignment/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(1).u64(0).str('t').u32(1).u64(33).u32(2).u64(0).bytes())), 'E_CORRUPT', /block size/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(1).u64(0).str('t').u32(4).u64(2 ** 20).u64(2 ** 20).u64(2 ** 20).u64(2 ** 20).u32(0).u64(0).bytes())), 'E_LIMIT');
  await rejectsWith(readGgufLayout(bufferSource(base().u64(1).u64(0).str('t').u32(1).u64(1024).u32(0).u64(0).pad(32).bytes())), 'E_TRUNCATED', /'t'/);
  const overlap = base().u64(2).u64(0).str('a').u32(1).u64(16).u32(0).u64(0).str('b').u32(1).u64(8).u32(0).u64(32).pad(32).raw(new Uint8Array(96)).bytes();
  await rejectsWith(readGgufLayout(bufferSource(overlap)), 'E_CORRUPT', /overlaps/); // a: [0, 64), b: [32, 64)
  const bad = base().u64(2).u64(0).str('a').u32(1).u64(16).u32(0).u64(32).str('b').u32(1).u64(16).u32(0).u64(0).pad(32).raw(new Uint8Array(128)).bytes();
  await rejectsWith(readGgufLayout(bufferSource(bad)), 'E_CORRUPT', /overlaps/);
  await rejectsWith(readGgufLayout(bufferSource(new Bytes().u32(0x46554747).u32(0x03000000).bytes())), 'E_FORMAT', /big-endian/);
  await rejectsWith(readGgufLayout(bufferSource(base().u64(0).u64(1).str('k').u32(GgufType.STRING).u64(100).bytes())), 'E_LIMIT');
});

test('gguf: fuzzing gives ZipmlError or a sane layout', async () => {
  const rng = new Rng(8);
  const file = await encodeGguf(
    [{ name: 'w', dtype: 'F16', shape: [4, 8], data: rng.bytes(64) }, { name: 'q', dtype: 'GGML_Q5_1', shape: [64], data: rng.bytes(48) }],
    { kv: allKv(rng).slice(0, 13) },
  );
  const r = await fuzzLayout(file, 3000, 13, (s) => readGgufLayout(s));
  assert.ok(r.rejected > 300, `${r.rejected} rejected`);
});
