/**
 * LZ decoder: replays literals, matches and rep matches from the range-coded stream into an output
 * of the declared size. Everything is bounded: the output is allocated once at `outputSize`, every
 * match distance is checked against the bytes produced so far and every length against the bytes
 * still to produce, and the range decoder refuses to read past the payload.
 */
import { ZipmlError, argCheck } from '../errors.js';
import { RangeDecoder } from './range-coder.js';
import {
  LzModel, parsePropsByte, stateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep,
  LIT_STATES, LEN_STATES, SLOT_BITS, MODEL_END_SLOT, ALIGN_BITS, LEN_CHOICE, LEN_CHOICE2,
  LEN_LOW_BASE, LEN_MID_BASE, LEN_HIGH_BASE, LEN_LOW_BITS, LEN_MID_BITS, LEN_HIGH_BITS, LEN_LOW, LEN_MID, MATCH_MIN,
} from './model.js';
import { LZ_HEADER_BYTES, LZ_FLAGS_NONE, LZ_FLAGS_STORED } from './params.js';

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

/** Decodes a raw LZ payload (as made by lzEncode) to exactly `outputSize` bytes. */
export function lzDecode(payload: Uint8Array, outputSize: number, opts: LzDecodeOptions = {}): Uint8Array {
  argCheck(Number.isSafeInteger(outputSize) && outputSize >= 0, `lzDecode: outputSize must be a non-negative integer, got ${outputSize}`);
  const max = opts.maxOutputBytes ?? LZ_DEFAULT_MAX_OUTPUT;
  if (outputSize > max) throw new ZipmlError('E_LIMIT', `lz: declared output of ${outputSize} bytes exceeds the limit of ${max}`);
  if (payload.length < LZ_HEADER_BYTES) throw new ZipmlError('E_TRUNCATED', `lz: payload of ${payload.length} bytes is shorter than its ${LZ_HEADER_BYTES}-byte header`);
  if (payload[1] === LZ_FLAGS_STORED) {
    if (payload[0] !== 0) throw new ZipmlError('E_FORMAT', `lz: stored payload with properties byte ${payload[0]}`, { offset: 0 });
    if (payload.length - LZ_HEADER_BYTES !== outputSize) throw new ZipmlError(payload.length - LZ_HEADER_BYTES < outputSize ? 'E_TRUNCATED' : 'E_CORRUPT', `lz: stored payload holds ${payload.length - LZ_HEADER_BYTES} bytes, expected ${outputSize}`);
    return payload.slice(LZ_HEADER_BYTES);
  }
  if (payload[1] !== LZ_FLAGS_NONE) throw new ZipmlError('E_FORMAT', `lz: unknown flags ${payload[1]}`, { offset: 1 });
  const props = parsePropsByte(payload[0]!, 0);
  const rc = new RangeDecoder(payload, LZ_HEADER_BYTES);
  const m = new LzModel(props);
  const out = new Uint8Array(outputSize);
  const lit = m.literal, isMatch = m.isMatch, posMask = m.posMask;
  let state = 0, rep0 = 0, rep1 = 0, rep2 = 0, rep3 = 0, pos = 0;
  while (pos < outputSize) {
    const posState = pos & posMask;
    if (rc.decodeBit(isMatch, (state << 4) | posState) === 0) {
      const base = m.litBase(pos, pos > 0 ? out[pos - 1]! : 0);
      let sym = 1;
      if (state < LIT_STATES) {
        while (sym < 0x100) sym = (sym << 1) | rc.decodeBit(lit, base + sym);
      } else {
        const mb = out[pos - rep0 - 1]!; // rep0 < pos holds after any match
        let matched = true;
        for (let i = 7; i >= 0; i--) {
          let b: number;
          if (matched) {
            const mbit = (mb >>> i) & 1;
            b = rc.decodeBit(lit, base + 0x100 + (mbit << 8) + sym);
            matched = b === mbit;
          } else b = rc.decodeBit(lit, base + sym);
          sym = (sym << 1) | b;
        }
      }
      out[pos++] = sym & 0xff;
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

