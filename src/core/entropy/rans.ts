/**
 * Static rANS over bytes: one normalized frequency table per block, 16 interleaved 32-bit states
 * (4 in blocks under 4 KiB) with 16-bit renormalization, all sharing one stream of 16-bit words.
 * The byte layout is specified in docs/rans.md; this file and that page change together.
 *
 * The table, its normalization and all validation live here in TypeScript and are shared by both
 * paths; only the per-symbol loops differ: the WebAssembly kernel (src/kernels/assembly/rans.ts)
 * or the plain TS reference below, which must produce byte-identical payloads and identical
 * errors.
 */
import { BitWriter } from '../bits.js';
import { xxh32 } from '../checksum.js';
import { argCheck, ZipmlError } from '../errors.js';
import { histogram } from './histogram.js';
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as ransWasm from '../../kernels/generated/rans.js';

/** Largest block ransEncodeBlock accepts and ransDecodeBlock produces. */
export const RANS_MAX_BLOCK = 1 << 20;
/** Interleaved states per block (symbol i is coded by state i % lanes). */
export const RANS_LANES = 16;
/** Blocks shorter than this use RANS_NARROW_LANES states: 48 bytes less, decoded more slowly. */
export const RANS_NARROW_BELOW = 4096;
export const RANS_NARROW_LANES = 4;
export const RANS_MIN_SCALE_BITS = 10;
export const RANS_MAX_SCALE_BITS = 15;
/**
 * 12 keeps the decoder's slot table (5 x 2^scaleBits bytes = 20 KiB) inside a 32 KiB L1 data
 * cache; on our corpus 13 is only 0.03% smaller and 14-15 are 12-17% slower and no smaller
 * (docs/rans.md, "Choosing scaleBits").
 */
export const RANS_DEFAULT_SCALE_BITS = 12;

export interface RansBlockOptions {
  /**
   * Probability precision: frequencies sum to 2^scaleBits. Allowed 10..15, default 12. Higher
   * codes skewed data (a dominant byte, many rare ones) closer to its entropy, but the decoder's
   * slot table outgrows the L1 cache.
   */
  scaleBits?: number;
}

const L = 1 << 16; // states live in [L, 2^32)
// Exp-Golomb prefixes longer than this cannot come from a valid table (values stay below 2^16).
const MAX_PREFIX_ZEROS = 16;

// Kernel status codes (mirrored in src/kernels/assembly/rans.ts).
const STATUS_OK = 0;
const STATUS_STREAM_EXHAUSTED = 1;
const STATUS_STREAM_LEFTOVER = 2;

// ---------------------------------------------------------------------------------------------
// Frequency normalization

/**
 * Scales `hist` to integer frequencies summing to 2^scaleBits, every present symbol at least 1,
 * minimizing the coded size sum(count * log2(2^scaleBits / freq)). The cost is separable and
 * convex in each frequency, so a point where no single "+1 here, -1 there" move helps is the
 * global optimum; we start from proportional rounding (already close) and walk there greedily.
 */
