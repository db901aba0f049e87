/**
 * Immutable segments. A segment is a directory `segments/seg-<n>/` written once:
 *
 *   index.zml     the VectorIndex (saveIndex): compressed codes, codebooks, ids, tombstones none
 *   vectors.f32   the original vectors, float32 row-major in `ids` order (for rebuilds, merges
 *                 and exact fetches; read from disk, never kept in memory)
 *   payloads.bin  one record per point in `ids` order: [u32 length][u32 xxh32(json)][json]
 *                 (the WAL's framing)
 *   meta.json     written last (atomically): ids, payload offsets, values of the indexed payload
 *                 fields, the ids this segment deletes from older segments, checksums
 *
 * A segment directory becomes part of the collection only when manifest.json names it, so a crash
 * while writing one leaves an orphan that the next start removes.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { xxh32 } from '../core/checksum.js';
import { ZipmlError } from '../core/errors.js';
import { SeededRandom } from '../core/random.js';
import { frameRecord } from './wal.js';
import { indexFactory, loadIndex, saveIndex, type Metric, type VectorId } from '../vectors/index.js';

export const SEGMENT_META_VERSION = 1;

export interface SegmentMeta {
  version: number;
  count: number;
  d: number;
  factory: string;
  ids: VectorId[];
  /** count+1 byte offsets of the payload records. */
  payloadOffsets: number[];
  vectorsXxh32: number;
  /** Ids deleted (and not re-inserted) while this segment's points were in memory. */
  deletes: VectorId[];
  /** Per point, the values of the collection's indexed payload fields (declaration order). */
  fields: unknown[][];
}

export interface BuildSource {
  dir: string;
  /** Ids of this segment that are still live (the rest are dropped). */
  keep: VectorId[];
}

export interface BuildJob {
  outDir: string;
  d: number;
  metric: Metric;
  /** Factory string of the new segment's index. */
  factory: string;
  /** Train the index first (and save the empty trained index to templateOut). */
  train: { seed: number; maxTrain: number; templateOut: string } | null;
  /** A trained empty index to add into (a collection's template), or null. */
  template: string | null;
  sources: BuildSource[];
  mem: { ids: VectorId[]; vectors: Float32Array; payloads: string[] } | null;
  deletes: VectorId[];
  fieldNames: string[];
}

export interface BuildResult {
  count: number;
  factory: string;
  trainSeconds: number;
  addSeconds: number;
}

export async function readSegmentMeta(dir: string): Promise<SegmentMeta> {
  const text = await readFile(join(dir, 'meta.json'), 'utf8');
  const m = JSON.parse(text) as SegmentMeta;
  if (m.version !== SEGMENT_META_VERSION) throw new ZipmlError('E_FORMAT', `${dir}: segment version ${String(m.version)} is not supported`);
  if (!Array.isArray(m.ids) || m.ids.length !== m.count || m.payloadOffsets.length !== m.count + 1 || m.fields.length !== m.count) {
    throw new ZipmlError('E_CORRUPT', `${dir}/meta.json: counts do not agree`);
  }
  return m;
}

/** The segment's original vectors, checked against the checksum in its meta. */
export async function readSegmentVectors(dir: string, meta: SegmentMeta): Promise<Float32Array> {
  const bytes = await readFile(join(dir, 'vectors.f32'));
  if (bytes.length !== meta.count * meta.d * 4) throw new ZipmlError('E_CORRUPT', `${dir}/vectors.f32: ${bytes.length} bytes, expected ${meta.count * meta.d * 4}`);
  const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  if (xxh32(u8) !== meta.vectorsXxh32) throw new ZipmlError('E_CORRUPT', `${dir}/vectors.f32: checksum mismatch`);
  return new Float32Array(u8.slice().buffer);
}

/** Checks one payload record (from a file read at its offset) and returns its JSON text. */
export function decodePayloadRecord(rec: Uint8Array, where: string): string {
  if (rec.length < 8) throw new ZipmlError('E_TRUNCATED', `${where}: payload record too short`);
  const v = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const len = v.getUint32(0, true);
  if (len !== rec.length - 8) throw new ZipmlError('E_CORRUPT', `${where}: payload length ${len} disagrees with the offsets`);
  const body = rec.subarray(8);
  if (xxh32(body) !== v.getUint32(4, true)) throw new ZipmlError('E_CORRUPT', `${where}: payload checksum mismatch`);
  return new TextDecoder().decode(body);
}

/** Reads records [from, to) of a payload file opened by the caller. */
export async function readPayloadRange(fh: { read: (b: Uint8Array, o: number, l: number, p: number) => Promise<{ bytesRead: number }> }, start: number, end: number): Promise<Uint8Array> {
  const buf = new Uint8Array(end - start);
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
    if (bytesRead === 0) throw new ZipmlError('E_TRUNCATED', `payload file ends at ${start + got}, expected ${end}`);
    got += bytesRead;
  }
  return buf;
}

