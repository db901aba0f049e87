import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorIndex, indexFactory } from '../../../src/vectors/index/vector-index.js';
import { parseFactory } from '../../../src/vectors/index/factory.js';
import { saveIndex, loadIndex } from '../../../src/vectors/index/file.js';
import { IdSet } from '../../../src/vectors/search/filter.js';
import { TopK, Reservoir } from '../../../src/vectors/search/topk.js';
import { knn } from '../../../src/vectors/knn.js';
import { isZipmlError } from '../../../src/core/errors.js';
import type { Metric } from '../../../src/vectors/types.js';
import { Rng } from '../../util/rng.js';
import { fuzzDecoder } from '../../util/mutate.js';

/** Small-integer vectors: every distance is exact in float32, so every path must agree exactly. */
function intVectors(n: number, d: number, seed: number, range = 8): Float32Array {
  const r = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = r.int(2 * range + 1) - range;
  return x;
}

/** Clustered float vectors, for the lossy indexes. */
function clustered(n: number, d: number, seed: number, centers = 16): Float32Array {
  const r = new Rng(seed);
  const c = new Float32Array(centers * d);
  for (let i = 0; i < c.length; i++) c[i] = 4 * r.normal();
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const k = r.int(centers);
    for (let j = 0; j < d; j++) x[i * d + j] = c[k * d + j]! + r.normal();
  }
  return x;
}

function rows(x: Float32Array, d: number, i: number): Float32Array {
  return x.subarray(i * d, (i + 1) * d);
}

function recallAt(ids: Float64Array, gt: Int32Array, nq: number, k: number): number {
  let hit = 0;
  for (let i = 0; i < nq; i++) {
    const s = new Set(Array.from(gt.subarray(i * k, (i + 1) * k)));
    for (let j = 0; j < k; j++) if (s.has(ids[i * k + j]!)) hit++;
  }
  return hit / (nq * k);
}

test('TopK and Reservoir keep the k best pairs, ties by the smaller label', () => {
  const r = new Rng(5);
  for (let trial = 0; trial < 50; trial++) {
    const k = 1 + r.int(20);
    const n = r.int(300);
    const vals = Array.from({ length: n }, () => r.int(40));
    const t = new TopK(k), res = new Reservoir(k);
    vals.forEach((v, i) => {
      if (v <= t.threshold) t.push(v, i);
      res.push(v, i);
    });
    const want = vals.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k);
    assert.deepEqual(t.sorted(), t.sorted(), 'sorted() leaves the collector as it was');
    for (const got of [t.sorted(), res.sorted()]) {
      assert.deepEqual(Array.from(got.labels), want.map((p) => p[1]));
      assert.deepEqual(Array.from(got.values), want.map((p) => p[0]));
    }
  }
});

for (const metric of ['l2', 'ip'] as Metric[]) {
  test(`Flat and IVF,Flat with nprobe = nlist equal exact search (${metric})`, () => {
    const d = 12, n = 3000, nq = 40, k = 10;
    const base = intVectors(n, d, 1), q = intVectors(nq, d, 2);
    const gt = knn(base, q, d, k, metric);
    for (const f of ['Flat', 'IVF16,Flat']) {
      const ix = indexFactory(d, f, { metric });
      ix.train(base);
      ix.add(base);
      const batch = ix.search(q, k, { nprobe: 16 });
      assert.deepEqual(Array.from(batch.ids), Array.from(gt.ids), `${f} batch ids`);
      assert.deepEqual(Array.from(batch.distances), Array.from(gt.distances), `${f} batch distances`);
      for (let i = 0; i < nq; i++) {
        const one = ix.search(rows(q, d, i), k, { nprobe: 16 });
        assert.deepEqual(Array.from(one.ids), Array.from(gt.ids.subarray(i * k, (i + 1) * k)), `${f} query ${i}`);
      }
    }
  });
}

