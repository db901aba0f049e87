/**
 * Bounded reading shared by the model-format readers: exact reads from a ByteSource, a cursor over
 * a header buffer that knows its file offset (so errors say where), strict UTF-8, and overflow-safe
 * shape arithmetic (every product stays an exact integer <= 2^53).
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { type ByteSource, type TensorDType, MAX_DIMS, dtypeElementBytes } from '../layout.js';

/** `length` bytes at `offset`, or E_TRUNCATED naming `what` when the source is shorter. */
export async function readExact(src: ByteSource, offset: number, length: number, what: string, signal?: AbortSignal): Promise<Uint8Array> {
  throwIfAborted(signal, what);
  if (!(offset >= 0 && length >= 0 && offset + length <= src.size)) {
    throw new ZipmlError('E_TRUNCATED', `${what}: needs ${length} bytes at ${offset}, the file has ${src.size}`, { offset: Math.min(offset, src.size) });
  }
  const b = await src.read(offset, length);
  if (b.length !== length) throw new ZipmlError('E_IO', `${what}: source returned ${b.length} of ${length} bytes`, { offset });
  return b;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding; invalid sequences give E_CORRUPT. */
export function decodeUtf8(bytes: Uint8Array, what: string, offset: number): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ZipmlError('E_CORRUPT', `${what} is not valid UTF-8`, { offset });
  }
}

/** E_TRUNCATED raised when a Cursor runs off its buffer (which may be only a prefix of the file). */
export class BufferEnd extends ZipmlError {
  constructor(message: string, offset: number) {
    super('E_TRUNCATED', message, { offset });
  }
}

/**
 * Runs a synchronous header parser on a prefix of the file, starting at `first` bytes and growing
 * fourfold whenever the parser runs off the prefix, up to `max` bytes (then E_LIMIT). For formats
 * whose header length is not stated up front (GGUF, protobuf, flatbuffers).
 */
export async function parsePrefix<T>(src: ByteSource, first: number, max: number, what: string, parse: (buf: Uint8Array) => T, signal?: AbortSignal): Promise<T> {
  let n = Math.min(src.size, first, max);
  for (;;) {
    const buf = await readExact(src, 0, n, what, signal);
    try {
      return parse(buf);
    } catch (e) {
      if (!(e instanceof BufferEnd) || n >= src.size) throw e;
      if (n >= max) throw new ZipmlError('E_LIMIT', `${what}: header is larger than the limit of ${max} bytes`, { offset: n });
      n = Math.min(src.size, max, n * 4);
    }
  }
}

