/**
 * Unpacking a packed model in headless Chromium (the built package served as plain files, no
 * bundler): the page unpacks on its own thread and on two Web Workers, hashes the result with
 * the plain-TS SHA-256 (no node:crypto there) and the test compares it with Node's hash of the
 * original. Skipped without /usr/bin/chromium unless CI is set (see browser.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packBytes } from '../../src/tensors/pack/pack.js';
import { encodeSafetensors } from '../../src/tensors/formats/safetensors.js';
import { specialFloatsSafetensors } from '../../src/tensors/formats/special-floats.js';
import { f32ToBf16 } from '../../src/core/dtypes.js';
import { Rng } from '../util/rng.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
type TensorsApi = typeof import('../../src/tensors/index.js');
const ENTRY = '/dist/src/tensors/index.js';
const MIME: Record<string, string> = { js: 'text/javascript', html: 'text/html', map: 'application/json' };

/** Read-only files under the repo root, cross-origin isolated (module workers, SharedArrayBuffer). */
function serveRepo(): Server {
  return createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const h = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-store' };
    if (rel.split('/').includes('..')) return void res.writeHead(403, h).end();
    readFile(ROOT + rel).then(
      (body) => res.writeHead(200, { ...h, 'Content-Type': MIME[rel.split('.').pop()!] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404, h).end(),
    );
  });
}

async function models(): Promise<Array<[string, Uint8Array]>> {
  const rng = new Rng(31);
  const w = new Float32Array(120_000).map(() => rng.normal() * 0.02);
  const out: Array<[string, Uint8Array]> = [
    ['generated f32 + bf16', await encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [w.length], data: w }, { name: 'b', dtype: 'BF16', shape: [w.length], data: f32ToBf16(w) }])],
    ['special floats', await specialFloatsSafetensors()],
  ];
  const real = '../shared/data/models/silero_vad/silero_vad_16k.safetensors';
  if (existsSync(real)) out.push(['silero_vad_16k.safetensors', new Uint8Array(readFileSync(real))]);
  return out;
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  test('tensors browser check', () => assert.fail(`${CHROMIUM} is missing and CI is set`));
} else {
  describe('browser: unpacking packed models in Chromium', { skip: haveChromium ? false : `${CHROMIUM} not found`, timeout: 120_000 }, () => {
    let server: Server;
    let browser: Browser | undefined;
    let page: Page;
    const errors: string[] = [];

    before(async () => {
      server = serveRepo();
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'], timeout: 20_000 });
      page = await browser.newPage();
      page.setDefaultTimeout(60_000);
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/test/browser/index.html`);
    });

    after(async () => {
      await browser?.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    });

    test('the page unpacks each packed model to the original bytes (SHA-256 checked in the page and here)', async () => {
      for (const [name, original] of await models()) {
        const packed = await packBytes(original, { name, threads: 1 });
        const r = await page.evaluate(
          async ({ url, b64 }) => {
            const m = (await import(url)) as TensorsApi;
            const bin = atob(b64);
            const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
            const results = [];
            for (const threads of [1, 2]) {
              const out = await m.unpackBytes(bytes, { threads });
              const h = await m.createSha256();
              h.update(out);
              results.push({ threads, size: out.length, sha256: h.digest() });
            }
            // One tensor alone, decoding only its chunks.
            const t = await m.readPackedTensor(m.memoryPackedReader(bytes), 'a').catch(() => null);
            return { results, tensorA: t ? t.bytes.length : null };
          },
          { url: ENTRY, b64: Buffer.from(packed).toString('base64') },
        );
        const want = createHash('sha256').update(original).digest('hex');
        for (const x of r.results) {
          assert.equal(x.size, original.length, `${name}, ${x.threads} thread(s)`);
          assert.equal(x.sha256, want, `${name}, ${x.threads} thread(s)${errors.length ? `\n${errors.join('\n')}` : ''}`);
        }
        if (name.startsWith('generated')) assert.equal(r.tensorA, 480_000);
      }
    });
  });
}
