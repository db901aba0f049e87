/**
 * safetensors: the real Silero VAD file (facts from MANIFEST.md), byte-exact rewrite of it,
 * writer -> reader round trips on seeded random tensors, hostile headers, and fuzzing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../../src/tensors/layout.js';
import {
  SAFETENSORS_MAX_HEADER_BYTES, encodeSafetensors, readSafetensorsLayout, safetensorsHeader, type SafetensorsTensor,
} from '../../../src/tensors/formats/safetensors.js';
import { specialFloatTensors, specialFloatsSafetensors } from '../../../src/tensors/formats/special-floats.js';
import { bytesEqual } from '../../util/mutate.js';
import { Rng } from '../../util/rng.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, sharedFile } from './util.js';

const enc = new TextEncoder();

/** A file from a raw header string and a buffer of `n` bytes. */
function rawFile(header: string, n: number, lenOverride?: number): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + n);
  new DataView(out.buffer).setUint32(0, lenOverride ?? h.length, true);
  out.set(h, 8);
  return out;
}

test('safetensors: Silero VAD 16k has 15 F32 tensors and rewrites byte for byte', async (t) => {
  const bytes = await sharedFile(t, 'models/silero_vad/silero_vad_16k.safetensors');
  if (!bytes) return;
  const l = await readSafetensorsLayout(bufferSource(bytes));
  assertLayoutSane(l, bytes.length);
  assert.equal(l.format, 'safetensors');
  assert.equal(l.tensors.length, 15);
  assert.ok(l.tensors.every((x) => x.dtype === 'F32'));
  const stft = l.tensors.find((x) => x.name === 'stft_conv.weight')!;
  assert.deepEqual(stft.shape, [258, 1, 256]);
  assert.equal(stft.byteLength, 258 * 256 * 4);
  const params = l.tensors.reduce((s, x) => s + x.byteLength / 4, 0);
  assert.ok(params > 300_000 && params < 320_000, `~309k params, got ${params}`);
  // The tensors tile everything after the header.
  assert.equal(l.tensors.at(-1)!.offset + l.tensors.at(-1)!.byteLength, bytes.length);
  // Written again in file order from the regions, the file is identical (header padding included).
  const again = await encodeSafetensors(
    l.tensors.map((x) => ({ name: x.name, dtype: x.dtype, shape: x.shape, data: bytes.subarray(x.offset, x.offset + x.byteLength) })),
    { keepOrder: true, metadata: l.metadata },
  );
  assert.ok(bytesEqual(again, bytes));
});

function randomTensors(rng: Rng): SafetensorsTensor[] {
  const dtypes = ['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL'] as const;
  const size: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2 };
  return Array.from({ length: 12 }, (_, i) => {
    const dtype = dtypes[rng.int(dtypes.length)]!;
    const shape = Array.from({ length: rng.int(4) }, () => rng.int(7));
    const n = shape.reduce((a, b) => a * b, 1) * (size[dtype] ?? 1);
    return { name: `layer.${rng.int(1000)}.${i}`, dtype, shape, data: rng.bytes(n) };
  });
}

test('safetensors: writer -> reader round trip on seeded random tensors, reference order and padding', async () => {
  const rng = new Rng(7);
  for (let round = 0; round < 20; round++) {
    const tensors = randomTensors(rng);
    const file = await encodeSafetensors(tensors, { metadata: { format: 'pt', round: `${round}` } });
    const hlen = new DataView(file.buffer).getUint32(0, true);
    assert.equal(hlen % 8, 0, 'header padded to 8 bytes');
    const l = await readSafetensorsLayout(bufferSource(file));
    assertLayoutSane(l, file.length);
    assert.deepEqual(l.metadata, { format: 'pt', round: `${round}` });
    assert.equal(l.tensors.length, tensors.length);
    for (const src of tensors) {
      const r = l.tensors.find((x) => x.name === src.name)!;
      assert.equal(r.dtype, src.dtype);
      assert.deepEqual(r.shape, src.shape);
      assert.ok(bytesEqual(file.subarray(r.offset, r.offset + r.byteLength), src.data as Uint8Array));
    }
    // Data order: larger dtypes first (the reference's Dtype order, descending), then by name.
    const order = l.tensors.filter((x) => x.byteLength > 0).map((x) => x.name);
    const expected = tensors.filter((x) => (x.data as Uint8Array).length > 0).slice().sort((a, b) => {
      const rank = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'];
      return rank.indexOf(b.dtype) - rank.indexOf(a.dtype) || (a.name < b.name ? -1 : 1);
    }).map((x) => x.name);
    assert.deepEqual(order, expected);
  }
});

