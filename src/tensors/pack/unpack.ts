/**
 * Unpacking: walks the source file's pieces in order, pulls each stored piece from its lane
 * (chunks decoded ahead, in parallel, a bounded number at a time), undoes narrowing and deltas,
 * copies duplicates, and checks the SHA-256 of everything written against the one stored.
 * Memory stays at a window of decoded chunks plus one chunk per lane, whatever the model's size.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { readContainer, type JsonObject } from '../../core/container.js';
import { f16BitsToF32Bits } from '../../core/dtypes.js';
import { Xxh32, checksumHex } from '../../core/checksum.js';
import type { ByteSource } from '../layout.js';
import { checkMeta, laneChunkSize, decodeIndex, decodeTensorTable, placements, type ChunkRecord, type PackMeta, type Piece } from './format.js';
import { ChunkRunner, type ThreadOptions } from './runner.js';
import { decodeChunkHere } from './tasks.js';
import { fusedGeneration } from './chunk.js';
import { createSha256, createSha256Offloaded } from './sha256.js';
import { PACK_KIND } from './format.js';
import { compactPackedReader, isCompactPacked } from './compact.js';

/** Random access to a packed file's parts (in memory or on disk). */
export interface PackedReader {
  kind: string;
  meta: JsonObject;
  /** A whole section ('index', 'tensors'), checksum-verified. */
  section(name: string): Promise<Uint8Array>;
  chunksLength: number;
  /** `length` bytes at `offset` within the chunks section (not verified: chunks carry their own checksums). */
  readChunks(offset: number, length: number): Promise<Uint8Array>;
}

/** A reader over a packed file held in memory (container or compact form). */
export function memoryPackedReader(bytes: Uint8Array): PackedReader {
  if (isCompactPacked(bytes)) return compactPackedReader(bytes);
  const c = readContainer(bytes, { verify: false });
  const chunks = c.info('chunks');
  const at = chunks.offset;
  return {
    kind: c.kind,
    meta: c.meta,
    section: async (name) => c.section(name),
    chunksLength: chunks.length,
    readChunks: async (offset, length) => bytes.subarray(at + offset, at + offset + length),
  };
}

export interface UnpackOptions extends LongOpOptions, ThreadOptions {
  /** The base checkpoint, for files packed with a base (checked against its stored SHA-256). */
  base?: ByteSource;
  /** Refuse sources larger than this (in-memory unpack only; default 2 GiB). */
  maxOutputSize?: number;
  /**
   * Check the SHA-256 of the result (default true; in Node it runs on a thread of its own for
   * sources of 4 MiB and more). The XXH32 of every chunk payload is always checked, and the
   * XXH32 of the whole result when the SHA-256 is skipped.
   */
  verify?: boolean;
}

/** The checked description of a packed file: tensors, lanes, chunks. */
export interface OpenPacked {
  meta: PackMeta;
  pieces: Piece[];
  laneBytes: number[];
  chunks: ChunkRecord[];
  /** Emission indices of each lane's chunks, in lane order. */
  laneChunks: number[][];
}

export async function openPacked(r: PackedReader): Promise<OpenPacked> {
  if (r.kind !== PACK_KIND) throw new ZipmlError('E_FORMAT', `container kind is '${r.kind}', not '${PACK_KIND}'`);
  const meta = checkMeta(r.meta, decodeTensorTable(await r.section('tensors')));
  const { pieces, laneBytes } = placements(meta);
  const chunks = decodeIndex(await r.section('index'), meta, laneBytes, r.chunksLength);
  const laneChunks: number[][] = meta.lanes.map(() => []);
  chunks.forEach((c, i) => laneChunks[c.lane]!.push(i));
  return { meta, pieces, laneBytes, chunks, laneChunks };
}

