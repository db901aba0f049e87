/**
 * WAL record bodies. One record per request, so a batch is all-or-nothing after a crash:
 *
 *   u8 type (1 upsert, 2 delete) | u8 0 | u16 0 | u32 n | f64 lsn | u32 jsonLength | json | f32[n·d]
 *
 * json is `{"ids": [...], "payloads": [...]}` (payloads only for upserts, each a JSON value or
 * null). The vectors follow the JSON (upserts only), row-major float32 little-endian.
 */
import { ZipmlError } from '../core/errors.js';
import type { VectorId } from '../vectors/index.js';

export type Payload = Record<string, unknown> | null;

export interface UpsertRecord {
  type: 'upsert';
  lsn: number;
  ids: VectorId[];
  vectors: Float32Array;
  /** Each payload as its JSON text ('null' when none). */
  payloads: string[];
}

export interface DeleteRecord {
  type: 'delete';
  lsn: number;
  ids: VectorId[];
}

export type WalRecord = UpsertRecord | DeleteRecord;

const HEAD = 20;

export function encodeRecord(r: WalRecord): Uint8Array {
  const json = new TextEncoder().encode(
    r.type === 'upsert' ? `{"ids":${JSON.stringify(r.ids)},"payloads":[${r.payloads.join(',')}]}` : JSON.stringify({ ids: r.ids }),
  );
  const vecBytes = r.type === 'upsert' ? r.vectors.byteLength : 0;
  const out = new Uint8Array(HEAD + json.length + vecBytes);
  const v = new DataView(out.buffer);
  v.setUint8(0, r.type === 'upsert' ? 1 : 2);
  v.setUint32(4, r.ids.length, true);
  v.setFloat64(8, r.lsn, true);
  v.setUint32(16, json.length, true);
  out.set(json, HEAD);
  if (r.type === 'upsert') out.set(new Uint8Array(r.vectors.buffer, r.vectors.byteOffset, vecBytes), HEAD + json.length);
  return out;
}

export function decodeRecord(body: Uint8Array, d: number, where: string): WalRecord {
  if (body.length < HEAD) throw new ZipmlError('E_TRUNCATED', `${where}: record of ${body.length} bytes`);
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const type = v.getUint8(0);
  const n = v.getUint32(4, true);
  const lsn = v.getFloat64(8, true);
  const jl = v.getUint32(16, true);
  if (HEAD + jl > body.length) throw new ZipmlError('E_CORRUPT', `${where}: JSON length ${jl} exceeds the record`);
  const meta = JSON.parse(new TextDecoder().decode(body.subarray(HEAD, HEAD + jl))) as { ids?: unknown; payloads?: unknown };
  if (!Array.isArray(meta.ids) || meta.ids.length !== n) throw new ZipmlError('E_CORRUPT', `${where}: ids do not match the count ${n}`);
  const ids = meta.ids as VectorId[];
  if (type === 2) return { type: 'delete', lsn, ids };
  if (type !== 1) throw new ZipmlError('E_CORRUPT', `${where}: unknown record type ${type}`);
  if (!Array.isArray(meta.payloads) || meta.payloads.length !== n) throw new ZipmlError('E_CORRUPT', `${where}: payloads do not match the count ${n}`);
  const vb = n * d * 4;
  if (HEAD + jl + vb !== body.length) throw new ZipmlError('E_CORRUPT', `${where}: ${body.length - HEAD - jl} vector bytes, expected ${vb}`);
  const vectors = new Float32Array(body.slice(HEAD + jl, HEAD + jl + vb).buffer);
  return { type: 'upsert', lsn, ids, vectors, payloads: (meta.payloads as unknown[]).map((p) => JSON.stringify(p)) };
}
