// Whole-chunk decoder of the tensor packer: one call checks a chunk payload's XXH32, parses its
// stream records, decodes every stream (raw, run, Huffman, rANS) and ungroups the bytes straight
// into the output, all in this module's memory. Before, each coder was a module of its own and a
// chunk cost a copy into and out of each, plus JS glue per stream.
//
// The spec and the reference are TypeScript: the chunk layout is src/tensors/pack/chunk.ts
// (decodeChunk's reference path), the coders src/core/entropy/{huffman,rans}.ts, the grouping
// src/tensors/pack/grouping.ts. This kernel accepts exactly the payloads those accept and decodes
// them to the same bytes (tests hold it to that); on anything it rejects it returns a status and
// the caller reruns the reference path for the detailed error. LZ streams are left to that path.
// Nothing here traps on bad input: every read stays inside the payload plus its 32 bytes of
// padding, every write inside the scratch and output areas the caller reserved.

import { decode as huffmanDecode } from './huffman';
import { buildSlots, buildSlotsPacked, decode as ransDecode, decodePacked as ransDecodePacked } from './rans';
import { ungroup32From, ungroup16From, ungroupIntStream } from './bytegroup';

export function heapBase(): usize {
  return __heap_base;
}

// Status codes shared with src/tensors/pack/chunk.ts.
const OK: i32 = 0;
const REJECT: i32 = 1; // the reference path says why
const CHECKSUM: i32 = 2;
const HAS_LZ: i32 = 3;

// Schemes (chunk.ts, SCHEME_CODES): f32, bf16, f16, b1, b2, b4, b8.
const F32: i32 = 0;
const B1: i32 = 3;

const RANS_MAX_SCALE_BITS: u32 = 15;
const RANS_L: u32 = 1 << 16;
const RANS_FREQS = memory.data(1024, 16);
// The slot tables (too big for static data) live in the caller's work area: TABLES_BYTES.
const SLOTS_BYTES: usize = (4 << RANS_MAX_SCALE_BITS) + 64;
const TABLES_BYTES: usize = SLOTS_BYTES + (1 << RANS_MAX_SCALE_BITS) + 64;
let slots: usize = 0;
const RANS_STATES = memory.data(64, 16);
const RANS_DIAG = memory.data(16, 16);
const HUFFMAN_MAX_CODE_LENGTH: u32 = 12;
// Per stream: type, payload offset, length, decoded pointer.
const STREAM_TYPE = memory.data(8 * 4, 16);
const STREAM_OFF = memory.data(8 * 4, 16);
const STREAM_LEN = memory.data(8 * 4, 16);
const STREAM_PTR = memory.data(8 * 4, 16);

// ---------------------------------------------------------------------------------------------
// XXH32 (the whole hash: payload checksums and the rANS end-state seeds).

const P1: u32 = 2654435761;
const P2: u32 = 2246822519;
const P3: u32 = 3266489917;
const P4: u32 = 668265263;
const P5: u32 = 374761393;

@inline
function round(acc: u32, input: u32): u32 {
  return rotl<u32>(acc + input * P2, 13) * P1;
}

export function xxh32(src: usize, n: usize, seed: u32): u32 {
  let p = src;
  const end = src + n;
  let h: u32;
  if (n >= 16) {
    let v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    const limit = end - 16;
    while (p <= limit) {
      v1 = round(v1, load<u32>(p, 0));
      v2 = round(v2, load<u32>(p, 4));
      v3 = round(v3, load<u32>(p, 8));
      v4 = round(v4, load<u32>(p, 12));
      p += 16;
    }
    h = rotl<u32>(v1, 1) + rotl<u32>(v2, 7) + rotl<u32>(v3, 12) + rotl<u32>(v4, 18);
  } else {
    h = seed + P5;
  }
  h += <u32>n;
  while (p + 4 <= end) {
    h = rotl<u32>(h + load<u32>(p) * P3, 17) * P4;
    p += 4;
  }
  while (p < end) {
    h = rotl<u32>(h + <u32>load<u8>(p) * P5, 11) * P1;
    p++;
  }
  h ^= h >> 15;
  h *= P2;
  h ^= h >> 13;
  h *= P3;
  h ^= h >> 16;
  return h;
}

// ---------------------------------------------------------------------------------------------
// rANS (docs/rans.md): the table parser and the end-state check of src/core/entropy/rans.ts.

// LSB-first bit reader over [0, limitBits) of the bytes at rbase; reads beyond fail.
let rbase: usize = 0;
let rpos: usize = 0;
let rlimit: usize = 0;
let rbad = false;

@inline
function window(): u64 {
  return load<u64>(rbase + (rpos >> 3)) >> <u64>(rpos & 7);
}

