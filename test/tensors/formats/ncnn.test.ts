/** ncnn: NanoDet-m (.bin + .param, facts from MANIFEST.md), the fallback for unknown layers, hostile params, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ByteSource, bufferSource } from '../../../src/tensors/layout.js';
import { readNcnnLayout } from '../../../src/tensors/formats/ncnn.js';
import { assertLayoutSane, fuzzLayout, rejectsWith, sharedFile } from './util.js';

const enc = new TextEncoder();
const withParam = (param: string) => ({ fileName: 'm.bin', sidecar: async (n: string): Promise<ByteSource | undefined> => (n === 'm.param' ? bufferSource(enc.encode(param)) : undefined) });

async function nanodet(t: { skip(msg: string): void }): Promise<{ bin: Uint8Array; param: string } | undefined> {
  const bin = await sharedFile(t, 'models/ncnn_nanodet/nanodet-m.bin');
  const param = await sharedFile(t, 'models/ncnn_nanodet/nanodet-m.param');
  return bin && param ? { bin, param: new TextDecoder().decode(param) } : undefined;
}

/** The first `n` layers of a param file, as a valid param of their own. */
function firstLayers(param: string, n: number): string {
  const lines = param.trim().split('\n');
  return [lines[0], `${n} 999`, ...lines.slice(2, 2 + n)].join('\n');
}

test('ncnn: NanoDet-m has 73 FP16 weight blobs, each after the 0x01306B47 tag, and FP32 biases', async (t) => {
  const m = await nanodet(t);
  if (!m) return;
  const l = await readNcnnLayout(bufferSource(m.bin), withParam(m.param));
  assertLayoutSane(l, m.bin.length);
  const f16 = l.tensors.filter((x) => x.dtype === 'F16');
  assert.equal(f16.length, 73);
  const dv = new DataView(m.bin.buffer, m.bin.byteOffset);
  for (const x of f16) assert.equal(dv.getUint32(x.offset - 4, true), 0x01306b47, `${x.name} follows the fp16 tag`);
  assert.equal(l.tensors.filter((x) => x.dtype === 'F32').length, 73, 'every conv has a bias');
  assert.deepEqual(l.tensors[0], { name: 'Conv_0.weight', dtype: 'F16', shape: [24, 3, 3, 3], offset: 4, byteLength: 1296 });
  // Weights + tags + alignment padding account for the whole file.
  const pad = f16.reduce((s, x) => s + 4 + ((4 - (x.byteLength % 4)) % 4), 0);
  assert.equal(l.tensors.reduce((s, x) => s + x.byteLength, 0) + pad, m.bin.length);
});

test('ncnn: an unknown layer type falls back to splitting at fp16 tags', async (t) => {
  const m = await nanodet(t);
  if (!m) return;
  const exact = await readNcnnLayout(bufferSource(m.bin), withParam(m.param));
  // Rename the 10th weighted layer's type: the reader cannot know its loads any more.
  const lines = m.param.split('\n');
  const idx = lines.findIndex((line, i) => i > 2 && /^Convolution\s/.test(line) && lines.slice(2, i).filter((x) => /^Convolution/.test(x)).length >= 9);
  lines[idx] = lines[idx]!.replace(/^Convolution/, 'MysteryOp  ');
  const l = await readNcnnLayout(bufferSource(m.bin), withParam(lines.join('\n')));
  assertLayoutSane(l, m.bin.length);
  assert.match(l.metadata['ncnn.fallback']!, /MysteryOp/);
  const cut = l.tensors.findIndex((x) => x.name.startsWith('blob@'));
  assert.deepEqual(l.tensors.slice(0, cut), exact.tensors.slice(0, cut), 'layers before the unknown one are exact');
  const exactF16Starts = new Set(exact.tensors.filter((x) => x.dtype === 'F16').map((x) => x.offset));
  for (const x of l.tensors.slice(cut)) assert.ok(exactF16Starts.has(x.offset), `${x.name} starts where an fp16 blob starts`);
});

test('ncnn: hostile params and fuzzing', async (t) => {
  const m = await nanodet(t);
  if (!m) return;
  await rejectsWith(readNcnnLayout(bufferSource(m.bin)), 'E_FORMAT', /\.param/);
  await rejectsWith(readNcnnLayout(bufferSource(m.bin), withParam(m.param.replace('7767517', '7767518'))), 'E_FORMAT');
  await rejectsWith(readNcnnLayout(bufferSource(m.bin), withParam(m.param.replace('153 178', '154 178'))), 'E_CORRUPT', /declares/);
  await rejectsWith(readNcnnLayout(bufferSource(m.bin), withParam(m.param.replace('6=648', '6=999999'))), 'E_TRUNCATED');
  await rejectsWith(readNcnnLayout(bufferSource(m.bin), withParam(m.param.replace('6=648', '6=99999999'))), 'E_CORRUPT', /elements/);
  await rejectsWith(readNcnnLayout(bufferSource(m.bin), withParam(m.param.replace('6=648', '6=640'))), 'E_CORRUPT');
  await rejectsWith(readNcnnLayout(bufferSource(m.bin), withParam(m.param.replace('6=648', '6=x'))), 'E_CORRUPT');
  await rejectsWith(readNcnnLayout(bufferSource(m.bin.subarray(0, m.bin.length - 8)), withParam(m.param)), 'E_TRUNCATED');
  // A small valid model: the first 8 layers and the bytes they load.
  const param = firstLayers(m.param, 8);
  const full = await readNcnnLayout(bufferSource(m.bin), withParam(m.param));
  const small0 = await readNcnnLayout(bufferSource(m.bin), withParam(param)).catch((e: Error) => e);
  assert.ok(small0 instanceof Error, 'the prefix param does not account for the whole .bin');
  const names = new Set(param.split('\n').slice(2).map((x) => x.split(/\s+/)[1]));
  const last = full.tensors.filter((x) => names.has(x.name.split('.')[0])).at(-1)!;
  const bin = m.bin.slice(0, last.offset + last.byteLength);
  assert.ok((await readNcnnLayout(bufferSource(bin), withParam(param))).tensors.length > 4);
  const r1 = await fuzzLayout(bin, 1500, 29, (s) => readNcnnLayout(s, withParam(param)));
  const r2 = await fuzzLayout(enc.encode(param), 1500, 31, (s) => readNcnnLayout(bufferSource(bin), { fileName: 'm.bin', sidecar: async () => s }), bin.length);
  assert.ok(r1.rejected > 100 && r2.rejected > 100, `${r1.rejected} / ${r2.rejected} rejected`);
});
