import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { knn } from '../../src/vectors/index.js';
import { encodeRecord, decodeRecord } from '../../src/server/records.js';
import { frameRecord, recoverWalFile, scanWal, walHeader, WAL_HEADER_BYTES } from '../../src/server/wal.js';
import { Rng } from '../util/rng.js';
import { call, start, tmpData } from './util.js';

const d = 16;

function data(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = i % 10;
    for (let j = 0; j < d; j++) x[i * d + j] = (j === c ? 4 : 0) + rng.normal();
  }
  return x;
}

const row = (x: Float32Array, i: number) => Array.from(x.subarray(i * d, (i + 1) * d));

test('WAL: records round-trip; a torn or corrupt tail is cut at the last good record, never past it', async () => {
  const recs = [
    encodeRecord({ type: 'upsert', lsn: 1, ids: [1, 2], vectors: new Float32Array(2 * d).fill(0.5), payloads: ['{"a":1}', 'null'] }),
    encodeRecord({ type: 'delete', lsn: 2, ids: [2] }),
    encodeRecord({ type: 'upsert', lsn: 3, ids: [7], vectors: new Float32Array(d).fill(-1), payloads: ['{"b":"x"}'] }),
  ];
  const file = new Uint8Array(Buffer.concat([walHeader(d), ...recs.map(frameRecord)]));
  const full = scanWal(file, d, 'wal');
  assert.equal(full.records.length, 3);
  assert.equal(full.droppedBytes, 0);
  const r0 = decodeRecord(full.records[0]!, d, 'wal');
  assert.equal(r0.type, 'upsert');
  assert.deepEqual(r0.ids, [1, 2]);
  assert.deepEqual(r0.type === 'upsert' && r0.payloads, ['{"a":1}', 'null']);
  assert.deepEqual(decodeRecord(full.records[1]!, d, 'wal'), { type: 'delete', lsn: 2, ids: [2] });
  const ends = [WAL_HEADER_BYTES];
  for (const r of recs) ends.push(ends.at(-1)! + 8 + r.length);
  // Every truncation keeps exactly the records that end before the cut.
  for (let cut = WAL_HEADER_BYTES; cut <= file.length; cut++) {
    const s = scanWal(file.subarray(0, cut), d, 'wal');
    const whole = ends.filter((e) => e <= cut).length - 1;
    assert.equal(s.records.length, whole, `cut ${cut}`);
    assert.equal(s.validBytes, ends[whole]);
  }
  // Any flipped byte inside a record drops that record and everything after it.
  const rng = new Rng(5);
  for (let t = 0; t < 300; t++) {
    const pos = WAL_HEADER_BYTES + rng.int(file.length - WAL_HEADER_BYTES);
    const bad = file.slice();
    bad[pos]! ^= 1 << rng.int(8);
    const s = scanWal(bad, d, 'wal');
    const hit = ends.findIndex((e) => e > pos) - 1;
    assert.equal(s.records.length, hit, `flip at ${pos}`);
    assert.ok(s.reason);
  }
  // recoverWalFile truncates the file in place.
  const dir = await tmpData('zipml-wal-');
  try {
    const p = join(dir, 'x.log');
    await writeFile(p, file.subarray(0, ends[2]! + 5));
    const s = await recoverWalFile(p, d);
    assert.equal(s.records.length, 2);
    assert.equal((await readFile(p)).length, ends[2]);
    assert.throws(() => scanWal(walHeader(d + 1), d, 'wal'), /dimension/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('storage: flushes to segments, trains the compressed index in the background, merges, survives restarts; snapshots open as collections', async () => {
  const dir = await tmpData();
  const storage = { memtableMaxPoints: 300, flushIntervalMs: 60_000, maxSegments: 3, payloadCacheBytes: 1 << 16, maxTrainPoints: 4096, autoTrainMin: 1000 };
  let srv = await start(dir, { storage });
  const n = 2000;
  const x = data(n, 3);
  try {
    let u = srv.url;
    assert.equal((await call(u, 'PUT', '/collections/a', { dimension: d, index: 'auto', payloadIndex: ['g'] })).status, 201);
    assert.equal((await call(u, 'PUT', '/collections/b', { dimension: d, index: 'IVF16,PQ4x4fs,Refine(SQ8)', idType: 'string' })).status, 201);
    for (let b = 0; b < n / 100; b++) {
      const pts = Array.from({ length: 100 }, (_, j) => b * 100 + j);
      const r = await call(u, 'PUT', '/collections/a/points', { points: pts.map((i) => ({ id: i, vector: row(x, i), payload: { g: i % 7, i } })) });
      assert.equal(r.status, 200, r.text);
      const r2 = await call(u, 'PUT', '/collections/b/points', { points: pts.map((i) => ({ id: `p${i}`, vector: row(x, i) })) });
      assert.equal(r2.status, 200, r2.text);
    }
    // Overwrite and delete points that are already in segments.
    await call(u, 'PUT', '/collections/a/points', { points: [{ id: 5, vector: row(x, 6), payload: { g: 100, i: 5 } }] });
    await call(u, 'POST', '/collections/a/points/delete', { ids: [10, 11, 12] });
    for (const c of ['a', 'b']) {
      await srv.store.get(c).startFlush();
      await srv.store.get(c).settle();
    }
    let sa = (await call(u, 'GET', '/collections/a')).body.stats;
    assert.equal(sa.count, n - 3);
    assert.equal(sa.indexState, 'compressed');
    assert.equal(sa.trainedFactory, 'SQ8');
    assert.equal(sa.bytesPerVector, d); // SQ8: one byte per dimension
    assert.ok(sa.segments.length <= 3, JSON.stringify(sa.segments));
    const sb = (await call(u, 'GET', '/collections/b')).body.stats;
    assert.equal(sb.trainedFactory, 'IVF16,PQ4x4fs,Refine(SQ8)');
    assert.equal(sb.count, n);

    // Recall@10 against exact search on the live points.
    const queries = data(20, 77);
    const recall = async (u: string, name: string, key: (i: number) => number | string, live: (i: number) => boolean, extra: object) => {
      const ids = Array.from({ length: n }, (_, i) => i).filter(live);
      const base = new Float32Array(ids.flatMap((i) => row(x, i === 5 && name === 'a' ? 6 : i)));
      let hit = 0;
      for (let q = 0; q < 20; q++) {
        const ex = knn(base, queries.subarray(q * d, (q + 1) * d), d, 10);
        const want = new Set(Array.from(ex.ids, (j) => key(ids[j]!)));
        const r = await call(u, 'POST', `/collections/${name}/search`, { vector: row(queries, q), k: 10, withPayload: false, ...extra });
        assert.equal(r.status, 200, r.text);
        hit += r.body.hits.filter((h: { id: number | string }) => want.has(h.id)).length;
      }
      return hit / 200;
    };
    const liveA = (i: number) => i < 10 || i > 12;
    assert.ok((await recall(u, 'a', (i) => i, liveA, {})) >= 0.95);
    assert.ok((await recall(u, 'b', (i) => `p${i}`, () => true, { nprobe: 16, kFactor: 8 })) >= 0.85);

    // Filters see segment points too; the overwritten point has its new payload.
    let r = await call(u, 'POST', '/collections/a/search', { vector: row(x, 6), k: 1, filter: { g: 100 } });
    assert.deepEqual(r.body.hits.map((h: { id: number }) => h.id), [5]);
    r = await call(u, 'POST', '/collections/a/points/get', { ids: [5, 10, 999], withVector: true });
    assert.deepEqual(r.body.points.map((p: { id: number; payload: { g: number } }) => [p.id, p.payload.g]), [[5, 100], [999, 999 % 7]]);
    assert.deepEqual(r.body.points[1].vector, row(x, 999));

    // Snapshot, then more writes that the snapshot must not contain.
    r = await call(u, 'POST', '/collections/a/snapshots');
    const snap = r.body.snapshot.path as string;
    await call(u, 'POST', '/collections/a/points/delete', { ids: [20] });

    // Restart: segments load, the log replays.
    await srv.close();
    srv = await start(dir, { storage });
    u = srv.url;
    sa = (await call(u, 'GET', '/collections/a')).body.stats;
    assert.equal(sa.count, n - 4);
    assert.equal(sa.indexState, 'compressed');
    r = await call(u, 'POST', '/collections/a/points/get', { ids: [5, 10, 20, 21] });
    assert.deepEqual(r.body.points.map((p: { id: number }) => p.id), [5, 21]);
    assert.ok((await recall(u, 'a', (i) => i, (i) => liveA(i) && i !== 20, {})) >= 0.95);
    await srv.close();

    // The snapshot is a collection directory: copied into a data dir, it opens as it was.
    const dir2 = await tmpData();
    await mkdir(join(dir2, 'collections'), { recursive: true });
    await cp(snap, join(dir2, 'collections', 'a'), { recursive: true });
    srv = await start(dir2, { storage });
    r = await call(srv.url, 'GET', '/collections/a');
    assert.equal(r.body.stats.count, n - 3);
    r = await call(srv.url, 'POST', '/collections/a/points/get', { ids: [20] });
    assert.equal(r.body.points.length, 1);
    await srv.close();
    await rm(dir2, { recursive: true, force: true });
    assert.deepEqual((await readdir(join(dir, 'collections'))).sort(), ['a', 'b']);
  } finally {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});