/** Reads little-endian values from `buf`, which holds the file's bytes from `base` on. */
export class Cursor {
  pos = 0;
  readonly dv: DataView;
  constructor(readonly buf: Uint8Array, readonly base: number, readonly what: string) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  /** File offset of the next byte. */
  get at(): number {
    return this.base + this.pos;
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  need(n: number, field: string): void {
    if (n > this.buf.length - this.pos) {
      throw new BufferEnd(`${this.what}: ends inside ${field} (${n} bytes needed, ${this.buf.length - this.pos} left)`, this.at);
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(field: string): number {
    this.need(4, field);
    const v = this.dv.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** A u64 that must be <= `max` (itself <= 2^53 - 1), else E_LIMIT. */
  u64(field: string, max = Number.MAX_SAFE_INTEGER): number {
    this.need(8, field);
    const lo = this.dv.getUint32(this.pos, true);
    const hi = this.dv.getUint32(this.pos + 4, true);
    const v = hi * 4294967296 + lo;
    if (hi >= 0x200000 || v > max) throw new ZipmlError('E_LIMIT', `${this.what}: ${field} ${hi >= 0x200000 ? '>= 2^53' : v} exceeds ${max}`, { offset: this.at });
    this.pos += 8;
    return v;
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  utf8(n: number, field: string): string {
    const at = this.at;
    return decodeUtf8(this.bytes(n, field), `${this.what}: ${field}`, at);
  }
  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }
}

/**
 * Number of elements of `shape`, each partial product checked against `maxElements` (<= 2^53), so
 * a hostile shape such as [2^40, 2^40] is refused before it can lose precision.
 */
export function elementCount(shape: readonly number[], maxElements: number, what: string, offset?: number): number {
  if (shape.length > MAX_DIMS) throw new ZipmlError('E_LIMIT', `${what}: ${shape.length} dimensions exceed the limit of ${MAX_DIMS}`, { offset });
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ZipmlError('E_CORRUPT', `${what}: dimension ${d} is not a non-negative integer`, { offset });
    if (d !== 0 && n > maxElements / d) {
      throw new ZipmlError('E_LIMIT', `${what}: shape [${shape.join(', ')}] has more than ${maxElements} elements`, { offset });
    }
    n *= d;
  }
  return n;
}

/** Byte size of a plain-dtype tensor, bounded by `maxBytes`. */
export function plainByteLength(dtype: TensorDType, shape: readonly number[], maxBytes: number, what: string, offset?: number): number {
  const eb = dtypeElementBytes(dtype);
  if (eb === undefined) throw new ZipmlError('E_ARG', `${what}: ${dtype} is not a plain dtype`);
  return elementCount(shape, Math.floor(maxBytes / eb), what, offset) * eb;
}

/** `a` rounded up to a multiple of `align` (> 0). */
export function alignUp(a: number, align: number): number {
  const r = a % align;
  return r === 0 ? a : a + (align - r);
}

/** Throws E_CORRUPT unless regions (sorted by the caller) stay inside [lo, hi) without overlap. */
export function checkRegions(regions: readonly { name: string; offset: number; byteLength: number }[], lo: number, hi: number, what: string): void {
  let end = lo;
  for (const r of regions) {
    if (r.offset < end) throw new ZipmlError('E_CORRUPT', `${what}: tensor '${r.name}' at ${r.offset} overlaps the previous one (ending at ${end})`, { offset: r.offset });
    if (r.byteLength > hi - r.offset) throw new ZipmlError('E_TRUNCATED', `${what}: tensor '${r.name}' (${r.byteLength} bytes at ${r.offset}) runs past ${hi}`, { offset: r.offset });
    end = r.offset + r.byteLength;
  }
}

export const fmtErr = (code: 'E_CORRUPT' | 'E_TRUNCATED' | 'E_LIMIT' | 'E_FORMAT', msg: string, offset?: number): ZipmlError =>
  new ZipmlError(code, msg, { offset });

/** Where writers put their bytes, in order. A file, a stream or a growing buffer. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void> | void;
}

/** A tensor's bytes for a writer: in memory, or read piece by piece from a ByteSource. */
export type TensorBytes = ArrayBufferView | ByteSource;

/** Largest piece a writer reads from a ByteSource at a time (keeps memory constant). */
export const WRITE_PIECE_BYTES = 4 << 20;

export function tensorBytesLength(data: TensorBytes): number {
  return 'read' in data ? data.size : data.byteLength;
}

/** Streams `data` into `sink`, checking it has exactly `expected` bytes. */
export async function writeTensorBytes(sink: ByteSink, data: TensorBytes, expected: number, what: string, signal?: AbortSignal): Promise<void> {
  const n = tensorBytesLength(data);
  if (n !== expected) throw new ZipmlError('E_ARG', `${what}: ${n} bytes given, the shape needs ${expected}`);
  if (!('read' in data)) {
    await sink.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  for (let at = 0; at < n; at += WRITE_PIECE_BYTES) {
    await sink.write(await readExact(data, at, Math.min(WRITE_PIECE_BYTES, n - at), what, signal));
  }
}

/** A sink that keeps everything, for small files and tests. */
export class BufferSink implements ByteSink {
  private parts: Uint8Array[] = [];
  private n = 0;
  write(chunk: Uint8Array): void {
    this.parts.push(chunk.slice());
    this.n += chunk.length;
  }
  get size(): number {
    return this.n;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.n);
    let at = 0;
    for (const p of this.parts) out.set(p, at), (at += p.length);
    return out;
  }
}

const PAGE = 1 << 16;
const MAX_PAGES = 256;
/**
 * Random access to small pieces of a ByteSource through a cache of 64 KiB pages (at most 256),
 * for formats that follow offsets around a file (FlatBuffers) or walk headers between data (ggmf).
 */
export class PagedReader {
  private pages = new Map<number, Uint8Array>();
  constructor(readonly src: ByteSource, readonly what: string, private readonly signal?: AbortSignal) {}

  /** `n` bytes at `at` (n small); E_TRUNCATED when outside the file. */
  async bytes(at: number, n: number, field: string): Promise<Uint8Array> {
    if (!(at >= 0 && n >= 0 && at + n <= this.src.size)) throw new ZipmlError('E_TRUNCATED', `${this.what}: ${field} at ${at} (+${n}) is outside the ${this.src.size}-byte file`, { offset: Math.max(0, Math.min(at, this.src.size)) });
    const p = Math.floor(at / PAGE);
    if (Math.floor((at + n - 1) / PAGE) !== p || n > PAGE) return readExact(this.src, at, n, this.what, this.signal);
    let page = this.pages.get(p);
    if (!page) {
      if (this.pages.size >= MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
      page = await readExact(this.src, p * PAGE, Math.min(PAGE, this.src.size - p * PAGE), this.what, this.signal);
      this.pages.set(p, page);
    }
    return page.subarray(at - p * PAGE, at - p * PAGE + n);
  }
  async u8(at: number, field: string): Promise<number> {
    return (await this.bytes(at, 1, field))[0]!;
  }
  async u16(at: number, field: string): Promise<number> {
    const b = await this.bytes(at, 2, field);
    return b[0]! | (b[1]! << 8);
  }
  async u32(at: number, field: string): Promise<number> {
    const b = await this.bytes(at, 4, field);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
  async i32(at: number, field: string): Promise<number> {
    return (await this.u32(at, field)) | 0;
  }
  async u64(at: number, field: string): Promise<number> {
    const lo = await this.u32(at, field), hi = await this.u32(at + 4, field);
    if (hi >= 0x200000) throw new ZipmlError('E_LIMIT', `${this.what}: ${field} exceeds 2^53`, { offset: at });
    return hi * 4294967296 + lo;
  }
}