/** Decodes chunks ahead of need, a bounded window at a time, and serves lane byte ranges. */
class LaneDecoder {
  private readonly cache = new Map<number, Promise<Uint8Array>>();
  private next = 0;
  /**
   * One thread: each lane's chunk being read, decoded when first needed and copied from there
   * straight into the output (decoding ahead gains nothing without a second thread). `gen` set:
   * a view of the fused kernel's output, valid while fusedGeneration() still equals it; before
   * the next decode overwrites it, an unfinished one is copied into its lane's own buffer
   * (`owned`), so files whose lanes interleave (a structure piece between every two tensors)
   * decode each chunk once.
   */
  private readonly current = new Map<number, { i: number; view: Uint8Array; gen: number | undefined }>();
  private readonly owned = new Map<number, Uint8Array>();

  constructor(
    private readonly p: OpenPacked,
    private readonly r: PackedReader,
    private readonly runner: ChunkRunner,
  ) {}

  private decodeOne(i: number): Promise<Uint8Array> {
    const c = this.p.chunks[i]!;
    const scheme = this.p.meta.lanes[c.lane]!.scheme;
    const pr = this.r.readChunks(c.offset, c.length).then((payload) => this.runner.decode(payload, scheme, c.decodedSize, c.xxh32, where(i, c.lane)));
    pr.catch(() => undefined);
    return pr;
  }

  private valid(lane: number, i: number): boolean {
    const c = this.current.get(lane);
    return c !== undefined && c.i === i && (c.gen === undefined || c.gen === fusedGeneration());
  }

  /** One thread: copies bytes [within, within + out.length) of chunk i into out. */
  private async copyHere(i: number, within: number, out: Uint8Array): Promise<void> {
    const c = this.p.chunks[i]!;
    if (!this.valid(c.lane, i)) {
      const payload = await this.r.readChunks(c.offset, c.length);
      throwIfAborted(this.runner.signal, 'unpack');
      // No await from here to the copy: nothing else can decode on this thread meanwhile.
      if (!this.valid(c.lane, i)) {
        this.keepOthers(c.lane);
        const r = decodeChunkHere(payload, this.p.meta.lanes[c.lane]!.scheme, c.decodedSize, c.xxh32, where(i, c.lane));
        this.current.set(c.lane, { i, view: r.view, gen: r.owned ? undefined : fusedGeneration() });
      }
    }
    out.set(this.current.get(c.lane)!.view.subarray(within, within + out.length));
  }

  /** Copies other lanes' unfinished chunks out of the kernel's memory before it is overwritten. */
  private keepOthers(lane: number): void {
    const gen = fusedGeneration();
    for (const [l, c] of this.current) {
      if (l === lane || c.gen !== gen) continue;
      let b = this.owned.get(l);
      if (!b || b.length < c.view.length) this.owned.set(l, (b = new Uint8Array(c.view.length)));
      b = b.subarray(0, c.view.length);
      b.set(c.view);
      this.current.set(l, { i: c.i, view: b, gen: undefined });
    }
  }

  private start(i: number): Promise<Uint8Array> {
    let pr = this.cache.get(i);
    if (!pr) {
      pr = this.decodeOne(i);
      this.cache.set(i, pr);
    }
    return pr;
  }

  private topUp(): void {
    while (this.cache.size < this.runner.window + 1 && this.next < this.p.chunks.length) this.start(this.next++);
  }

  /**
   * Chunk i's bytes. On the streaming pass (`stream`) chunks are decoded ahead and cached until
   * `done`; other reads (duplicates, single tensors) decode what the cache lacks without keeping it.
   */
  async chunk(i: number, stream: boolean, done: boolean): Promise<Uint8Array> {
    if (!stream) return this.cache.get(i) ?? this.decodeOne(i);
    const pr = this.start(i);
    this.topUp();
    const data = await pr;
    if (done) {
      this.cache.delete(i);
      this.topUp();
    }
    return data;
  }

  /** Copies lane bytes [at, at + out.length) into out; chunks wholly consumed are released when `stream`. */
  async read(lane: number, at: number, out: Uint8Array, stream: boolean): Promise<void> {
    const list = this.p.laneChunks[lane]!;
    const cs = laneChunkSize(this.p.meta, lane);
    let done = 0;
    while (done < out.length) {
      const k = Math.floor((at + done) / cs);
      const rec = this.p.chunks[list[k]!]!;
      const within = at + done - rec.laneOffset;
      const take = Math.min(out.length - done, rec.decodedSize - within);
      const last = within + take === rec.decodedSize;
      if (this.runner.threads === 1) {
        await this.copyHere(list[k]!, within, out.subarray(done, done + take));
        if (stream && last) this.current.delete(lane);
      } else {
        const data = await this.chunk(list[k]!, stream, last);
        out.set(data.subarray(within, within + take), done);
      }
      done += take;
    }
  }
}

