/** rwkv.cpp ggmf files: the three real tiny RWKV v5.2 files (facts from MANIFEST.md), hostile headers, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ModelLayout, bufferSource } from '../../../src/tensors/layout.js';
import { readGgmfLayout } from '../../../src/tensors/formats/ggmf.js';
import { fuzzLayout, rejectsWith, assertLayoutSane, sharedFile } from './util.js';

const FILES = { FP32: 'F32', FP16: 'F16', Q5_1: 'GGML_Q5_1' } as const;

test('ggmf: the tiny RWKV files have 270 tensors that tile the file between their headers', async (t) => {
  const layouts: ModelLayout[] = [];
  for (const [kind, matrixDtype] of Object.entries(FILES)) {
    const bytes = await sharedFile(t, `models/rwkv/tiny-rwkv-5v2-730K-${kind}.bin`);
    if (!bytes) return;
    const l = await readGgmfLayout(bufferSource(bytes));
    assertLayoutSane(l, bytes.length);
    assert.equal(l.tensors.length, 270, kind);
    assert.deepEqual([l.metadata.version, l.metadata.n_vocab, l.metadata.n_embed, l.metadata.n_layer], ['101', '256', '64', '12']);
    // Between two tensors there is exactly one tensor header: 12 + 4 * dims + name bytes.
    let at = 24;
    for (const r of l.tensors) {
      assert.equal(r.offset, at + 12 + 4 * r.shape.length + new TextEncoder().encode(r.name).length, r.name);
      at = r.offset + r.byteLength;
    }
    assert.equal(at, bytes.length);
    const matrices = l.tensors.filter((x) => x.shape.length === 2 && x.shape[0]! > 1);
    const vectors = l.tensors.filter((x) => x.shape.every((d, i) => i === x.shape.length - 1 || d === 1));
    assert.ok(matrices.length > 0 && vectors.length > 0);
    if (kind !== 'FP32') {
      assert.ok(matrices.some((x) => x.dtype === matrixDtype), `${kind}: 2-D matrices are ${matrixDtype}`);
      assert.ok(vectors.every((x) => x.dtype === 'F32'), `${kind}: 1-D vectors stay FP32`);
    } else assert.ok(l.tensors.every((x) => x.dtype === 'F32'));
    layouts.push(l);
  }
  // Same tensors, same shapes, in the same order in all three files.
  const sig = (l: ModelLayout) => l.tensors.map((x) => `${x.name}:${x.shape.join('x')}`).join(',');
  assert.equal(sig(layouts[0]!), sig(layouts[1]!));
  assert.equal(sig(layouts[0]!), sig(layouts[2]!));
  const q = layouts[2]!.tensors.find((x) => x.dtype === 'GGML_Q5_1')!;
  assert.equal(q.byteLength, (q.shape.reduce((a, b) => a * b, 1) / 32) * 24, 'Q5_1: 24 bytes per 32 weights');
});

test('ggmf: hostile headers and fuzzing', async (t) => {
  const bytes = await sharedFile(t, 'models/rwkv/tiny-rwkv-5v2-730K-FP16.bin');
  if (!bytes) return;
  const l = await readGgmfLayout(bufferSource(bytes));
  const small = bytes.slice(0, l.tensors[12]!.offset + l.tensors[12]!.byteLength); // header + 13 tensors: still a valid file
  assert.equal((await readGgmfLayout(bufferSource(small))).tensors.length, 13);
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
  const bad = (edit: (b: Uint8Array) => void) => {
    const b = small.slice();
    edit(b);
    return readGgmfLayout(bufferSource(b));
  };
  await rejectsWith(bad((b) => dv(b).setUint32(4, 7, true)), 'E_FORMAT', /version/);
  await rejectsWith(bad((b) => dv(b).setUint32(24, 4, true)), 'E_CORRUPT', /dimensions/);
  await rejectsWith(bad((b) => dv(b).setUint32(28, 1e9, true)), 'E_LIMIT', /name/);
  await rejectsWith(bad((b) => dv(b).setUint32(32, 5, true)), 'E_FORMAT', /does not load/);
  await rejectsWith(bad((b) => dv(b).setUint32(36, 0xffffffff, true)), 'E_TRUNCATED');
  await rejectsWith(readGgmfLayout(bufferSource(small.subarray(0, small.length - 1))), 'E_TRUNCATED');
  const r = await fuzzLayout(small, 2000, 17, (s) => readGgmfLayout(s));
  assert.ok(r.rejected > 300, `${r.rejected} rejected`);
});
