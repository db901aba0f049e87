/**
 * Framed LZ: a 32-byte header (magic "ZMLZ", version, sizes, XXH32 of the content and of the
 * header itself) followed by the raw lzEncode payload. Unlike the raw form, every corruption is
 * detected: the header by its own checksum and the content by XXH32 after decoding.
 */
import { ZipmlError, argCheck } from '../errors.js';
import { xxh32 } from '../checksum.js';
import { lzEncode, type LzOptions } from './encode.js';
import { lzDecode, LZ_DEFAULT_MAX_OUTPUT, type LzDecodeOptions } from './decode.js';

export const LZ_FRAME_MAGIC = new Uint8Array([0x5a, 0x4d, 0x4c, 0x5a]); // "ZMLZ"
export const LZ_FRAME_VERSION = 1;
export const LZ_FRAME_HEADER_BYTES = 32;

function writeU64(b: Uint8Array, off: number, v: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
}

function readU64(b: Uint8Array, off: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hi = dv.getUint32(off + 4, true);
  if (hi >= 1 << 21) throw new ZipmlError('E_LIMIT', `lz frame: 64-bit field above 2^53`, { offset: off });
  return hi * 2 ** 32 + dv.getUint32(off, true);
}

export function lzCompress(data: Uint8Array, opts: LzOptions = {}): Uint8Array {
  const payload = lzEncode(data, opts);
  const out = new Uint8Array(LZ_FRAME_HEADER_BYTES + payload.length);
  out.set(LZ_FRAME_MAGIC, 0);
  out[4] = LZ_FRAME_VERSION;
  writeU64(out, 8, data.length);
  writeU64(out, 16, payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(24, xxh32(data), true);
  dv.setUint32(28, xxh32(out.subarray(0, 28)), true);
  out.set(payload, LZ_FRAME_HEADER_BYTES);
  return out;
}

export interface LzFrameInfo {
  contentSize: number;
  payloadSize: number;
  contentChecksum: number;
}

/** Parses and checks the frame header (not the payload). */
export function lzFrameInfo(frame: Uint8Array): LzFrameInfo {
  if (frame.length < LZ_FRAME_HEADER_BYTES) throw new ZipmlError('E_TRUNCATED', `lz frame: ${frame.length} bytes, shorter than the ${LZ_FRAME_HEADER_BYTES}-byte header`);
  for (let i = 0; i < 4; i++) if (frame[i] !== LZ_FRAME_MAGIC[i]) throw new ZipmlError('E_FORMAT', 'not a zipml LZ frame: bad magic', { offset: i });
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (dv.getUint32(28, true) !== xxh32(frame.subarray(0, 28))) throw new ZipmlError('E_CORRUPT', 'lz frame: header checksum mismatch', { offset: 28 });
  if (frame[4] !== LZ_FRAME_VERSION) throw new ZipmlError('E_FORMAT', `lz frame: unknown version ${frame[4]}`, { offset: 4 });
  for (let i = 5; i < 8; i++) if (frame[i] !== 0) throw new ZipmlError('E_FORMAT', `lz frame: reserved byte ${i} is ${frame[i]}`, { offset: i });
  return { contentSize: readU64(frame, 8), payloadSize: readU64(frame, 16), contentChecksum: dv.getUint32(24, true) };
}

export function lzDecompress(frame: Uint8Array, opts: LzDecodeOptions = {}): Uint8Array {
  const info = lzFrameInfo(frame);
  const max = opts.maxOutputBytes ?? LZ_DEFAULT_MAX_OUTPUT;
  argCheck(max >= 0, 'lzDecompress: maxOutputBytes must be non-negative');
  if (info.contentSize > max) throw new ZipmlError('E_LIMIT', `lz frame: content of ${info.contentSize} bytes exceeds the limit of ${max}`, { offset: 8 });
  const end = LZ_FRAME_HEADER_BYTES + info.payloadSize;
  if (frame.length < end) throw new ZipmlError('E_TRUNCATED', `lz frame: payload needs ${info.payloadSize} bytes, ${frame.length - LZ_FRAME_HEADER_BYTES} present`, { offset: frame.length });
  if (frame.length > end) throw new ZipmlError('E_CORRUPT', `lz frame: ${frame.length - end} bytes after the payload`, { offset: end });
  const out = lzDecode(frame.subarray(LZ_FRAME_HEADER_BYTES, end), info.contentSize, { maxOutputBytes: max });
  if (xxh32(out) !== info.contentChecksum) throw new ZipmlError('E_CORRUPT', 'lz frame: content checksum mismatch');
  return out;
}
