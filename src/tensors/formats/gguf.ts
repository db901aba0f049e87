/**
 * GGUF v2/v3 (ggml docs/gguf.md, and ggml's gguf.cpp reader): "GGUF", u32 version, u64 tensor
 * count, u64 KV count; KV pairs (u64-length string key, u32 value type, value); tensor infos
 * (name, u32 n_dims <= 4, u64 dims with ne0 first, u32 ggml type, u64 offset relative to the data
 * section); the data section starts at the end of the infos rounded up to `general.alignment`
 * (default 32). Every tensor offset must be a multiple of the alignment.
 *
 * Shapes in the layout are listed outermost first (the reverse of ggml's ne order), like
 * safetensors; quantized types are kept as GGML_<NAME> bytes, sized from ggml's block table.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { type ByteSource, type ModelLayout, type TensorDType, type TensorRegion, MAX_NAME_BYTES, MAX_TENSORS } from '../layout.js';
import { type ByteSink, type TensorBytes, BufferSink, Cursor, alignUp, checkRegions, parsePrefix, writeTensorBytes } from './common.js';
import { type GgmlType, ggmlByteLength, ggmlDtype, ggmlTypeById, ggmlTypeByName, ggmlTypeOfDtype } from './ggml-types.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as LE u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;
/** Default cap on the header (KV + tensor infos); big tokenizers take ~20 MB. */
export const GGUF_MAX_HEADER_BYTES = 256 << 20;
/** Most KV pairs, and most nesting of arrays inside arrays. */
export const GGUF_MAX_KV = 1 << 20;
export const GGUF_MAX_ARRAY_DEPTH = 4;

/** GGUF value types (gguf_type). */
export enum GgufType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}

export type GgufScalar = number | bigint | boolean | string;
export interface GgufArray {
  itemType: GgufType;
  items: (GgufScalar | GgufArray)[];
}
export interface GgufKV {
  key: string;
  type: GgufType;
  value: GgufScalar | GgufArray;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the fastest-varying dimension. */
  ne: number[];
  type: GgmlType;
  /** Offset relative to the data section. */
  relOffset: number;
  byteLength: number;
}

export interface GgufHeader {
  version: number;
  alignment: number;
  kv: GgufKV[];
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the data section. */
  dataOffset: number;
}

const WHAT = 'gguf';
const SCALAR_BYTES: Partial<Record<GgufType, number>> = {
  [GgufType.U8]: 1, [GgufType.I8]: 1, [GgufType.BOOL]: 1, [GgufType.U16]: 2, [GgufType.I16]: 2, [GgufType.U32]: 4, [GgufType.I32]: 4,
  [GgufType.F32]: 4, [GgufType.U64]: 8, [GgufType.I64]: 8, [GgufType.F64]: 8,
};

function readString(c: Cursor, field: string): string {
  const n = c.u64(`${field} length`, c.remaining);
  return c.utf8(n, field);
}

function readValue(c: Cursor, type: number, depth: number, field: string): GgufScalar | GgufArray {
  const dv = c.dv;
  const size = SCALAR_BYTES[type as GgufType];
  if (size !== undefined) {
    c.need(size, field);
    const p = c.pos;
    c.pos += size;
    switch (type as GgufType) {
      case GgufType.U8: return dv.getUint8(p);
      case GgufType.I8: return dv.getInt8(p);
      case GgufType.BOOL: {
        const b = dv.getUint8(p);
        if (b > 1) throw new ZipmlError('E_CORRUPT', `${WHAT}: ${field} bool is ${b}`, { offset: c.base + p });
        return b === 1;
      }
      case GgufType.U16: return dv.getUint16(p, true);
      case GgufType.I16: return dv.getInt16(p, true);
      case GgufType.U32: return dv.getUint32(p, true);
      case GgufType.I32: return dv.getInt32(p, true);
      case GgufType.F32: return dv.getFloat32(p, true);
      case GgufType.U64: return dv.getBigUint64(p, true);
      case GgufType.I64: return dv.getBigInt64(p, true);
      default: return dv.getFloat64(p, true);
    }
  }
  if (type === GgufType.STRING) return readString(c, field);
  if (type !== GgufType.ARRAY) throw new ZipmlError('E_CORRUPT', `${WHAT}: ${field} has unknown value type ${type}`, { offset: c.at - 4 });
  if (depth >= GGUF_MAX_ARRAY_DEPTH) throw new ZipmlError('E_LIMIT', `${WHAT}: ${field} nests arrays deeper than ${GGUF_MAX_ARRAY_DEPTH}`, { offset: c.at });
  const itemType = c.u32(`${field} item type`);
  // Every item takes at least one byte (a nested empty array 12), so the count is bounded by what is left.
  const n = c.u64(`${field} count`, c.remaining);
  const items: (GgufScalar | GgufArray)[] = [];
  const itemBytes = SCALAR_BYTES[itemType as GgufType];
  if (itemBytes !== undefined) c.need(n * itemBytes, `${field} items`);
  for (let i = 0; i < n; i++) items.push(readValue(c, itemType, depth + 1, `${field}[${i}]`));
  return { itemType, items };
}

