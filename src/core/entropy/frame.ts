/**
 * The entropy frame: a byte buffer split into fixed-size blocks, each stored raw, as a run of one
 * byte (RLE), Huffman-coded or rANS-coded, whichever the caller chose and pays; then an XXH32 of
 * the content. Layout in docs/formats.md §2. Blocks are independent, so they encode and decode in
 * parallel (compressAsync / decompressAsync use the worker pool).
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../errors.js';
import { readVarint, varintSize, writeVarint } from '../bits.js';
import { Xxh32, xxh32 } from '../checksum.js';
import { histogram, entropyBits } from './histogram.js';
import { huffmanEncodeBlock, huffmanDecodeBlock, HUFFMAN_MAX_BLOCK } from './huffman.js';
import { ransEncodeBlock, ransDecodeBlock, RANS_MAX_BLOCK } from './rans.js';

export const FRAME_MAGIC = new Uint8Array([0x5a, 0x4d, 0x45, 0x46]); // "ZMEF"
export const FRAME_VERSION = 1;
export const FRAME_MIN_BLOCK_LOG = 10;
export const FRAME_MAX_BLOCK_LOG = 20;
export const FRAME_DEFAULT_BLOCK_LOG = 18;
/** Default cap on the decoded size a reader accepts (a frame of RLE blocks expands ~10^5×). */
export const FRAME_DEFAULT_MAX_OUTPUT = 1 << 30;
const FRAME_HEADER_FIXED = 8;

export const enum BlockType {
  Raw = 0,
  Rle = 1,
  Huffman = 2,
  Rans = 3,
}

export type Coder = 'huffman' | 'rans' | 'auto';

export interface CompressOptions extends LongOpOptions {
  /** Entropy coder for each block (default 'huffman': fastest to decode). 'auto' keeps the smaller. */
  coder?: Coder;
  /** log2 of the block size, 10..20 (default 18 = 256 KiB). */
  blockSizeLog2?: number;
  /** Huffman code length limit, 8..12 (default 11). */
  maxCodeLength?: number;
  /** rANS probability precision in bits, 10..15. */
  scaleBits?: number;
}

export interface DecompressOptions extends LongOpOptions {
  /** Largest decoded size to accept (default 1 GiB); larger frames give E_LIMIT before allocating. */
  maxOutputSize?: number;
}

/** What a frame holds, from its header and block table, without decoding anything. */
export interface FrameInfo {
  contentSize: number;
  blockSize: number;
  blocks: Array<{ type: BlockType; offset: number; length: number; decodedSize: number }>;
  checksumOffset: number;
  frameSize: number;
}

/** Validates compress options; returns the coder and block-size log. */
export function checkCompressOptions(opts: CompressOptions): { coder: Coder; blockLog: number } {
  const coder = opts.coder ?? 'huffman';
  if (coder !== 'huffman' && coder !== 'rans' && coder !== 'auto') {
    throw new ZipmlError('E_ARG', `coder must be 'huffman', 'rans' or 'auto', not ${JSON.stringify(coder)}`);
  }
  const blockLog = opts.blockSizeLog2 ?? FRAME_DEFAULT_BLOCK_LOG;
  if (!Number.isInteger(blockLog) || blockLog < FRAME_MIN_BLOCK_LOG || blockLog > FRAME_MAX_BLOCK_LOG) {
    throw new ZipmlError('E_ARG', `blockSizeLog2 must be an integer in ${FRAME_MIN_BLOCK_LOG}..${FRAME_MAX_BLOCK_LOG}`);
  }
  if ((1 << blockLog) > Math.min(HUFFMAN_MAX_BLOCK, RANS_MAX_BLOCK)) {
    throw new ZipmlError('E_ARG', `block size 2^${blockLog} exceeds what the coders accept`);
  }
  return { coder, blockLog };
}

/** True when every byte of `block` equals the first (an RLE block); exits at the first difference. */
function isRun(block: Uint8Array): boolean {
  const b0 = block[0];
  for (let i = 1; i < block.length; i++) if (block[i] !== b0) return false;
  return true;
}

/** Encodes one block: returns its type and payload (the payload of Raw is the block itself). */
export function encodeBlock(block: Uint8Array, coder: Coder, opts: CompressOptions): { type: BlockType; payload: Uint8Array } {
  if (block.length > 0 && isRun(block)) return { type: BlockType.Rle, payload: block.subarray(0, 1) };
  let best: { type: BlockType; payload: Uint8Array } = { type: BlockType.Raw, payload: block };
  // Huffman and rANS count bytes inside their WebAssembly kernels; only 'auto' needs the
  // histogram out here, to compare Huffman's size with the order-0 bound.
  const hist = coder === 'auto' ? histogram(block) : undefined;
  if (coder === 'huffman' || coder === 'auto') {
    const h = huffmanEncodeBlock(block, { maxCodeLength: opts.maxCodeLength }, hist);
    if (h && h.length < best.payload.length) best = { type: BlockType.Huffman, payload: h };
  }
  // 'auto' tries rANS only when Huffman is more than 1% above the order-0 bound: below that the
  // gain is too small to pay for a second encode and rANS's somewhat slower decode (docs/bench-core.md).
  if (coder === 'rans' || (hist && best.payload.length > (entropyBits(hist) / 8) * 1.01 + 64)) {
    const r = ransEncodeBlock(block, { scaleBits: opts.scaleBits }, hist);
    if (r && r.length < best.payload.length) best = { type: BlockType.Rans, payload: r };
  }
  return best;
}

