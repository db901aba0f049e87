/**
 * Crash test: a `zipml serve` child process is killed with SIGKILL at random moments while
 * clients upsert (new points and new versions of old ones). After every restart, each
 * acknowledged write is present and searchable, and each point is whole: its vector and its
 * payload come from the same write (no half-applied batch), at a version no older than the last
 * acknowledged one and no newer than the last attempted one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { CLI } from '../util/cli.js';
import { Rng } from '../util/rng.js';
import { call, tmpData } from './util.js';

const d = 8;
const KILLS = 20;

/** The vector of version v of point id: deterministic, so a reader can check it. */
function vec(id: number, v: number): number[] {
  const r = new Rng(id * 1000 + v + 1);
  return Array.from({ length: d }, () => Math.round(r.normal() * 1024) / 64);
}

function launch(dir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--data', dir, '--port', '0', '--log-level', 'warn', '--memtable-points', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${out} ${err}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, url: m[1]! });
      }
    });
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`server exited (${code}) before listening: ${out} ${err}`)); });
  });
}

test(`crash safety: ${KILLS} SIGKILLs during concurrent upserts lose no acknowledged write and show no half-applied one`, { timeout: 240_000 }, async () => {
  const dir = await tmpData('zipml-crash-');
  const rng = new Rng(2024);
  const acked = new Map<number, number>(); // id -> last acknowledged version
  const attempted = new Map<number, number>(); // id -> last attempted version
  let nextId = 0;
  let totalAcked = 0;
  let current: ChildProcess | null = null;
  try {
    let { child, url } = await launch(dir);
    current = child;
    const r0 = await call(url, 'PUT', '/collections/crash', { dimension: d, index: 'SQ8', payloadIndex: ['v'] });
    assert.equal(r0.status, 201, r0.text);
    for (let round = 0; round < KILLS; round++) {
      let stop = false;
      const writer = async (w: number) => {
        const wr = new Rng(round * 100 + w);
        while (!stop) {
          // New points, or new versions of acknowledged ones.
          const ids: number[] = [];
          const size = 1 + wr.int(20);
          const known = [...acked.keys()];
          for (let j = 0; j < size; j++) {
            if (known.length > 0 && wr.float() < 0.3) {
              // Not a point another writer has in flight: their order at the server is unknown.
              const id = known[wr.int(known.length)]!;
              if (!ids.includes(id) && !inflight.has(id)) ids.push(id);
            } else ids.push(nextId++);
          }
          if (ids.length === 0) continue;
          for (const id of ids) inflight.add(id);
          const points = ids.map((id) => {
            const v = (attempted.get(id) ?? -1) + 1;
            attempted.set(id, v);
            return { id, vector: vec(id, v), payload: { id, v, note: 'x'.repeat(wr.int(200)) } };
          });
          try {
            const r = await call(url, 'PUT', '/collections/crash/points', { points });
            if (r.status !== 200) throw new Error(`upsert ${r.status} ${r.text}`);
            for (const p of points) if ((acked.get(p.id) ?? -1) < p.payload.v) acked.set(p.id, p.payload.v);
            totalAcked += points.length;
            for (const id of ids) inflight.delete(id);
          } catch (e) {
            if (!stop) throw e;
            return; // the server died under this request: its outcome is unknown
          }
        }
      };
      const inflight = new Set<number>();
      const writers = [0, 1, 2, 3].map(writer);
      await new Promise((r) => setTimeout(r, 100 + rng.int(700)));
      stop = true;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      await Promise.all(writers);

      ({ child, url } = await launch(dir));
      current = child;
      // Every point ever attempted: acknowledged ones present at >= their acked version,
      // any present one whole (vector and payload of one version).
      const all = [...attempted.keys()];
      const seen = new Map<number, number>();
      for (let i = 0; i < all.length; i += 1000) {
        const r = await call(url, 'POST', '/collections/crash/points/get', { ids: all.slice(i, i + 1000), withVector: true });
        assert.equal(r.status, 200, r.text);
        for (const p of r.body.points as { id: number; vector: number[]; payload: { id: number; v: number } }[]) {
          assert.equal(p.payload.id, p.id);
          if (JSON.stringify(p.vector) !== JSON.stringify(vec(p.id, p.payload.v))) {
            const match = Array.from({ length: attempted.get(p.id)! + 1 }, (_, v) => v).filter((v) => JSON.stringify(vec(p.id, v)) === JSON.stringify(p.vector));
            assert.fail(`round ${round}: point ${p.id} has the payload of version ${p.payload.v} and the vector of version(s) ${JSON.stringify(match)} (attempted ${attempted.get(p.id)}, acked ${acked.get(p.id)})`);
          }
          assert.ok(p.payload.v <= attempted.get(p.id)!);
          seen.set(p.id, p.payload.v);
        }
      }
      for (const [id, v] of acked) {
        assert.ok(seen.has(id), `round ${round}: acknowledged point ${id} is missing`);
        assert.ok(seen.get(id)! >= v, `round ${round}: point ${id} at version ${seen.get(id)}, acknowledged ${v}`);
      }
      // Adopt what survived as the new truth (unacknowledged writes may have landed).
      for (const [id, v] of seen) acked.set(id, v);
      const stats = (await call(url, 'GET', '/collections/crash')).body.stats;
      assert.equal(stats.count, seen.size);
      // Searchable: sampled points are found by their own vector (top 10), and by payload filter.
      const sample = [...seen.keys()];
      for (let s = 0; s < 5 && sample.length > 0; s++) {
        const id = sample[rng.int(sample.length)]!;
        const v = seen.get(id)!;
        const r = await call(url, 'POST', '/collections/crash/search', { vector: vec(id, v), k: 10, withPayload: false });
        assert.ok(r.body.hits.some((h: { id: number }) => h.id === id), `round ${round}: point ${id} not found by search`);
        const rf = await call(url, 'POST', '/collections/crash/search', { vector: vec(id, v), k: 1, filter: { v }, withPayload: true });
        assert.equal(rf.body.hits[0]?.id, id);
      }
    }
    // Graceful shutdown: SIGTERM while a request is in flight; it is answered, the exit is clean.
    const inFlight = call(url, 'PUT', '/collections/crash/points', { points: [{ id: nextId, vector: vec(nextId, 0), payload: { id: nextId, v: 0 } }] });
    await new Promise((r) => setTimeout(r, 5));
    const code = new Promise((r) => child.once('exit', (c) => r(c)));
    child.kill('SIGTERM');
    const last = await inFlight.catch(() => null);
    assert.equal(await code, 0);
    ({ child, url } = await launch(dir));
    current = child;
    if (last?.status === 200) {
      const r = await call(url, 'GET', `/collections/crash/points/${nextId}`);
      assert.equal(r.status, 200, 'a write answered during shutdown is durable');
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    assert.ok(totalAcked > 200, `only ${totalAcked} points acknowledged`);
  } catch (e) {
    if (process.env.ZIPML_CRASH_KEEP) {
      current?.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      const { cp } = await import('node:fs/promises');
      await cp(dir, process.env.ZIPML_CRASH_KEEP, { recursive: true });
    }
    throw e;
  } finally {
    current?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