function where(i: number, lane: number): string {
  return `chunk ${i} (lane ${lane})`;
}

/** Narrow values back to F32 bits; `out` may sit at any byte offset (ONNX raw_data is unaligned). */
function widen(stored: Uint8Array, enc: 'bf16' | 'f16', out: Uint8Array): void {
  const h = new Uint16Array(stored.buffer, stored.byteOffset, stored.length >>> 1);
  const aligned = (out.byteOffset & 3) === 0;
  const u = aligned ? new Uint32Array(out.buffer, out.byteOffset, h.length) : new Uint32Array(h.length);
  if (enc === 'bf16') for (let i = 0; i < h.length; i++) u[i] = h[i]! << 16;
  else for (let i = 0; i < h.length; i++) u[i] = f16BitsToF32Bits(h[i]!);
  if (!aligned) out.set(new Uint8Array(u.buffer));
}

/** Largest piece produced at once. */
const PIECE = 4 << 20;

async function pieceBytes(
  p: OpenPacked, dec: LaneDecoder, piece: Extract<Piece, { kind: 'lane' }>, from: number, n: number,
  base: ByteSource | undefined, stream: boolean, out: Uint8Array = new Uint8Array(n),
): Promise<Uint8Array> {
  const t = piece.tensor >= 0 ? p.meta.tensors[piece.tensor]! : undefined;
  if (t && (t.enc === 'bf16' || t.enc === 'f16')) {
    const stored = new Uint8Array(n >>> 1);
    await dec.read(piece.lane, piece.laneOffset + (from >>> 1), stored, stream);
    widen(stored, t.enc, out);
    return out;
  }
  await dec.read(piece.lane, piece.laneOffset + from, out, stream);
  if (t && t.enc === 'xor') {
    const b = await base!.read(t.baseOffset! + from, n);
    for (let i = 0; i < n; i++) out[i]! ^= b[i]!;
  }
  return out;
}

/** Checks the base checkpoint a delta file needs. */
async function checkBase(meta: PackMeta, base: ByteSource | undefined, signal?: AbortSignal): Promise<void> {
  if (!meta.base) return;
  if (!base) throw new ZipmlError('E_ARG', `this file was packed against base checkpoint '${meta.base.name}'; pass it as base`);
  if (base.size !== meta.base.size) throw new ZipmlError('E_ARG', `base checkpoint has ${base.size} bytes, the packed file expects ${meta.base.size}`);
  const h = await createSha256();
  for (let at = 0; at < base.size; at += PIECE) {
    throwIfAborted(signal, 'unpack');
    h.update(await base.read(at, Math.min(PIECE, base.size - at)));
  }
  if (h.digest() !== meta.base.sha256) throw new ZipmlError('E_ARG', `base checkpoint's SHA-256 differs from the one '${meta.base.name}' had when packing`);
}

/**
 * Streams the original file to `write` in order, piece by piece (each at most 4 MiB), and checks
 * its hashes at the end (E_CORRUPT on mismatch: the caller must then discard what was written).
 * With `target` (source-sized), pieces are decoded straight into it and `write` may be omitted.
 */
