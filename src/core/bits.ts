/**
 * Bit and varint I/O. Bits are packed LSB-first (the first bit written is bit 0 of byte 0), the
 * order of DEFLATE and of zstd's forward streams. Readers bound every read by the input length and
 * throw ZipmlError('E_TRUNCATED') instead of reading past the end.
 */
import { ZipmlError } from './errors.js';

/** Appends bits LSB-first into a growable byte buffer. */
export class BitWriter {
  private buf: Uint8Array;
  private pos = 0; // bytes flushed
  private acc = 0; // pending bits (< 32 kept between calls)
  private nbits = 0;

  constructor(initialBytes = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialBytes));
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + extra));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Writes the low `n` bits of `value` (0 ≤ n ≤ 32). */
  write(value: number, n: number): void {
    if (n < 0 || n > 32) throw new ZipmlError('E_ARG', `BitWriter.write: bit count ${n} is outside 0..32`);
    if (n === 0) return;
    if (n > 24) {
      this.write(value & 0xffff, 16);
      this.write(value >>> 16, n - 16);
      return;
    }
    const v = n === 32 ? value >>> 0 : (value >>> 0) & ((1 << n) - 1);
    this.acc = (this.acc | (v << this.nbits)) >>> 0;
    this.nbits += n;
    this.ensure(4);
    while (this.nbits >= 8) {
      this.buf[this.pos++] = this.acc & 255;
      this.acc >>>= 8;
      this.nbits -= 8;
    }
  }

  /** Number of bits written so far. */
  get bitLength(): number {
    return this.pos * 8 + this.nbits;
  }

  /** Pads to a byte boundary with zero bits and returns the bytes written. */
  finish(): Uint8Array {
    this.ensure(1);
    if (this.nbits > 0) {
      this.buf[this.pos++] = this.acc & 255;
      this.acc = 0;
      this.nbits = 0;
    }
    return this.buf.slice(0, this.pos);
  }
}

/** Reads bits LSB-first from a byte array; never reads past `end`. */
export class BitReader {
  private readonly data: Uint8Array;
  private pos: number; // next byte to load
  private readonly end: number;
  private acc = 0;
  private nbits = 0;

  constructor(data: Uint8Array, start = 0, end = data.length) {
    if (start < 0 || end > data.length || start > end) {
      throw new ZipmlError('E_ARG', `BitReader range ${start}..${end} is outside the ${data.length}-byte input`);
    }
    this.data = data;
    this.pos = start;
    this.end = end;
  }

  /** Reads `n` bits (0 ≤ n ≤ 32). */
  read(n: number): number {
    if (n < 0 || n > 32) throw new ZipmlError('E_ARG', `BitReader.read: bit count ${n} is outside 0..32`);
    if (n === 0) return 0;
    if (n > 24) {
      const lo = this.read(16);
      return (lo | (this.read(n - 16) << 16)) >>> 0;
    }
    while (this.nbits < n) {
      if (this.pos >= this.end) {
        throw new ZipmlError('E_TRUNCATED', `bit stream ends while reading ${n} bits`, { offset: this.pos });
      }
      this.acc = (this.acc | (this.data[this.pos++]! << this.nbits)) >>> 0;
      this.nbits += 8;
    }
    const v = this.acc & ((1 << n) - 1);
    this.acc >>>= n;
    this.nbits -= n;
    return v >>> 0;
  }

  /** Bits consumed so far, counted from `start`. */
  get bitPosition(): number {
    return this.pos * 8 - this.nbits;
  }

  /** Bits left before `end`. */
  get bitsLeft(): number {
    return (this.end - this.pos) * 8 + this.nbits;
  }
}

/** Largest value a varint may carry: 2^53 − 1, so it fits a JS number exactly. */
export const VARINT_MAX = Number.MAX_SAFE_INTEGER;
/** A varint of a value ≤ 2^53 − 1 takes at most 8 bytes. */
export const VARINT_MAX_BYTES = 8;

/** Bytes that `value` takes as an unsigned LEB128 varint. */
export function varintSize(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Writes `value` (integer 0..2^53−1) as unsigned LEB128 at `pos`; returns the next position. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ZipmlError('E_ARG', `varint value ${value} is not an integer in 0..2^53-1`);
  }
  while (value >= 128) {
    if (pos >= out.length) throw new ZipmlError('E_ARG', 'varint does not fit in the output buffer');
    out[pos++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  if (pos >= out.length) throw new ZipmlError('E_ARG', 'varint does not fit in the output buffer');
  out[pos++] = value;
  return pos;
}

/**
 * Reads an unsigned LEB128 varint at `pos`, never past `end`. Rejects overlong encodings (a final
 * zero byte after the first), values above 2^53 − 1, and more than 8 bytes.
 */
export function readVarint(data: Uint8Array, pos: number, end = data.length): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  const start = pos;
  for (let i = 0; i < VARINT_MAX_BYTES; i++) {
    if (pos >= end) throw new ZipmlError('E_TRUNCATED', 'input ends inside a varint', { offset: start });
    const b = data[pos++]!;
    value += (b & 127) * scale;
    if ((b & 128) === 0) {
      if (b === 0 && i > 0) throw new ZipmlError('E_CORRUPT', 'overlong varint encoding', { offset: start });
      if (value > VARINT_MAX) throw new ZipmlError('E_LIMIT', 'varint exceeds 2^53-1', { offset: start });
      return { value, next: pos };
    }
    scale *= 128;
  }
  throw new ZipmlError('E_LIMIT', `varint longer than ${VARINT_MAX_BYTES} bytes`, { offset: start });
}

/** ZigZag maps signed integers to unsigned so small magnitudes get short varints. */
export function zigzagEncode(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}
export function zigzagDecode(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}
