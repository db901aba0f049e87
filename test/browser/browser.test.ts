/**
 * The built package in a real browser, without a bundler: a static server over the repo root,
 * Debian's Chromium driven by playwright-core, and a page that import()s /dist/src/index.js.
 * Results computed in the page are checked against the same calls in Node.
 *
 * Without /usr/bin/chromium the suite is skipped, unless CI is set: there a missing browser is a
 * broken machine, not a reason to pass.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserSkip, openBrowserPage, type BrowserPage } from './harness.js';
import { compress, decompress, xxh32 } from '../../src/index.js';
import { Rng } from '../util/rng.js';

/** The root entry, loaded by URL in the page; the type keeps both sides on the real API. */
type RootApi = typeof import('../../src/index.js');
/** Where the page finds it: served from the repo root, as built. */
const ENTRY = '/dist/src/index.js';
type PoolModule = typeof import('../../src/core/workers/pool.js');

/** Bytes with a skewed (geometric) distribution: what an entropy coder should shrink. */
function skewedBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(255, Math.floor(-Math.log(1 - rng.float()) * 6));
  return out;
}


const skip = browserSkip();
if (skip !== false && process.env.CI) {
  // browserSkip() registered the failing test.
} else {

  describe('browser: the built package in Chromium, no bundler', { skip, timeout: 60_000 }, () => {
    let bp: BrowserPage;
    let page: Page;
    let origin = '';

    before(async () => {
      bp = await openBrowserPage();
      page = bp.page;
      origin = bp.origin;
    });

    after(async () => {
      await bp?.close();
    });

    const context = () => bp.context();

    test('the root entry loads and picks the WebAssembly SIMD kernels', async () => {
      const path = await page.evaluate(async (url) => ((await import(url)) as RootApi).kernelPath(), ENTRY);
      assert.equal(path, 'wasm-simd', context());
    });

    test('xxh32 in the page equals xxh32 in Node', async () => {
      const data = new Rng(2024).bytes(5000);
      for (const seed of [0, 2654435761]) {
        const inPage = await page.evaluate(
          async ({ url, bytes, seed }) => ((await import(url)) as RootApi).xxh32(Uint8Array.from(bytes), seed),
          { url: ENTRY, bytes: Array.from(data), seed },
        );
        assert.equal(inPage, xxh32(data, seed), `seed ${seed}${context()}`);
      }
    });

    for (const coder of ['huffman', 'rans'] as const) {
      test(`${coder}: compressed in the page, decompressed in Node, and back`, async () => {
        for (const data of [skewedBytes(20_000, 7), new Rng(8).bytes(1000)]) {
          const fromPage = Uint8Array.from(
            await page.evaluate(
              async ({ url, bytes, coder }) => {
                const m = (await import(url)) as RootApi;
                return Array.from(m.compress(Uint8Array.from(bytes), { coder }));
              },
              { url: ENTRY, bytes: Array.from(data), coder },
            ),
          );
          assert.deepEqual(decompress(fromPage), data, `page → Node (${data.length} bytes)${context()}`);

          const fromNode = compress(data, { coder });
          // Same input, same coder: the frame should not depend on the runtime that wrote it.
          assert.deepEqual(fromPage, fromNode, 'the page and Node wrote different frames');
          const back = await page.evaluate(
            async ({ url, frame }) => {
              const m = (await import(url)) as RootApi;
              return Array.from(m.decompress(Uint8Array.from(frame)));
            },
            { url: ENTRY, frame: Array.from(fromNode) },
          );
          assert.deepEqual(Uint8Array.from(back), data, `Node → page (${data.length} bytes)${context()}`);
        }
      });
    }

    test('WorkerPool runs tasks in module Web Workers', async () => {
      const r = await page.evaluate(
        async ({ poolUrl, tasks }) => {
          const { WorkerPool } = (await import(poolUrl)) as PoolModule;
          const pool = new WorkerPool({ size: 2 });
          const code = (e: unknown) => (e as { code?: string }).code;
          try {
            const a = new Float64Array([1, 2, 3, 4.5]);
            const sum = await pool.run<number>({ module: tasks, fn: 'sum' }, [a], { transfer: [a.buffer] });
            const doubled = await pool.run<Float64Array>({ module: tasks, fn: 'double' }, [new Float64Array([1, -2])]);
            const sab = new SharedArrayBuffer(16);
            await pool.run({ module: tasks, fn: 'fillShared' }, [sab, 3]);
            const thrown = await pool.run({ module: tasks, fn: 'throwZipml' }, []).then(() => 'resolved', code);
            const crashed = await pool.run({ module: tasks, fn: 'uncaught' }, []).then(() => 'resolved', code);
            const afterCrash = await pool.run<number>({ module: tasks, fn: 'sum' }, [new Float64Array([5, 6])]);
            const ac = new AbortController();
            const sleeping = pool.run({ module: tasks, fn: 'sleep' }, [10_000], { signal: ac.signal });
            setTimeout(() => ac.abort(), 20);
            const aborted = await sleeping.then(() => 'resolved', code);
            return {
              sum,
              detached: a.buffer.byteLength === 0,
              doubled: doubled instanceof Float64Array ? Array.from(doubled) : null,
              shared: Array.from(new Int32Array(sab)),
              thrown,
              crashed,
              afterCrash,
              aborted,
              defaultSize: new WorkerPool().size,
            };
          } finally {
            await pool.close();
          }
        },
        { poolUrl: '/dist/src/core/workers/pool.js', tasks: `${origin}/dist/test/core/fixtures/pool-tasks.js` },
      );
      assert.deepEqual(
        r,
        {
          sum: 10.5,
          detached: true,
          doubled: [2, -4],
          shared: [3, 6, 9, 12],
          thrown: 'E_CORRUPT',
          crashed: 'E_WORKER',
          afterCrash: 11,
          aborted: 'E_ABORTED',
          defaultSize: r.defaultSize,
        },
        context(),
      );
      assert.ok(r.defaultSize >= 1);
    });
  });
}