test('cosine indexes rank by cosine similarity', () => {
  const d = 16, n = 2000, nq = 20, k = 5;
  const base = clustered(n, d, 3), q = clustered(nq, d, 4);
  const gt = knn(base, q, d, k, 'cos');
  const ix = indexFactory(d, 'Flat', { metric: 'cos' });
  ix.train(base);
  ix.add(base);
  const r = ix.search(q, k);
  assert.ok(recallAt(r.ids, gt.ids, nq, k) >= 0.99);
  for (let i = 0; i < nq * k; i++) assert.ok(Math.abs(r.distances[i]! - gt.distances[i]!) < 1e-5);
});

test('byResidual defaults as Faiss builds each type: off for PQ…x4fs only', () => {
  assert.equal(indexFactory(16, 'IVF8,PQ4x4fs').byResidual, false);
  assert.equal(indexFactory(16, 'IVF8,PQ4x4fs', { byResidual: true }).byResidual, true);
  assert.equal(indexFactory(16, 'IVF8,PQ4').byResidual, true);
  assert.equal(indexFactory(16, 'IVF8,SQ8').byResidual, true);
  assert.equal(indexFactory(16, 'IVF8,Flat').byResidual, false);
});

test('lossy indexes reach useful recall; refine re-ranks with exact distances', () => {
  const d = 32, n = 6000, nq = 50, k = 10;
  const base = clustered(n, d, 5), q = clustered(nq, d, 6);
  const gt = knn(base, q, d, k);
  const cases: Array<[string, number, number, number, boolean?]> = [
    // factory, nprobe, kFactor, minimum recall, byResidual
    ['SQ8', 1, 1, 0.9],
    ['IVF32,SQ8', 32, 1, 0.9],
    ['IVF32,PQ16x4fs,RFlat', 32, 20, 0.99, true],
    ['IVF32,PQ16x4fs,RFlat', 32, 20, 0.85], // Faiss's default for fast-scan: no residuals (0.896 here)
    ['PQ8x8', 1, 1, 0.3],
    ['IVF32,RaBitQ,RFlat', 32, 20, 0.97],
    ['PQ16x4fs,RFlat', 1, 20, 0.85], // one list of 6,000 rows: the integer fast-scan kernel
    ['IVF32,SQ4,Refine(SQfp16)', 32, 10, 0.97],
  ];
  for (const [f, nprobe, kFactor, min, byResidual] of cases) {
    const ix = indexFactory(d, f, { byResidual });
    ix.train(base, { seed: 7 });
    ix.add(base);
    const r = ix.search(q, k, { nprobe, kFactor });
    const rec = recallAt(r.ids, gt.ids, nq, k);
    assert.ok(rec >= min, `${f}: recall ${rec} < ${min}`);
    if (f.endsWith('RFlat')) {
      // Refined distances are exact L2 of the returned ids.
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < k; j++) {
          const id = r.ids[i * k + j]!;
          let s = 0;
          for (let t = 0; t < d; t++) s += (q[i * d + t]! - base[id * d + t]!) ** 2;
          assert.ok(Math.abs(r.distances[i * k + j]! - s) <= 1e-4 * Math.max(1, s));
        }
      }
    }
  }
});

