/**
 * safetensors (huggingface/safetensors, format in its README): u64 LE header length N, N bytes of
 * UTF-8 JSON `{ "__metadata__": {str: str}, name: {dtype, shape, data_offsets: [begin, end]} }`,
 * then the byte buffer the offsets point into (relative to its start).
 *
 * We apply the reference implementation's checks: header <= 100 MB and starting with '{', offsets
 * that tile the buffer exactly (sorted by begin, each begin equal to the previous end, the last end
 * equal to the buffer's length), end - begin equal to the shape's byte size. We also refuse
 * duplicate keys (JSON.parse would silently keep the last one).
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { type ByteSource, type ModelLayout, type TensorDType, type TensorRegion, MAX_NAME_BYTES, MAX_TENSORS } from '../layout.js';
import { type ByteSink, type TensorBytes, BufferSink, Cursor, decodeUtf8, plainByteLength, readExact, writeTensorBytes } from './common.js';

/** The reference implementation's MAX_HEADER_SIZE. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

const DTYPES: ReadonlySet<string> = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL']);

/** Dtype order of the reference's `Dtype` enum; its writer puts larger (later) dtypes first. */
const DTYPE_RANK: Record<string, number> = {
  BOOL: 0, U8: 1, I8: 2, F8_E5M2: 3, F8_E4M3: 4, I16: 5, U16: 6, F16: 7, BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

const WHAT = 'safetensors';

/**
 * Counts the keys of the top-level JSON object without building it, so duplicates (which
 * JSON.parse merges) can be detected. `text` is already known to parse.
 */
function topLevelKeyCount(text: string): number {
  let depth = 0, keys = 0, inStr = false, expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inStr = false;
      continue;
    }
    if (c === 0x22) {
      inStr = true;
      if (depth === 1 && expectKey) keys++, (expectKey = false);
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 1) expectKey = true;
  }
  return keys;
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
}