export function normalizeFrequencies(hist: Uint32Array, scaleBits: number): Uint32Array {
  const M = 2 ** scaleBits;
  const freqs = new Uint32Array(256);
  const present: number[] = [];
  let total = 0;
  for (let s = 0; s < 256; s++) {
    if (hist[s]! > 0) {
      present.push(s);
      total += hist[s]!;
    }
  }
  argCheck(present.length >= 1 && present.length <= M, 'normalizeFrequencies needs 1..2^scaleBits symbols');
  let sum = 0;
  for (const s of present) {
    freqs[s] = Math.max(1, Math.round((hist[s]! * M) / total));
    sum += freqs[s]!;
  }
  // gain[s]: bits saved by freq+1; loss[s]: bits added by freq-1 (Infinity at the floor of 1).
  const gain = new Float64Array(256);
  const loss = new Float64Array(256);
  const update = (s: number): void => {
    const c = hist[s]!, f = freqs[s]!;
    gain[s] = c * Math.log2((f + 1) / f);
    loss[s] = f > 1 ? c * Math.log2(f / (f - 1)) : Infinity;
  };
  const best = (arr: Float64Array, wantMax: boolean): number => {
    let bs = present[0]!;
    for (const s of present) if (wantMax ? arr[s]! > arr[bs]! : arr[s]! < arr[bs]!) bs = s;
    return bs;
  };
  for (const s of present) update(s);
  for (; sum > M; sum--) {
    const s = best(loss, false);
    freqs[s]!--;
    update(s);
  }
  for (; sum < M; sum++) {
    const s = best(gain, true);
    freqs[s]!++;
    update(s);
  }
  // The tolerance keeps float noise from swapping back and forth; the cap is only a backstop.
  for (let iter = 0; iter < 1 << 16; iter++) {
    const up = best(gain, true), down = best(loss, false);
    if (up === down || !(gain[up]! > loss[down]! + 1e-9)) break;
    freqs[up]!++;
    freqs[down]!--;
    update(up);
    update(down);
  }
  return freqs;
}

// ---------------------------------------------------------------------------------------------
// Table description (docs/rans.md, "Table")

function expGolombBits(u: number, k: number): number {
  return 2 * (32 - Math.clz32(u + (1 << k))) - 1 - k;
}

function writeExpGolomb(w: BitWriter, u: number, k: number): void {
  const v = u + (1 << k);
  const len = 32 - Math.clz32(v);
  w.write(0, len - 1 - k);
  w.write(1, 1);
  w.write(v - (1 << (len - 1)), len - 1);
}

/**
 * LSB-first reader of the table's bits. BitReader (bits.ts) would do, but reading exp-Golomb
 * prefixes bit by bit through it made parsing the table a third of the time of decoding a small
 * block; here a prefix is one count-trailing-zeros.
 */
class TableReader {
  private pos: number;
  // The next `nbits` bits, LSB first, bits above them zero. At most 30 bits are buffered so the
  // field stays a V8 small integer; at 32 bits every update allocated a heap number.
  private acc = 0;
  private nbits = 0;

  constructor(private readonly data: Uint8Array, start: number) {
    this.pos = start;
  }

  /** Bits consumed, counted from the start of `data`. */
  get bitPosition(): number {
    return this.pos * 8 - this.nbits;
  }

  private need(n: number): void {
    while (this.nbits <= 22 && this.pos < this.data.length) {
      this.acc |= this.data[this.pos++]! << this.nbits;
      this.nbits += 8;
    }
    if (this.nbits < n) {
      throw new ZipmlError('E_TRUNCATED', 'rANS payload ends inside the table', { offset: this.data.length });
    }
  }

  /** Reads n <= 16 bits. */
  bits(n: number): number {
    if (this.nbits < n) this.need(n);
    const v = this.acc & ((1 << n) - 1);
    this.acc >>>= n;
    this.nbits -= n;
    return v;
  }

  /** Reads an exp-Golomb code of order k (k <= 15) and returns its value. */
  expGolomb(k: number): number {
    if (this.nbits <= MAX_PREFIX_ZEROS) this.need(1);
    // After a refill at least 23 bits are visible unless the data ended, so a zero window
    // means either a prefix that is too long or a truncated table.
    if (this.acc === 0 && this.nbits <= MAX_PREFIX_ZEROS) this.need(this.nbits + 1); // throws
    const z = 31 - Math.clz32(this.acc & -this.acc);
    if (this.acc === 0 || z > MAX_PREFIX_ZEROS) {
      throw new ZipmlError('E_CORRUPT', 'rANS table: an exp-Golomb prefix is too long', {
        offset: this.bitPosition >>> 3,
      });
    }
    this.acc >>>= z + 1;
    this.nbits -= z + 1;
    const m = z + k; // <= 31
    const v = m <= 16 ? this.bits(m) : this.bits(16) + this.bits(m - 16) * 65536;
    return v + ((1 << m) >>> 0) - (1 << k);
  }
}

