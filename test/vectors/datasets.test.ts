/**
 * The evaluation sets: the four shared sets (skipped, naming the missing file, where shared data is
 * absent) and the synthetic Gaussian mixture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isZipmlError } from '../../src/core/errors.js';
import {
  SHARED_DATASETS, SHARED_DATASET_FILES, SPLIT_SEED, gaussianMixture, loadSharedDataset, seededSplit,
  type SharedDatasetName, type VectorDataset,
} from '../../src/vectors/datasets.js';
import { SeededRandom } from '../../src/core/random.js';

const ROOT = '../shared/data';

/** The missing files of a shared set, as one message (empty when all are present). */
function missing(name: SharedDatasetName): string {
  return SHARED_DATASET_FILES[name].map((f) => join(ROOT, f)).filter((p) => !existsSync(p)).join(', ');
}

function checkShape(ds: VectorDataset): void {
  assert.equal(ds.base.length, ds.nb * ds.d, `${ds.name} base`);
  assert.equal(ds.queries.length, ds.nq * ds.d, `${ds.name} queries`);
  assert.ok(ds.description.length > 20);
  for (const x of [ds.base, ds.queries]) assert.ok(x.every(Number.isFinite), `${ds.name}: finite values`);
}

const EXPECTED: Record<SharedDatasetName, { nb: number; nq: number; d: number; metric: string }> = {
  mnist: { nb: 9000, nq: 1000, d: 784, metric: 'l2' },
  nmslib8: { nb: 10000, nq: 1000, d: 8, metric: 'l2' },
  cohere768: { nb: 900, nq: 100, d: 768, metric: 'cos' },
  'bge-m3': { nb: 900, nq: 100, d: 1024, metric: 'cos' },
};

for (const name of SHARED_DATASETS) {
  test(`shared dataset ${name}: shape, metric, and a deterministic split`, async (t) => {
    const absent = missing(name);
    if (absent) return t.skip(`missing ${absent} (shared data not present)`);
    const ds = await loadSharedDataset(name, ROOT);
    checkShape(ds);
    assert.deepEqual({ nb: ds.nb, nq: ds.nq, d: ds.d, metric: ds.metric }, EXPECTED[name]);
    if (ds.baseIds && ds.queryIds) {
      const all = [...ds.baseIds, ...ds.queryIds].sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: ds.nb + ds.nq }, (_, i) => i), 'the split is a partition');
      const again = await loadSharedDataset(name, ROOT);
      assert.deepEqual(again.queryIds, ds.queryIds, 'the split does not change between loads');
      assert.deepEqual(again.queries, ds.queries);
    }
    if (name === 'mnist') {
      assert.ok(ds.base.every((v) => Number.isInteger(v) && v >= 0 && v <= 255), 'pixels as f32 0..255');
      assert.equal(ds.queries.length, 1000 * 784);
    }
    if (name === 'bge-m3') {
      for (let i = 0; i < ds.nb; i++) assert.ok(Math.abs(Math.hypot(...ds.base.subarray(i * 1024, (i + 1) * 1024)) - 1) < 1e-5);
    }
  });
}

test('loadSharedDataset: unknown names and a missing root are ZipmlErrors that say what is missing', async () => {
  await assert.rejects(loadSharedDataset('nope' as SharedDatasetName, ROOT), (e: unknown) => isZipmlError(e, 'E_ARG'));
  await assert.rejects(loadSharedDataset('nmslib8', '/nonexistent-root'), (e: unknown) =>
    isZipmlError(e, 'E_IO') && /nmslib8.*\/nonexistent-root\/vectors\/nmslib\/final8_10K\.txt/.test((e as Error).message));
});