/** The frame header: magic, version, flags, block-size log, reserved, content size. */
export function frameHeader(blockLog: number, contentSize: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_FIXED + varintSize(contentSize));
  out.set(FRAME_MAGIC, 0);
  out[4] = FRAME_VERSION;
  out[5] = 1; // flags: bit 0 = content checksum present
  out[6] = blockLog;
  out[7] = 0;
  writeVarint(out, FRAME_HEADER_FIXED, contentSize);
  return out;
}

export interface EncodedBlock {
  type: BlockType;
  payload: Uint8Array;
}

/**
 * Encodes `data` block by block. `progressBase` and `total` place this run's progress within a
 * larger job.
 */
export function encodeBlocks(data: Uint8Array, blockSize: number, coder: Coder, opts: CompressOptions, progressBase = 0, total = data.length): EncodedBlock[] {
  const blocks: EncodedBlock[] = [];
  for (let at = 0; at < data.length; at += blockSize) {
    throwIfAborted(opts.signal, 'compress');
    const end = Math.min(data.length, at + blockSize);
    blocks.push(encodeBlock(data.subarray(at, end), coder, opts));
    opts.onProgress?.(progressBase + end, total);
  }
  return blocks;
}

/** Bytes that `blocks` take as block records (type, payload size, payload). */
function recordsSize(blocks: readonly EncodedBlock[]): number {
  let size = 0;
  for (const b of blocks) size += 1 + varintSize(b.payload.length) + b.payload.length;
  return size;
}

function writeRecords(out: Uint8Array, pos: number, blocks: readonly EncodedBlock[]): number {
  for (const b of blocks) {
    out[pos++] = b.type;
    pos = writeVarint(out, pos, b.payload.length);
    out.set(b.payload, pos);
    pos += b.payload.length;
  }
  return pos;
}

/** Block records as one buffer (what a worker sends back). */
export function blockRecords(blocks: readonly EncodedBlock[]): Uint8Array {
  const out = new Uint8Array(recordsSize(blocks));
  writeRecords(out, 0, blocks);
  return out;
}

/**
 * The frame: header, then the block records — given as encoded blocks or as ready record
 * buffers — then the content checksum, written into one allocation.
 */
export function joinFrame(header: Uint8Array, parts: ReadonlyArray<Uint8Array | readonly EncodedBlock[]>, contentChecksum: number): Uint8Array {
  let size = header.length + 4;
  for (const p of parts) size += p instanceof Uint8Array ? p.length : recordsSize(p);
  const out = new Uint8Array(size);
  out.set(header, 0);
  let pos = header.length;
  for (const p of parts) {
    if (p instanceof Uint8Array) {
      out.set(p, pos);
      pos += p.length;
    } else {
      pos = writeRecords(out, pos, p);
    }
  }
  new DataView(out.buffer).setUint32(pos, contentChecksum, true);
  return out;
}

/** Compresses `data` into an entropy frame (synchronous, one thread). */
export function compress(data: Uint8Array, opts: CompressOptions = {}): Uint8Array {
  const { coder, blockLog } = checkCompressOptions(opts);
  const blocks = encodeBlocks(data, 1 << blockLog, coder, opts);
  return joinFrame(frameHeader(blockLog, data.length), [blocks], xxh32(data));
}

/**
 * Reads the header and walks the block table, checking that every length fits the frame and the
 * declared content size, before anything is allocated or decoded.
 */
