/**
 * LZ decoder: replays literals, matches and rep matches from the range-coded stream into an output
 * of the declared size. Everything is bounded: the output is allocated once at `outputSize`, every
 * match distance is checked against the bytes produced so far and every length against the bytes
 * still to produce, and the range decoder refuses to read past the payload.
 */
import { ZipmlError, argCheck } from '../errors.js';
import { RangeDecoder } from './range-coder.js';
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as lzdecWasm from '../../kernels/generated/lzdec.js';
import {
  LzModel, parsePropsByte, stateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep,
  LIT_STATES, LEN_STATES, SLOT_BITS, MODEL_END_SLOT, ALIGN_BITS, LEN_CHOICE, LEN_CHOICE2,
  LEN_LOW_BASE, LEN_MID_BASE, LEN_HIGH_BASE, LEN_LOW_BITS, LEN_MID_BITS, LEN_HIGH_BITS, LEN_LOW, LEN_MID, MATCH_MIN,
  type LzProps,
} from './model.js';
import { LZ_HEADER_BYTES, LZ_FLAGS_NONE, LZ_FLAGS_STORED, LZ_FLAGS_TWO_RATE } from './params.js';

/** Default bound on the declared output size (1 GiB); raise it with `maxOutputBytes`. */
export const LZ_DEFAULT_MAX_OUTPUT = 1 << 30;

export interface LzDecodeOptions {
  maxOutputBytes?: number;
}

function decodeLen(rc: RangeDecoder, p: Uint16Array, posState: number): number {
  if (rc.decodeBit(p, LEN_CHOICE) === 0) return MATCH_MIN + rc.decodeTree(p, LEN_LOW_BASE + (posState << LEN_LOW_BITS), LEN_LOW_BITS);
  if (rc.decodeBit(p, LEN_CHOICE2) === 0) return MATCH_MIN + LEN_LOW + rc.decodeTree(p, LEN_MID_BASE + (posState << LEN_MID_BITS), LEN_MID_BITS);
  return MATCH_MIN + LEN_LOW + LEN_MID + rc.decodeTree(p, LEN_HIGH_BASE, LEN_HIGH_BITS);
}

function decodeDistance(rc: RangeDecoder, m: LzModel, len: number): number {
  const lenState = Math.min(len - MATCH_MIN, LEN_STATES - 1);
  const slot = rc.decodeTree(m.slot, lenState << SLOT_BITS, SLOT_BITS);
  if (slot < 4) return slot;
  const footer = (slot >>> 1) - 1;
  const base = (2 | (slot & 1)) * 2 ** footer;
  if (slot < MODEL_END_SLOT) return base + rc.decodeReverseTree(m.special, base - slot - 1, footer);
  return base + rc.decodeDirect(footer - ALIGN_BITS) * 16 + rc.decodeReverseTree(m.align, 0, ALIGN_BITS);
}

interface LzdecExports {
  decode(src: number, srcLen: number, out: number, outLen: number, lc: number, lp: number, pb: number, probs: number, twoRate: number): number;
  probsBytes(lclp: number, twoRate: number): number;
  errorOut(): number;
  errorIn(): number;
  errorValue(): number;
}

/**
 * Outputs up to this size decode in WebAssembly (src/kernels/assembly/lzdec.ts); larger ones on
 * the reference path, so that a kernel's linear memory (which never shrinks) stays bounded.
 */
export const LZ_WASM_MAX_OUTPUT = 64 << 20;

/** Decodes a raw LZ payload (as made by lzEncode) to exactly `outputSize` bytes. */
export function lzDecode(payload: Uint8Array, outputSize: number, opts: LzDecodeOptions = {}): Uint8Array {
  const k = outputSize <= LZ_WASM_MAX_OUTPUT ? wasmKernel<LzdecExports>('lzdec', lzdecWasm.base64) : null;
  return decodeWith(payload, outputSize, opts, k);
}

/** The plain-TS decoder (the spec the WebAssembly kernel is held to). */
export function lzDecodeReference(payload: Uint8Array, outputSize: number, opts: LzDecodeOptions = {}): Uint8Array {
  return decodeWith(payload, outputSize, opts, null);
}