function readBits(n: u32): u32 {
  const v = <u32>(window() & ((<u64>1 << n) - 1));
  rpos += n;
  if (rpos > rlimit) rbad = true;
  return v;
}

// Exp-Golomb of order k; prefixes of more than 16 zeros cannot come from a valid table.
function readExpGolomb(k: u32): u64 {
  const w = window();
  const z = <u32>ctz<u64>(w);
  if (z > 16) {
    rbad = true;
    return 0;
  }
  rpos += z + 1;
  const m = z + k; // <= 31
  const bits = <u64>(window() & ((<u64>1 << m) - 1));
  rpos += m;
  if (rpos > rlimit) rbad = true;
  return bits + (<u64>1 << m) - (<u64>1 << k);
}

/**
 * Decodes the rANS payload [src, src + len) into n bytes at dst (n >= 1). The payload must be
 * followed by 8 readable bytes. Returns OK or REJECT.
 */
function ransBlock(src: usize, len: usize, dst: usize, n: usize): i32 {
  if (len < 1 || n > (1 << 20)) return REJECT;
  const head = <u32>load<u8>(src);
  const scaleBits = (head & 7) + 10;
  if (scaleBits > RANS_MAX_SCALE_BITS) return REJECT;
  const k = (head >> 3) & 15;
  const lanes: u32 = (head & 0x80) != 0 ? 4 : 16;
  const M: u64 = <u64>1 << scaleBits;
  rbase = src;
  rpos = 8;
  rlimit = len << 3;
  rbad = false;
  memory.fill(RANS_FREQS, 0, 1024);
  // Presence runs: mark present symbols with frequency 1 for now.
  let s: u32 = 0;
  let first = true;
  while (true) {
    const gap = readExpGolomb(0) + (first ? 0 : 1);
    first = false;
    const run = readExpGolomb(0) + 1;
    if (rbad || <u64>s + gap + run > 256) return REJECT;
    const from = s + <u32>gap, to = from + <u32>run;
    for (let t = from; t < to; t++) store<u32>(RANS_FREQS + (<usize>t << 2), 1);
    s = to;
    if (s == 256) break;
    const more = readBits(1);
    if (rbad) return REJECT;
    if (more == 0) break;
  }
  let sum: u64 = 0;
  let distinct: u32 = 0;
  for (let t: u32 = 0; t < 256; t++) {
    const at = RANS_FREQS + (<usize>t << 2);
    if (load<u32>(at) == 0) continue;
    const f = readExpGolomb(k) + 1;
    if (rbad) return REJECT;
    sum += f;
    if (sum > M) return REJECT;
    store<u32>(at, <u32>f);
    distinct++;
  }
  if (sum != M || distinct < 2) return REJECT;
  const pad = <u32>((8 - <u32>(rpos & 7)) & 7);
  if (readBits(pad) != 0 || rbad) return REJECT;
  const tableEnd = rpos >> 3;
  const streamStart = tableEnd + (<usize>lanes << 2);
  if (len < streamStart) return REJECT;
  for (let j: usize = 0; j < lanes; j++) {
    const x = load<u32>(src + tableEnd + (j << 2));
    if (x < RANS_L) return REJECT;
    store<u32>(RANS_STATES + (j << 2), x);
  }
  const streamLen = len - streamStart;
  if ((streamLen & 1) != 0 || streamLen > 2 * n) return REJECT;
  let st: i32;
  if (scaleBits <= 12) {
    buildSlotsPacked(RANS_FREQS, slots);
    st = ransDecodePacked(slots, RANS_STATES, lanes, src + streamStart, <u32>streamLen, dst, <u32>n, scaleBits, RANS_DIAG);
  } else {
    buildSlots(RANS_FREQS, slots, slots + SLOTS_BYTES);
    st = ransDecode(slots, slots + SLOTS_BYTES, RANS_STATES, lanes, src + streamStart, <u32>streamLen, dst, <u32>n, scaleBits, RANS_DIAG);
  }
  if (st != 0) return REJECT;
  // The end states must be the start states the encoder derived from the table and the data.
  const h = xxh32(dst, n, xxh32(src, tableEnd, <u32>n));
  for (let j: u32 = 0; j < lanes; j++) {
    let z = h + (j + 1) * 0x9e3779b9;
    z = (z ^ (z >> 16)) * 0x85ebca6b;
    z = (z ^ (z >> 13)) * 0xc2b2ae35;
    z ^= z >> 16;
    if (load<u32>(RANS_STATES + (<usize>j << 2)) != RANS_L + (z >> 20)) return REJECT;
  }
  return OK;
}

// ---------------------------------------------------------------------------------------------
// The chunk (docs/tensors.md, "Chunk").

@inline
function elementBytes(scheme: i32): usize {
  // f32, bf16, f16, b1, b2, b4, b8
  return scheme == 0 ? 4 : scheme <= 2 ? 2 : scheme == 3 ? 1 : scheme == 4 ? 2 : scheme == 5 ? 4 : 8;
}

