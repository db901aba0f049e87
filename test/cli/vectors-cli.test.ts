import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFvecs, encodeIvecs, parseIvecs } from '../../src/vectors/index.js';
import { knn } from '../../src/vectors/knn.js';
import { loadIndex } from '../../src/vectors/index/file.js';
import { Rng } from '../util/rng.js';
import { zipml } from '../util/cli.js';

test('zipml vectors build / search: recall printed, ids written, same ids as the library', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-vcli-'));
  try {
    const r = new Rng(4);
    const d = 16, n = 3000, nq = 50;
    const x = new Float32Array((n + nq) * d);
    for (let i = 0; i < x.length; i++) x[i] = r.int(21) - 10;
    const base = x.subarray(0, n * d), q = x.subarray(n * d);
    await writeFile(join(dir, 'base.fvecs'), encodeFvecs(base, d));
    await writeFile(join(dir, 'q.fvecs'), encodeFvecs(q, d));
    const gt = knn(base, q, d, 10);
    await writeFile(join(dir, 'gt.ivecs'), encodeIvecs(gt.ids, 10));
    const b = await zipml('vectors', 'build', '--index', 'IVF8,Flat', '--base', join(dir, 'base.fvecs'), '-o', join(dir, 'ix.zml'));
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /IVF8,Flat \(l2\), 3000 x 16/);
    // nprobe = nlist with a lossless codec: exact.
    const s = await zipml('vectors', 'search', join(dir, 'ix.zml'), '--queries', join(dir, 'q.fvecs'), '-k', '10', '--nprobe', '8', '--gt', join(dir, 'gt.ivecs'), '--out', join(dir, 'ids.ivecs'));
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /recall@10 1\.0000/);
    assert.match(s.stdout, /queries\/s/);
    const ids = parseIvecs(new Uint8Array(await readFile(join(dir, 'ids.ivecs'))));
    assert.deepEqual(Array.from(ids.data), Array.from(gt.ids));
    const index = loadIndex(new Uint8Array(await readFile(join(dir, 'ix.zml'))));
    assert.equal(index.ntotal, n);
    // Refusals: existing output, bad factory string, wrong dimension.
    const again = await zipml('vectors', 'build', '--index', 'Flat', '--base', join(dir, 'base.fvecs'), '-o', join(dir, 'ix.zml'));
    assert.equal(again.code, 2);
    const bad = await zipml('vectors', 'build', '--index', 'IVF8,Bogus', '--base', join(dir, 'base.fvecs'), '-o', join(dir, 'ix2.zml'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /E_ARG/);
    await writeFile(join(dir, 'q8.fvecs'), encodeFvecs(new Float32Array(8), 8));
    const wrong = await zipml('vectors', 'search', join(dir, 'ix.zml'), '--queries', join(dir, 'q8.fvecs'));
    assert.equal(wrong.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