export function frameInfo(frame: Uint8Array, opts: { maxOutputSize?: number } = {}): FrameInfo {
  const maxOut = opts.maxOutputSize ?? FRAME_DEFAULT_MAX_OUTPUT;
  if (frame.length < FRAME_HEADER_FIXED + 1 + 4) {
    throw new ZipmlError('E_TRUNCATED', `entropy frame of ${frame.length} bytes is shorter than its header`, { offset: 0 });
  }
  for (let i = 0; i < 4; i++) {
    if (frame[i] !== FRAME_MAGIC[i]) throw new ZipmlError('E_FORMAT', 'not a zipml entropy frame: bad magic', { offset: i });
  }
  if (frame[4] !== FRAME_VERSION) throw new ZipmlError('E_FORMAT', `entropy frame version ${frame[4]} is not supported`, { offset: 4 });
  if (frame[5] !== 1) throw new ZipmlError('E_FORMAT', `entropy frame flags 0x${frame[5]!.toString(16)} are not supported`, { offset: 5 });
  const blockLog = frame[6]!;
  if (blockLog < FRAME_MIN_BLOCK_LOG || blockLog > FRAME_MAX_BLOCK_LOG) {
    throw new ZipmlError('E_CORRUPT', `entropy frame block size 2^${blockLog} is outside 2^${FRAME_MIN_BLOCK_LOG}..2^${FRAME_MAX_BLOCK_LOG}`, { offset: 6 });
  }
  if (frame[7] !== 0) throw new ZipmlError('E_FORMAT', 'entropy frame reserved byte is not zero', { offset: 7 });
  const { value: contentSize, next } = readVarint(frame, FRAME_HEADER_FIXED);
  if (contentSize > maxOut) {
    throw new ZipmlError('E_LIMIT', `entropy frame declares ${contentSize} bytes, above the limit of ${maxOut} (maxOutputSize)`, { offset: FRAME_HEADER_FIXED });
  }
  const bs = 2 ** blockLog;
  const n = Math.ceil(contentSize / bs);
  // Each block takes at least 3 bytes; reject impossible counts before building the table.
  if (n * 3 > frame.length - next) {
    throw new ZipmlError('E_TRUNCATED', `entropy frame declares ${n} blocks but has only ${frame.length - next} bytes for them`, { offset: next });
  }
  const blocks: FrameInfo['blocks'] = [];
  let pos = next;
  const end = frame.length - 4;
  for (let i = 0; i < n; i++) {
    const decodedSize = i < n - 1 ? bs : contentSize - (n - 1) * bs;
    if (pos >= end) throw new ZipmlError('E_TRUNCATED', `entropy frame ends before block ${i} of ${n}`, { offset: pos });
    const type = frame[pos]!;
    if (type > BlockType.Rans) throw new ZipmlError('E_CORRUPT', `block ${i} has unknown type ${type}`, { offset: pos });
    const { value: length, next: p } = readVarint(frame, pos + 1, end);
    if (length > end - p) throw new ZipmlError('E_TRUNCATED', `block ${i} payload of ${length} bytes runs past the frame end`, { offset: pos });
    if (type === BlockType.Raw && length !== decodedSize) {
      throw new ZipmlError('E_CORRUPT', `raw block ${i} holds ${length} bytes, expected ${decodedSize}`, { offset: pos });
    }
    if (type === BlockType.Rle && length !== 1) throw new ZipmlError('E_CORRUPT', `RLE block ${i} payload is ${length} bytes, expected 1`, { offset: pos });
    blocks.push({ type: type as BlockType, offset: p, length, decodedSize });
    pos = p + length;
  }
  if (pos !== end) throw new ZipmlError('E_CORRUPT', `entropy frame has ${end - pos} bytes between its last block and its checksum`, { offset: pos });
  return { contentSize, blockSize: bs, blocks, checksumOffset: end, frameSize: frame.length };
}

/** Decodes one block of a frame into `dst` (dst.length = its decoded size). */
export function decodeBlock(frame: Uint8Array, b: FrameInfo['blocks'][number], dst: Uint8Array): void {
  const payload = frame.subarray(b.offset, b.offset + b.length);
  switch (b.type) {
    case BlockType.Raw: dst.set(payload); break;
    case BlockType.Rle: dst.fill(payload[0]!); break;
    case BlockType.Huffman: huffmanDecodeBlock(payload, dst); break;
    case BlockType.Rans: ransDecodeBlock(payload, dst); break;
  }
}

export function checkContent(frame: Uint8Array, info: FrameInfo, out: Uint8Array): void {
  const want = new DataView(frame.buffer, frame.byteOffset).getUint32(info.checksumOffset, true);
  if (new Xxh32().update(out).digest() !== want) {
    throw new ZipmlError('E_CORRUPT', 'entropy frame content checksum mismatch: the data is corrupt', { offset: info.checksumOffset });
  }
}

/** Decompresses an entropy frame (synchronous, one thread). */
export function decompress(frame: Uint8Array, opts: DecompressOptions = {}): Uint8Array {
  const info = frameInfo(frame, opts);
  const out = new Uint8Array(info.contentSize);
  let at = 0;
  for (const b of info.blocks) {
    throwIfAborted(opts.signal, 'decompress');
    decodeBlock(frame, b, out.subarray(at, at + b.decodedSize));
    at += b.decodedSize;
    opts.onProgress?.(at, info.contentSize);
  }
  checkContent(frame, info, out);
  return out;
}
