// The compact packed form: version 2's byte layout (known-answer head size), round trips with
// several lanes, duplicates and tensors, every corruption rejected, and version-1 files still read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { packBytes, packModel, MemoryPackSink } from '../../src/tensors/pack/pack.js';
import { unpackBytes, memoryPackedReader, openPacked } from '../../src/tensors/pack/unpack.js';
import { compactPackedReader, encodeCompact, COMPACT_VERSION } from '../../src/tensors/pack/compact.js';
import { tensorTableJson } from '../../src/tensors/pack/format.js';
import { bufferSource } from '../../src/tensors/layout.js';
import { encodeSafetensors } from '../../src/tensors/formats/safetensors.js';
import { varintSize } from '../../src/core/bits.js';
import { ZipmlError } from '../../src/core/errors.js';
import { closeDefaultPool } from '../../src/core/workers/pool.js';
import { Rng } from '../util/rng.js';
import { mutate, bytesEqual } from '../util/mutate.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
test.after(() => closeDefaultPool());

/** A small safetensors file with an F32 tensor, an I8 tensor and a duplicate of the first. */
async function lanesFile(): Promise<Uint8Array> {
  const w = new Float32Array(300).map((_, i) => Math.sin(i * 0.37) * 0.1);
  const x = new Int8Array(200).map((_, i) => ((i * 37) % 23) - 11);
  return encodeSafetensors([
    { name: 'layer.w', dtype: 'F32', shape: [300], data: w },
    { name: 'layer.q', dtype: 'I8', shape: [200], data: new Uint8Array(x.buffer) },
    { name: 'layer.w2', dtype: 'F32', shape: [300], data: w },
  ]);
}

test('compact v1 files (previous sessions) still unpack', async () => {
  // Written by the version-1 writer from lanesFile(): three lanes, one duplicate tensor.
  const v1 = new Uint8Array(readFileSync('test/tensors/fixtures/compact-v1-lanes.zml'));
  assert.equal(v1[4], 1);
  const p = await openPacked(memoryPackedReader(v1));
  assert.deepEqual(p.meta.tensors.map((t) => `${t.name}:${t.enc}`).sort(), ['layer.q:plain', 'layer.w2:dup', 'layer.w:plain']);
  const back = await unpackBytes(v1, { threads: 1 });
  assert.equal(sha(back), '58ec81b485e4170d1135264e82bdafbfdae95b17fe798b1421e2fc075cdde171');
  assert.ok(bytesEqual(back, await lanesFile()));
});

test('compact v2: head of a file packed whole is 45 bytes + flags, size, name and chunk size; every mutation is rejected', async () => {
  const rng = new Rng(7);
  const words = ['conv', 'bias', 'weight', '.', '_', '0', '1'];
  const text = new TextEncoder().encode(Array.from({ length: 700 }, () => words[rng.int(words.length)]).join(''));
  for (const name of ['vocab.txt', '']) {
    const packed = await packBytes(text, { name, threads: 1 });
    assert.equal(packed[4], COMPACT_VERSION);
    const r = compactPackedReader(packed);
    // magic 4, version 1, XXH32 4, SHA-256 32, source XXH32 4, flags 1, size, [name], chunk size 1.
    const nameBytes = name ? 1 + name.length : 0;
    assert.equal(packed.length - r.chunksLength, 46 + varintSize(text.length) + nameBytes + 1, name);
    assert.equal((r.meta as { source: { name: string } }).source.name, name);
    assert.ok(bytesEqual(await unpackBytes(packed, { threads: 1, verify: false }), text));
    for (let k = 0; k < 400; k++) {
      const { data } = mutate(packed, rng);
      if (bytesEqual(data, packed)) continue;
      await assert.rejects(unpackBytes(data, { threads: 1 }), (e: unknown) => e instanceof ZipmlError, `mutation ${k}`);
    }
  }
  // A name that would cost over 1% of the source is not stored; the bytes still come back.
  const tiny = text.subarray(0, 1000);
  const packed = await packBytes(tiny, { name: 'a-rather-long-file-name.bin', threads: 1 });
  const r = compactPackedReader(packed);
  assert.equal((r.meta as { source: { name: string } }).source.name, '');
  assert.equal(packed.length - r.chunksLength, 46 + varintSize(tiny.length) + 1);
  assert.ok(bytesEqual(await unpackBytes(packed, { threads: 1 }), tiny));
});