test('filters are applied inside the scan: only allowed ids, k of them when k exist', () => {
  const d = 8, n = 4000, nq = 20, k = 10;
  const base = clustered(n, d, 8), q = clustered(nq, d, 9);
  for (const f of ['Flat', 'IVF16,SQ8', 'IVF16,PQ4x4fs,RFlat', 'PQ4x4fs,RFlat']) {
    const ix = indexFactory(d, f);
    ix.train(base);
    ix.add(base);
    const even = new IdSet(Array.from({ length: n / 2 }, (_, i) => 2 * i));
    const r1 = ix.search(q, k, { nprobe: 16, kFactor: 4, filter: even });
    for (const id of r1.ids) assert.ok(id >= 0 && id % 2 === 0, `${f}: ${id} passed the even filter`);
    const r2 = ix.search(q, k, { nprobe: 16, filter: (id) => (id as number) % 7 === 3 });
    for (const id of r2.ids) assert.ok(id >= 0 && (id as number) % 7 === 3);
    // Exclusion sets, and honest short results when few ids match.
    const three = new IdSet([5, 17, 123]);
    const r3 = ix.search(q, k, { nprobe: 16, kFactor: 4, filter: three });
    for (let i = 0; i < nq; i++) {
      const got = Array.from(r3.ids.subarray(i * k, (i + 1) * k));
      assert.deepEqual(got.slice(3), new Array(k - 3).fill(-1), `${f}: padding`);
      assert.deepEqual(got.slice(0, 3).sort((a, b) => a - b), [5, 17, 123]);
    }
    const notEven = new IdSet(even.toJSON().ids, { exclude: true });
    const r4 = ix.search(q, k, { nprobe: 16, filter: notEven });
    for (const id of r4.ids) assert.ok(id % 2 === 1);
  }
  // Exact check on the flat index: the filtered result is the exact top-k of the allowed rows.
  const ix = indexFactory(d, 'Flat');
  ix.train(base);
  ix.add(base);
  const allowed = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 === 0);
  const sub = new Float32Array(allowed.length * d);
  allowed.forEach((id, j) => sub.set(rows(base, d, id), j * d));
  const gt = knn(sub, q, d, k);
  const r = ix.search(q, k, { filter: new IdSet(allowed) });
  for (let i = 0; i < nq * k; i++) assert.equal(r.ids[i], allowed[gt.ids[i]!]);
});

test('remove hides vectors at once; compact keeps the results', () => {
  const d = 8, n = 3000, nq = 15, k = 10;
  const base = intVectors(n, d, 10), q = intVectors(nq, d, 11);
  for (const f of ['Flat', 'IVF8,Flat', 'IVF8,SQ8,RFlat']) {
    const ix = indexFactory(d, f);
    ix.train(base);
    ix.add(base);
    const gone = Array.from({ length: n }, (_, i) => i).filter((i) => i % 4 !== 0);
    assert.equal(ix.remove(gone), gone.length);
    assert.equal(ix.remove([gone[0]!]), 0);
    assert.equal(ix.ntotal, n - gone.length);
    const before = ix.search(q, k, { nprobe: 8, kFactor: 4 });
    for (const id of before.ids) assert.ok(id % 4 === 0);
    ix.compact();
    const after = ix.search(q, k, { nprobe: 8, kFactor: 4 });
    assert.deepEqual(Array.from(after.ids), Array.from(before.ids));
    assert.equal(ix.remove((id) => (id as number) < 100), 25);
    assert.equal(ix.ntotal, n / 4 - 25);
    // Re-adding a removed id works; adding a present one needs upsert.
    ix.add(rows(base, d, 1), [1]);
    assert.throws(() => ix.add(rows(base, d, 1), [1]), (e) => isZipmlError(e) && e.code === 'E_ARG');
    ix.add(rows(base, d, 2), [1], { upsert: true });
    assert.equal(ix.ntotal, n / 4 - 25 + 1);
    const self = ix.search(rows(base, d, 2), 1, { nprobe: 8, kFactor: 8 });
    assert.equal(self.ids[0], 1);
  }
});

test('string ids, range search, reconstruct', () => {
  const d = 6, n = 500;
  const base = intVectors(n, d, 12, 3);
  const ix = indexFactory(d, 'Flat');
  ix.train(base);
  const keys = Array.from({ length: n }, (_, i) => `doc-${i}`);
  ix.add(base, keys);
  assert.throws(() => ix.add(rows(base, d, 0)), (e) => isZipmlError(e) && e.code === 'E_ARG');
  const r = ix.search(rows(base, d, 42), 3);
  assert.equal(r.keys![0], 'doc-42');
  assert.equal(r.ids[0], -1);
  const radius = 6;
  const rr = ix.rangeSearch(base.subarray(0, 4 * d), radius);
  for (let i = 0; i < 4; i++) {
    const want: string[] = [];
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += (base[i * d + t]! - base[j * d + t]!) ** 2;
      if (s < radius) want.push(`doc-${j}`);
    }
    const got = rr.keys!.slice(rr.lims[i]!, rr.lims[i + 1]!);
    assert.deepEqual([...got].sort(), want.sort());
    for (let j = rr.lims[i]! + 1; j < rr.lims[i + 1]!; j++) assert.ok(rr.distances[j - 1]! <= rr.distances[j]!);
  }
  assert.deepEqual(Array.from(ix.reconstruct('doc-7')!), Array.from(rows(base, d, 7)));
  assert.equal(ix.reconstruct('nope'), null);
});

