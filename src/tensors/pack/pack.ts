/**
 * Packing a model file: tensors are gathered into lanes by how their bytes group (all F32 tensors
 * in file order form one lane, all BF16 another, the structure bytes between tensors a third),
 * each lane is cut into chunks that are coded independently (chunk.ts), and the container records
 * the tensor list, the chunk index and the SHA-256 of the source. Lanes make tiny tensors cost
 * nothing extra and make unaligned tensors (ONNX raw_data) group correctly.
 *
 * Beyond ZipNN: F32 tensors holding only BF16/F16 values are stored narrow; tensors identical to
 * an earlier one are stored once; with a base checkpoint, tensors are stored as the XOR of their
 * bits with the base's same-named tensor.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { xxh32, checksumHex } from '../../core/checksum.js';
import { ContainerBuilder, type JsonObject } from '../../core/container.js';
import { f32BitsToF16Bits, f16BitsToF32Bits } from '../../core/dtypes.js';
import { readModelLayout, type ByteSource, type ModelLayout, type TensorRegion, type LayoutOptions } from '../layout.js';
import { DEFAULT_CHUNK_BYTES, defaultChunkBytes, MAX_CHUNK_BYTES, lzWorthTrying, encodeChunk } from './chunk.js';
import { lzEncode } from '../../core/lz/index.js';
import { schemeForDtype, schemeElementBytes, type GroupScheme } from './grouping.js';
import { encodeCompact, COMPACT_MAX_SOURCE } from './compact.js';
import { PACK_KIND, PACK_VERSION, encodeIndex, encodeTensorTable, tensorTableJson, type LaneInfo, type PackMeta, type PackedTensor, type TensorEncoding } from './format.js';
import { ChunkRunner, ordered, type ThreadOptions } from './runner.js';
import { createSha256, createSourceHashes } from './sha256.js';
import { uninitialized } from './unpack.js';

/** Where a packed file goes: ContainerFileWriter on disk, MemoryPackSink in memory. */
export interface PackSink {
  addSection(name: string, data: Uint8Array | AsyncIterable<Uint8Array>, meta?: JsonObject): Promise<unknown>;
  finish(kind: string, meta: JsonObject): Promise<unknown>;
}

/** Collects the packed file in memory. */
export class MemoryPackSink implements PackSink {
  private readonly b = new ContainerBuilder();
  result: Uint8Array | undefined;
  /** The sections as added, and the header meta (what the compact form is built from). */
  readonly sections = new Map<string, Uint8Array>();
  meta: JsonObject | undefined;
  async addSection(name: string, data: Uint8Array | AsyncIterable<Uint8Array>, meta: JsonObject = {}): Promise<void> {
    if (data instanceof Uint8Array) {
      this.sections.set(name, data);
      this.b.addSection(name, data, meta);
      return;
    }
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const p of data) {
      parts.push(p);
      n += p.length;
    }
    const all = uninitialized(n); // every byte is written below
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    this.sections.set(name, all);
    this.b.addSection(name, all, meta);
  }
  async finish(kind: string, meta: JsonObject): Promise<void> {
    this.meta = meta;
    this.result = this.b.finish(kind, meta);
  }

  /**
   * The smaller of the container and, for sources up to COMPACT_MAX_SOURCE without a base, the
   * compact form (compact.ts), which saves most of the container's ~0.7 KB on small files.
   */
  smallest(sourceSize: number): Uint8Array {
    const container = this.result!;
    if (sourceSize > COMPACT_MAX_SOURCE || !this.meta || (this.meta as { base?: unknown }).base !== undefined) return container;
    const s = (name: string) => this.sections.get(name)!;
    const compact = encodeCompact(this.meta, s('index'), tensorTableJson(s('tensors')), s('chunks'));
    return compact.length < container.length ? compact : container;
  }
}

export interface BaseCheckpoint {
  source: ByteSource;
  name?: string;
  layout?: ModelLayout;
}