test('compact v2: lanes, tensor table, duplicates and per-lane chunk sizes round-trip; the index matches the container', async () => {
  const st = await lanesFile();
  // Small chunks so that lanes have several chunks each, interleaved.
  const sink = new MemoryPackSink();
  await packModel(bufferSource(st), sink, { name: 'm.safetensors', threads: 1, chunkSize: 4096 });
  const meta = { ...sink.meta! };
  const index = sink.sections.get('index')!, chunks = sink.sections.get('chunks')!;
  const table = tensorTableJson(sink.sections.get('tensors')!);
  // Also a lane with its own chunk size and a lane name outside the usual ones.
  const lanes = (meta.lanes as Array<{ name: string; scheme: string; chunkSize?: number }>).map((l) => ({ ...l }));
  lanes[0]!.name = 'custom lane ☃';
  const packed = encodeCompact({ ...meta, lanes, source: { ...(meta.source as object), format: 'someformat' } }, index, table, chunks);
  const r = compactPackedReader(packed);
  assert.deepEqual(await r.section('index'), index);
  assert.deepEqual((r.meta as { lanes: unknown }).lanes, lanes);
  assert.equal((r.meta as { source: { format: string } }).source.format, 'someformat');
  assert.ok(bytesEqual(await unpackBytes(packed, { threads: 1 }), st));
  // What packBytes picks for the file, and its tensors read back.
  const best = await packBytes(st, { name: 'm.safetensors', threads: 1 });
  assert.ok(best.length < sink.result!.length);
  assert.ok(bytesEqual(await unpackBytes(best, { threads: 1 }), st));
  // Truncated anywhere: ZipmlError.
  for (let n = 0; n < packed.length; n += 7) await assert.rejects(unpackBytes(packed.subarray(0, n), { threads: 1 }), ZipmlError, `truncated to ${n}`);
});

test('compact v2: lying sizes in the head give E_LIMIT or another ZipmlError, never a large allocation', async () => {
  const { xxh32 } = await import('../../src/core/checksum.js');
  const { writeVarint } = await import('../../src/core/bits.js');
  const varint = (v: number): number[] => {
    const b = new Uint8Array(10);
    return [...b.subarray(0, writeVarint(b, 0, v))];
  };
  /** magic, version 2, XXH32, SHA-256 and XXH32 of a `size`-byte source, flags (safetensors), size, chunk size 2^18, one structure lane, then `tail`. */
  const craft = (size: number, tail: number[]): Uint8Array => {
    const b = Uint8Array.from([0x5a, 0x54, 0x50, 0x43, 2, 0, 0, 0, 0, ...new Array(36).fill(0), 1, ...varint(size), 18, 1, 3, 1, 1, ...tail]);
    new DataView(b.buffer).setUint32(5, xxh32(b.subarray(9)), true);
    return b;
  };
  await assert.rejects(unpackBytes(craft(100, varint(17 << 20)), { threads: 1 }), (e: unknown) => e instanceof ZipmlError && e.code === 'E_LIMIT');
  // A 1 MiB table claimed from five bytes of LZ: the decoder refuses, having allocated at most that.
  await assert.rejects(unpackBytes(craft(100, [...varint(1 << 20), 5, 0, 0, 1, 2, 3]), { threads: 1 }), ZipmlError);
  // A source whose one lane would need more chunks than any compact file holds: refused before
  // reading a chunk record.
  await assert.rejects(memoryPackedReaderOf(craft(2 ** 40, [0])), (e: unknown) => e instanceof ZipmlError && e.code === 'E_LIMIT');
});

async function memoryPackedReaderOf(b: Uint8Array): Promise<unknown> {
  return compactPackedReader(b);
}
