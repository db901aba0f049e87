/**
 * Whole-file packing: bit-exact round trips on every real model file in ../shared/data/models, on
 * BF16/FP16 copies of real FP32 weights and on the crafted special-float file; narrowing, dedupe
 * and checkpoint deltas; hostile packed files (lying meta, bad index, truncated or corrupted
 * chunks) rejected with ZipmlError and no output file left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { packBytes, MemoryPackSink, packModel, type PackResult } from '../../src/tensors/pack/pack.js';
import { packSafetensorsBytes, unpackSafetensorsBytes, STRUCTURE_TENSOR } from '../../src/tensors/pack/safetensors-out.js';
import { readSafetensorsLayout } from '../../src/tensors/formats/safetensors.js';
import { unpackBytes, memoryPackedReader, readPackedTensor, openPacked } from '../../src/tensors/pack/unpack.js';
import { packFile, unpackFile } from '../../src/tensors/pack/files.js';
import { tensorTableJson } from '../../src/tensors/pack/format.js';
import { Sha256Reference, createSha256Offloaded, createSourceHashes, SHA256_OFFLOAD_MIN } from '../../src/tensors/pack/sha256.js';
import { xxh32 as xxh32Of } from '../../src/core/checksum.js';
import { bufferSource, readModelLayout } from '../../src/tensors/layout.js';
import { encodeSafetensors, type SafetensorsTensor } from '../../src/tensors/formats/safetensors.js';
import { specialFloatsSafetensors } from '../../src/tensors/formats/special-floats.js';
import { readContainer, ContainerBuilder, type JsonObject } from '../../src/core/container.js';
import { f32ToBf16, f32ToF16, f16ToF32 } from '../../src/core/dtypes.js';
import { closeDefaultPool } from '../../src/core/workers/pool.js';
import { compress } from '../../src/core/entropy/frame.js';
import { ZipmlError } from '../../src/core/errors.js';
import { Rng } from '../util/rng.js';
import { mutate, bytesEqual } from '../util/mutate.js';

const MODELS = '../shared/data/models';

function modelFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  walk(MODELS);
  return out.sort();
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function roundTrip(bytes: Uint8Array, name: string, threads = 1, lzLevel?: number): Promise<{ packed: Uint8Array; ratio: number }> {
  const packed = await packBytes(bytes, { name, threads, lzLevel });
  const back = await unpackBytes(packed, { threads });
  assert.equal(sha(back), sha(bytes), `${name}: round trip`);
  return { packed, ratio: packed.length / bytes.length };
}

/** The F32 tensors of the Silero safetensors file, as SafetensorsTensor with Float32Array data. */
function sileroTensors(t: { skip(m: string): void }): Array<{ name: string; shape: number[]; w: Float32Array }> | undefined {
  const p = join(MODELS, 'silero_vad/silero_vad_16k.safetensors');
  if (!existsSync(p)) {
    t.skip(`missing ${p} (shared data not present)`);
    return undefined;
  }
  const b = readFileSync(p);
  const hl = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + hl).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return Object.entries(header).filter(([k]) => k !== '__metadata__').map(([name, h]) => {
    const raw = b.subarray(8 + hl + h.data_offsets[0], 8 + hl + h.data_offsets[1]);
    return { name, shape: h.shape, w: new Float32Array(new Uint8Array(raw).buffer) };
  });
}

test('SHA-256: the TS reference equals node:crypto on pieces of any size', () => {
  const rng = new Rng(5);
  for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 100_003]) {
    const data = rng.bytes(n);
    const h = new Sha256Reference();
    for (let at = 0; at < n; ) {
      const k = Math.min(n - at, 1 + rng.int(300));
      h.update(data.subarray(at, at + k));
      at += k;
    }
    assert.equal(h.digest(), sha(data), `n=${n}`);
  }
});

