/**
 * The same index file searched in headless Chromium and in Node gives the same results: built and
 * saved here, loaded by the page from its bytes, searched there one query at a time, in a batch,
 * and over Web Workers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { browserSkip, openBrowserPage, type BrowserPage } from './harness.js';
import { indexFactory } from '../../src/vectors/index/vector-index.js';
import { saveIndex } from '../../src/vectors/index/file.js';
import { IdSet } from '../../src/vectors/search/filter.js';
import { Rng } from '../util/rng.js';

type VectorsApi = typeof import('../../src/vectors/index.js');
const ENTRY = '/dist/src/vectors/index.js';

function clustered(n: number, d: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const c = Array.from({ length: 8 }, () => Array.from({ length: d }, () => 3 * r.normal()));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const k = r.int(8);
    for (let j = 0; j < d; j++) x[i * d + j] = c[k]![j]! + r.normal();
  }
  return x;
}

const skip = browserSkip();
if (!(skip !== false && process.env.CI)) {
  describe('browser: vector index files give the same results in Chromium as in Node', { skip, timeout: 120_000 }, () => {
    let bp: BrowserPage;
    before(async () => {
      bp = await openBrowserPage();
    });
    after(async () => {
      await bp?.close();
    });

    const d = 24, n = 3000, nq = 40, k = 8;
    const base = clustered(n, d, 1), queries = clustered(nq, d, 2);
    for (const [factory, metric] of [['IVF16,PQ12x4fs,RFlat', 'l2'], ['IVF8,SQ8', 'ip'], ['RaBitQ', 'l2'], ['Flat', 'cos']] as const) {
      test(`${factory} (${metric})`, async () => {
        const index = indexFactory(d, factory, { metric });
        index.train(base, { seed: 5 });
        index.add(base);
        index.remove([7, 8, 9]);
        const bytes = saveIndex(index);
        const params = { nprobe: 4, kFactor: 3 };
        const filterIds = Array.from({ length: 1000 }, (_, i) => 3 * i);
        const want = {
          batch: index.search(queries, k, params),
          one: index.search(queries.subarray(0, d), k, params),
          filtered: index.search(queries, k, { ...params, filter: new IdSet(filterIds) }),
        };
        const got = await bp.page.evaluate(
          async ({ url, poolUrl, loaderUrl, bytes, q, d, k, params, filterIds }) => {
            const m = (await import(url)) as VectorsApi;
            const ix = m.loadIndex(Uint8Array.from(bytes));
            const queries = Float32Array.from(q);
            const plain = (r: { distances: Float32Array; ids: Float64Array }) => ({ distances: Array.from(r.distances), ids: Array.from(r.ids) });
            const pool = new ((await import(poolUrl)) as typeof import('../../src/core/workers/pool.js')).WorkerPool({ size: 2 });
            try {
              return {
                kernels: ((await import(loaderUrl)) as typeof import('../../src/kernels/loader.js')).kernelPath(),
                batch: plain(ix.search(queries, k, params)),
                one: plain(ix.search(queries.subarray(0, d), k, params)),
                filtered: plain(ix.search(queries, k, { ...params, filter: new m.IdSet(filterIds) })),
                workers: plain(await ix.searchAsync(queries, k, { ...params, threads: 2, pool })),
              };
            } finally {
              await pool.close();
            }
          },
          { url: ENTRY, poolUrl: '/dist/src/core/workers/pool.js', loaderUrl: '/dist/src/kernels/loader.js', bytes: Array.from(bytes), q: Array.from(queries), d, k, params, filterIds },
        );
        const plain = (r: { distances: Float32Array; ids: Float64Array }) => ({ distances: Array.from(r.distances), ids: Array.from(r.ids) });
        assert.equal(got.kernels, 'wasm-simd', bp.context());
        assert.deepEqual(got.batch, plain(want.batch), `batch${bp.context()}`);
        assert.deepEqual(got.one, plain(want.one), `one query${bp.context()}`);
        assert.deepEqual(got.filtered, plain(want.filtered), `filtered${bp.context()}`);
        assert.deepEqual(got.workers, plain(want.batch), `Web Workers${bp.context()}`);
      });
    }
  });
}