/** Reads the header and returns the layout; tensor bytes are never read. */
export async function readSafetensorsLayout(src: ByteSource, opts: { maxHeaderBytes?: number; signal?: AbortSignal } = {}): Promise<ModelLayout> {
  const maxHeader = Math.min(opts.maxHeaderBytes ?? SAFETENSORS_MAX_HEADER_BYTES, SAFETENSORS_MAX_HEADER_BYTES);
  const pre = new Cursor(await readExact(src, 0, 8, `${WHAT} header length`, opts.signal), 0, WHAT);
  const n = pre.u64('header length');
  if (n > maxHeader) throw new ZipmlError('E_LIMIT', `${WHAT}: header of ${n} bytes exceeds the limit of ${maxHeader}`, { offset: 0 });
  if (n < 2) throw new ZipmlError('E_CORRUPT', `${WHAT}: header of ${n} bytes is too short`, { offset: 0 });
  const raw = await readExact(src, 8, n, `${WHAT} header`, opts.signal);
  if (raw[0] !== 0x7b) throw new ZipmlError('E_CORRUPT', `${WHAT}: header does not start with '{'`, { offset: 8 });
  const text = decodeUtf8(raw, `${WHAT} header`, 8);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ZipmlError('E_CORRUPT', `${WHAT}: header is not valid JSON: ${(e as Error).message}`, { offset: 8 });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ZipmlError('E_CORRUPT', `${WHAT}: header is not a JSON object`, { offset: 8 });
  const entries = Object.entries(json as Record<string, unknown>);
  if (topLevelKeyCount(text) !== entries.length) throw new ZipmlError('E_CORRUPT', `${WHAT}: header repeats a key`, { offset: 8 });
  if (entries.length > MAX_TENSORS + 1) throw new ZipmlError('E_LIMIT', `${WHAT}: ${entries.length} entries exceed the limit of ${MAX_TENSORS}`, { offset: 8 });

  const base = 8 + n;
  const bufferLength = src.size - base;
  const metadata: Record<string, string> = {};
  const tensors: TensorRegion[] = [];
  for (const [name, v] of entries) {
    throwIfAborted(opts.signal, WHAT);
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ZipmlError('E_CORRUPT', `${WHAT}: __metadata__ is not an object`, { offset: 8 });
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') throw new ZipmlError('E_CORRUPT', `${WHAT}: __metadata__ value of '${k}' is not a string`, { offset: 8 });
        metadata[k] = s;
      }
      continue;
    }
    const where = `${WHAT}: tensor '${name}'`;
    if (name.length > MAX_NAME_BYTES) throw new ZipmlError('E_LIMIT', `${WHAT}: a tensor name is longer than ${MAX_NAME_BYTES}`, { offset: 8 });
    if (typeof v !== 'object' || v === null) throw new ZipmlError('E_CORRUPT', `${where} is not an object`, { offset: 8 });
    const info = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info.dtype !== 'string' || !DTYPES.has(info.dtype)) {
      throw new ZipmlError('E_FORMAT', `${where}: dtype ${JSON.stringify(info.dtype)} is not supported`, { offset: 8 });
    }
    if (!isIntArray(info.shape)) throw new ZipmlError('E_CORRUPT', `${where}: shape is not a list of non-negative integers`, { offset: 8 });
    const off = info.data_offsets;
    if (!isIntArray(off) || off.length !== 2) throw new ZipmlError('E_CORRUPT', `${where}: data_offsets is not [begin, end]`, { offset: 8 });
    const [b, e] = off as [number, number];
    if (e < b) throw new ZipmlError('E_CORRUPT', `${where}: data_offsets [${b}, ${e}] end before they begin`, { offset: 8 });
    if (e > bufferLength) throw new ZipmlError('E_TRUNCATED', `${where}: data ends at ${e}, the buffer has ${bufferLength} bytes`, { offset: base + b });
    const dtype = info.dtype as TensorDType;
    const need = plainByteLength(dtype, info.shape, Number.MAX_SAFE_INTEGER, where, 8);
    if (need !== e - b) throw new ZipmlError('E_CORRUPT', `${where}: ${dtype}[${info.shape.join(',')}] needs ${need} bytes, data_offsets span ${e - b}`, { offset: base + b });
    tensors.push({ name, dtype, shape: info.shape.slice(), offset: base + b, byteLength: e - b });
  }
  tensors.sort((x, y) => x.offset - y.offset || x.byteLength - y.byteLength);
  let end = base;
  for (const t of tensors) {
    if (t.offset !== end) {
      throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor '${t.name}' starts at buffer offset ${t.offset - base}, expected ${end - base} (${t.offset < end ? 'overlap' : 'gap'})`, { offset: t.offset });
    }
    end = t.offset + t.byteLength;
  }
  if (end !== src.size) throw new ZipmlError('E_CORRUPT', `${WHAT}: tensors cover ${end - base} of the ${bufferLength}-byte buffer`, { offset: end });
  return { format: 'safetensors', fileSize: src.size, tensors, metadata };
}

/** One tensor for the writer. */
export interface SafetensorsTensor {
  name: string;
  dtype: TensorDType;
  shape: number[];
  data: TensorBytes;
}

export interface SafetensorsWriteOptions {
  metadata?: Record<string, string>;
  /** Keep the given tensor order instead of the reference's (larger dtypes first, then by name). */
  keepOrder?: boolean;
  signal?: AbortSignal;
}

/**
 * The header bytes (length prefix, JSON, space padding to a multiple of 8 as the reference writer
 * does) and the tensors in the order their data follows.
 */
export function safetensorsHeader(tensors: readonly Omit<SafetensorsTensor, 'data'>[], opts: SafetensorsWriteOptions = {}): { header: Uint8Array; order: number[]; byteLengths: number[] } {
  const names = new Set<string>();
  const sizes = tensors.map((t) => {
    if (!DTYPES.has(t.dtype)) throw new ZipmlError('E_ARG', `${WHAT}: dtype ${t.dtype} of '${t.name}' cannot be written`);
    if (t.name === '__metadata__' || names.has(t.name)) throw new ZipmlError('E_ARG', `${WHAT}: tensor name '${t.name}' is reserved or repeated`);
    names.add(t.name);
    return plainByteLength(t.dtype, t.shape, Number.MAX_SAFE_INTEGER, `${WHAT}: tensor '${t.name}'`);
  });
  const order = tensors.map((_, i) => i);
  if (!opts.keepOrder) {
    order.sort((a, b) => DTYPE_RANK[tensors[b]!.dtype]! - DTYPE_RANK[tensors[a]!.dtype]! || (tensors[a]!.name < tensors[b]!.name ? -1 : tensors[a]!.name > tensors[b]!.name ? 1 : 0));
  }
  const obj: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length > 0) obj.__metadata__ = opts.metadata;
  let at = 0;
  for (const i of order) {
    const t = tensors[i]!;
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + sizes[i]!] };
    at += sizes[i]!;
  }
  const json = new TextEncoder().encode(JSON.stringify(obj));
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  if (padded > SAFETENSORS_MAX_HEADER_BYTES) throw new ZipmlError('E_LIMIT', `${WHAT}: header of ${padded} bytes exceeds ${SAFETENSORS_MAX_HEADER_BYTES}`);
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setUint32(0, padded, true);
  header.set(json, 8);
  return { header, order, byteLengths: sizes };
}

/** Streams a safetensors file into `sink`: header, then each tensor's bytes (memory stays bounded). */
export async function writeSafetensors(sink: ByteSink, tensors: readonly SafetensorsTensor[], opts: SafetensorsWriteOptions = {}): Promise<void> {
  const { header, order, byteLengths } = safetensorsHeader(tensors, opts);
  await sink.write(header);
  for (const i of order) {
    const t = tensors[i]!;
    await writeTensorBytes(sink, t.data, byteLengths[i]!, `${WHAT}: tensor '${t.name}'`, opts.signal);
  }
}

/** A whole safetensors file in memory. */
export async function encodeSafetensors(tensors: readonly SafetensorsTensor[], opts: SafetensorsWriteOptions = {}): Promise<Uint8Array> {
  const sink = new BufferSink();
  await writeSafetensors(sink, tensors, opts);
  return sink.bytes();
}