test('SHA-256 on the hashing thread equals node:crypto; a large unpack verifies through it', async () => {
  const rng = new Rng(6);
  const data = rng.bytes(SHA256_OFFLOAD_MIN + 12_345);
  // Two hashes interleaved on the shared thread, fed in uneven pieces (views into one buffer).
  const a = await createSha256Offloaded(data.length), b = await createSha256Offloaded(data.length);
  for (let at = 0; at < data.length; ) {
    const k = Math.min(data.length - at, 1 + rng.int(1 << 16));
    a.update(data.subarray(at, at + k));
    b.update(data.subarray(0, k));
    at += k;
  }
  assert.equal(await a.digest(), sha(data));
  assert.notEqual(await b.digest(), sha(data));
  // A packed 5 MB float file (hashed on the thread) whose stored SHA-256 is wrong (XXH32s intact) is refused.
  const floats = new Uint8Array(new Float32Array(Array.from({ length: 5 << 18 }, () => rng.normal() * 0.02)).buffer);
  const packed = await packBytes(floats, { threads: 1 });
  assert.deepEqual(await unpackBytes(packed, { threads: 1 }), floats);
  const c = readContainer(packed, { verify: false });
  const meta = structuredClone(c.meta) as { source: { sha256: string } };
  meta.source.sha256 = '0'.repeat(64);
  const b2 = new ContainerBuilder();
  for (const name of ['chunks', 'index', 'tensors']) b2.addSection(name, c.section(name));
  const lying = b2.finish(c.kind, meta as unknown as JsonObject);
  await assert.rejects(unpackBytes(lying, { threads: 1 }), (e: unknown) => e instanceof ZipmlError && e.code === 'E_CORRUPT' && /SHA-256/.test(e.message));
  assert.deepEqual(await unpackBytes(lying, { threads: 1, verify: false }), floats);
});

test('round trip: every real model file in shared/data/models', async (t) => {
  if (!existsSync(MODELS)) return t.skip(`missing ${MODELS} (shared data not present)`);
  for (const f of modelFiles()) {
    const bytes = new Uint8Array(readFileSync(f));
    // LZ (a few MB/s in JS) only on the files up to 1 MB, to keep the suite quick; the LZ paths
    // are exercised on those (int8 TFLite, Silero's basis, text sidecars).
    const { ratio } = await roundTrip(bytes, f.split('/').pop()!, 1, bytes.length > 1 << 20 ? 0 : undefined);
    // Files of a few KB pay the container's fixed ~0.4 KB; larger ones never grow.
    if (bytes.length > 65536) assert.ok(ratio < 1, `${f}: ratio ${ratio}`);
  }
});

test('round trip: BF16 and FP16 copies of real FP32 weights, and FP32 weights, also on two threads', async (t) => {
  const ts = sileroTensors(t);
  if (!ts) return;
  const f32 = await encodeSafetensors(ts.map((x) => ({ name: x.name, dtype: 'F32', shape: x.shape, data: x.w })));
  const bf16 = await encodeSafetensors(ts.map((x) => ({ name: x.name, dtype: 'BF16', shape: x.shape, data: f32ToBf16(x.w) })));
  const f16 = await encodeSafetensors(ts.map((x) => ({ name: x.name, dtype: 'F16', shape: x.shape, data: f32ToF16(x.w) })));
  const r32 = await roundTrip(f32, 'f32.safetensors', 2);
  const rb = await roundTrip(bf16, 'bf16.safetensors');
  const rh = await roundTrip(f16, 'f16.safetensors', 2);
  // The exponent carries the gain: FP32 ~0.84, BF16 ~0.70, FP16 ~0.88 of the original (ZipNN: 0.842 / 0.686 / 0.855).
  assert.ok(r32.ratio < 0.86, `f32 ratio ${r32.ratio}`);
  assert.ok(rb.ratio < 0.72, `bf16 ratio ${rb.ratio}`);
  assert.ok(rh.ratio < 0.9, `f16 ratio ${rh.ratio}`);
  await closeDefaultPool();
});

test('round trip: crafted NaN payloads, ±0, infinities and subnormals', async () => {
  const bytes = await specialFloatsSafetensors();
  await roundTrip(bytes, 'special.safetensors');
  // Narrowing must not touch NaN payloads: the F32 tensor's bits come back exactly (checked by SHA above).
});

