/** Server configuration: storage knobs, request limits, keys. Every bound is documented in docs/server.md. */
import { parseFactory } from '../vectors/index.js';

export interface StorageConfig {
  /** Points held in memory (and in the log) before a background flush writes a segment. */
  memtableMaxPoints: number;
  /** Flush a non-empty memtable at least this often (ms). */
  flushIntervalMs: number;
  /** More segments than this trigger a background merge into one. */
  maxSegments: number;
  /** Bytes of segment payloads cached in memory (LRU); the rest stays on disk. */
  payloadCacheBytes: number;
  /** Training sample cap (points) for the compressed index. */
  maxTrainPoints: number;
  /** Points needed before `auto` trains its first compressed index. */
  autoTrainMin: number;
}

export interface Limits {
  bodyBytes: number;
  batchPoints: number;
  maxDimension: number;
  maxK: number;
  requestTimeoutMs: number;
  payloadBytes: number;
  idsPerRequest: number;
}

export interface ApiKey {
  key: string;
  role: 'read' | 'write';
}

export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  apiKeys: ApiKey[];
  limits: Limits;
  storage: StorageConfig;
  /** pino log level, or 'silent'. */
  logLevel: string;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 32 << 20,
  batchPoints: 1000,
  maxDimension: 4096,
  maxK: 1000,
  requestTimeoutMs: 10_000,
  payloadBytes: 64 << 10,
  idsPerRequest: 1000,
};

export const DEFAULT_STORAGE: StorageConfig = {
  memtableMaxPoints: 20_000,
  flushIntervalMs: 30_000,
  maxSegments: 8,
  payloadCacheBytes: 64 << 20,
  maxTrainPoints: 65_536,
  autoTrainMin: 5_000,
};

export function defaultConfig(over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    dataDir: './zipml-data',
    host: '127.0.0.1',
    port: 6333,
    apiKeys: [],
    logLevel: 'info',
    ...over,
    limits: { ...DEFAULT_LIMITS, ...over.limits },
    storage: { ...DEFAULT_STORAGE, ...over.storage },
  };
}

/** Keys from the environment: ZIPML_API_KEYS (read-write) and ZIPML_READ_API_KEYS, comma-separated. */
export function keysFromEnv(env: NodeJS.ProcessEnv): ApiKey[] {
  const split = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  return [
    ...split(env.ZIPML_API_KEYS).map((key) => ({ key, role: 'write' as const })),
    ...split(env.ZIPML_READ_API_KEYS).map((key) => ({ key, role: 'read' as const })),
  ];
}

/**
 * The `auto` recipe for n points of dimension d (the rule written in docs/server.md):
 * below 50,000 points SQ8 (4× smaller than float32, near-exact ranking); from 50,000 on
 * IVF{4√n},PQ{d/4}x4fs,Refine(SQ8): 4-bit fast-scan PQ (2 bits per dimension) over 4√n lists,
 * the best k·kFactor re-ranked with SQ8 codes. Dimensions not divisible by 4 use IVF{4√n},SQ8.
 */
export function autoRecipe(n: number, d: number): string {
  if (n < 50_000) return 'SQ8';
  const nlist = Math.min(65_536, Math.max(16, Math.round(4 * Math.sqrt(n))));
  if (d % 4 === 0 && d >= 16) return `IVF${nlist},PQ${d / 4}x4fs,Refine(SQ8)`;
  return `IVF${nlist},SQ8`;
}

/** Points an explicit recipe needs before it is trained (Faiss warns under 39 per centroid). */
export function trainMinFor(recipe: string, d: number, autoMin: number): number {
  if (recipe === 'auto') return autoMin;
  const r = parseFactory(recipe, d);
  return Math.max(1000, 39 * r.nlist);
}