export interface PackOptions extends LongOpOptions, ThreadOptions {
  /** The source's file name (stored, and used to detect the format). */
  name?: string;
  /** The layout, if already read (default: readModelLayout on the source). */
  layout?: ModelLayout;
  sidecar?: LayoutOptions['sidecar'];
  /** Pack as a delta against this earlier checkpoint (same tensor names). */
  base?: BaseCheckpoint;
  /** Bytes per chunk, a multiple of 8 in 4 KiB..1 MiB (default 256 KiB; 64 KiB for multi-byte lanes of sources up to 4 MiB or whose typical tensor is under 1 MiB). */
  chunkSize?: number;
  /** Store exact-BF16/F16 F32 tensors narrow (default true). */
  narrow?: boolean;
  /** Store identical tensors once (default true). */
  dedupe?: boolean;
  /**
   * LZ level (1..9) for 1-byte lanes (int8 weights, quantized blocks, structure); 0 turns LZ off
   * everywhere. Default 1: src/core/lz encodes and decodes at a few MB/s, so it is kept only
   * where it saves >= 1%.
   */
  lzLevel?: number;
  /**
   * LZ level for tensors that repeat themselves (a fixed basis, a table), which get a lane of
   * their own. Default 6: optimal parsing finds 2-3x more there than levels 1-4 (Silero's STFT
   * basis in BF16: 0.28 of its size at level 5, 0.64 at level 3), and such tensors are small.
   */
  lzRepetitiveLevel?: number;
  /**
   * 'max': also try LZ at the repetitive level on every chunk of every lane, keeping it where it
   * saves >= 1%. Its literal contexts act as an order-1 model of the bytes (FP16 weights of
   * MediaPipe's BlazeFace: 0.86 of their size against 0.92 for grouped order-0), at LZ's encode
   * and decode speed (a few MB/s) instead of hundreds. Default 'fast'.
   */
  effort?: 'fast' | 'max';
}

export interface PackResult {
  meta: PackMeta;
  /** Packed payload bytes (chunks) plus index. */
  packedBytes: number;
  chunks: number;
}

const READ_PIECE = 4 << 20;
/**
 * Smallest tensor probed for repetition. Below it the LZ coder's fixed costs (optimal parsing at
 * level 6 runs at well under 1 MB/s here) outweigh what a table of a few KB can save (llama2.c's
 * 8 KB RoPE tables: 0.05% of the file).
 */
const REPETITIVE_MIN_BYTES = 32 << 10;
/**
 * In files up to SMALL_FILE bytes, 1-byte chunks up to SMALL_CHUNK are LZ-coded at the repetitive
 * level: there the structure is a real share of the file, and optimal parsing's fixed cost per
 * call (~0.1 s here) is paid once or twice.
 */
const SMALL_CHUNK = 64 << 10;
const SMALL_FILE = 1 << 20;

/** Lane key and grouping of a dtype. */
function laneOf(dtype: string, byteLength: number): { key: string; scheme: GroupScheme } {
  const scheme = schemeForDtype(dtype, byteLength);
  return { key: dtype.startsWith('GGML_') ? 'ggml' : scheme, scheme };
}

async function* pieces(src: ByteSource, offset: number, length: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  for (let done = 0; done < length; ) {
    throwIfAborted(signal, 'pack');
    const n = Math.min(READ_PIECE, length - done);
    yield await src.read(offset + done, n);
    done += n;
  }
}

function u32s(piece: Uint8Array): Uint32Array {
  const a = (piece.byteOffset & 3) === 0 ? piece : piece.slice();
  return new Uint32Array(a.buffer, a.byteOffset, a.length >>> 2);
}