test('narrowing: F32 tensors holding BF16/F16 values are stored narrow, exactly', async (t) => {
  const ts = sileroTensors(t);
  if (!ts) return;
  const w = ts[1]!.w;
  const viaBf = new Float32Array(w.length), viaF16 = f16ToF32(f32ToF16(w));
  const bf = f32ToBf16(w);
  for (let i = 0; i < w.length; i++) viaBf[i] = new Float32Array(new Uint32Array([bf[i]! << 16]).buffer)[0]!;
  const bytes = await encodeSafetensors([
    { name: 'a', dtype: 'F32', shape: [w.length], data: viaBf },
    { name: 'b', dtype: 'F32', shape: [w.length], data: viaF16 },
    { name: 'c', dtype: 'F32', shape: [w.length], data: w },
  ], { keepOrder: true });
  await roundTrip(bytes, 'narrow.safetensors');
  // LZ off on both sides, to measure narrowing alone; 256 KiB chunks, which straddle the three
  // tensors (64 KiB chunks, the default for small sources, let plain F32 code each tensor's
  // zero mantissa bytes as runs too: then narrowing saves 0.6%).
  const packed = await packBytes(bytes, { threads: 1, lzLevel: 0, chunkSize: 1 << 18 });
  const p = await openPacked(memoryPackedReader(packed));
  assert.deepEqual(p.meta.tensors.map((x) => x.enc), ['bf16', 'f16', 'plain']);
  const plain = await packBytes(bytes, { threads: 1, narrow: false, lzLevel: 0, chunkSize: 1 << 18 });
  // F32 grouping already stores BF16-origin zero bytes as runs; narrowing saves their records and
  // the F16-origin tensor's partly-zero mantissa bytes.
  assert.ok(packed.length < plain.length * 0.97, `narrow ${packed.length} vs ${plain.length}`);
});

test('dedupe: identical tensors are stored once and read back alone', async (t) => {
  const ts = sileroTensors(t);
  if (!ts) return;
  const w = ts[1]!.w;
  const bytes = await encodeSafetensors([
    { name: 'embed', dtype: 'F32', shape: [w.length], data: w },
    { name: 'head', dtype: 'F32', shape: [w.length], data: w },
  ], { keepOrder: true });
  const { packed } = await roundTrip(bytes, 'tied.safetensors');
  const r = memoryPackedReader(packed);
  const p = await openPacked(r);
  assert.deepEqual(p.meta.tensors.map((x) => x.enc), ['plain', 'dup']);
  assert.ok(packed.length < w.byteLength * 0.9);
  const head = await readPackedTensor(r, 'head');
  assert.ok(bytesEqual(head.bytes, new Uint8Array(w.buffer)));
});

test('checkpoint delta: a fine-tuning step packs as XOR against the base, far smaller', async (t) => {
  const ts = sileroTensors(t);
  if (!ts) return;
  const rng = new Rng(99);
  // A fine-tuning step: each weight moves by a small relative update (lr 1e-3 scale); 10% stay.
  const next = ts.map((x) => ({ ...x, w: x.w.map((v) => (rng.float() < 0.1 ? v : v * (1 + rng.normal() * 1e-3))) }));
  const toFile = (list: typeof ts) => encodeSafetensors(list.map((x) => ({ name: x.name, dtype: 'F32', shape: x.shape, data: x.w }) as SafetensorsTensor));
  const baseBytes = await toFile(ts), nextBytes = await toFile(next);
  const alone = await packBytes(nextBytes, { threads: 1 });
  const sink = new MemoryPackSink();
  await packModel(bufferSource(nextBytes), sink, { threads: 1, base: { source: bufferSource(baseBytes), name: 'base.safetensors' } });
  const delta = sink.result!;
  assert.ok(delta.length < alone.length * 0.75, `delta ${delta.length} vs alone ${alone.length}`);
  const back = await unpackBytes(delta, { threads: 1, base: bufferSource(baseBytes) });
  assert.equal(sha(back), sha(nextBytes));
  await assert.rejects(unpackBytes(delta, { threads: 1 }), (e: unknown) => e instanceof ZipmlError && e.code === 'E_ARG');
  await assert.rejects(unpackBytes(delta, { threads: 1, base: bufferSource(nextBytes) }), (e: unknown) => e instanceof ZipmlError && e.code === 'E_ARG');
});