function sample(x: Float32Array, n: number, d: number, max: number, seed: number): Float32Array {
  if (n <= max) return x;
  // Partial Fisher-Yates over row numbers: a uniform sample without replacement.
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new SeededRandom(seed, 7);
  const out = new Float32Array(max * d);
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(n - i);
    const t = rows[i]!; rows[i] = rows[j]!; rows[j] = t;
    out.set(x.subarray(rows[i]! * d, rows[i]! * d + d), i * d);
  }
  return out;
}

function extractFields(json: string, names: string[]): unknown[] {
  if (names.length === 0) return [];
  const p = JSON.parse(json) as unknown;
  const o = p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
  return names.map((n) => {
    const v = o[n];
    return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) ? v : null;
  });
}

/** Writes a new segment from live points of older segments and/or points from memory. */
export async function buildSegment(job: BuildJob): Promise<BuildResult> {
  const { d } = job;
  const ids: VectorId[] = [];
  const chunks: Float32Array[] = [];
  const payloadRecs: Uint8Array[] = [];
  const fields: unknown[][] = [];
  const enc = new TextEncoder();
  for (const src of job.sources) {
    const meta = await readSegmentMeta(src.dir);
    const vecs = await readSegmentVectors(src.dir, meta);
    const pay = new Uint8Array(await readFile(join(src.dir, 'payloads.bin')));
    const pos = new Map<VectorId, number>();
    meta.ids.forEach((id, i) => pos.set(id, i));
    const out = new Float32Array(src.keep.length * d);
    src.keep.forEach((id, j) => {
      const i = pos.get(id);
      if (i === undefined) throw new ZipmlError('E_CORRUPT', `${src.dir}: id ${JSON.stringify(id)} is not in the segment`);
      out.set(vecs.subarray(i * d, i * d + d), j * d);
      const rec = pay.subarray(meta.payloadOffsets[i]!, meta.payloadOffsets[i + 1]!);
      decodePayloadRecord(rec, `${src.dir}/payloads.bin`);
      payloadRecs.push(rec);
      fields.push(meta.fields[i]!);
      ids.push(id);
    });
    chunks.push(out);
  }
  if (job.mem) {
    chunks.push(job.mem.vectors);
    job.mem.ids.forEach((id, i) => {
      ids.push(id);
      const json = job.mem!.payloads[i]!;
      payloadRecs.push(frameRecord(enc.encode(json)));
      fields.push(extractFields(json, job.fieldNames));
    });
  }
  const n = ids.length;
  const x = new Float32Array(n * d);
  let o = 0;
  for (const c of chunks) { x.set(c, o); o += c.length; }

  const t0 = performance.now();
  let index;
  if (job.train) {
    index = indexFactory(d, job.factory, { metric: job.metric });
    index.train(sample(x, n, d, job.train.maxTrain, job.train.seed), { seed: job.train.seed });
    await writeFileAtomic(job.train.templateOut, saveIndex(index), { overwrite: true });
  } else if (job.template) {
    index = loadIndex(new Uint8Array(await readFile(job.template)));
  } else {
    index = indexFactory(d, job.factory, { metric: job.metric });
  }
  const t1 = performance.now();
  if (n > 0) {
    if (typeof ids[0] === 'string') index.add(x, ids as string[]);
    else index.add(x, Float64Array.from(ids as number[]));
  }
  const t2 = performance.now();

  await mkdir(job.outDir, { recursive: true });
  const payloads = new Uint8Array(payloadRecs.reduce((s, r) => s + r.length, 0));
  const payloadOffsets = [0];
  let p = 0;
  for (const r of payloadRecs) { payloads.set(r, p); p += r.length; payloadOffsets.push(p); }
  const xb = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  await writeFileAtomic(join(job.outDir, 'index.zml'), saveIndex(index), { overwrite: true });
  await writeFileAtomic(join(job.outDir, 'vectors.f32'), xb, { overwrite: true });
  await writeFileAtomic(join(job.outDir, 'payloads.bin'), payloads, { overwrite: true });
  const meta: SegmentMeta = {
    version: SEGMENT_META_VERSION, count: n, d, factory: index.factory, ids, payloadOffsets,
    vectorsXxh32: xxh32(xb), deletes: job.deletes, fields,
  };
  await writeFileAtomic(join(job.outDir, 'meta.json'), enc.encode(JSON.stringify(meta)), { overwrite: true });
  return { count: n, factory: index.factory, trainSeconds: (t1 - t0) / 1000, addSeconds: (t2 - t1) / 1000 };
}

/** Opens a segment's payload file for reads by offset. */
export function openPayloads(dir: string) {
  return open(join(dir, 'payloads.bin'), 'r');
}