test('factory strings: accepted and refused', () => {
  const ok: Array<[string, Partial<ReturnType<typeof parseFactory>>]> = [
    ['Flat', { nlist: 0, codec: 'Flat', refine: '' }],
    ['IVF256,SQ8', { nlist: 256, codec: 'SQ8' }],
    ['OPQ16,IVF1024,PQ16x4fs,RFlat', { opqM: 16, nlist: 1024, codec: 'PQ16x4', fastScan: true, refine: 'Flat' }],
    ['RaBitQ', { codec: 'RaBitQ' }],
    ['IVF64,RaBitQ,Refine(SQfp16)', { nlist: 64, refine: 'SQfp16' }],
    ['OPQ8_64,PQ8', { opqM: 8, codec: 'PQ8' }],
  ];
  for (const [f, want] of ok) {
    const r = parseFactory(f, 64);
    for (const [key, v] of Object.entries(want)) assert.equal((r as unknown as Record<string, unknown>)[key], v, `${f}.${key}`);
  }
  for (const f of ['', 'IVF', 'IVF0,Flat', 'IVF16', 'HNSW32', 'PQ7x4fs', 'Flat,Flat', 'IVF16,SQ8,RFlat,RFlat', 'OPQ5,PQ5', 'OPQ8,SQ8', 'IVF8,IVF8,Flat', 'Refine(Flat)']) {
    assert.throws(() => parseFactory(f, 64), (e) => isZipmlError(e) && e.code === 'E_ARG', f);
  }
});

test('index files round-trip every index type; corrupt files give ZipmlError', () => {
  const d = 16, n = 2500, nq = 20, k = 5;
  const base = clustered(n, d, 13), q = clustered(nq, d, 14);
  let small: Uint8Array | null = null;
  for (const f of ['Flat', 'SQ8', 'IVF16,Flat', 'IVF16,PQ8x4fs,RFlat', 'OPQ4,IVF8,PQ4x8', 'RaBitQ', 'IVF8,SQ4,Refine(SQ8)']) {
    for (const metric of ['l2', 'ip'] as Metric[]) {
      const ix = indexFactory(d, f, { metric });
      ix.train(base, { seed: 3 });
      ix.add(base.subarray(0, (n - 100) * d));
      ix.remove([3, 4, 5]);
      const bytes = saveIndex(ix);
      const back = loadIndex(bytes);
      assert.equal(back.ntotal, ix.ntotal);
      const p = { nprobe: 4, kFactor: 3 };
      assert.deepEqual(back.search(q, k, p), ix.search(q, k, p), `${f} ${metric}`);
      // Both keep working after more adds (the loaded lists are copied on growth).
      ix.add(base.subarray((n - 100) * d));
      back.add(base.subarray((n - 100) * d));
      assert.deepEqual(back.search(q, k, p), ix.search(q, k, p), `${f} ${metric} after add`);
      assert.deepEqual(loadIndex(saveIndex(back)).search(q, k, p), ix.search(q, k, p));
      if (f === 'IVF16,Flat' && metric === 'l2') small = saveIndex(ix);
    }
  }
  // An untrained index saves and loads too.
  const empty = loadIndex(saveIndex(indexFactory(d, 'IVF8,SQ8')));
  assert.equal(empty.isTrained, false);
  // Hostile files.
  const good = small!;
  const want = JSON.stringify(loadIndex(good).search(q, k, { nprobe: 4 }));
  fuzzDecoder(good, 300, 21, (b) => loadIndex(b), (ix) => JSON.stringify(ix.search(q, k, { nprobe: 4 })) === want);
});