/** Narrow form an F32 tensor's values all have exactly, or undefined (reads until the first miss). */
async function narrowForm(src: ByteSource, t: TensorRegion, signal?: AbortSignal): Promise<'bf16' | 'f16' | undefined> {
  let bf = true, f16 = true;
  for await (const p of pieces(src, t.offset, t.byteLength, signal)) {
    // Learned F32 weights fail on their first values: look at those before copying a whole
    // unaligned piece.
    const head = u32s(p.subarray(0, Math.min(p.length, 256)));
    for (let i = 0; i < head.length && (bf || f16); i++) {
      const v = head[i]!;
      if (bf && (v & 0xffff) !== 0) bf = false;
      if (f16 && !bf && f16BitsToF32Bits(f32BitsToF16Bits(v)) !== v) f16 = false;
    }
    if (!bf && !f16) return undefined;
    const u = u32s(p);
    for (let i = 0; i < u.length && (bf || f16); i++) {
      const v = u[i]!;
      if (bf && (v & 0xffff) !== 0) bf = false;
      if (f16 && !bf && f16BitsToF32Bits(f32BitsToF16Bits(v)) !== v) f16 = false;
    }
    if (!bf && !f16) return undefined;
  }
  return bf ? 'bf16' : 'f16';
}

function narrowPiece(p: Uint8Array, form: 'bf16' | 'f16'): Uint8Array {
  const u = u32s(p);
  const out = new Uint16Array(u.length);
  if (form === 'bf16') for (let i = 0; i < u.length; i++) out[i] = u[i]! >>> 16;
  else for (let i = 0; i < u.length; i++) out[i] = f32BitsToF16Bits(u[i]!);
  return new Uint8Array(out.buffer);
}

async function sameBytes(a: ByteSource, ao: number, b: ByteSource, bo: number, n: number): Promise<boolean> {
  for (let done = 0; done < n; done += READ_PIECE) {
    const k = Math.min(READ_PIECE, n - done);
    const [x, y] = await Promise.all([a.read(ao + done, k), b.read(bo + done, k)]);
    for (let i = 0; i < k; i++) if (x[i] !== y[i]) return false;
  }
  return true;
}

/**
 * Whether a tensor repeats itself enough for LZ: the cheap probe (repeated words or runs in its
 * first 64 KiB) and then a trial on 16 KiB of it, where LZ must beat grouped order-0 coding by a
 * quarter. The trial keeps a false alarm from sending a large tensor through LZ's slow encoder.
 */
async function isRepetitive(src: ByteSource, t: TensorRegion, scheme: GroupScheme, level: number): Promise<boolean> {
  const head = (await src.read(t.offset, Math.min(t.byteLength, 64 << 10))).slice();
  if (!lzWorthTrying(head, scheme)) return false;
  // 16-bit lanes: the whole 64 KiB (Silero's STFT basis in BF16 repeats at distances a 16 KiB
  // sample misses: LZ/grouped 0.94 on 16 KiB, 0.52 on 64 KiB; learned weights >= 0.99 on both).
  const sample = head.subarray(0, Math.min(head.length, schemeElementBytes(scheme) === 2 ? 64 << 10 : 16 << 10));
  return lzEncode(sample, { level }).length < encodeChunk(sample, scheme).length * 0.75;
}

interface Lane {
  info: LaneInfo;
  /** Chunk size. */
  size: number;
  buf: Uint8Array;
  fill: number;
}

interface Job {
  lane: number;
  data: Uint8Array;
}

