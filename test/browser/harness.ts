/**
 * Shared set-up of the browser tests: a static server over the repo root (cross-origin isolated,
 * so pages get SharedArrayBuffer), Debian's Chromium driven by playwright-core, and a blank page
 * that imports the built package by URL, without a bundler.
 *
 * Without /usr/bin/chromium the suites are skipped, unless CI is set: there a missing browser is a
 * broken machine, not a reason to pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Serves files under `root` read-only. Cross-origin isolated, so pages get SharedArrayBuffer. */
export function staticServer(root: string): Server {
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cache-Control': 'no-store',
  };
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = resolve(root, `.${path}`);
    if (!file.startsWith(root)) {
      res.writeHead(403, headers).end();
      return;
    }
    readFile(file).then(
      (body) => {
        res.writeHead(200, { ...headers, 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(body);
      },
      () => res.writeHead(404, headers).end(`not found: ${path}`),
    );
  });
}


/**
 * Whether to run a browser suite: false to run, a skip reason, or (CI without Chromium) a failing
 * test is registered and 'fail' returned.
 */
export function browserSkip(): false | string {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI) {
    test('browser check', () => {
      assert.fail(`${CHROMIUM} is missing and CI is set: install Debian's chromium package (.ci/run does)`);
    });
  }
  return `${CHROMIUM} not found: install Debian's chromium package to run the browser check`;
}

export interface BrowserPage {
  page: Page;
  origin: string;
  /** Errors the page reported so far, for assertion messages. */
  context(): string;
  close(): Promise<void>;
}

/** Starts the server and Chromium and opens the blank test page. */
export async function openBrowserPage(): Promise<BrowserPage> {
  const server: Server = staticServer(REPO_ROOT.endsWith(sep) ? REPO_ROOT : REPO_ROOT + sep);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    timeout: 20_000,
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(`${origin}/test/browser/index.html`);
  return {
    page,
    origin,
    context: () => (pageErrors.length ? `\npage errors:\n${pageErrors.join('\n')}` : ''),
    close: async () => {
      await browser.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