test('strings ids survive save/load; string and number ids do not mix', () => {
  const d = 4;
  const x = intVectors(10, d, 15);
  const ix = indexFactory(d, 'Flat');
  ix.train(x);
  ix.add(x, Array.from({ length: 10 }, (_, i) => `k${i}`));
  const back = loadIndex(saveIndex(ix));
  assert.deepEqual(back.search(rows(x, d, 3), 2).keys, ix.search(rows(x, d, 3), 2).keys);
  assert.throws(() => back.add(rows(x, d, 0), [5]), (e) => isZipmlError(e) && e.code === 'E_ARG');
});

test('VectorIndex validates its arguments', () => {
  const d = 4;
  const ix = new VectorIndex(d, 'IVF4,SQ8');
  assert.throws(() => ix.add(new Float32Array(4)), (e) => isZipmlError(e) && e.code === 'E_ARG');
  ix.train(intVectors(100, d, 16));
  assert.throws(() => ix.search(new Float32Array(5), 1), (e) => isZipmlError(e));
  assert.throws(() => ix.search(new Float32Array(4), 0), (e) => isZipmlError(e));
  assert.throws(() => ix.search(new Float32Array(4), 1, { nprobe: 0 }), (e) => isZipmlError(e));
  assert.throws(() => ix.add(new Float32Array([1, 2, NaN, 4])), (e) => isZipmlError(e));
  const r = ix.search(new Float32Array(4), 3);
  assert.deepEqual(Array.from(r.ids), [-1, -1, -1]);
});

test('searchAsync on two workers equals search, filters included; a changed index is re-shared', async () => {
  const { WorkerPool } = await import('../../../src/core/workers/pool.js');
  const pool = new WorkerPool({ size: 2 });
  try {
    const d = 16, n = 4000, nq = 64, k = 7;
    const base = clustered(n, d, 17), q = clustered(nq, d, 18);
    for (const f of ['IVF16,PQ8x4fs,RFlat', 'Flat']) {
      const ix = indexFactory(d, f);
      ix.train(base);
      ix.add(base);
      const p = { nprobe: 4, kFactor: 4 };
      assert.deepEqual(await ix.searchAsync(q, k, { ...p, threads: 2, pool }), ix.search(q, k, p));
      const filter = new IdSet([1, 2, 3, 500, 501, 502, 3999]);
      assert.deepEqual(await ix.searchAsync(q, k, { ...p, filter, threads: 2, pool }), ix.search(q, k, { ...p, filter }));
      ix.remove([...Array(2000).keys()]);
      assert.deepEqual(await ix.searchAsync(q, k, { ...p, threads: 2, pool }), ix.search(q, k, p));
      // A non-finite query is found by the lane that takes it, and named by its row in the batch.
      const bad = q.slice();
      bad[37 * d + 5] = NaN;
      await assert.rejects(ix.searchAsync(bad, k, { ...p, threads: 2, pool }), (e) => isZipmlError(e) && e.code === 'E_ARG' && /vector 37 .* dimension 5/.test(e.message));
    }
  } finally {
    await pool.close();
  }
});

test('trainAsync on two workers trains the same index as train', async () => {
  const { WorkerPool } = await import('../../../src/core/workers/pool.js');
  const pool = new WorkerPool({ size: 2 });
  try {
    const d = 16, n = 6000;
    const base = clustered(n, d, 19), q = clustered(20, d, 20);
    const a = indexFactory(d, 'IVF32,PQ8x4fs'), b = indexFactory(d, 'IVF32,PQ8x4fs');
    a.train(base, { seed: 2 });
    await b.trainAsync(base, { seed: 2, threads: 2, pool });
    assert.deepEqual(b.centroids, a.centroids);
    a.add(base);
    b.add(base);
    assert.deepEqual(b.search(q, 5, { nprobe: 4 }), a.search(q, 5, { nprobe: 4 }));
  } finally {
    await pool.close();
  }
});