/** Rebuilds a packed file with its meta (and optionally a section) changed; checksums stay valid. */
function tamper(packed: Uint8Array, edit: (meta: JsonObject) => void, sections?: Record<string, Uint8Array>): Uint8Array {
  const c = readContainer(packed);
  const meta = structuredClone(c.meta);
  edit(meta);
  const b = new ContainerBuilder();
  for (const s of c.sections) b.addSection(s.name, sections?.[s.name] ?? c.section(s.name), s.meta);
  return b.finish(c.kind, meta);
}

test('hostile packed files: lying meta, bad index, truncated or corrupted chunks give ZipmlError', async () => {
  const rng = new Rng(1);
  const w = new Float32Array(50_000).map(() => rng.normal() * 0.05);
  const bytes = await encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [w.length], data: w }, { name: 'x', dtype: 'I8', shape: [999], data: rng.bytes(999) }]);
  // The container form (packBytes would pick the compact form for a file this small).
  const sink = new MemoryPackSink();
  await packModel(bufferSource(bytes), sink, { threads: 1 });
  const packed = sink.result!;
  type T = { source: Record<string, unknown>; lanes: unknown[]; chunkSize: unknown; structureLane: unknown };
  const edits: Array<[string, (m: T) => void]> = [
    ['wrong source size', (m) => { m.source.size = (m.source.size as number) + 100; }],
    ['bad chunk size', (m) => { m.chunkSize = 3; }],
    ['unknown scheme', (m) => { m.lanes[0] = { name: 'x', scheme: 'f128' }; }],
    ['structure lane out of range', (m) => { m.structureLane = 9; }],
    ['wrong sha', (m) => { m.source.sha256 = '0'.repeat(64); }],
    ['wrong xxh32', (m) => { m.source.xxh32 = '00000000'; }],
  ];
  for (const [what, edit] of edits) {
    const bad = tamper(packed, (m) => edit(m as unknown as T));
    await assert.rejects(unpackBytes(bad, { threads: 1, verify: what !== 'wrong xxh32' }), (e: unknown) => e instanceof ZipmlError, what);
  }
  type Table = { gaps: number[]; lengths: number[]; lanes: number[]; enc: string; shapes: number[][]; of: Record<string, number> };
  const tableEdits: Array<[string, (t: Table) => void]> = [
    ['offset past the end', (t) => { t.gaps[0] = 1e12; }],
    ['huge shape and length', (t) => { t.lengths[0] = 2 ** 40; t.shapes[0] = [2 ** 38]; }],
    ['unknown lane', (t) => { t.lanes[0] = 7; }],
    ['dup of itself', (t) => { t.enc = 'pd'; t.of = { 1: 1 }; }],
    ['narrow in wrong lane', (t) => { t.enc = 'hp'; }],
    ['columns differ', (t) => { t.lanes.push(0); }],
  ];
  const tableOf = (p: Uint8Array) => JSON.parse(new TextDecoder().decode(tensorTableJson(readContainer(p).section('tensors')))) as Table;
  for (const [what, edit] of tableEdits) {
    const t = tableOf(packed);
    edit(t);
    const bad = tamper(packed, () => undefined, { tensors: compress(new TextEncoder().encode(JSON.stringify(t))) });
    await assert.rejects(unpackBytes(bad, { threads: 1 }), (e: unknown) => e instanceof ZipmlError, what);
  }
  const c = readContainer(packed);
  const index = c.section('index').slice();
  index[12 + 5] ^= 1; // a chunk's decoded size
  await assert.rejects(unpackBytes(tamper(packed, () => undefined, { index }), { threads: 1 }), ZipmlError);
  const chunks = c.section('chunks');
  await assert.rejects(unpackBytes(tamper(packed, () => undefined, { chunks: chunks.subarray(0, chunks.length - 7) }), { threads: 1 }), ZipmlError);
  const flipped = chunks.slice();
  flipped[100] ^= 4;
  await assert.rejects(unpackBytes(tamper(packed, () => undefined, { chunks: flipped }), { threads: 1 }), ZipmlError);
});

