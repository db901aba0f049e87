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

/**
 * Two-rate literals: each literal bit keeps two 15-bit probabilities, one moving 1/16 and one 1/128
 * of the way toward each bit, and is coded with their mean at 11 bits, (a + b) >> 5 clamped to
 * 8..2040: the decoders renormalise at most once per bit, which a probability outside that range
 * could break (a range of 2^24 times 4/2048 needs two byte shifts). The fast one follows local
 * statistics, the slow one holds the region's; on int8
 * weights the mean costs 0.2-0.7% fewer literal bits than LZMA's single 1/32 rate (measured on
 * DTLN, person_detect, handtrack).
 */
export const TWO_RATE_ONE = 1 << 15;
export const TWO_RATE_INIT = TWO_RATE_ONE >>> 1;
const FAST_BITS = 4;
const SLOW_BITS = 7;

const TWO_RATE_MIN = 8;
const TWO_RATE_MAX = PROB_ONE - 8;

/** The 11-bit probability of a zero that two-rate probabilities (pa, pb) code with. */
function meanProb(pa: number, pb: number): number {
  const p = (pa + pb) >>> 5;
  return p < TWO_RATE_MIN ? TWO_RATE_MIN : p > TWO_RATE_MAX ? TWO_RATE_MAX : p;
}

/** The 11-bit probability of a zero that two-rate node `i` codes with. */
export function twoRateProb(a: Uint16Array, b: Uint16Array, i: number): number {
  return meanProb(a[i]!, b[i]!);
}

/**
 * Price unit: 1/64 bit. PRICES[p] is the cost of a bit whose probability is p / 2048. The table is
 * indexed by the full probability: LZMA's coarser 1/16-bit, p >> 4 table rounds the cost of nearly
 * certain flags to zero, which made rep matches look ~7% cheaper than they are on tabular data.
 */
export const PRICE_BITS = 6;
export const PRICES = (() => {
  const t = new Uint32Array(PROB_ONE + 1);
  t[0] = 24 << PRICE_BITS;
  for (let p = 1; p <= PROB_ONE; p++) t[p] = Math.round(-Math.log2(p / PROB_ONE) * (1 << PRICE_BITS));
  return t;
})();

