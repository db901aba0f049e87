/** `zipml serve`: starts the HTTP service on the embedded store; SIGINT/SIGTERM shut it down gracefully. */
import type { Command } from 'commander';
import { intArg } from './args.js';
import { defaultConfig, keysFromEnv, startServer, type ApiKey } from '../server/index.js';

const collect = (v: string, acc: string[]) => [...acc, v];

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('HTTP service for vector collections on compressed indexes, stored in a local folder')
    .option('--data <dir>', 'data directory', './zipml-data')
    .option('--port <n>', 'TCP port (0: any free port)', intArg(0, 65535), 6333)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--api-key <key>', 'read-write API key (repeatable; also ZIPML_API_KEYS)', collect, [])
    .option('--read-api-key <key>', 'read-only API key (repeatable; also ZIPML_READ_API_KEYS)', collect, [])
    .option('--memtable-points <n>', 'points kept in memory before a segment is flushed', intArg(1, 10_000_000))
    .option('--payload-cache-mb <n>', 'memory for cached payloads', intArg(0, 1 << 20))
    .option('--max-batch <n>', 'points per upsert request', intArg(1, 1_000_000))
    .option('--timeout-ms <n>', 'per-request time limit', intArg(100, 3_600_000))
    .option('--log-level <level>', 'fatal | error | warn | info | debug | silent', 'info')
    .action(async (o: {
      data: string; port: number; host: string; apiKey: string[]; readApiKey: string[]; memtablePoints?: number;
      payloadCacheMb?: number; maxBatch?: number; timeoutMs?: number; logLevel: string;
    }) => {
      const apiKeys: ApiKey[] = [
        ...o.apiKey.map((key) => ({ key, role: 'write' as const })),
        ...o.readApiKey.map((key) => ({ key, role: 'read' as const })),
        ...keysFromEnv(process.env),
      ];
      const base = defaultConfig();
      const config = defaultConfig({
        dataDir: o.data, port: o.port, host: o.host, apiKeys, logLevel: o.logLevel,
        limits: { ...base.limits, ...(o.maxBatch ? { batchPoints: o.maxBatch } : {}), ...(o.timeoutMs ? { requestTimeoutMs: o.timeoutMs } : {}) },
        storage: {
          ...base.storage,
          ...(o.memtablePoints ? { memtableMaxPoints: o.memtablePoints } : {}),
          ...(o.payloadCacheMb !== undefined ? { payloadCacheBytes: o.payloadCacheMb << 20 } : {}),
        },
      });
      const server = await startServer(config);
      server.app.log.info({ url: server.url, data: config.dataDir, keys: apiKeys.length }, 'zipml serve listening');
      if (apiKeys.length === 0) server.app.log.warn('no API keys configured: every client can read and write');
      // Machine-readable line for scripts and tests: the address actually bound.
      process.stdout.write(`zipml serve listening on ${server.url}\n`);
      const stop = (sig: string) => {
        server.app.log.info({ signal: sig }, 'shutting down');
        server.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