test('fuzz: mutated packed files give ZipmlError or the exact original', async () => {
  const rng = new Rng(2);
  const w = new Float32Array(3000).map(() => rng.normal());
  const bytes = await encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [w.length], data: w }, { name: 'h', dtype: 'F16', shape: [500], data: f32ToF16(w.subarray(0, 500)) }]);
  const packed = await packBytes(bytes, { threads: 1, chunkSize: 4096 });
  let rejected = 0;
  for (let i = 0; i < 1500; i++) {
    const { data, kind } = mutate(packed, rng);
    try {
      const out = await unpackBytes(data, { threads: 1, verify: i % 2 === 0 });
      assert.ok(bytesEqual(out, bytes), `mutation ${i} (${kind}) decoded to other bytes`);
    } catch (e) {
      assert.ok(e instanceof ZipmlError, `mutation ${i} (${kind}) threw ${(e as Error).stack}`);
      rejected++;
    }
  }
  assert.ok(rejected > 1000);
});

test('files: pack and unpack on disk, refusal to overwrite, no output left after a failure', async (t) => {
  const f = join(MODELS, 'llama2c/stories260K.bin');
  if (!existsSync(f)) return t.skip(`missing ${f} (shared data not present)`);
  const dir = mkdtempSync(join(tmpdir(), 'zipml-pack-'));
  try {
    const packedPath = join(dir, 'm.zml'), outPath = join(dir, 'm.bin');
    const r = (await packFile(f, packedPath, { threads: 1 })) as PackResult;
    assert.equal(r.meta.source.format, (await readModelLayout(bufferSource(new Uint8Array(readFileSync(f))), { fileName: 'stories260K.bin' })).format);
    await assert.rejects(packFile(f, packedPath, { threads: 1 }), (e: unknown) => e instanceof ZipmlError && e.code === 'E_ARG');
    await unpackFile(packedPath, outPath, { threads: 1 });
    assert.equal(sha(readFileSync(outPath)), sha(readFileSync(f)));
    // Corrupt one chunk byte (the section checksum is not what unpack relies on: the chunk's own is).
    const bad = new Uint8Array(readFileSync(packedPath));
    bad[200] ^= 0x10;
    const badPath = join(dir, 'bad.zml'), badOut = join(dir, 'bad.bin');
    writeFileSync(badPath, bad);
    await assert.rejects(unpackFile(badPath, badOut, { threads: 1 }), ZipmlError);
    assert.deepEqual(readdirSync(dir).sort(), ['bad.zml', 'm.bin', 'm.zml']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compact form: small files pack smaller than in the container, round-trip in memory and on disk, and hostile ones give ZipmlError', async () => {
  const rng = new Rng(41);
  // A 6 KB safetensors file of F16 weights and a text-like 5 KB blob: both go compact.
  const w = new Float32Array(1500).map(() => rng.normal() * 0.05);
  const st = await encodeSafetensors([{ name: 'w', dtype: 'F16', shape: [1500], data: f32ToF16(w) }, { name: 'b', dtype: 'F32', shape: [16], data: w.subarray(0, 16) }]);
  const words = ['weight', 'bias', 'conv', 'layer', 'norm', 'attn', 'proj', '.', '_', '0', '1', '2'];
  const text = new TextEncoder().encode(Array.from({ length: 900 }, () => words[rng.int(words.length)]).join(''));
  for (const [name, bytes] of [['m.safetensors', st], ['vocab.txt', text]] as const) {
    const packed = await packBytes(bytes, { name, threads: 1 });
    assert.deepEqual([...packed.subarray(0, 4)], [0x5a, 0x54, 0x50, 0x43], `${name}: compact form chosen`);
    const sink = new MemoryPackSink();
    await packModel(bufferSource(bytes), sink, { name, threads: 1 });
    assert.ok(packed.length < sink.result!.length - 300, `${name}: compact ${packed.length} vs container ${sink.result!.length}`);
    assert.ok(bytesEqual(await unpackBytes(packed, { threads: 1 }), bytes), `${name}: round trip`);
    assert.equal((await openPacked(memoryPackedReader(packed))).meta.source.sha256, sha(bytes));
    for (let i = 0; i < 300; i++) {
      const { data } = mutate(packed, rng);
      try {
        assert.ok(bytesEqual(await unpackBytes(data, { threads: 1 }), bytes), `${name}: a mutation decoded to other bytes`);
      } catch (e) {
        assert.ok(e instanceof ZipmlError, `${name}: ${String(e)}`);
      }
    }
  }
  // On disk: packFile writes the compact form, unpackFile restores it; a corrupted head is refused.
  const dir = mkdtempSync(join(tmpdir(), 'zipml-compact-'));
  try {
    const src = join(dir, 'vocab.txt'), packedPath = join(dir, 'v.zml'), out = join(dir, 'v.txt');
    writeFileSync(src, text);
    await packFile(src, packedPath, { threads: 1 });
    assert.equal(readFileSync(packedPath).subarray(0, 4).toString('latin1'), 'ZTPC');
    await unpackFile(packedPath, out, { threads: 1 });
    assert.equal(sha(readFileSync(out)), sha(text));
    const bad = new Uint8Array(readFileSync(packedPath));
    bad[8] ^= 0x20;
    writeFileSync(join(dir, 'bad.zml'), bad);
    await assert.rejects(unpackFile(join(dir, 'bad.zml'), join(dir, 'bad.txt'), { threads: 1 }), ZipmlError);
    assert.ok(!existsSync(join(dir, 'bad.txt')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors-compatible output: standard readers list the tensors; unpack restores the file', async (t) => {
  const f = join(MODELS, 'silero_vad/silero_vad.onnx');
  if (!existsSync(f)) return t.skip(`missing ${f} (shared data not present)`);
  const bytes = new Uint8Array(readFileSync(f));
  const packed = await packSafetensorsBytes(bytes, { name: 'silero_vad.onnx', lzLevel: 0 });
  const listed = await readSafetensorsLayout(bufferSource(packed));
  const original = await readModelLayout(bufferSource(bytes), { fileName: 'silero_vad.onnx' });
  assert.deepEqual(listed.tensors.map((x) => x.name).sort(), [...original.tensors.map((x) => x.name), STRUCTURE_TENSOR].sort());
  assert.ok(listed.tensors.every((x) => x.dtype === 'U8'));
  const meta = JSON.parse(listed.metadata.zipml!) as { tensors: Array<{ n: string; d: string; s: number[] }> };
  assert.deepEqual(meta.tensors.map((x) => [x.n, x.d, x.s]), original.tensors.map((x) => [x.name, x.dtype, x.shape]));
  assert.ok(packed.length < bytes.length * 0.9, `ratio ${packed.length / bytes.length}`); // LZ off: no gain on the STFT basis
  assert.equal(sha(await unpackSafetensorsBytes(packed)), sha(bytes));
  const rng = new Rng(17);
  for (let i = 0; i < 150; i++) {
    const { data } = mutate(packed, rng);
    try {
      assert.ok(bytesEqual(await unpackSafetensorsBytes(data, { verify: false }), bytes));
    } catch (e) {
      assert.ok(e instanceof ZipmlError, `mutation ${i}: ${(e as Error).stack}`);
    }
  }
});

test('source hashes (SHA-256 and XXH32, on the hashing thread for large sources) equal node:crypto and xxh32', async () => {
  const rng = new Rng(17);
  for (const n of [1000, SHA256_OFFLOAD_MIN + 77_777]) {
    const data = rng.bytes(n);
    const h = await createSourceHashes(n);
    for (let at = 0; at < n; ) {
      const k = Math.min(n - at, 1 + rng.int(300_000));
      h.update(data.subarray(at, at + k));
      at += k;
    }
    assert.deepEqual(await h.digest(), { sha256: sha(data), xxh32: xxh32Of(data) }, `n=${n}`);
  }
});
