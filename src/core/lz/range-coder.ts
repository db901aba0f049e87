/**
 * Adaptive binary range coder of the LZMA family: 11-bit probabilities that move 1/32 of the way
 * toward each coded bit, a 32-bit range renormalised a byte at a time, and a carry kept in a
 * one-byte cache plus a count of pending 0xFF bytes. The leading byte LZMA always writes (0) is
 * not stored, so a stream of `n` renormalisations is exactly `n + 4` bytes and the decoder reads
 * exactly that many: any read past the end is corruption, and a valid stream ends with code == 0.
 */
import { ZipmlError } from '../errors.js';

export const PROB_BITS = 11;
export const PROB_ONE = 1 << PROB_BITS;
export const PROB_INIT = PROB_ONE >>> 1;
const MOVE_BITS = 5;
const TOP = 1 << 24;

/** Price unit: 1/16 bit. PRICES[p >> 4] is the cost of the bit whose probability is p / 2048. */
export const PRICE_SHIFT = 4;
export const PRICES = (() => {
  const t = new Uint32Array(PROB_ONE >>> PRICE_SHIFT);
  for (let i = 0; i < t.length; i++) {
    const p = (i + 0.5) * (1 << PRICE_SHIFT);
    t[i] = Math.round(-Math.log2(p / PROB_ONE) * (1 << PRICE_SHIFT));
  }
  return t;
})();

/** Cost (1/16 bit) of coding `bit` with probability-of-zero `p`. */
export function bitPrice(p: number, bit: number): number {
  return PRICES[(bit === 0 ? p : PROB_ONE - p) >>> PRICE_SHIFT]!;
}

export class RangeEncoder {
  private low = 0; // up to 33 bits: kept as a double
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private first = true;
  private buf: Uint8Array;
  private n = 0;

  constructor(sizeHint: number) {
    this.buf = new Uint8Array(Math.max(64, sizeHint));
  }

  get bytesOut(): number {
    return this.n + this.cacheSize + 4;
  }

  private put(b: number): void {
    if (this.first) {
      this.first = false; // the always-zero leading byte is implied
      return;
    }
    if (this.n === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.n++] = b;
  }

  private shiftLow(): void {
    const low = this.low;
    if (low < 0xff000000 || low >= 0x100000000) {
      const carry = low >= 0x100000000 ? 1 : 0;
      let c = this.cache;
      do {
        this.put((c + carry) & 0xff);
        c = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = (low >>> 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (low & 0x00ffffff) * 256;
  }

  encodeBit(probs: Uint16Array, i: number, bit: number): void {
    const p = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * p;
    if (bit === 0) {
      this.range = bound;
      probs[i] = p + ((PROB_ONE - p) >>> MOVE_BITS);
    } else {
      this.low += bound;
      this.range -= bound;
      probs[i] = p - (p >>> MOVE_BITS);
    }
    while (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.shiftLow();
    }
  }

  /** `count` bits of `value`, most significant first, each with probability one half. */
  encodeDirect(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.range >>>= 1;
      if ((value >>> i) & 1) this.low += this.range;
      while (this.range < TOP) {
        this.range = (this.range << 8) >>> 0;
        this.shiftLow();
      }
    }
  }

  /** MSB-first bit tree of `bits` levels rooted at probs[base + 1]. */
  encodeTree(probs: Uint16Array, base: number, bits: number, value: number): void {
    let m = 1;
    for (let i = bits - 1; i >= 0; i--) {
      const b = (value >>> i) & 1;
      this.encodeBit(probs, base + m, b);
      m = (m << 1) | b;
    }
  }

  /** LSB-first bit tree (used for the low bits of distances). */
  encodeReverseTree(probs: Uint16Array, base: number, bits: number, value: number): void {
    let m = 1;
    for (let i = 0; i < bits; i++) {
      const b = (value >>> i) & 1;
      this.encodeBit(probs, base + m, b);
      m = (m << 1) | b;
    }
  }

  finish(): Uint8Array {
    for (let i = 0; i < 5; i++) this.shiftLow();
    return this.buf.subarray(0, this.n);
  }
}

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos: number;
  private readonly end: number;
  private readonly src: Uint8Array;

  constructor(src: Uint8Array, start: number) {
    this.src = src;
    this.pos = start;
    this.end = src.length;
    if (this.end - start < 4) throw new ZipmlError('E_TRUNCATED', `lz: range-coded stream shorter than 4 bytes`, { offset: start });
    for (let i = 0; i < 4; i++) this.code = ((this.code << 8) | src[this.pos++]!) >>> 0;
    if (this.code === 0xffffffff) throw new ZipmlError('E_CORRUPT', 'lz: range coder initial code out of range', { offset: start });
  }

  private next(): number {
    if (this.pos >= this.end) throw new ZipmlError('E_TRUNCATED', 'lz: range decoder read past the end of the payload', { offset: this.pos });
    return this.src[this.pos++]!;
  }

  decodeBit(probs: Uint16Array, i: number): number {
    const p = probs[i]!;
    const bound = (this.range >>> PROB_BITS) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((PROB_ONE - p) >>> MOVE_BITS);
      bit = 0;
    } else {
      this.code -= bound;
      this.range -= bound;
      probs[i] = p - (p >>> MOVE_BITS);
      bit = 1;
    }
    if (this.range < TOP) {
      this.range = (this.range << 8) >>> 0;
      this.code = ((this.code << 8) | this.next()) >>> 0;
    }
    return bit;
  }

  decodeDirect(count: number): number {
    let v = 0;
    for (let i = 0; i < count; i++) {
      this.range >>>= 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      v = ((v << 1) | b) >>> 0;
      if (this.range < TOP) {
        this.range = (this.range << 8) >>> 0;
        this.code = ((this.code << 8) | this.next()) >>> 0;
      }
    }
    return v;
  }

  decodeTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.decodeBit(probs, base + m);
    return m - (1 << bits);
  }

  decodeReverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1, v = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.decodeBit(probs, base + m);
      m = (m << 1) | b;
      v |= b << i;
    }
    return v;
  }

  /** A finished valid stream has consumed every byte and left code at zero. */
  checkEnd(): void {
    if (this.pos !== this.end) throw new ZipmlError('E_CORRUPT', `lz: ${this.end - this.pos} unused bytes after the range-coded stream`, { offset: this.pos });
    if (this.code !== 0) throw new ZipmlError('E_CORRUPT', 'lz: range coder did not end at zero (corrupt payload)', { offset: this.pos });
  }
}
