/**
 * Worker-side halves of compressAsync / decompressAsync: each encodes or decodes a contiguous run
 * of whole blocks. Inputs arrive as copies that were transferred; outputs are transferred back.
 */
import { encodeBlocks, blockRecords, decodeBlock, type Coder, type FrameInfo } from './frame.js';

export interface BlockRunOptions {
  coder: Coder;
  blockSize: number;
  maxCodeLength?: number;
  scaleBits?: number;
}

/** Encodes `data` (whole blocks; the last may be short) as the frame's block records. */
export function encodeBlockRun(data: Uint8Array, o: BlockRunOptions): Uint8Array {
  return blockRecords(encodeBlocks(data, o.blockSize, o.coder, { maxCodeLength: o.maxCodeLength, scaleBits: o.scaleBits }));
}

/**
 * Decodes blocks whose payloads sit in `payloads` (offsets rebased to it) into one buffer of
 * `decodedSize` bytes.
 */
export function decodeBlockRun(payloads: Uint8Array, blocks: FrameInfo['blocks'], decodedSize: number): Uint8Array {
  const out = new Uint8Array(decodedSize);
  let at = 0;
  for (const b of blocks) {
    decodeBlock(payloads, b, out.subarray(at, at + b.decodedSize));
    at += b.decodedSize;
  }
  return out;
}