export async function unpackTo(r: PackedReader, write: ((bytes: Uint8Array) => Promise<void> | void) | undefined, opts: UnpackOptions = {}, target?: Uint8Array): Promise<PackMeta> {
  const p = await openPacked(r);
  await checkBase(p.meta, opts.base, opts.signal);
  const runner = new ChunkRunner(opts);
  const dec = new LaneDecoder(p, r, runner);
  const total = p.meta.source.size;
  if (target && target.length !== total) throw new ZipmlError('E_ARG', `target of ${target.length} bytes for a ${total}-byte source`);
  // SHA-256 on a thread of its own where it can (off the decoding thread's critical path). The
  // whole-output XXH32 only stands in for it when it is skipped: the SHA-256 subsumes it.
  const sha = opts.verify === false ? undefined : await createSha256Offloaded(total);
  const xx = sha ? undefined : new Xxh32();
  let written = 0;
  for (const piece of p.pieces) {
    for (let from = 0; from < piece.length; from += PIECE) {
      throwIfAborted(opts.signal, 'unpack');
      const n = Math.min(PIECE, piece.length - from);
      const dst = target?.subarray(piece.fileOffset + from, piece.fileOffset + from + n);
      let bytes: Uint8Array;
      if (piece.kind === 'dup') {
        bytes = await tensorRange(p, dec, piece.of, from, n, opts.base, dst);
      } else {
        bytes = await pieceBytes(p, dec, piece, from, n, opts.base, true, dst);
      }
      sha?.update(bytes);
      xx?.update(bytes);
      await write?.(bytes);
      written += n;
      opts.onProgress?.(written, total);
    }
  }
  if (xx && checksumHex(xx.digest()) !== p.meta.source.xxh32) {
    throw new ZipmlError('E_CORRUPT', `unpacked bytes do not match the stored XXH32 of '${p.meta.source.name}'`);
  }
  if (sha && (await sha.digest()) !== p.meta.source.sha256) {
    throw new ZipmlError('E_CORRUPT', `unpacked bytes do not match the stored SHA-256 of '${p.meta.source.name}'`);
  }
  return p.meta;
}

/** Bytes [from, from + n) of tensor i, decoded without disturbing the streaming pass. */
async function tensorRange(p: OpenPacked, dec: LaneDecoder, i: number, from: number, n: number, base: ByteSource | undefined, out?: Uint8Array): Promise<Uint8Array> {
  const piece = p.pieces.find((x) => x.kind === 'lane' && x.tensor === i) as Extract<Piece, { kind: 'lane' }> | undefined;
  if (!piece) throw new ZipmlError('E_CORRUPT', `tensor ${i} is not stored`);
  return pieceBytes(p, dec, piece, from, n, base, false, out);
}

/**
 * A buffer whose every byte the unpacker overwrites: in Node without the zero fill (Buffer's
 * unpooled allocUnsafe for large sizes), as a plain Uint8Array over its own ArrayBuffer. It is
 * never returned unless unpacking succeeded, so no stale memory escapes.
 */
export function uninitialized(n: number): Uint8Array {
  const B = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;
  if (!B || n < 4096) return new Uint8Array(n);
  const b = B.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** Unpacks a packed file held in memory. */
export async function unpackBytes(packed: Uint8Array, opts: UnpackOptions = {}): Promise<Uint8Array> {
  const r = memoryPackedReader(packed);
  const size = (r.meta as { source?: { size?: unknown } }).source?.size;
  const max = opts.maxOutputSize ?? 2 ** 31;
  if (typeof size === 'number' && size > max) throw new ZipmlError('E_LIMIT', `packed source of ${size} bytes exceeds maxOutputSize ${max}`);
  const out = uninitialized(typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? size : 0);
  await unpackTo(r, undefined, opts, out);
  return out;
}

/** The original bytes of one tensor, decoding only the chunks that hold it. */
export async function readPackedTensor(r: PackedReader, name: string, opts: UnpackOptions = {}): Promise<{ tensor: PackMeta['tensors'][number]; bytes: Uint8Array }> {
  const p = await openPacked(r);
  let i = p.meta.tensors.findIndex((t) => t.name === name);
  if (i < 0) throw new ZipmlError('E_ARG', `no tensor named '${name}'`);
  const tensor = p.meta.tensors[i]!;
  if (tensor.enc === 'dup') i = tensor.of!;
  if (tensor.enc === 'xor' || p.meta.tensors[i]!.enc === 'xor') await checkBase(p.meta, opts.base, opts.signal);
  const dec = new LaneDecoder(p, r, new ChunkRunner({ ...opts, threads: opts.threads ?? 1 }));
  return { tensor, bytes: await tensorRange(p, dec, i, 0, tensor.byteLength, opts.base) };
}
