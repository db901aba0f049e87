import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { knn } from '../../src/vectors/index.js';
import { Rng } from '../util/rng.js';
import { call, start, tmpData } from './util.js';

const d = 8;

function vectors(n: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: d }, () => Math.round(rng.normal() * 64) / 64));
}

test('every endpoint on a real server: collections, upsert, search (+filters), get, delete, stats, snapshots, health, metrics, OpenAPI', async () => {
  const dir = await tmpData();
  const srv = await start(dir);
  const u = srv.url;
  try {
    assert.deepEqual((await call(u, 'GET', '/healthz')).body, { status: 'ok' });
    assert.equal((await call(u, 'GET', '/readyz')).status, 200);

    let r = await call(u, 'PUT', '/collections/items', { dimension: d, metric: 'l2', index: 'Flat', payloadIndex: ['color', 'price', 'tag'] });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.collection.dimension, d);
    r = await call(u, 'PUT', '/collections/items', { dimension: d });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'E_EXISTS');

    const X = vectors(300, 1);
    const colors = ['red', 'green', 'blue'];
    for (let b = 0; b < 3; b++) {
      const points = X.slice(b * 100, b * 100 + 100).map((v, j) => {
        const i = b * 100 + j;
        return { id: i, vector: v, payload: { color: colors[i % 3], price: i, tag: i % 2 === 0 ? 'even' : 'odd', note: `point ${i}` } };
      });
      r = await call(u, 'PUT', '/collections/items/points', { points });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'acknowledged');
      assert.equal(r.body.upserted, 100);
    }

    r = await call(u, 'GET', '/collections');
    assert.deepEqual(r.body.collections.map((c: { name: string; count: number }) => [c.name, c.count]), [['items', 300]]);

    // Unfiltered search equals exact k-NN (Flat; values are exact in float32).
    const flat = new Float32Array(X.flat());
    const q = vectors(1, 99)[0]!;
    const exact = knn(flat, new Float32Array(q), d, 10);
    r = await call(u, 'POST', '/collections/items/search', { vector: q, k: 10 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.hits.map((h: { id: number }) => h.id), Array.from(exact.ids));
    assert.equal(r.body.hits[0].payload.note, `point ${exact.ids[0]}`);

    // Filters: equality, range, set, and their conjunction — the k best *matching* points.
    const check = async (filter: unknown, pred: (i: number) => boolean) => {
      const res = await call(u, 'POST', '/collections/items/search', { vector: q, k: 10, filter, withPayload: false });
      assert.equal(res.status, 200, res.text);
      const allowed = X.map((_, i) => i).filter(pred);
      const sub = new Float32Array(allowed.flatMap((i) => X[i]!));
      const ex = knn(sub, new Float32Array(q), d, Math.min(10, allowed.length));
      assert.deepEqual(res.body.hits.map((h: { id: number }) => h.id), Array.from(ex.ids, (j) => allowed[j]), JSON.stringify(filter));
      assert.equal(res.body.hits[0]?.payload, undefined);
    };
    await check({ color: 'red' }, (i) => i % 3 === 0);
    await check({ price: { gte: 50, lt: 120 } }, (i) => i >= 50 && i < 120);
    await check({ price: { gt: 290 } }, (i) => i > 290);
    await check({ color: { in: ['green', 'blue'] }, tag: 'even' }, (i) => i % 3 !== 0 && i % 2 === 0);
    await check({ price: { eq: 7 } }, (i) => i === 7);
    r = await call(u, 'POST', '/collections/items/search', { vector: q, k: 5, filter: { color: 'purple' } });
    assert.deepEqual(r.body.hits, []);

    // Fetch by id (batch and single), with the exact vector.
    r = await call(u, 'POST', '/collections/items/points/get', { ids: [5, 7, 1000], withVector: true });
    assert.deepEqual(r.body.points.map((p: { id: number }) => p.id), [5, 7]);
    assert.deepEqual(r.body.points[0].vector, X[5]);
    r = await call(u, 'GET', '/collections/items/points/42?withVector=true');
    assert.equal(r.body.point.payload.price, 42);
    assert.deepEqual(r.body.point.vector, X[42]);
    assert.equal((await call(u, 'GET', '/collections/items/points/4242')).status, 404);

    // Upsert replaces (vector, payload and its index entries); delete removes.
    r = await call(u, 'PUT', '/collections/items/points', { points: [{ id: 0, vector: q, payload: { color: 'purple', price: -1 } }] });
    assert.equal(r.status, 200);
    r = await call(u, 'POST', '/collections/items/search', { vector: q, k: 1, filter: { color: 'purple' } });
    assert.deepEqual(r.body.hits.map((h: { id: number; score: number }) => [h.id, h.score]), [[0, 0]]);
    r = await call(u, 'POST', '/collections/items/search', { vector: q, k: 300, filter: { color: 'red' }, withPayload: false });
    assert.equal(r.body.hits.length, 99);
    r = await call(u, 'POST', '/collections/items/points/delete', { ids: [0, 1, 2, 9999] });
    assert.equal(r.body.deleted, 3);
    r = await call(u, 'POST', '/collections/items/search', { vector: q, k: 300, withPayload: false });
    assert.equal(r.body.hits.length, 297);
    assert.ok(!r.body.hits.some((h: { id: number }) => h.id <= 2));

    // Stats.
    r = await call(u, 'GET', '/collections/items');
    assert.equal(r.body.stats.count, 297);
    assert.equal(r.body.stats.bytesPerVector, d * 4);
    assert.equal(r.body.stats.indexState, 'flat');

    // Snapshot (a consistent copy that opens as a collection) and the listing.
    r = await call(u, 'POST', '/collections/items/snapshots');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.snapshot.points, 297);
    r = await call(u, 'GET', '/collections/items/snapshots');
    assert.equal(r.body.snapshots.length, 1);

    // Metrics and OpenAPI.
    r = await call(u, 'GET', '/metrics');
    assert.match(r.text, /zipml_collection_points\{collection="items"\} 297/);
    assert.match(r.text, /zipml_http_requests_total\{method="PUT",route="\/collections\/:name\/points",status="200"\} \d+/);
    assert.match(r.text, /zipml_wal_fsync_seconds_count \d+/);
    r = await call(u, 'GET', '/openapi.json');
    assert.equal(r.body.openapi, '3.0.3');
    for (const p of ['/collections/{name}', '/collections/{name}/points', '/collections/{name}/search', '/collections/{name}/points/delete', '/collections/{name}/points/get']) {
      assert.ok(r.body.paths[p], `OpenAPI lists ${p}`);
    }

    // String ids and cosine metric.
    r = await call(u, 'PUT', '/collections/docs', { dimension: 3, metric: 'cos', idType: 'string', index: 'Flat' });
    assert.equal(r.status, 201);
    await call(u, 'PUT', '/collections/docs/points', { points: [{ id: 'a', vector: [1, 0, 0] }, { id: 'b', vector: [0, 2, 0], payload: { t: 1 } }] });
    r = await call(u, 'POST', '/collections/docs/search', { vector: [0, 1, 0.1], k: 2 });
    assert.deepEqual(r.body.hits.map((h: { id: string }) => h.id), ['b', 'a']);
    assert.ok(Math.abs(r.body.hits[0].score - 1 / Math.sqrt(1.01)) < 1e-6);
    assert.deepEqual(r.body.hits[0].payload, { t: 1 });
    r = await call(u, 'GET', '/collections/docs/points/b');
    assert.deepEqual(r.body.point.payload, { t: 1 });

    // Drop.
    r = await call(u, 'DELETE', '/collections/docs');
    assert.equal(r.status, 200);
    assert.equal((await call(u, 'GET', '/collections/docs')).status, 404);
  } finally {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('every error path gives a 4xx with a machine-readable code and no stack trace', async () => {
  const dir = await tmpData();
  const srv = await start(dir, { limits: { bodyBytes: 64 << 10, batchPoints: 10, maxDimension: 64, maxK: 50, requestTimeoutMs: 5000, payloadBytes: 200, idsPerRequest: 20 } });
  const u = srv.url;
  try {
    await call(u, 'PUT', '/collections/c', { dimension: 4, payloadIndex: ['x'] });
    const v = [0.5, 0.25, 0, 1];
    const cases: [string, string, string, unknown, number, string][] = [
      ['malformed JSON', 'PUT', '/collections/c/points', '{"points": [', 400, 'E_BAD_JSON'],
      ['NaN literal', 'POST', '/collections/c/search', '{"vector":[1,2,3,NaN]}', 400, 'E_BAD_JSON'],
      ['non-finite number', 'PUT', '/collections/c/points', '{"points":[{"id":1,"vector":[1,2,3,1e999]}]}', 400, 'E_NOT_FINITE'],
      ['float32 overflow', 'POST', '/collections/c/search', { vector: [1, 2, 3, 1e300] }, 400, 'E_NOT_FINITE'],
      ['string in vector', 'POST', '/collections/c/search', { vector: [1, 2, 3, 'NaN'] }, 400, 'E_VALIDATION'],
      ['wrong dimension (upsert)', 'PUT', '/collections/c/points', { points: [{ id: 1, vector: [1, 2, 3] }] }, 400, 'E_DIMENSION'],
      ['wrong dimension (search)', 'POST', '/collections/c/search', { vector: [1, 2, 3, 4, 5] }, 400, 'E_DIMENSION'],
      ['unknown collection (search)', 'POST', '/collections/nope/search', { vector: v }, 404, 'E_NOT_FOUND'],
      ['unknown collection (upsert)', 'PUT', '/collections/nope/points', { points: [{ id: 1, vector: v }] }, 404, 'E_NOT_FOUND'],
      ['unknown collection (describe)', 'GET', '/collections/nope', undefined, 404, 'E_NOT_FOUND'],
      ['unknown collection (drop)', 'DELETE', '/collections/nope', undefined, 404, 'E_NOT_FOUND'],
      ['oversized batch', 'PUT', '/collections/c/points', { points: Array.from({ length: 11 }, (_, i) => ({ id: i, vector: v })) }, 413, 'E_BATCH_TOO_LARGE'],
      ['too many ids', 'POST', '/collections/c/points/get', { ids: Array.from({ length: 21 }, (_, i) => i) }, 413, 'E_BATCH_TOO_LARGE'],
      ['oversized body', 'PUT', '/collections/c/points', { points: [{ id: 1, vector: v, payload: { s: 'x'.repeat(70_000) } }] }, 413, 'E_BODY_TOO_LARGE'],
      ['oversized payload', 'PUT', '/collections/c/points', { points: [{ id: 1, vector: v, payload: { s: 'x'.repeat(300) } }] }, 413, 'E_PAYLOAD_TOO_LARGE'],
      ['empty batch', 'PUT', '/collections/c/points', { points: [] }, 400, 'E_VALIDATION'],
      ['duplicate id in a batch', 'PUT', '/collections/c/points', { points: [{ id: 1, vector: v }, { id: 1, vector: v }] }, 400, 'E_DUPLICATE_ID'],
      ['string id in an integer collection', 'PUT', '/collections/c/points', { points: [{ id: 'a', vector: v }] }, 400, 'E_ID_TYPE'],
      ['negative id', 'POST', '/collections/c/points/delete', { ids: [-1] }, 400, 'E_VALIDATION'],
      ['missing vector', 'PUT', '/collections/c/points', { points: [{ id: 1 }] }, 400, 'E_VALIDATION'],
      ['unknown field', 'POST', '/collections/c/search', { vector: v, bogus: 1 }, 400, 'E_VALIDATION'],
      ['k too large', 'POST', '/collections/c/search', { vector: v, k: 51 }, 400, 'E_LIMIT'],
      ['k zero', 'POST', '/collections/c/search', { vector: v, k: 0 }, 400, 'E_LIMIT'],
      ['nprobe zero', 'POST', '/collections/c/search', { vector: v, nprobe: 0 }, 400, 'E_VALIDATION'],
      ['filter on an unindexed field', 'POST', '/collections/c/search', { vector: v, filter: { y: 1 } }, 400, 'E_FILTER'],
      ['bad filter operator', 'POST', '/collections/c/search', { vector: v, filter: { x: { near: 1 } } }, 400, 'E_FILTER'],
      ['bad range bound', 'POST', '/collections/c/search', { vector: v, filter: { x: { gt: 'a' } } }, 400, 'E_FILTER'],
      ['dimension over the limit', 'PUT', '/collections/big', { dimension: 65 }, 400, 'E_LIMIT'],
      ['bad index recipe', 'PUT', '/collections/bad', { dimension: 4, index: 'HNSW32' }, 400, 'E_INDEX'],
      ['bad collection name', 'PUT', '/collections/-bad', { dimension: 4 }, 400, 'E_NAME'],
      ['bad metric', 'PUT', '/collections/m', { dimension: 4, metric: 'hamming' }, 400, 'E_VALIDATION'],
      ['wrong content type', 'POST', '/collections/c/search', undefined, 415, 'E_MEDIA_TYPE'],
      ['unknown route', 'GET', '/nothing/here', undefined, 404, 'E_ROUTE'],
    ];
    for (const [what, method, path, body, status, code] of cases) {
      const headers: Record<string, string> = what === 'wrong content type' ? { 'content-type': 'text/plain' } : {};
      const r = what === 'wrong content type'
        ? await call(u, method, path, 'vector', headers)
        : await call(u, method, path, body, headers);
      assert.equal(r.status, status, `${what}: ${r.text}`);
      assert.equal(r.body?.error?.code, code, `${what}: ${r.text}`);
      assert.equal(typeof r.body.error.message, 'string');
      assert.doesNotMatch(r.text, /\n\s+at |\.js:\d+/, `${what}: no stack trace`);
    }
    // Nothing of the refused writes got in.
    assert.equal((await call(u, 'GET', '/collections/c')).body.stats.count, 0);
  } finally {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('API keys: missing or wrong key is 401, a read-only key cannot write (403), health stays open', async () => {
  const dir = await tmpData();
  const srv = await start(dir, { apiKeys: [{ key: 'rw-secret', role: 'write' }, { key: 'ro-secret', role: 'read' }] });
  const u = srv.url;
  const rw = { authorization: 'Bearer rw-secret' };
  const ro = { 'api-key': 'ro-secret' };
  try {
    assert.equal((await call(u, 'GET', '/healthz')).status, 200);
    assert.equal((await call(u, 'GET', '/readyz')).status, 200);
    let r = await call(u, 'GET', '/collections');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'E_UNAUTHORIZED');
    r = await call(u, 'GET', '/collections', undefined, { authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'E_INVALID_KEY');
    r = await call(u, 'PUT', '/collections/k', { dimension: 2 }, ro);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'E_FORBIDDEN');
    r = await call(u, 'PUT', '/collections/k', { dimension: 2 }, rw);
    assert.equal(r.status, 201);
    r = await call(u, 'PUT', '/collections/k/points', { points: [{ id: 1, vector: [1, 2] }] }, ro);
    assert.equal(r.status, 403);
    r = await call(u, 'PUT', '/collections/k/points', { points: [{ id: 1, vector: [1, 2] }] }, rw);
    assert.equal(r.status, 200);
    r = await call(u, 'POST', '/collections/k/search', { vector: [1, 2], k: 1 }, ro);
    assert.deepEqual(r.body.hits.map((h: { id: number }) => h.id), [1]);
    r = await call(u, 'POST', '/collections/k/points/delete', { ids: [1] }, ro);
    assert.equal(r.status, 403);
    assert.equal((await call(u, 'GET', '/metrics')).status, 401);
    assert.equal((await call(u, 'GET', '/metrics', undefined, ro)).status, 200);
  } finally {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  }
});