/** Header byte + bit-packed table, padded with zero bits to a whole byte. */
function writeTable(freqs: Uint32Array, scaleBits: number, lanes: number): Uint8Array {
  const present: number[] = [];
  for (let s = 0; s < 256; s++) if (freqs[s]! > 0) present.push(s);
  // One exp-Golomb order for the whole table, the cheapest for these frequencies. (Adapting it
  // per symbol from the previous frequency measured larger on our corpus.)
  let k = 0, kBits = Infinity;
  for (let kk = 0; kk < 16; kk++) {
    let bits = 0;
    for (const s of present) bits += expGolombBits(freqs[s]! - 1, kk);
    if (bits < kBits) {
      kBits = bits;
      k = kk;
    }
  }
  const w = new BitWriter(64);
  // Presence as alternating runs: absent (the first may be empty), present, absent, ...; after
  // each present run that does not reach 255, one bit says whether another run follows.
  const last = present[present.length - 1]!;
  for (let i = 0, prevEnd = -1; i < present.length; ) {
    const runStart = present[i]!;
    let runEnd = runStart + 1;
    while (++i < present.length && present[i] === runEnd) runEnd++;
    writeExpGolomb(w, prevEnd < 0 ? runStart : runStart - prevEnd - 1, 0);
    writeExpGolomb(w, runEnd - runStart - 1, 0);
    if (runEnd < 256) w.write(runEnd - 1 < last ? 1 : 0, 1);
    prevEnd = runEnd;
  }
  for (const s of present) writeExpGolomb(w, freqs[s]! - 1, k);
  const bits = w.finish();
  const out = new Uint8Array(1 + bits.length);
  out[0] = (scaleBits - RANS_MIN_SCALE_BITS) | (k << 3) | (lanes === RANS_NARROW_LANES ? 0x80 : 0);
  out.set(bits, 1);
  return out;
}

interface ParsedTable {
  scaleBits: number;
  lanes: number;
  freqs: Uint32Array;
  /** Payload offset just past the table (where the states begin). */
  end: number;
}

function readTable(payload: Uint8Array): ParsedTable {
  if (payload.length < 1) throw new ZipmlError('E_TRUNCATED', 'rANS payload is empty');
  const head = payload[0]!;
  const scaleBits = (head & 7) + RANS_MIN_SCALE_BITS;
  if (scaleBits > RANS_MAX_SCALE_BITS) {
    throw new ZipmlError('E_CORRUPT', `rANS header declares scaleBits ${scaleBits}, above ${RANS_MAX_SCALE_BITS}`, {
      offset: 0,
    });
  }
  const k = (head >>> 3) & 15;
  const lanes = head & 0x80 ? RANS_NARROW_LANES : RANS_LANES;
  const M = 2 ** scaleBits;
  const r = new TableReader(payload, 1);
  const present = new Uint8Array(256);
  let s = 0;
  let first = true;
  for (;;) {
    const gap = r.expGolomb(0) + (first ? 0 : 1);
    first = false;
    const run = r.expGolomb(0) + 1;
    if (s + gap + run > 256) {
      throw new ZipmlError('E_CORRUPT', `rANS table: symbol runs extend past byte value 255`, {
        offset: r.bitPosition >>> 3,
      });
    }
    present.fill(1, s + gap, s + gap + run);
    s += gap + run;
    if (s === 256 || r.bits(1) === 0) break;
  }
  const freqs = new Uint32Array(256);
  let sum = 0, distinct = 0;
  for (let t = 0; t < 256; t++) {
    if (!present[t]) continue;
    const f = r.expGolomb(k) + 1;
    sum += f;
    if (sum > M) {
      throw new ZipmlError('E_CORRUPT', `rANS table: frequencies exceed 2^${scaleBits} at byte ${t}`, {
        offset: r.bitPosition >>> 3,
      });
    }
    freqs[t] = f;
    distinct++;
  }
  if (sum !== M) {
    throw new ZipmlError('E_CORRUPT', `rANS table: frequencies sum to ${sum}, not 2^${scaleBits} = ${M}`, {
      offset: r.bitPosition >>> 3,
    });
  }
  if (distinct < 2) {
    // The encoder leaves single-symbol blocks to RLE, so such a table is damage, not data.
    throw new ZipmlError('E_CORRUPT', 'rANS table has a single symbol', { offset: 1 });
  }
  const pad = (8 - (r.bitPosition & 7)) & 7;
  if (r.bits(pad) !== 0) {
    throw new ZipmlError('E_CORRUPT', 'rANS table: padding bits are not zero', { offset: (r.bitPosition - 1) >>> 3 });
  }
  return { scaleBits, lanes, freqs, end: r.bitPosition >>> 3 };
}