test('safetensors: a header the reference writer would produce, byte for byte', () => {
  const { header } = safetensorsHeader([{ name: 'x', dtype: 'F32', shape: [2] }], { metadata: { a: 'b' } });
  const json = '{"__metadata__":{"a":"b"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const pad = (8 - (json.length % 8)) % 8;
  assert.equal(new TextDecoder().decode(header.subarray(8)), json + ' '.repeat(pad));
  assert.equal(new DataView(header.buffer).getUint32(0, true), json.length + pad);
});

test('safetensors: the crafted special-float file keeps every bit pattern', async () => {
  const file = await specialFloatsSafetensors(256);
  const l = await readSafetensorsLayout(bufferSource(file));
  for (const src of specialFloatTensors(256)) {
    const r = l.tensors.find((x) => x.name === src.name)!;
    assert.ok(bytesEqual(file.subarray(r.offset, r.offset + r.byteLength), src.data as Uint8Array));
  }
  const f32 = specialFloatTensors(256)[0]!.data as Uint8Array;
  const u = new Uint32Array(f32.slice().buffer);
  assert.ok(u.includes(0x7f800001) && u.includes(0xff800001), 'signalling NaNs of both signs');
  assert.ok(u.includes(0x80000000) && u.includes(1) && u.includes(0x007fffff), '-0 and subnormals');
  const bf = new Uint16Array((specialFloatTensors(256)[2]!.data as Uint8Array).slice().buffer);
  assert.ok(bf.includes(0x7f81) && bf.includes(0xff80) && bf.includes(0x0001));
});

test('safetensors: hostile headers', async () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  await readSafetensorsLayout(bufferSource(rawFile(ok, 8)));
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile(ok, 8, 200_000_000))), 'E_LIMIT', /limit/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile(ok, 8, 1000))), 'E_TRUNCATED');
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile(ok, 4))), 'E_TRUNCATED', /'a'/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile(ok, 12))), 'E_CORRUPT', /cover/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8))), 'E_CORRUPT', /needs 12/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}', 6))), 'E_CORRUPT', /overlap/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8))), 'E_CORRUPT', /gap/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 8))), 'E_CORRUPT', /end before/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8))), 'E_CORRUPT', /repeats/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}', 4))), 'E_FORMAT');
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}', 4))), 'E_LIMIT');
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile(' {}', 0))), 'E_CORRUPT', /start/);
  await rejectsWith(readSafetensorsLayout(bufferSource(rawFile('{"__metadata__":{"k":1}}', 0))), 'E_CORRUPT', /string/);
  const bad = rawFile('{"\xff":1}', 0);
  bad[10] = 0xff; // invalid UTF-8 inside the key
  await rejectsWith(readSafetensorsLayout(bufferSource(bad)), 'E_CORRUPT', /UTF-8/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setUint32(4, 0x7fffffff, true);
  await rejectsWith(readSafetensorsLayout(bufferSource(huge)), 'E_LIMIT');
  assert.ok(SAFETENSORS_MAX_HEADER_BYTES === 100_000_000);
});

test('safetensors: fuzzing gives ZipmlError or a sane layout', async () => {
  const file = await encodeSafetensors(randomTensors(new Rng(3)), { metadata: { k: 'v' } });
  const r = await fuzzLayout(file, 3000, 11, (s) => readSafetensorsLayout(s));
  assert.ok(r.rejected > 1000, `most mutations are rejected (${r.rejected})`);
});