/** Packs the model in `src` into `sink`. */
export async function packModel(src: ByteSource, sink: PackSink, opts: PackOptions = {}): Promise<PackResult> {
  // The file's chunk size; by default, lanes of multi-byte values in small sources take smaller
  // chunks (defaultChunkBytes), while 1-byte lanes keep large ones, where LZ's window pays.
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_BYTES;

  if (!Number.isInteger(chunkSize) || chunkSize < 4096 || chunkSize > MAX_CHUNK_BYTES || chunkSize % 8 !== 0) {
    throw new ZipmlError('E_ARG', `chunkSize must be a multiple of 8 in 4096..${MAX_CHUNK_BYTES}, got ${chunkSize}`);
  }
  const runner = new ChunkRunner(opts);
  const lzLevel = opts.lzLevel ?? 1;
  const lzRepetitive = lzLevel === 0 ? 0 : opts.lzRepetitiveLevel ?? 6;
  for (const l of [lzLevel, lzRepetitive]) if (!Number.isInteger(l) || l < 0 || l > 9) throw new ZipmlError('E_ARG', `LZ levels must be integers in 0..9, got ${l}`);
  const layout = opts.layout ?? (await readModelLayout(src, { fileName: opts.name, sidecar: opts.sidecar, signal: opts.signal }));
  if (layout.fileSize !== src.size) throw new ZipmlError('E_ARG', `layout describes ${layout.fileSize} bytes but the source has ${src.size}`);
  // Typical tensor of the multi-byte lanes: the mean tensor size weighted by bytes.
  let tensorBytes = 0, tensorBytes2 = 0;
  for (const t of layout.tensors) {
    if (laneOf(t.dtype, t.byteLength).scheme === 'b1') continue;
    tensorBytes += t.byteLength;
    tensorBytes2 += t.byteLength * t.byteLength;
  }
  const groupedChunkSize = opts.chunkSize ?? defaultChunkBytes(src.size, tensorBytes > 0 ? tensorBytes2 / tensorBytes : 0);
  const base = opts.base;
  const baseLayout = base ? base.layout ?? (await readModelLayout(base.source, { fileName: base.name, signal: opts.signal })) : undefined;
  const baseByName = new Map((baseLayout?.tensors ?? []).map((t) => [t.name, t]));

  const lanes: Lane[] = [];
  const laneIndex = new Map<string, number>();
  const laneFor = (key: string, scheme: GroupScheme): number => {
    let i = laneIndex.get(key);
    if (i === undefined) {
      if (lanes.length >= 256) throw new ZipmlError('E_LIMIT', 'more than 256 lanes');
      i = lanes.length;
      laneIndex.set(key, i);
      // LZ lanes (1-byte values, repetitive tensors) keep large chunks: LZ's window pays there.
      const size = scheme === 'b1' || key.endsWith('*') ? chunkSize : groupedChunkSize;
      lanes.push({ info: { name: key, scheme, ...(size !== chunkSize ? { chunkSize: size } : {}) }, size, buf: newChunkBuffer(size), fill: 0 });
    }
    return i;
  };

  // On a thread of its own for large sources (off the coding thread's critical path).
  const hashes = await createSourceHashes(src.size);
  const hash = (p: Uint8Array) => hashes.update(p);
  const tensors: PackedTensor[] = [];
  const dupKeys = new Map<string, number[]>();
  let structureLane = -1;
  let consumed = 0;
  const total = src.size;

  // Full-size chunk buffers whose coding is done, for the next chunk to fill (calling thread only:
  // a pool's worker receives its chunk by transfer). Saves an allocation per chunk and the GC.
  const spare: Uint8Array[] = [];
  const newChunkBuffer = (size: number) => (spare.length > 0 && spare.at(-1)!.length === size ? spare.pop()! : new Uint8Array(size));

  // Appends bytes to a lane, yielding each chunk as it fills.
  function* feed(lane: number, bytes: Uint8Array): Generator<Job> {
    const L = lanes[lane]!;
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(L.size - L.fill, bytes.length - at);
      L.buf.set(bytes.subarray(at, at + take), L.fill);
      L.fill += take;
      at += take;
      if (L.fill === L.size) {
        yield { lane, data: L.buf };
        L.buf = newChunkBuffer(L.size);
        L.fill = 0;
      }
    }
  }

  async function* source(): AsyncGenerator<Job> {
    let pos = 0;
    const structure = async function* (to: number): AsyncGenerator<Job> {
      if (to <= pos) return;
      if (structureLane < 0) structureLane = laneFor('structure', 'b1');
      for await (const p of pieces(src, pos, to - pos, opts.signal)) {
        hash(p);
        consumed += p.length;
        opts.onProgress?.(consumed, total);
        yield* feed(structureLane, p);
      }
    };
    for (const t of layout.tensors) {
      yield* structure(t.offset);
      pos = t.offset;
      const { key, scheme } = laneOf(t.dtype, t.byteLength);
      let enc: TensorEncoding = 'plain';
      let lane = -1;
      let of: number | undefined;
      let baseOffset: number | undefined;
      // Identical to an earlier tensor? Candidates share length and a hash of the first 4 KiB.
      if (opts.dedupe !== false && t.byteLength >= 64) {
        const head = await src.read(t.offset, Math.min(4096, t.byteLength));
        const k = `${t.byteLength}:${xxh32(head)}`;
        for (const j of dupKeys.get(k) ?? []) {
          if (await sameBytes(src, tensors[j]!.offset, src, t.offset, t.byteLength)) {
            enc = 'dup';
            of = j;
            break;
          }
        }
        if (enc !== 'dup') dupKeys.set(k, [...(dupKeys.get(k) ?? []), tensors.length]);
      }
      const bt = baseByName.get(t.name);
      if (enc === 'plain' && base && bt && bt.dtype === t.dtype && bt.byteLength === t.byteLength) {
        enc = 'xor';
        baseOffset = bt.offset;
        lane = laneFor(`${key}^`, scheme);
      }
      if (enc === 'plain' && t.dtype === 'F32' && opts.narrow !== false && t.byteLength >= 4) {
        const form = await narrowForm(src, t, opts.signal);
        if (form) {
          enc = form;
          lane = laneFor(form, form);
        }
      }
      if (enc === 'plain') {
        // Tensors that repeat themselves (a fixed basis, a lookup table) get a lane of their own,
        // so that whole chunks of them meet the LZ coder instead of halves mixed with weights.
        const repetitive = lzRepetitive > 0 && scheme !== 'b1' && t.byteLength >= REPETITIVE_MIN_BYTES && (await isRepetitive(src, t, scheme, lzRepetitive));
        lane = laneFor(repetitive ? `${key}*` : key, scheme);
      }
      tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, offset: t.offset, byteLength: t.byteLength, lane: enc === 'dup' ? -1 : lane, enc, ...(of !== undefined ? { of } : {}), ...(baseOffset !== undefined ? { baseOffset } : {}) });
      let done = 0;
      for await (const p of pieces(src, t.offset, t.byteLength, opts.signal)) {
        hash(p);
        consumed += p.length;
        opts.onProgress?.(consumed, total);
        if (enc === 'dup') continue;
        let bytes = p;
        if (enc === 'bf16' || enc === 'f16') bytes = narrowPiece(p, enc);
        else if (enc === 'xor') {
          const b = await base!.source.read(baseOffset! + done, p.length);
          bytes = new Uint8Array(p.length);
          for (let i = 0; i < p.length; i++) bytes[i] = p[i]! ^ b[i]!;
        }
        done += p.length;
        yield* feed(lane, bytes);
      }
      pos = t.offset + t.byteLength;
    }
    yield* structure(src.size);
    for (let i = 0; i < lanes.length; i++) {
      const L = lanes[i]!;
      if (L.fill > 0) yield { lane: i, data: L.buf.slice(0, L.fill) };
    }
  }

  const records: Array<{ lane: number; length: number; decodedSize: number; xxh32: number }> = [];
  let packedBytes = 0;
  async function* payloads(): AsyncGenerator<Uint8Array> {
    const it = ordered(source(), runner.window, async (job: Job) => {
      const size = job.data.length;
      const L = lanes[job.lane]!.info;
      const payload = await runner.encode(job.data, L.scheme, {
        tryLayouts: L.name === 'structure' || L.name === 'bytes',
        // LZ where it can pay: 1-byte lanes, and the lanes of repetitive tensors. Other tensors
        // were probed when they were placed and found not to repeat.
        // Small 1-byte chunks (text sidecars, tokenizers, a small file's structure) get the
        // repetitive level too: optimal parsing costs little on a few KB and finds far more.
        ...(L.name.endsWith('*') || (opts.effort === 'max' && lzRepetitive > 0) ? { lzLevel: lzRepetitive, lzAlways: true }
          : { lzLevel: L.scheme !== 'b1' ? 0 : lzLevel > 0 && job.data.length <= SMALL_CHUNK && src.size <= SMALL_FILE ? Math.max(lzLevel, lzRepetitive) : lzLevel }),
      });
      if (runner.threads === 1 && job.data.length === lanes[job.lane]!.size && spare.length < 2) spare.push(job.data);
      return { lane: job.lane, size, payload };
    });
    for await (const r of it) {
      records.push({ lane: r.lane, length: r.payload.length, decodedSize: r.size, xxh32: xxh32(r.payload) });
      packedBytes += r.payload.length;
      yield r.payload;
    }
  }
  await sink.addSection('chunks', payloads());
  const index = encodeIndex(records);
  await sink.addSection('index', index);
  const table = encodeTensorTable(tensors);
  await sink.addSection('tensors', table);
  const meta: PackMeta = {
    v: PACK_VERSION,
    source: { name: opts.name ?? '', size: src.size, ...(await hashes.digest().then((d) => ({ sha256: d.sha256, xxh32: checksumHex(d.xxh32) }))), format: layout.format },
    ...(base ? { base: { name: base.name ?? '', size: base.source.size, sha256: await hashSource(base.source, opts.signal) } } : {}),
    chunkSize,
    lanes: lanes.map((l) => l.info),
    structureLane,
    tensors,
  };
  const { tensors: _, ...headerMeta } = meta;
  await sink.finish(PACK_KIND, headerMeta as unknown as JsonObject);
  return { meta, packedBytes: packedBytes + index.length + table.length, chunks: records.length };
}

