/** Helpers for server tests: a real server on an ephemeral loopback port, and a JSON client. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, startServer, type RunningServer, type ServerConfig } from '../../src/server/index.js';

export interface Res {
  status: number;
  body: any;
  text: string;
}

export async function tmpData(prefix = 'zipml-serve-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function start(dataDir: string, over: Partial<ServerConfig> = {}): Promise<RunningServer> {
  return startServer(defaultConfig({ dataDir, port: 0, host: '127.0.0.1', logLevel: 'silent', ...over }));
}

/** One HTTP call; `body` is sent as JSON unless it is a string (sent as is). */
export async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const r = await fetch(url + path, init);
  const text = await r.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: r.status, body: parsed, text };
}