test('seededSplit: a seeded partition in file order', () => {
  const x = Float32Array.from({ length: 50 * 2 }, (_, i) => i);
  const a = seededSplit(x, 2, 5, SPLIT_SEED);
  const b = seededSplit(x, 2, 5, SPLIT_SEED);
  const c = seededSplit(x, 2, 5, SPLIT_SEED + 1);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.queryIds, c.queryIds);
  assert.equal(a.queryIds.length, 5);
  assert.ok(a.queryIds.every((v, i) => i === 0 || v > a.queryIds[i - 1]!));
  a.queryIds.forEach((r, i) => assert.deepEqual([...a.queries.subarray(2 * i, 2 * i + 2)], [2 * r, 2 * r + 1]));
  assert.throws(() => seededSplit(x, 2, 51, 1), (e: unknown) => isZipmlError(e, 'E_ARG'));
});

test('SeededRandom is xoshiro128** (reference outputs from state 1, 2, 3, 4)', () => {
  const r = new SeededRandom(0);
  Object.assign(r, { a: 1, b: 2, c: 3, d: 4 });
  assert.deepEqual(Array.from({ length: 8 }, () => r.u32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  const g = new SeededRandom(42, 3);
  let s = 0, s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const z = g.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.03 && Math.abs(s2 / n - 1) < 0.04, `mean ${s / n}, variance ${s2 / n}`);
});

test('gaussianMixture: deterministic, independent streams, the documented structure', () => {
  const a = gaussianMixture({ n: 3000, d: 16, components: 5, seed: 7, nq: 50 });
  checkShape(a);
  assert.deepEqual([a.nb, a.nq, a.d, a.metric], [3000, 50, 16, 'l2']);
  assert.deepEqual(gaussianMixture({ n: 3000, d: 16, components: 5, seed: 7, nq: 50 }).base, a.base);
  assert.deepEqual(gaussianMixture({ n: 100, d: 16, components: 5, seed: 7, nq: 50 }).queries, a.queries, 'queries do not depend on n');
  assert.deepEqual(gaussianMixture({ n: 3000, d: 16, components: 5, seed: 7, nq: 5 }).base, a.base, 'base does not depend on nq');
  assert.notDeepEqual(gaussianMixture({ n: 100, d: 16, components: 5, seed: 8, nq: 0 }).base, a.base.subarray(0, 1600));
  // With one component every point is c + s * a_j * z_j, so the variance of dimension j is
  // s^2 * 4^(-2j/(d-1)): the last dimension's is 1/16 of the first's.
  const one = gaussianMixture({ n: 4000, d: 16, components: 1, seed: 3, nq: 0 });
  const variance = (j: number) => {
    let m = 0, m2 = 0;
    for (let i = 0; i < one.nb; i++) {
      m += one.base[i * 16 + j]!;
      m2 += one.base[i * 16 + j]! ** 2;
    }
    return m2 / one.nb - (m / one.nb) ** 2;
  };
  const ratio = variance(0) / variance(15);
  assert.ok(ratio > 13 && ratio < 19.5, `variance ratio ${ratio}`);
  assert.ok(variance(0) > 0.2 ** 2 * 0.85 && variance(0) < 0.6 ** 2 * 1.15, `spread ${Math.sqrt(variance(0))}`);
  assert.throws(() => gaussianMixture({ n: -1 }), (e: unknown) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => gaussianMixture({ d: 0 }), (e: unknown) => isZipmlError(e, 'E_ARG'));
});

test('gaussianMixture: the default 200,000 x 128 set with 1,000 queries', () => {
  const t0 = performance.now();
  const g = gaussianMixture();
  assert.deepEqual([g.nb, g.nq, g.d], [200000, 1000, 128]);
  assert.equal(g.base.length, 200000 * 128);
  assert.ok(performance.now() - t0 < 15000);
  // Fixed seed: a fingerprint of the first row guards the generator against silent change.
  assert.deepEqual(Array.from(g.base.subarray(0, 3), (v) => v.toFixed(4)), FIRST_ROW);
});

const FIRST_ROW = ['0.1802', '0.4501', '0.8639'];