/** SHA-256 of a whole source, read in pieces. */
export async function hashSource(src: ByteSource, signal?: AbortSignal): Promise<string> {
  const h = await createSha256();
  for await (const p of pieces(src, 0, src.size, signal)) h.update(p);
  return h.digest();
}

/** Packs bytes held in memory; returns the packed file. */
export async function packBytes(bytes: Uint8Array, opts: PackOptions = {}): Promise<Uint8Array> {
  const { bufferSource } = await import('../layout.js');
  return (await packSmallest(bufferSource(bytes), opts)).bytes;
}

/**
 * Sources up to this size are also packed as one structure lane (no tensor lanes): on a few KB,
 * one LZ stream over the whole file beats several lanes that each start their model cold
 * (TFLite hello_world_int8, 2.7 KB: 1,718 bytes in lanes, fewer as one stream).
 */
export const WHOLE_FILE_MAX = 64 << 10;

/**
 * Packs a source held in memory (or small enough to be) and returns the smallest packed file:
 * the container; for sources up to COMPACT_MAX_SOURCE the compact form when smaller; and for
 * sources up to WHOLE_FILE_MAX, the same again with the whole file as one structure lane.
 */
export async function packSmallest(src: ByteSource, opts: PackOptions = {}): Promise<{ bytes: Uint8Array; result: PackResult }> {
  const sink = new MemoryPackSink();
  const result = await packModel(src, sink, opts);
  let best = { bytes: sink.smallest(src.size), result };
  if (src.size <= WHOLE_FILE_MAX && !opts.base && result.meta.tensors.length > 0) {
    const whole = new MemoryPackSink();
    const layout: ModelLayout = { format: result.meta.source.format as ModelLayout['format'], fileSize: src.size, tensors: [], metadata: {} };
    const r2 = await packModel(src, whole, { ...opts, layout });
    const b2 = whole.smallest(src.size);
    if (b2.length < best.bytes.length) best = { bytes: b2, result: r2 };
  }
  return best;
}