/**
 * The states the encoder starts from and the decoder must end at: L plus 12 bits derived from
 * XXH32(data, seed = XXH32(table bytes, seed = n)). rANS alone misses some damage: a mutated
 * stream is often the exact encoding of another message (e.g. a flipped low bit that moves a
 * slot into a neighbouring symbol of equal frequency leaves every later state unchanged), and a
 * table whose symbol identities changed but whose frequencies did not decodes "cleanly" too.
 * Tying the end states to the table, the length and the decoded bytes catches all of that for
 * ~0.1 bit per state instead of a stored checksum.
 */
function initialStates(table: Uint8Array, data: Uint8Array, lanes: number): Uint32Array {
  const h = xxh32(data, xxh32(table, data.length));
  const out = new Uint32Array(lanes);
  for (let j = 0; j < lanes; j++) {
    let z = (h + Math.imul(j + 1, 0x9e3779b9)) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    out[j] = L + (z >>> 20);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The per-symbol loops: reference and WebAssembly behind one interface.

interface DecodeStatus {
  code: number;
  /** Symbol index where the stream ran out, or n. */
  at: number;
  /** Stream byte offset reached. */
  streamPos: number;
}

interface StreamCoder {
  /** The histogram of src. The wasm coder leaves src in kernel memory for `encode`. */
  histogram(src: Uint8Array): Uint32Array;
  /**
   * Codes src starting from `states` (updated in place to the final states); returns the
   * stream, or null if a byte of src has no frequency. `info` comes from encoderInfo.
   * `afterHistogram` says that the previous call on this coder was histogram(src), so src need
   * not be copied again.
   */
  encode(
    info: Uint32Array, scaleBits: number, states: Uint32Array, src: Uint8Array, afterHistogram: boolean,
  ): Uint8Array | null;
  /** Decodes into dst from `states`, leaving the final states there; the caller checks them. */
  decode(table: ParsedTable, states: Uint32Array, stream: Uint8Array, dst: Uint8Array): DecodeStatus;
}

const referenceCoder: StreamCoder = {
  histogram,

  encode(info, _scaleBits, states, src) {
    const out = new Uint8Array(2 * src.length);
    const laneMask = states.length - 1;
    let p = out.length;
    for (let i = src.length - 1; i >= 0; i--) {
      const e = src[i]! << 3;
      const xmax = info[e]!;
      if (xmax === 0) return null;
      let x = states[i & laneMask]!;
      if (x >= xmax) {
        out[p - 2] = x & 255;
        out[p - 1] = (x >>> 8) & 255;
        p -= 2;
        x >>>= 16;
      }
      // Exact: x < 2^32 and freq < 2^15, so the floor of the double quotient is the integer one.
      const q = Math.floor(x / info[e + 1]!);
      states[i & laneMask] = x + q * info[e + 2]! + info[e + 3]!;
    }
    return out.subarray(p);
  },

  decode({ freqs, scaleBits }, x, stream, dst) {
    const M = 2 ** scaleBits;
    const slotFreq = new Uint16Array(M), slotBias = new Uint16Array(M), slotSym = new Uint8Array(M);
    for (let s = 0, start = 0; s < 256; s++) {
      for (let k = 0; k < freqs[s]!; k++) {
        slotFreq[start + k] = freqs[s]!;
        slotBias[start + k] = k;
        slotSym[start + k] = s;
      }
      start += freqs[s]!;
    }
    const n = dst.length, end = stream.length, mask = M - 1, laneMask = x.length - 1;
    let p = 0;
    for (let i = 0; i < n; i++) {
      const j = i & laneMask;
      const k = x[j]! & mask;
      dst[i] = slotSym[k]!;
      let v = slotFreq[k]! * (x[j]! >>> scaleBits) + slotBias[k]!;
      if (v < L) {
        if (end - p < 2) return { code: STATUS_STREAM_EXHAUSTED, at: i, streamPos: p };
        v = v * 65536 + (stream[p]! | (stream[p + 1]! << 8));
        p += 2;
      }
      x[j] = v;
    }
    return { code: p === end ? STATUS_OK : STATUS_STREAM_LEFTOVER, at: n, streamPos: p };
  },
};

interface RansExports {
  histogram(src: number, n: number, out: number): void;
  encode(info: number, states: number, lanes: number, src: number, n: number, outEnd: number, scaleBits: number): number;
  buildSlots(freqs: number, slots: number, slotSym: number): void;
  buildSlotsPacked(freqs: number, slots: number): void;
  decodePacked(slots: number, states: number, lanes: number, stream: number, streamLen: number, out: number, n: number, scaleBits: number, diag: number): number;
  decode(
    slots: number, slotSym: number, states: number, lanes: number, stream: number,
    streamLen: number, out: number, n: number, scaleBits: number, diag: number,
  ): number;
}

// Kernel memory, relative to heapBase. Tables are sized for the largest scaleBits plus the 64
// bytes the vector fill may overshoot; regions start 64-byte aligned.
const M_DIAG = 0;
const M_STATES = 64;
const M_FREQS = 128; // 256 x u32: the normalized table (decode) or the histogram (encode)
const M_INFO = M_FREQS + 1024;
const M_SLOTS = M_INFO + 8192;
const M_SLOTSYM = M_SLOTS + 4 * (1 << RANS_MAX_SCALE_BITS) + 64;
const M_DATA = M_SLOTSYM + (1 << RANS_MAX_SCALE_BITS) + 64;
const align64 = (v: number): number => (v + 63) & ~63;

function wasmCoder(k: WasmKernel<RansExports>): StreamCoder {
  // src at M_DATA, then room for the stream, written backwards from the end.
  const reserveEncode = (n: number): number => k.reserve(M_DATA + align64(n) + 2 * n + 64);
  return {
    histogram(src) {
      const base = reserveEncode(src.length);
      k.u8.set(src, base + M_DATA);
      k.exports.histogram(base + M_DATA, src.length, base + M_FREQS);
      return new Uint32Array(k.memory.buffer, base + M_FREQS, 256).slice();
    },

    encode(info, scaleBits, states, src, afterHistogram) {
      const n = src.length;
      const base = reserveEncode(n);
      if (!afterHistogram) k.u8.set(src, base + M_DATA);
      const outEnd = base + M_DATA + align64(n) + 2 * n + 64;
      const mem = k.memory.buffer;
      new Uint32Array(mem, base + M_INFO, 2048).set(info);
      new Uint32Array(mem, base + M_STATES, states.length).set(states);
      const len = k.exports.encode(base + M_INFO, base + M_STATES, states.length, base + M_DATA, n, outEnd, scaleBits);
      if (len < 0) return null;
      states.set(new Uint32Array(k.memory.buffer, base + M_STATES, states.length));
      return k.u8.slice(outEnd - len, outEnd);
    },

    decode({ freqs, scaleBits }, states, stream, dst) {
      const n = dst.length;
      const out = M_DATA + align64(stream.length);
      const base = k.reserve(out + n);
      const mem = k.memory.buffer;
      new Uint32Array(mem, base + M_FREQS, 256).set(freqs);
      new Uint32Array(mem, base + M_STATES, states.length).set(states);
      k.u8.set(stream, base + M_DATA);
      let code: number;
      if (scaleBits <= 12) {
        // One packed entry per slot (symbol, freq, bias) fits at these scales: one load per step.
        k.exports.buildSlotsPacked(base + M_FREQS, base + M_SLOTS);
        code = k.exports.decodePacked(base + M_SLOTS, base + M_STATES, states.length, base + M_DATA, stream.length, base + out, n, scaleBits, base + M_DIAG);
      } else {
        k.exports.buildSlots(base + M_FREQS, base + M_SLOTS, base + M_SLOTSYM);
        code = k.exports.decode(
          base + M_SLOTS, base + M_SLOTSYM, base + M_STATES, states.length,
          base + M_DATA, stream.length, base + out, n, scaleBits, base + M_DIAG,
        );
      }
      dst.set(k.u8.subarray(base + out, base + out + n));
      states.set(new Uint32Array(k.memory.buffer, base + M_STATES, states.length));
      const diag = new Uint32Array(k.memory.buffer, base + M_DIAG, 2);
      return { code, at: diag[0]!, streamPos: diag[1]! };
    },
  };
}

let cachedKernel: WasmKernel<RansExports> | null = null;
let cachedCoder: StreamCoder | null = null;
function activeCoder(): StreamCoder {
  const k = wasmKernel<RansExports>('rans', ransWasm.base64);
  if (!k) return referenceCoder;
  if (k !== cachedKernel) {
    cachedKernel = k;
    cachedCoder = wasmCoder(k);
  }
  return cachedCoder!;
}

/**
 * Per-symbol encoder constants, 8 x u32 per byte value (docs/rans.md, "Encoding"): xmax =
 * freq << (32 - scaleBits) (0 = absent), freq, 2^scaleBits - freq, start, and the 64-bit
 * reciprocal ceil(2^(32 + scaleBits) / freq) as two u32 (low, high) that the kernel divides with.
 */
function encoderInfo(freqs: Uint32Array, scaleBits: number): Uint32Array {
  const M = 2 ** scaleBits;
  const xmaxScale = 2 ** (32 - scaleBits);
  const S = 2 ** (32 + scaleBits); // <= 2^47: every quantity below is an exact double
  const info = new Uint32Array(2048);
  for (let s = 0, start = 0; s < 256; s++) {
    const f = freqs[s]!;
    if (f === 0) continue;
    let q = Math.floor(S / f); // the rounded quotient may be one off; fix it
    if (q * f > S) q--;
    else if ((q + 1) * f <= S) q++;
    const rcp = q * f === S ? q : q + 1;
    info.set([f * xmaxScale, f, M - f, start, rcp % 2 ** 32, Math.floor(rcp / 2 ** 32)], 8 * s);
    start += f;
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Blocks

interface TablePlan {
  freqs: Uint32Array;
  table: Uint8Array;
  lanes: number;
  /** Table, states and the ideal stream size of this table: the payload size to a few bytes. */
  estimate: number;
}

// The last plan, so that ransEstimateBytes followed by ransEncodeBlock on the same histogram
// normalizes it once. Keyed by a copy of the histogram, not the array's identity.
let lastPlan: { hist: Uint32Array; n: number; scaleBits: number; plan: TablePlan | null } | undefined;

function tablePlan(h: Uint32Array, n: number, scaleBits: number): TablePlan | null {
  const c = lastPlan;
  if (c && c.n === n && c.scaleBits === scaleBits && c.hist.every((v, i) => v === h[i])) return c.plan;
  let plan: TablePlan | null = null;
  let distinct = 0;
  for (let s = 0; s < 256; s++) if (h[s]! > 0) distinct++;
  if (distinct >= 2) {
    const M = 2 ** scaleBits;
    const lanes = n < RANS_NARROW_BELOW ? RANS_NARROW_LANES : RANS_LANES;
    const freqs = normalizeFrequencies(h, scaleBits);
    const table = writeTable(freqs, scaleBits, lanes);
    let idealBits = 0;
    for (let s = 0; s < 256; s++) if (h[s]! > 0) idealBits += h[s]! * Math.log2(M / freqs[s]!);
    plan = { freqs, table, lanes, estimate: table.length + 4 * lanes + idealBits / 8 };
  }
  lastPlan = { hist: h.slice(), n, scaleBits, plan };
  return plan;
}

/**
 * About the size ransEncodeBlock would give a block with histogram `hist` (n bytes), without
 * coding it (the ideal cost of its normalized table; the real stream is within a few bytes);
 * null where the block has a single distinct byte.
 */
export function ransEstimateBytes(hist: Uint32Array, n: number, opts?: RansBlockOptions): number | null {
  return tablePlan(hist, n, opts?.scaleBits ?? RANS_DEFAULT_SCALE_BITS)?.estimate ?? null;
}

function encodeBlock(
  src: Uint8Array, opts: RansBlockOptions | undefined, hist: Uint32Array | undefined, coder: StreamCoder,
): Uint8Array | null {
  const n = src.length;
  argCheck(n >= 1 && n <= RANS_MAX_BLOCK, `rANS block size ${n} is outside 1..${RANS_MAX_BLOCK}`);
  const scaleBits = opts?.scaleBits ?? RANS_DEFAULT_SCALE_BITS;
  argCheck(
    Number.isInteger(scaleBits) && scaleBits >= RANS_MIN_SCALE_BITS && scaleBits <= RANS_MAX_SCALE_BITS,
    `rANS scaleBits ${scaleBits} is outside ${RANS_MIN_SCALE_BITS}..${RANS_MAX_SCALE_BITS}`,
  );
  let h: Uint32Array;
  if (hist) {
    argCheck(hist.length === 256, `rANS histogram has ${hist.length} entries, not 256`);
    let total = 0;
    for (let s = 0; s < 256; s++) total += hist[s]!;
    argCheck(total === n, `rANS histogram counts ${total} bytes but src has ${n}`);
    h = hist;
  } else {
    h = coder.histogram(src);
  }
  const t = tablePlan(h, n, scaleBits);
  if (!t) return null;
  const { freqs, table, lanes } = t;
  // Skip the coding pass when even the ideal cost of this table cannot beat storing raw.
  if (t.estimate >= n) return null;

  const info = encoderInfo(freqs, scaleBits);
  const states = initialStates(table, src, lanes);
  const stream = coder.encode(info, scaleBits, states, src, hist === undefined);
  if (!stream) {
    let i = 0;
    while (freqs[src[i]!]! > 0) i++;
    throw new ZipmlError('E_ARG', `rANS histogram does not match src: byte ${src[i]} at index ${i} has count 0`);
  }
  const size = table.length + 4 * lanes + stream.length;
  if (size >= n) return null;
  const out = new Uint8Array(size);
  out.set(table, 0);
  const dv = new DataView(out.buffer);
  for (let j = 0; j < lanes; j++) dv.setUint32(table.length + 4 * j, states[j]!, true);
  out.set(stream, table.length + 4 * lanes);
  return out;
}

function decodeBlock(payload: Uint8Array, dst: Uint8Array, coder: StreamCoder): void {
  const n = dst.length;
  if (n < 1) throw new ZipmlError('E_ARG', 'rANS decode needs a non-empty dst');
  if (n > RANS_MAX_BLOCK) {
    throw new ZipmlError('E_LIMIT', `rANS block size ${n} exceeds the limit of ${RANS_MAX_BLOCK}`);
  }
  const table = readTable(payload);
  const { lanes, end: tableEnd } = table;
  const streamStart = tableEnd + 4 * lanes;
  if (payload.length < streamStart) {
    throw new ZipmlError('E_TRUNCATED', `rANS payload ends inside its ${lanes} states`, { offset: payload.length });
  }
  const states = new Uint32Array(lanes);
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  for (let j = 0; j < lanes; j++) {
    states[j] = dv.getUint32(tableEnd + 4 * j, true);
    if (states[j]! < L) {
      throw new ZipmlError('E_CORRUPT', `rANS state ${j} is ${states[j]}, below the lower bound ${L}`, {
        offset: tableEnd + 4 * j,
      });
    }
  }
  const streamLen = payload.length - streamStart;
  if (streamLen & 1) {
    throw new ZipmlError('E_CORRUPT', `rANS stream has an odd length ${streamLen}; it is made of 16-bit words`, {
      offset: streamStart,
    });
  }
  if (streamLen > 2 * n) {
    // Every symbol reads at most one word; refusing early also bounds the copy into the kernel.
    throw new ZipmlError('E_CORRUPT', `rANS stream of ${streamLen} bytes is too long for ${n} symbols`, {
      offset: streamStart,
    });
  }
  const st = coder.decode(table, states, payload.subarray(streamStart), dst);
  switch (st.code) {
    case STATUS_OK:
      break;
    case STATUS_STREAM_EXHAUSTED:
      throw new ZipmlError('E_TRUNCATED', `rANS stream ends while decoding symbol ${st.at} of ${n}`, {
        offset: streamStart + st.streamPos,
      });
    case STATUS_STREAM_LEFTOVER:
      throw new ZipmlError(
        'E_CORRUPT',
        `rANS stream has ${streamLen - st.streamPos} bytes left after the last of ${n} symbols`,
        { offset: streamStart + st.streamPos },
      );
    default:
      throw new ZipmlError('E_CORRUPT', `rANS kernel returned unknown status ${st.code}`);
  }
  const expect = initialStates(payload.subarray(0, tableEnd), dst, lanes);
  for (let j = 0; j < lanes; j++) {
    if (states[j] !== expect[j]) {
      throw new ZipmlError(
        'E_CORRUPT',
        `rANS state ${j} ends at ${states[j]}, not its initial ${expect[j]}: the payload is corrupt or dst.length is wrong`,
        { offset: tableEnd + 4 * j },
      );
    }
  }
}

/**
 * Encodes src (1..RANS_MAX_BLOCK bytes) into a self-describing payload: normalized frequency
 * table, final states, one interleaved 16-bit-word stream (docs/rans.md). Returns null when
 * rANS would not beat storing raw (the caller stores raw) or when src has a single distinct byte
 * (the caller uses RLE). `hist`, when given, must be histogram(src).
 */
export function ransEncodeBlock(src: Uint8Array, opts?: RansBlockOptions, hist?: Uint32Array): Uint8Array | null {
  return encodeBlock(src, opts, hist, activeCoder());
}

/**
 * Decodes a payload into dst; dst.length is the decoded size, known to the caller. Any
 * inconsistency throws ZipmlError (E_CORRUPT or E_TRUNCATED) saying what and where; dst then
 * holds garbage.
 */
export function ransDecodeBlock(payload: Uint8Array, dst: Uint8Array): void {
  decodeBlock(payload, dst, activeCoder());
}

/** Plain TS version of ransEncodeBlock; byte-identical output. */
export function ransEncodeBlockReference(
  src: Uint8Array, opts?: RansBlockOptions, hist?: Uint32Array,
): Uint8Array | null {
  return encodeBlock(src, opts, hist, referenceCoder);
}

/** Plain TS version of ransDecodeBlock; same results and errors. */
export function ransDecodeBlockReference(payload: Uint8Array, dst: Uint8Array): void {
  decodeBlock(payload, dst, referenceCoder);
}

/** The parts of a payload, for tools and tests. Validates the table like ransDecodeBlock. */
export interface RansPayloadInfo {
  scaleBits: number;
  /** Interleaved states: RANS_LANES, or RANS_NARROW_LANES in small blocks. */
  lanes: number;
  /** Normalized frequency of each byte value (sums to 2^scaleBits). */
  freqs: Uint32Array;
  /** Header byte plus the bit-packed table. */
  tableBytes: number;
  streamBytes: number;
}

export function ransPayloadInfo(payload: Uint8Array): RansPayloadInfo {
  const { scaleBits, lanes, freqs, end } = readTable(payload);
  return { scaleBits, lanes, freqs, tableBytes: end, streamBytes: Math.max(0, payload.length - end - 4 * lanes) };
}