function huffmanMaxPayload(n: usize): usize {
  return 1 + 128 + 9 + 4 * ((((n + 3) >> 2) * HUFFMAN_MAX_CODE_LENGTH + 7) >> 3);
}

/**
 * Decodes the chunk payload [src, src + len) of a lane of `scheme` into n bytes at out. The 32
 * bytes after the payload must be readable; scratch holds n bytes. With checkXxh, the payload's
 * XXH32 must be `xxh` first. `tables`: TABLES_BYTES for the rANS slot tables. Returns OK, REJECT,
 * CHECKSUM or HAS_LZ.
 */
export function decodeChunk(
  src: usize, len: usize, n: usize, scheme: i32, xxh: u32, checkXxh: bool, scratch: usize, out: usize, tables: usize,
): i32 {
  slots = tables;
  if (checkXxh && xxh32(src, len, 0) != xxh) return CHECKSUM;
  if (len < 1) return REJECT;
  const layout = <i32>load<u8>(src);
  if (layout > 4) return REJECT;
  // Layouts: the lane's scheme, plain bytes, as f32, as f16, as b2 (chunk.ts, ChunkLayout).
  const eff = layout == 0 ? scheme : layout == 1 ? B1 : layout == 2 ? F32 : layout == 3 ? 2 : 4;
  const e = elementBytes(eff);
  if (n % e != 0) return REJECT;
  const m = n / e;
  let pos: usize = 1;
  for (let k: usize = 0; k < e; k++) {
    if (pos >= len) return REJECT;
    const type = <u32>load<u8>(src + pos);
    if (type > 4) return REJECT;
    pos++;
    // Varint: at most 8 bytes, no overlong form; any value past the payload is rejected below.
    let value: u64 = 0;
    let shift: u64 = 0;
    let i: u32 = 0;
    while (true) {
      if (i >= 8 || pos >= len) return REJECT;
      const b = <u64>load<u8>(src + pos);
      pos++;
      value |= (b & 127) << shift;
      if ((b & 128) == 0) {
        if (b == 0 && i > 0) return REJECT;
        break;
      }
      shift += 7;
      i++;
    }
    if (value > 0xffffffff) return REJECT;
    store<u32>(STREAM_TYPE + (k << 2), type);
    store<u32>(STREAM_LEN + (k << 2), <u32>value);
  }
  for (let k: usize = 0; k < e; k++) {
    const type = load<u32>(STREAM_TYPE + (k << 2));
    const length = <usize>load<u32>(STREAM_LEN + (k << 2));
    if (length > len - pos) return REJECT;
    if (type == 0 && length != m) return REJECT;
    if (type == 1 && length != 1) return REJECT;
    store<u32>(STREAM_OFF + (k << 2), <u32>pos);
    pos += length;
  }
  if (pos != len) return REJECT;
  for (let k: usize = 0; k < e; k++) {
    if (load<u32>(STREAM_TYPE + (k << 2)) == 4) return HAS_LZ;
  }
  // Decode: a single stream straight into out, several into scratch (raw ones stay in place).
  for (let k: usize = 0; k < e; k++) {
    const type = load<u32>(STREAM_TYPE + (k << 2));
    const p = src + <usize>load<u32>(STREAM_OFF + (k << 2));
    const length = <usize>load<u32>(STREAM_LEN + (k << 2));
    const dst = e == 1 ? out : scratch + k * m;
    let at = dst;
    if (type == 0) {
      if (e == 1) memory.copy(out, p, m);
      else at = p;
    } else if (type == 1) {
      memory.fill(dst, load<u8>(p), m);
    } else if (type == 2) {
      if (m < 1 || m > (1 << 20) || length > huffmanMaxPayload(m)) return REJECT;
      if (huffmanDecode(p, length, dst, m) != 0) return REJECT;
    } else {
      if (m < 1) return REJECT;
      if (ransBlock(p, length, dst, m) != OK) return REJECT;
    }
    store<u32>(STREAM_PTR + (k << 2), <u32>at);
  }
  if (e == 1) return OK;
  const s0 = <usize>load<u32>(STREAM_PTR), s1 = <usize>load<u32>(STREAM_PTR, 4);
  if (eff == F32) {
    ungroup32From(s0, s1, <usize>load<u32>(STREAM_PTR, 8), <usize>load<u32>(STREAM_PTR, 12), m, out);
  } else if (eff <= 2) {
    ungroup16From(s0, s1, m, out);
  } else {
    for (let k: usize = 0; k < e; k++) ungroupIntStream(<usize>load<u32>(STREAM_PTR + (k << 2)), m, e, k, out);
  }
  return OK;
}
