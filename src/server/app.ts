/**
 * The HTTP layer of `zipml serve`: fastify routes over the embedded store, API keys, limits,
 * errors as `{ "error": { "code", "message" } }` (never a stack trace), Prometheus metrics,
 * health/readiness, structured logs (pino), graceful shutdown.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { isZipmlError } from '../core/errors.js';
import type { VectorId } from '../vectors/index.js';
import { runBuild, stopBuilds } from './build-runner.js';
import type { Collection, CollectionEvents, Point } from './collection.js';
import { type ServerConfig } from './config.js';
import { ApiError, badRequest } from './errors.js';
import { FilterError } from './payload-index.js';
import { schemas } from './schemas.js';
import { Store, type CreateRequest } from './store.js';

/** Search defaults when a call does not say (IVF lists visited; Refine re-ranking factor). */
export const DEFAULT_NPROBE = 32;
export const DEFAULT_K_FACTOR = 16;

type Access = 'none' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    deadline: number;
  }
}

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

const hashKey = (k: string) => createHash('sha256').update(k).digest();

function checkVector(v: unknown, d: number, where: string): Float32Array {
  if (!Array.isArray(v)) throw badRequest('E_VALIDATION', `${where}: vector must be an array of numbers`);
  if (v.length !== d) throw badRequest('E_DIMENSION', `${where}: vector has ${v.length} values, the collection's dimension is ${d}`);
  const out = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    const x = v[j] as unknown;
    if (typeof x !== 'number') throw badRequest('E_VALIDATION', `${where}: vector[${j}] is not a number`);
    if (!Number.isFinite(x) || !Number.isFinite(Math.fround(x))) throw badRequest('E_NOT_FINITE', `${where}: vector[${j}] is not finite in float32 (${String(x)})`);
    out[j] = x;
  }
  return out;
}

function checkId(id: unknown, c: Collection, where: string): VectorId {
  if (c.config.idType === 'integer') {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw badRequest('E_ID_TYPE', `${where}: collection ${c.name} has integer ids (0..2^53-1), got ${JSON.stringify(id)}`);
  } else if (typeof id !== 'string' || id.length === 0 || id.length > 1024) {
    throw badRequest('E_ID_TYPE', `${where}: collection ${c.name} has string ids (1..1024 characters), got ${JSON.stringify(id)}`);
  }
  return id;
}

function checkIds(ids: unknown[], c: Collection, max: number): VectorId[] {
  if (ids.length > max) throw new ApiError(413, 'E_BATCH_TOO_LARGE', `${ids.length} ids; at most ${max} per request`);
  return ids.map((id, i) => checkId(id, c, `ids[${i}]`));
}

function withDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  const ms = deadline - performance.now();
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new ApiError(503, 'E_TIMEOUT', `${what} exceeded the request time limit (its outcome is unknown)`)), Math.max(0, ms));
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const limits = config.limits;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zipml_' });
  const httpRequests = new Counter({ name: 'zipml_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const httpSeconds = new Histogram({
    name: 'zipml_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route'], registers: [registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
  });
  const fsyncSeconds = new Histogram({ name: 'zipml_wal_fsync_seconds', help: 'WAL write + fdatasync time per group commit', registers: [registry], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5] });
  const walRecords = new Counter({ name: 'zipml_wal_records_total', help: 'WAL records made durable', registers: [registry] });
  const jobs = new Counter({ name: 'zipml_background_jobs_total', help: 'background flushes, merges and trainings', labelNames: ['kind', 'outcome'], registers: [registry] });
  const jobSeconds = new Histogram({ name: 'zipml_background_job_seconds', help: 'background job duration', labelNames: ['kind'], registers: [registry], buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300] });

  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyBytes,
    requestTimeout: limits.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const log = app.log;
  // JSON only: a text/plain body is refused (415) rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  const events: CollectionEvents = {
    log: (level, obj, msg) => log[level](obj, msg),
    fsync: (s, n) => { fsyncSeconds.observe(s); walRecords.inc(n); },
    job: (kind, outcome, s) => { jobs.inc({ kind, outcome }); jobSeconds.observe({ kind }, s); },
    runBuild,
  };
  const store = await Store.open(config.dataDir, config.storage, events);
  let ready = true;

  const gauge = (name: string, help: string, f: (c: Collection) => number) => new Gauge({
    name, help, labelNames: ['collection'], registers: [registry],
    collect() {
      this.reset();
      for (const c of store.collections.values()) this.set({ collection: c.name }, f(c));
    },
  });
  gauge('zipml_collection_points', 'live points', (c) => c.count);
  gauge('zipml_collection_segments', 'immutable segments', (c) => c.segments.length);
  gauge('zipml_collection_memtable_points', 'points not yet in a segment', (c) => c.mem.count + (c.frozen?.count ?? 0));
  gauge('zipml_collection_index_memory_bytes', 'bytes of index data in memory', (c) => c.stats().indexMemoryBytes);
  gauge('zipml_collection_compressed', '1 once the compressed index is trained', (c) => (c.indexState() === 'compressed' ? 1 : 0));

  const keys = config.apiKeys.map((k) => ({ hash: hashKey(k.key), role: k.role }));
  const S = schemas(limits);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'zipml serve', version: '0.1.0', description: 'Vector collections on compressed indexes, with an embedded durable store.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: keys.length > 0 ? [{ bearer: [] }] : [],
    },
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    req.deadline = performance.now() + limits.requestTimeoutMs;
    const access = req.routeOptions.config.access ?? 'read';
    if (access === 'none' || keys.length === 0) return;
    const auth = req.headers.authorization;
    const given = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : req.headers['api-key'];
    if (typeof given !== 'string' || given.length === 0) throw new ApiError(401, 'E_UNAUTHORIZED', 'an API key is required (Authorization: Bearer <key>, or api-key: <key>)');
    const h = hashKey(given);
    const found = keys.find((k) => timingSafeEqual(k.hash, h));
    if (!found) throw new ApiError(401, 'E_INVALID_KEY', 'the API key is not valid');
    if (access === 'write' && found.role !== 'write') throw new ApiError(403, 'E_FORBIDDEN', 'this API key is read-only');
    void reply;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    httpSeconds.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) log.warn({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request failed');
    else log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
    let status = 500, code = 'E_INTERNAL', message = 'internal error';
    if (err instanceof ApiError) ({ status, code, message } = err);
    else if (err instanceof FilterError) { status = 400; code = 'E_FILTER'; message = err.message; }
    else if (e.validation) { status = 400; code = 'E_VALIDATION'; message = e.message ?? 'invalid request'; }
    else if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') { status = 413; code = 'E_BODY_TOO_LARGE'; message = `request body larger than ${limits.bodyBytes} bytes`; }
    else if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') { status = 415; code = 'E_MEDIA_TYPE'; message = 'send JSON (Content-Type: application/json)'; }
    else if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) { status = 400; code = 'E_BAD_JSON'; message = `malformed JSON: ${e.message ?? ''}`; }
    else if (isZipmlError(err, 'E_ARG')) { status = 400; code = 'E_ARG'; message = err.message; }
    else if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) { status = e.statusCode; code = 'E_BAD_REQUEST'; message = e.message ?? 'bad request'; }
    if (status >= 500 && code === 'E_INTERNAL') log.error({ err, url: req.url }, 'internal error');
    void reply.code(status).send({ error: { code, message } });
  });

  app.setNotFoundHandler({}, (req, reply) => {
    void reply.code(404).send({ error: { code: 'E_ROUTE', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  const pub = { config: { access: 'none' as Access } };
  const write = { config: { access: 'write' as Access } };

  app.get('/healthz', { ...pub, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { ...pub, schema: { hide: true } }, async (_req, reply) => {
    if (!ready) return reply.code(503).send({ error: { code: 'E_NOT_READY', message: 'shutting down' } });
    return { status: 'ready', collections: store.collections.size };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/openapi.json', { ...pub, schema: { hide: true } }, async () => app.swagger());

  app.get('/collections', { schema: { summary: 'List collections', ...S.simple } }, async () => ({
    collections: [...store.collections.values()].map((c) => ({ name: c.name, dimension: c.d, metric: c.config.metric, index: c.config.index, count: c.count, indexState: c.indexState() })),
  }));

  app.put<{ Params: { name: string }; Body: CreateRequest }>('/collections/:name', { ...write, schema: S.createCollection }, async (req, reply) => {
    const c = await store.create(req.params.name, req.body, limits.maxDimension);
    log.info({ collection: c.name, config: c.config }, 'created collection');
    return reply.code(201).send({ collection: c.config });
  });

  app.get<{ Params: { name: string } }>('/collections/:name', { schema: S.collection }, async (req) => {
    const c = store.get(req.params.name);
    return { collection: c.config, stats: c.stats() };
  });

  app.delete<{ Params: { name: string } }>('/collections/:name', { ...write, schema: S.named }, async (req) => {
    await store.drop(req.params.name);
    log.info({ collection: req.params.name }, 'dropped collection');
    return { dropped: req.params.name };
  });

  app.put<{ Params: { name: string }; Body: { points: { id: unknown; vector: unknown; payload?: unknown }[] } }>(
    '/collections/:name/points', { ...write, schema: S.upsert }, async (req) => {
      const c = store.get(req.params.name);
      const pts = req.body.points;
      if (pts.length > limits.batchPoints) throw new ApiError(413, 'E_BATCH_TOO_LARGE', `${pts.length} points; at most ${limits.batchPoints} per request`);
      if (pts.length === 0) throw badRequest('E_VALIDATION', 'points is empty');
      const seen = new Set<VectorId>();
      const points: Point[] = pts.map((p, i) => {
        const id = checkId(p.id, c, `points[${i}].id`);
        if (seen.has(id)) throw badRequest('E_DUPLICATE_ID', `points[${i}]: id ${JSON.stringify(id)} appears twice in the batch`);
        seen.add(id);
        const vector = checkVector(p.vector, c.d, `points[${i}]`);
        const payload = p.payload ?? null;
        if (payload !== null && JSON.stringify(payload).length > limits.payloadBytes) throw new ApiError(413, 'E_PAYLOAD_TOO_LARGE', `points[${i}]: payload larger than ${limits.payloadBytes} bytes`);
        return { id, vector, payload };
      });
      const lsn = await withDeadline(c.upsert(points), req.deadline, 'upsert');
      return { status: 'acknowledged', upserted: points.length, lsn };
    });

  app.post<{ Params: { name: string }; Body: { ids: unknown[] } }>('/collections/:name/points/delete', { ...write, schema: S.deletePoints }, async (req) => {
    const c = store.get(req.params.name);
    const ids = checkIds(req.body.ids, c, limits.idsPerRequest);
    const r = await withDeadline(c.delete(ids), req.deadline, 'delete');
    return { status: 'acknowledged', deleted: r.deleted, lsn: r.lsn };
  });

  app.post<{ Params: { name: string }; Body: { ids: unknown[]; withVector?: boolean } }>('/collections/:name/points/get', { schema: S.getPoints }, async (req) => {
    const c = store.get(req.params.name);
    const ids = checkIds(req.body.ids, c, limits.idsPerRequest);
    return { points: await c.get(ids, req.body.withVector === true) };
  });

  app.get<{ Params: { name: string; id: string }; Querystring: { withVector?: string } }>('/collections/:name/points/:id', { schema: S.getPoint }, async (req) => {
    const c = store.get(req.params.name);
    const raw = req.params.id;
    const id = c.config.idType === 'integer' ? (/^\d{1,16}$/.test(raw) ? Number(raw) : NaN) : raw;
    const [p] = await c.get([checkId(id, c, 'id')], req.query.withVector === 'true');
    if (!p) throw new ApiError(404, 'E_NOT_FOUND', `point ${raw} is not in collection ${c.name}`);
    return { point: p };
  });

  app.post<{ Params: { name: string }; Body: { vector: unknown; k?: number; filter?: unknown; nprobe?: number; kFactor?: number; withPayload?: boolean; withVector?: boolean } }>(
    '/collections/:name/search', { schema: S.search }, async (req) => {
      const c = store.get(req.params.name);
      const b = req.body;
      const q = checkVector(b.vector, c.d, 'search');
      const k = b.k ?? 10;
      if (k < 1 || k > limits.maxK) throw new ApiError(400, 'E_LIMIT', `k must be in 1..${limits.maxK}`);
      const filter = b.filter === undefined ? undefined : c.fields.toIdSet(b.filter);
      const t0 = performance.now();
      const hits = filter && !filter.exclude && filter.size === 0 ? [] : c.search(q, k, { nprobe: b.nprobe ?? DEFAULT_NPROBE, kFactor: b.kFactor ?? DEFAULT_K_FACTOR, filter, deadline: req.deadline });
      const searchMs = performance.now() - t0;
      const withPayload = b.withPayload !== false;
      if (!withPayload && !b.withVector) return { hits, searchMs };
      const pts = new Map((await c.get(hits.map((h) => h.id), b.withVector === true)).map((p) => [p.id, p]));
      return {
        hits: hits.map((h) => {
          const p = pts.get(h.id);
          return { ...h, ...(withPayload ? { payload: p?.payload ?? null } : {}), ...(b.withVector && p ? { vector: p.vector } : {}) };
        }),
        searchMs,
      };
    });

  app.post<{ Params: { name: string } }>('/collections/:name/snapshots', { ...write, schema: { summary: 'Snapshot a collection for backup', ...S.named } }, async (req, reply) => {
    const r = await store.snapshot(req.params.name);
    log.info({ collection: req.params.name, snapshot: r.path }, 'snapshot');
    return reply.code(201).send({ snapshot: r });
  });

  app.get<{ Params: { name: string } }>('/collections/:name/snapshots', { schema: { summary: 'List snapshots', ...S.named } }, async (req) => ({
    snapshots: await store.listSnapshots(req.params.name),
  }));

  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      ready = false;
      await app.close(); // stops accepting, finishes in-flight requests
      await stopBuilds();
      await store.close();
    })();
    return closing;
  };
  return { app, store, url: `http://${host}:${port}`, close };
}