/** Cost (1/64 bit) of coding `bit` with probability-of-zero `p`. */
export function bitPrice(p: number, bit: number): number {
  return PRICES[bit === 0 ? p : PROB_ONE - p]!;
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

  /** A literal bit with two-rate node `i` of (a, b). */
  encodeBit2(a: Uint16Array, b: Uint16Array, i: number, bit: number): void {
    const pa = a[i]!, pb = b[i]!;
    const bound = (this.range >>> PROB_BITS) * meanProb(pa, pb);
    if (bit === 0) {
      this.range = bound;
      a[i] = pa + ((TWO_RATE_ONE - pa) >>> FAST_BITS);
      b[i] = pb + ((TWO_RATE_ONE - pb) >>> SLOW_BITS);
    } else {
      this.low += bound;
      this.range -= bound;
      a[i] = pa - (pa >>> FAST_BITS);
      b[i] = pb - (pb >>> SLOW_BITS);
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

const SIGN = -0x80000000;

function pastEnd(pos: number): never {
  throw new ZipmlError('E_TRUNCATED', 'lz: range decoder read past the end of the payload', { offset: pos });
}

/**
 * Range and code live in an Int32Array (uint32 bit patterns) and are copied to locals once per call: values up to 2^32
 * in object fields are boxed doubles in V8, which made every bit several times slower. Multi-bit
 * symbols (trees, literals) are decoded in one call for the same reason.
 */
export class RangeDecoder {
  private readonly st = new Int32Array(2); // [range, code] as uint32 bit patterns
  private pos: number;
  private readonly end: number;
  private readonly src: Uint8Array;

  constructor(src: Uint8Array, start: number) {
    this.src = src;
    this.pos = start;
    this.end = src.length;
    if (this.end - start < 4) throw new ZipmlError('E_TRUNCATED', `lz: range-coded stream shorter than 4 bytes`, { offset: start });
    let code = 0;
    for (let i = 0; i < 4; i++) code = ((code << 8) | src[this.pos++]!) >>> 0;
    if (code === 0xffffffff) throw new ZipmlError('E_CORRUPT', 'lz: range coder initial code out of range', { offset: start });
    this.st[0] = -1; // 0xffffffff
    this.st[1] = code;
  }

  decodeBit(probs: Uint16Array, i: number): number {
    return this.tree(probs, i - 1, 1, 1) - 2; // a one-level tree whose root is probs[i]
  }

  /**
   * MSB-first bit tree: decodes `bits` bits starting at node `m0` (1 for a full tree) and returns
   * the final node index (value + (1 << bits) for a full tree). Literals continue a tree this way.
   */
  private tree(probs: Uint16Array, base: number, bits: number, m0: number, slow?: Uint16Array): number {
    // int32 arithmetic throughout: range, code and bound are uint32 bit patterns; unsigned
    // comparisons flip the sign bit. Keeps V8 on integer registers instead of doubles.
    // With `slow`, the nodes are two-rate: `probs` the fast probabilities, `slow` the slow ones.
    const st = this.st, src = this.src, end = this.end;
    let range = st[0]!, code = st[1]!, pos = this.pos, m = m0;
    for (let k = 0; k < bits; k++) {
      const i = base + m;
      const p = probs[i]!, q = slow ? slow[i]! : 0;
      const bound = Math.imul(range >>> PROB_BITS, slow ? meanProb(p, q) : p);
      const zero = (code ^ SIGN) < (bound ^ SIGN);
      if (zero) {
        range = bound;
        m = m << 1;
      } else {
        code = (code - bound) | 0;
        range = (range - bound) | 0;
        m = (m << 1) | 1;
      }
      if (!slow) probs[i] = zero ? p + ((PROB_ONE - p) >>> MOVE_BITS) : p - (p >>> MOVE_BITS);
      else {
        probs[i] = zero ? p + ((TWO_RATE_ONE - p) >>> FAST_BITS) : p - (p >>> FAST_BITS);
        slow[i] = zero ? q + ((TWO_RATE_ONE - q) >>> SLOW_BITS) : q - (q >>> SLOW_BITS);
      }
      if (range >>> 24 === 0) {
        if (pos >= end) pastEnd(pos);
        range <<= 8;
        code = (code << 8) | src[pos++]!;
      }
    }
    st[0] = range;
    st[1] = code;
    this.pos = pos;
    return m;
  }

  decodeTree(probs: Uint16Array, base: number, bits: number): number {
    return this.tree(probs, base, bits, 1) - (1 << bits);
  }

  /** A literal byte without a match byte: an 8-level tree at `base` (two-rate with `slow`). */
  decodeLiteral(probs: Uint16Array, base: number, slow?: Uint16Array): number {
    return this.tree(probs, base, 8, 1, slow) & 0xff;
  }

  /**
   * A literal after a match: while its bits agree with `matchByte` they use the match-aware half
   * of the coder (0x100 + matchBit * 0x100 + node); after the first disagreement, the plain tree.
   */
  decodeMatchedLiteral(probs: Uint16Array, base: number, matchByte: number, slow?: Uint16Array): number {
    let sym = 1;
    for (let i = 7; i >= 0; i--) {
      const mbit = (matchByte >>> i) & 1;
      const b = this.tree(probs, base + 0x100 + (mbit << 8) + sym - 1, 1, 1, slow) - 2;
      sym = (sym << 1) | b;
      if (b !== mbit) return this.tree(probs, base, i, sym, slow) & 0xff;
    }
    return sym & 0xff;
  }

  decodeDirect(count: number): number {
    const st = this.st;
    let range = st[0]!, code = st[1]!, v = 0;
    for (let i = 0; i < count; i++) {
      range = range >>> 1;
      let b = 0;
      if ((code ^ SIGN) >= (range ^ SIGN)) {
        code = (code - range) | 0;
        b = 1;
      }
      v = v * 2 + b;
      if (range >>> 24 === 0) {
        if (this.pos >= this.end) pastEnd(this.pos);
        range <<= 8;
        code = (code << 8) | this.src[this.pos++]!;
      }
    }
    st[0] = range;
    st[1] = code;
    return v;
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
    if (this.st[1] !== 0) throw new ZipmlError('E_CORRUPT', 'lz: range coder did not end at zero (corrupt payload)', { offset: this.pos });
  }
}