function decodeWith(payload: Uint8Array, outputSize: number, opts: LzDecodeOptions, k: WasmKernel<LzdecExports> | null): Uint8Array {
  argCheck(Number.isSafeInteger(outputSize) && outputSize >= 0, `lzDecode: outputSize must be a non-negative integer, got ${outputSize}`);
  const max = opts.maxOutputBytes ?? LZ_DEFAULT_MAX_OUTPUT;
  if (outputSize > max) throw new ZipmlError('E_LIMIT', `lz: declared output of ${outputSize} bytes exceeds the limit of ${max}`);
  if (payload.length < LZ_HEADER_BYTES) throw new ZipmlError('E_TRUNCATED', `lz: payload of ${payload.length} bytes is shorter than its ${LZ_HEADER_BYTES}-byte header`);
  if (payload[1] === LZ_FLAGS_STORED) {
    if (payload[0] !== 0) throw new ZipmlError('E_FORMAT', `lz: stored payload with properties byte ${payload[0]}`, { offset: 0 });
    if (payload.length - LZ_HEADER_BYTES !== outputSize) throw new ZipmlError(payload.length - LZ_HEADER_BYTES < outputSize ? 'E_TRUNCATED' : 'E_CORRUPT', `lz: stored payload holds ${payload.length - LZ_HEADER_BYTES} bytes, expected ${outputSize}`);
    return payload.slice(LZ_HEADER_BYTES);
  }
  if (payload[1] !== LZ_FLAGS_NONE && payload[1] !== LZ_FLAGS_TWO_RATE) throw new ZipmlError('E_FORMAT', `lz: unknown flags ${payload[1]}`, { offset: 1 });
  const twoRate = payload[1] === LZ_FLAGS_TWO_RATE;
  const props = parsePropsByte(payload[0]!, 0);
  const rc = new RangeDecoder(payload, LZ_HEADER_BYTES); // checks the stream's first 4 bytes
  if (k) return decodeKernel(k, payload, outputSize, props, twoRate);
  const m = new LzModel(props, twoRate);
  const out = new Uint8Array(outputSize);
  const lit = m.literal, slow = twoRate ? m.literal2 : undefined, isMatch = m.isMatch, posMask = m.posMask;
  let state = 0, rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0, pos = 0;
  while (pos < outputSize) {
    const posState = pos & posMask;
    if (rc.decodeBit(isMatch, (state << 4) | posState) === 0) {
      const base = m.litBase(pos, pos > 0 ? out[pos - 1]! : 0);
      // After a match, rep0 < pos holds, so the match byte exists.
      out[pos] = state < LIT_STATES ? rc.decodeLiteral(lit, base, slow) : rc.decodeMatchedLiteral(lit, base, out[pos - rep0 - 1]!, slow);
      pos++;
      state = stateAfterLiteral(state);
      continue;
    }
    let len: number;
    if (rc.decodeBit(m.isRep, state) === 0) {
      len = decodeLen(rc, m.matchLen, posState);
      const dist = decodeDistance(rc, m, len);
      rep3 = rep2; rep2 = rep1; rep1 = rep0; rep0 = dist;
      state = stateAfterMatch(state);
    } else {
      if (rc.decodeBit(m.isRepG0, state) === 0) {
        if (rc.decodeBit(m.isRep0Long, (state << 4) | posState) === 0) {
          if (rep0 >= pos) throw new ZipmlError('E_CORRUPT', `lz: short rep at distance ${rep0 + 1} before output byte ${pos}`);
          out[pos] = out[pos - rep0 - 1]!;
          pos++;
          state = stateAfterShortRep(state);
          continue;
        }
      } else {
        let d: number;
        if (rc.decodeBit(m.isRepG1, state) === 0) d = rep1;
        else {
          if (rc.decodeBit(m.isRepG2, state) === 0) d = rep2;
          else { d = rep3; rep3 = rep2; }
          rep2 = rep1;
        }
        rep1 = rep0; rep0 = d;
      }
      len = decodeLen(rc, m.repLen, posState);
      state = stateAfterRep(state);
    }
    if (rep0 >= pos) throw new ZipmlError('E_CORRUPT', `lz: match distance ${rep0 + 1} reaches before the start of the output at byte ${pos}`);
    if (len > outputSize - pos) throw new ZipmlError('E_CORRUPT', `lz: match of ${len} bytes at output byte ${pos} runs past the declared size ${outputSize}`);
    const src = pos - rep0 - 1;
    if (rep0 + 1 >= len) out.copyWithin(pos, src, src + len);
    else for (let i = 0; i < len; i++) out[pos + i] = out[src + i]!;
    pos += len;
  }
  rc.checkEnd();
  return out;
}


/** The same decoding in WebAssembly; failures map to the reference's errors. */
function decodeKernel(k: WasmKernel<LzdecExports>, payload: Uint8Array, outputSize: number, props: LzProps, twoRate: boolean): Uint8Array {
  const probsBytes = k.exports.probsBytes(props.lc + props.lp, twoRate ? 1 : 0);
  const streamLen = payload.length - LZ_HEADER_BYTES;
  const base = k.reserve(probsBytes + streamLen + outputSize + 32);
  const src = base + probsBytes, out = (src + streamLen + 15) & ~15;
  k.u8.set(payload.subarray(LZ_HEADER_BYTES), src);
  const status = k.exports.decode(src, streamLen, out, outputSize, props.lc, props.lp, props.pb, base, twoRate ? 1 : 0);
  if (status === 0) return k.u8.slice(out, out + outputSize);
  const at = k.exports.errorOut() >>> 0, value = k.exports.errorValue() >>> 0; // u32 results arrive as i32
  switch (status) {
    case 1: {
      const offset = k.exports.errorIn() - src + LZ_HEADER_BYTES;
      throw new ZipmlError('E_TRUNCATED', 'lz: range decoder read past the end of the payload', { offset });
    }
    case 2: throw new ZipmlError('E_CORRUPT', `lz: short rep at distance ${value + 1} before output byte ${at}`);
    case 3: throw new ZipmlError('E_CORRUPT', `lz: match distance ${value + 1} reaches before the start of the output at byte ${at}`);
    case 4: throw new ZipmlError('E_CORRUPT', `lz: match of ${value} bytes at output byte ${at} runs past the declared size ${outputSize}`);
    case 5: {
      const offset = k.exports.errorIn() + LZ_HEADER_BYTES;
      throw new ZipmlError('E_CORRUPT', `lz: ${value} unused bytes after the range-coded stream`, { offset });
    }
    default: throw new ZipmlError('E_CORRUPT', 'lz: range coder did not end at zero (corrupt payload)', { offset: payload.length });
  }
}