test('fast-scan (long lists) and the float table scan rank the same codes alike', () => {
  const d = 32, n = 5000, nq = 30, k = 10;
  const base = clustered(n, d, 21), q = clustered(nq, d, 22);
  const fs = indexFactory(d, 'PQ16x4fs'), plain = indexFactory(d, 'PQ16x4');
  fs.train(base, { seed: 4 });
  plain.train(base, { seed: 4 });
  assert.deepEqual(fs.codec.serialize(), plain.codec.serialize());
  fs.add(base);
  plain.add(base);
  const a = fs.search(q, k), b = plain.search(q, k);
  // Quantized tables move each value by at most M/(2·scale): the sets agree up to near-ties.
  let same = 0;
  for (let i = 0; i < nq; i++) {
    const s = new Set(Array.from(b.ids.subarray(i * k, (i + 1) * k)));
    for (let j = 0; j < k; j++) if (s.has(a.ids[i * k + j]!)) same++;
  }
  assert.ok(same / (nq * k) >= 0.9, `overlap ${same / (nq * k)}`);
  for (let i = 0; i < nq * k; i++) assert.ok(Math.abs(a.distances[i]! - b.distances[i]!) <= 0.05 * Math.max(1, b.distances[i]!));
});

test("RaBitQ with rerank: 'bound' — exact re-ranking driven by the estimator's error bound", () => {
  const d = 32, n = 5000, nq = 30, k = 10;
  const base = clustered(n, d, 23), q = clustered(nq, d, 24);
  const gt = knn(base, q, d, k);
  for (const f of ['RaBitQ,RFlat', 'IVF8,RaBitQ,RFlat', 'IVF8,RaBitQ4']) {
    const ix = indexFactory(d, f);
    ix.train(base, { seed: 6 });
    ix.add(base);
    const r = ix.search(q, k, { nprobe: 8, rerank: 'bound', filter: (id) => (id as number) !== gt.ids[0] });
    assert.ok(!Array.from(r.ids.subarray(0, k)).includes(gt.ids[0]!), `${f}: filtered id returned`);
    const all = ix.search(q, k, { nprobe: 8, rerank: 'bound' });
    const rec = recallAt(all.ids, gt.ids, nq, k);
    // With exact re-ranking (RFlat) the bound finds the true neighbours of the probed lists.
    assert.ok(rec >= (f.endsWith('RFlat') ? 0.98 : 0.7), `${f}: recall ${rec}`);
  }
  assert.throws(() => indexFactory(d, 'Flat').search(q, 1, { rerank: 'x' as 'bound' }), (e) => isZipmlError(e) && e.code === 'E_ARG');
});

test('implicit ids (0, 1, 2, … in insertion order) are stored as nothing, and turn explicit when needed', async () => {
  const { readContainer } = await import('../../../src/core/container.js');
  const d = 4;
  const x = intVectors(300, d, 25);
  const ix = indexFactory(d, 'Flat');
  ix.train(x);
  ix.add(x.subarray(0, 100 * d));
  ix.add(x.subarray(100 * d), Array.from({ length: 200 }, (_, i) => 100 + i)); // continues the pattern
  assert.equal(ix.ids.implicit, true);
  assert.equal(readContainer(saveIndex(ix)).has('ids'), false);
  ix.remove([7]);
  assert.equal(ix.has(7), false);
  assert.equal(ix.ids.implicit, true);
  const back = loadIndex(saveIndex(ix));
  assert.equal(back.has(7), false);
  assert.equal(back.has(8), true);
  assert.deepEqual(back.search(x, 3), ix.search(x, 3));
  ix.compact(); // renumbers slots: ids become explicit
  assert.equal(ix.ids.implicit, false);
  assert.equal(readContainer(saveIndex(ix)).has('ids'), true);
  assert.deepEqual(ix.search(x, 3), back.search(x, 3));
  back.add(x.subarray(0, d), [7]); // a gap refilled: explicit
  assert.equal(back.ids.implicit, false);
  assert.equal(back.search(x.subarray(0, d), 2).ids.includes(7), true);
});