/** Parses the header from a buffer holding at least all of it (throws BufferEnd otherwise). */
export function parseGgufHeader(buf: Uint8Array): GgufHeader {
  const c = new Cursor(buf, 0, WHAT);
  if (c.u32('magic') !== GGUF_MAGIC) throw new ZipmlError('E_FORMAT', `${WHAT}: bad magic`, { offset: 0 });
  const version = c.u32('version');
  if (version === 1) throw new ZipmlError('E_FORMAT', `${WHAT}: version 1 (32-bit counts) is not supported`, { offset: 4 });
  if (version !== 2 && version !== 3) {
    const hint = (version & 0xffff) === 0 ? ' (a big-endian file?)' : '';
    throw new ZipmlError('E_FORMAT', `${WHAT}: unknown version ${version}${hint}`, { offset: 4 });
  }
  const nTensors = c.u64('tensor count', MAX_TENSORS);
  const nKv = c.u64('KV count', GGUF_MAX_KV);
  const kv: GgufKV[] = [];
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (let i = 0; i < nKv; i++) {
    const at = c.at;
    const key = readString(c, `key ${i}`);
    if (keys.has(key)) throw new ZipmlError('E_CORRUPT', `${WHAT}: key '${key}' repeats`, { offset: at });
    keys.add(key);
    const type = c.u32(`type of '${key}'`);
    const value = readValue(c, type, 0, `'${key}'`);
    if (key === 'general.alignment') {
      if (type !== GgufType.U32 || typeof value !== 'number' || value === 0 || (value & (value - 1)) !== 0) {
        throw new ZipmlError('E_CORRUPT', `${WHAT}: general.alignment must be a power-of-two u32, got ${String(value)}`, { offset: at });
      }
      alignment = value;
    }
    kv.push({ key, type, value });
  }
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const at = c.at;
    const name = readString(c, `tensor ${i} name`);
    if (name.length > MAX_NAME_BYTES) throw new ZipmlError('E_LIMIT', `${WHAT}: tensor ${i} name is too long`, { offset: at });
    if (names.has(name)) throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor name '${name}' repeats`, { offset: at });
    names.add(name);
    const nDims = c.u32(`'${name}' n_dims`);
    if (nDims > GGUF_MAX_DIMS) throw new ZipmlError('E_LIMIT', `${WHAT}: '${name}' has ${nDims} dimensions, more than ${GGUF_MAX_DIMS}`, { offset: c.at - 4 });
    const ne = Array.from({ length: nDims }, (_, d) => c.u64(`'${name}' dim ${d}`));
    const typeId = c.u32(`'${name}' type`);
    const type = ggmlTypeById(typeId);
    if (!type) throw new ZipmlError('E_FORMAT', `${WHAT}: '${name}' has unknown ggml type ${typeId}`, { offset: c.at - 4 });
    const relOffset = c.u64(`'${name}' offset`);
    if (relOffset % alignment !== 0) throw new ZipmlError('E_CORRUPT', `${WHAT}: '${name}' offset ${relOffset} is not a multiple of the alignment ${alignment}`, { offset: c.at - 8 });
    const byteLength = ggmlByteLength(type, ne, Number.MAX_SAFE_INTEGER, `${WHAT}: '${name}'`, at);
    tensors.push({ name, ne, type, relOffset, byteLength });
  }
  return { version, alignment, kv, tensors, dataOffset: alignUp(c.pos, alignment) };
}

export async function readGgufHeader(src: ByteSource, opts: { maxHeaderBytes?: number; signal?: AbortSignal } = {}): Promise<GgufHeader> {
  const max = opts.maxHeaderBytes ?? GGUF_MAX_HEADER_BYTES;
  const h = await parsePrefix(src, 1 << 20, max, `${WHAT} header`, (buf) => parseGgufHeader(buf), opts.signal);
  if (h.dataOffset > src.size) throw new ZipmlError('E_TRUNCATED', `${WHAT}: data section starts at ${h.dataOffset}, past the end of the file`, { offset: src.size });
  return h;
}

/** A metadata value as text: scalars as they are, short arrays as JSON, long ones summarised. */
function valueText(v: GgufScalar | GgufArray): string {
  if (typeof v !== 'object') return String(v);
  if (v.items.length > 64) return `[${v.items.length} × ${GgufType[v.itemType] ?? v.itemType}]`;
  return JSON.stringify(v.items, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

export async function readGgufLayout(src: ByteSource, opts: { maxHeaderBytes?: number; signal?: AbortSignal } = {}): Promise<ModelLayout> {
  const h = await readGgufHeader(src, opts);
  throwIfAborted(opts.signal, WHAT);
  const tensors: TensorRegion[] = h.tensors.map((t) => ({
    name: t.name, dtype: ggmlDtype(t.type), shape: t.ne.slice().reverse(), offset: h.dataOffset + t.relOffset, byteLength: t.byteLength,
  }));
  tensors.sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  checkRegions(tensors, h.dataOffset, src.size, WHAT);
  const metadata: Record<string, string> = { 'gguf.version': `${h.version}`, 'gguf.alignment': `${h.alignment}`, 'gguf.data_offset': `${h.dataOffset}` };
  for (const { key, value } of h.kv) metadata[key] = valueText(value);
  return { format: 'gguf', fileSize: src.size, tensors, metadata };
}

// ---- writer ----

export interface GgufTensorSpec {
  name: string;
  /** A plain dtype (F32, F16, BF16, F64, I8..I64) or GGML_<NAME> / a ggml type name. */
  dtype: TensorDType | string;
  /** Outermost first, as in the layout (written reversed as ggml's ne). */
  shape: number[];
  data: TensorBytes;
}

export interface GgufWriteOptions {
  version?: 2 | 3;
  /** Power of two; written as general.alignment when it is not the default 32. */
  alignment?: number;
  kv?: GgufKV[];
  signal?: AbortSignal;
}

/** A growable little-endian byte buffer for the header. */
class HeaderBytes {
  buf = new Uint8Array(1 << 12);
  n = 0;
  private dv = new DataView(this.buf.buffer);
  /** Reserves k bytes and returns the view to write them through (growing replaces the buffer). */
  private room(k: number): [DataView, number] {
    if (this.n + k > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
      next.set(this.buf.subarray(0, this.n));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    this.n += k;
    return [this.dv, this.n - k];
  }
  u8(v: number): void { const [d, at] = this.room(1); d.setUint8(at, v); }
  i8(v: number): void { const [d, at] = this.room(1); d.setInt8(at, v); }
  u16(v: number): void { const [d, at] = this.room(2); d.setUint16(at, v, true); }
  i16(v: number): void { const [d, at] = this.room(2); d.setInt16(at, v, true); }
  u32(v: number): void { const [d, at] = this.room(4); d.setUint32(at, v, true); }
  i32(v: number): void { const [d, at] = this.room(4); d.setInt32(at, v, true); }
  f32(v: number): void { const [d, at] = this.room(4); d.setFloat32(at, v, true); }
  f64(v: number): void { const [d, at] = this.room(8); d.setFloat64(at, v, true); }
  u64(v: number | bigint): void { const [d, at] = this.room(8); d.setBigUint64(at, BigInt(v), true); }
  i64(v: number | bigint): void { const [d, at] = this.room(8); d.setBigInt64(at, BigInt(v), true); }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    const [, at] = this.room(b.length);
    this.buf.set(b, at);
  }
}

function encodeValue(out: HeaderBytes, type: GgufType, v: GgufScalar | GgufArray, key: string): void {
  const bad = () => new ZipmlError('E_ARG', `${WHAT}: value of '${key}' does not match type ${GgufType[type] ?? type}`);
  if (type === GgufType.ARRAY) {
    if (typeof v !== 'object') throw bad();
    out.u32(v.itemType);
    out.u64(v.items.length);
    for (const x of v.items) encodeValue(out, v.itemType, x, key);
    return;
  }
  if (type === GgufType.STRING) {
    if (typeof v !== 'string') throw bad();
    out.string(v);
    return;
  }
  if (type === GgufType.BOOL) {
    if (typeof v !== 'boolean') throw bad();
    out.u8(v ? 1 : 0);
    return;
  }
  if (type === GgufType.U64 || type === GgufType.I64) {
    if (typeof v !== 'bigint' && typeof v !== 'number') throw bad();
    if (type === GgufType.U64) out.u64(v);
    else out.i64(v);
    return;
  }
  if (typeof v !== 'number') throw bad();
  switch (type) {
    case GgufType.U8: out.u8(v); break;
    case GgufType.I8: out.i8(v); break;
    case GgufType.U16: out.u16(v); break;
    case GgufType.I16: out.i16(v); break;
    case GgufType.U32: out.u32(v); break;
    case GgufType.I32: out.i32(v); break;
    case GgufType.F32: out.f32(v); break;
    case GgufType.F64: out.f64(v); break;
    default: throw bad();
  }
}

/** Streams a GGUF file: header, padding to the alignment, each tensor followed by zero padding (as ggml writes it). */
export async function writeGguf(sink: ByteSink, tensors: readonly GgufTensorSpec[], opts: GgufWriteOptions = {}): Promise<void> {
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!(Number.isInteger(alignment) && alignment > 0 && (alignment & (alignment - 1)) === 0)) throw new ZipmlError('E_ARG', `${WHAT}: alignment ${alignment} is not a power of two`);
  const kv = (opts.kv ?? []).filter((x) => x.key !== 'general.alignment');
  if (alignment !== GGUF_DEFAULT_ALIGNMENT || opts.kv?.some((x) => x.key === 'general.alignment')) kv.unshift({ key: 'general.alignment', type: GgufType.U32, value: alignment });
  const out = new HeaderBytes();
  out.u32(GGUF_MAGIC), out.u32(opts.version ?? 3), out.u64(tensors.length), out.u64(kv.length);
  const keys = new Set<string>();
  for (const x of kv) {
    if (keys.has(x.key)) throw new ZipmlError('E_ARG', `${WHAT}: key '${x.key}' repeats`);
    keys.add(x.key);
    out.string(x.key), out.u32(x.type), encodeValue(out, x.type, x.value, x.key);
  }
  let rel = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const type = ggmlTypeOfDtype(t.dtype as TensorDType) ?? ggmlTypeByName(t.dtype);
    if (!type) throw new ZipmlError('E_ARG', `${WHAT}: '${t.name}' has dtype ${t.dtype} with no ggml type`);
    if (t.shape.length > GGUF_MAX_DIMS) throw new ZipmlError('E_ARG', `${WHAT}: '${t.name}' has more than ${GGUF_MAX_DIMS} dimensions`);
    const ne = t.shape.slice().reverse();
    const size = ggmlByteLength(type, ne, Number.MAX_SAFE_INTEGER, `${WHAT}: '${t.name}'`);
    sizes.push(size);
    out.string(t.name), out.u32(ne.length);
    for (const d of ne) out.u64(d);
    out.u32(type.id), out.u64(rel);
    rel = alignUp(rel + size, alignment);
  }
  const header = new Uint8Array(alignUp(out.n, alignment));
  header.set(out.buf.subarray(0, out.n));
  await sink.write(header);
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i]!;
    await writeTensorBytes(sink, t.data, sizes[i]!, `${WHAT}: '${t.name}'`, opts.signal);
    const pad = alignUp(sizes[i]!, alignment) - sizes[i]!;
    if (pad > 0) await sink.write(new Uint8Array(pad));
  }
}

export async function encodeGguf(tensors: readonly GgufTensorSpec[], opts: GgufWriteOptions = {}): Promise<Uint8Array> {
  const sink = new BufferSink();
  await writeGguf(sink, tensors, opts);
  return sink.bytes();
}
