/**
 * The encoder's side of the model: codes literals, matches and rep matches with the range coder
 * (mirroring decode.ts), keeps the state and the four last distances, and prices choices for the
 * optimal parser from the current probabilities (length and distance price tables are refreshed
 * every so many symbols, as in LZMA, since recomputing them per position costs more than it gains).
 */
import { RangeEncoder, PRICES, PRICE_BITS, PROB_ONE, twoRateProb } from './range-coder.js';
import {
  LzModel, type LzProps, stateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep, distSlot,
  LIT_STATES, LEN_STATES, SLOT_BITS, MODEL_END_SLOT, ALIGN_BITS, ALIGN_SIZE, FULL_DISTANCES, LEN_CHOICE, LEN_CHOICE2,
  LEN_LOW_BASE, LEN_MID_BASE, LEN_HIGH_BASE, LEN_LOW_BITS, LEN_MID_BITS, LEN_HIGH_BITS, LEN_LOW, LEN_MID,
  LEN_SYMBOLS, MATCH_MIN,
} from './model.js';

const p0 = (p: number): number => PRICES[p]!;
const p1 = (p: number): number => PRICES[PROB_ONE - p]!;

function treePrice(probs: Uint16Array, base: number, bits: number, value: number): number {
  let price = 0, m = 1;
  for (let i = bits - 1; i >= 0; i--) {
    const b = (value >>> i) & 1;
    price += b ? p1(probs[base + m]!) : p0(probs[base + m]!);
    m = (m << 1) | b;
  }
  return price;
}

function reverseTreePrice(probs: Uint16Array, base: number, bits: number, value: number): number {
  let price = 0, m = 1;
  for (let i = 0; i < bits; i++) {
    const b = (value >>> i) & 1;
    price += b ? p1(probs[base + m]!) : p0(probs[base + m]!);
    m = (m << 1) | b;
  }
  return price;
}

const LEN_REFRESH = 64;
const DIST_REFRESH = 128;
const ALIGN_REFRESH = 16;

export class LzCoder {
  readonly m: LzModel;
  readonly rc: RangeEncoder;
  readonly data: Uint8Array;
  state = 0;
  readonly reps = new Int32Array(4);
  /** Prices in 1/64 bit: lengths per pos state, distance slots and small distances per length state. */
  readonly matchLenPrices: Uint32Array;
  readonly repLenPrices: Uint32Array;
  readonly slotPrices = new Uint32Array(LEN_STATES << SLOT_BITS);
  readonly fullDistPrices = new Uint32Array(LEN_STATES * FULL_DISTANCES);
  readonly alignPrices = new Uint32Array(ALIGN_SIZE);
  private lenCount = 0;
  private distCount = 0;
  private alignCount = 0;
  private readonly numPosStates: number;

  /** Refresh intervals of the price tables; never when nothing reads prices (fast levels). */
  private readonly lenRefresh: number;
  private readonly distRefresh: number;
  private readonly alignRefresh: number;

  /** `priced` false: the caller never asks for prices (greedy/lazy parsing), so tables are not kept up to date. */
  constructor(data: Uint8Array, props: LzProps, sizeHint = (data.length >>> 1) + 1024, priced = true, twoRate = false) {
    this.lenRefresh = priced ? LEN_REFRESH : Infinity;
    this.distRefresh = priced ? DIST_REFRESH : Infinity;
    this.alignRefresh = priced ? ALIGN_REFRESH : Infinity;
    this.data = data;
    this.m = new LzModel(props, twoRate);
    this.rc = new RangeEncoder(sizeHint);
    this.numPosStates = 1 << props.pb;
    this.matchLenPrices = new Uint32Array(this.numPosStates * LEN_SYMBOLS);
    this.repLenPrices = new Uint32Array(this.numPosStates * LEN_SYMBOLS);
    this.refreshLenPrices();
    this.refreshDistPrices();
    this.refreshAlignPrices();
  }

  // ---- coding ----

  encodeLiteral(pos: number): void {
    const { m, rc, data } = this;
    const posState = pos & m.posMask;
    rc.encodeBit(m.isMatch, (this.state << 4) | posState, 0);
    const base = m.litBase(pos, pos > 0 ? data[pos - 1]! : 0);
    const byte = data[pos]!;
    if (m.twoRate) this.encodeLiteral2(base, byte, pos);
    else if (this.state < LIT_STATES) rc.encodeTree(m.literal, base, 8, byte);
    else {
      const mb = data[pos - this.reps[0]! - 1]!;
      let sym = 1, matched = true;
      for (let i = 7; i >= 0; i--) {
        const b = (byte >>> i) & 1;
        if (matched) {
          const mbit = (mb >>> i) & 1;
          rc.encodeBit(m.literal, base + 0x100 + (mbit << 8) + sym, b);
          matched = b === mbit;
        } else rc.encodeBit(m.literal, base + sym, b);
        sym = (sym << 1) | b;
      }
    }
    this.state = stateAfterLiteral(this.state);
  }

  /** The literal's bits with two-rate coders (same tree walk as encodeLiteral's). */
  private encodeLiteral2(base: number, byte: number, pos: number): void {
    const { m, rc } = this;
    const a = m.literal, b = m.literal2;
    let sym = 1, matched = this.state >= LIT_STATES;
    const mb = matched ? this.data[pos - this.reps[0]! - 1]! : 0;
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >>> i) & 1;
      if (matched) {
        const mbit = (mb >>> i) & 1;
        rc.encodeBit2(a, b, base + 0x100 + (mbit << 8) + sym, bit);
        matched = bit === mbit;
      } else rc.encodeBit2(a, b, base + sym, bit);
      sym = (sym << 1) | bit;
    }
  }

  private encodeLen(p: Uint16Array, posState: number, len: number): void {
    const rc = this.rc;
    let l = len - MATCH_MIN;
    if (l < LEN_LOW) {
      rc.encodeBit(p, LEN_CHOICE, 0);
      rc.encodeTree(p, LEN_LOW_BASE + (posState << LEN_LOW_BITS), LEN_LOW_BITS, l);
    } else {
      rc.encodeBit(p, LEN_CHOICE, 1);
      l -= LEN_LOW;
      if (l < LEN_MID) {
        rc.encodeBit(p, LEN_CHOICE2, 0);
        rc.encodeTree(p, LEN_MID_BASE + (posState << LEN_MID_BITS), LEN_MID_BITS, l);
      } else {
        rc.encodeBit(p, LEN_CHOICE2, 1);
        rc.encodeTree(p, LEN_HIGH_BASE, LEN_HIGH_BITS, l - LEN_MID);
      }
    }
    if (++this.lenCount >= this.lenRefresh) this.refreshLenPrices();
  }

  /** A match at 0-based distance `dist` (the bytes at pos - dist - 1 ...). */
  encodeMatch(pos: number, dist: number, len: number): void {
    const { m, rc } = this;
    const posState = pos & m.posMask;
    rc.encodeBit(m.isMatch, (this.state << 4) | posState, 1);
    rc.encodeBit(m.isRep, this.state, 0);
    this.encodeLen(m.matchLen, posState, len);
    const lenState = Math.min(len - MATCH_MIN, LEN_STATES - 1);
    const slot = distSlot(dist);
    rc.encodeTree(m.slot, lenState << SLOT_BITS, SLOT_BITS, slot);
    if (slot >= 4) {
      const footer = (slot >>> 1) - 1;
      const base = (2 | (slot & 1)) * 2 ** footer;
      const rest = dist - base;
      if (slot < MODEL_END_SLOT) rc.encodeReverseTree(m.special, base - slot - 1, footer, rest);
      else {
        rc.encodeDirect(Math.floor(rest / ALIGN_SIZE), footer - ALIGN_BITS);
        rc.encodeReverseTree(m.align, 0, ALIGN_BITS, rest & (ALIGN_SIZE - 1));
        if (++this.alignCount >= this.alignRefresh) this.refreshAlignPrices();
      }
    }
    const r = this.reps;
    r[3] = r[2]!; r[2] = r[1]!; r[1] = r[0]!; r[0] = dist;
    this.state = stateAfterMatch(this.state);
    if (++this.distCount >= this.distRefresh) this.refreshDistPrices();
  }

  /** A match at rep distance `idx` (0..3); len 1 with idx 0 is the one-byte "short rep". */
  encodeRep(pos: number, idx: number, len: number): void {
    const { m, rc } = this;
    const posState = pos & m.posMask;
    const s = this.state;
    rc.encodeBit(m.isMatch, (s << 4) | posState, 1);
    rc.encodeBit(m.isRep, s, 1);
    const r = this.reps;
    if (idx === 0) {
      rc.encodeBit(m.isRepG0, s, 0);
      rc.encodeBit(m.isRep0Long, (s << 4) | posState, len === 1 ? 0 : 1);
      if (len === 1) {
        this.state = stateAfterShortRep(s);
        return;
      }
    } else {
      rc.encodeBit(m.isRepG0, s, 1);
      const d = r[idx]!;
      if (idx === 1) rc.encodeBit(m.isRepG1, s, 0);
      else {
        rc.encodeBit(m.isRepG1, s, 1);
        rc.encodeBit(m.isRepG2, s, idx - 2);
        if (idx === 3) r[3] = r[2]!;
        r[2] = r[1]!;
      }
      r[1] = r[0]!;
      r[0] = d;
    }
    this.encodeLen(m.repLen, posState, len);
    this.state = stateAfterRep(s);
  }

  finish(): Uint8Array {
    return this.rc.finish();
  }

  // ---- prices (1/64 bit) ----

  private lenTable(p: Uint16Array, out: Uint32Array): void {
    const c0 = p0(p[LEN_CHOICE]!), c1 = p1(p[LEN_CHOICE]!);
    const c20 = c1 + p0(p[LEN_CHOICE2]!), c21 = c1 + p1(p[LEN_CHOICE2]!);
    const high = new Uint32Array(1 << LEN_HIGH_BITS);
    for (let v = 0; v < high.length; v++) high[v] = c21 + treePrice(p, LEN_HIGH_BASE, LEN_HIGH_BITS, v);
    for (let ps = 0; ps < this.numPosStates; ps++) {
      const o = ps * LEN_SYMBOLS;
      for (let v = 0; v < LEN_LOW; v++) out[o + v] = c0 + treePrice(p, LEN_LOW_BASE + (ps << LEN_LOW_BITS), LEN_LOW_BITS, v);
      for (let v = 0; v < LEN_MID; v++) out[o + LEN_LOW + v] = c20 + treePrice(p, LEN_MID_BASE + (ps << LEN_MID_BITS), LEN_MID_BITS, v);
      out.set(high, o + LEN_LOW + LEN_MID);
    }
  }

  refreshLenPrices(): void {
    this.lenCount = 0;
    this.lenTable(this.m.matchLen, this.matchLenPrices);
    this.lenTable(this.m.repLen, this.repLenPrices);
  }

  refreshDistPrices(): void {
    this.distCount = 0;
    const m = this.m;
    for (let ls = 0; ls < LEN_STATES; ls++) {
      for (let slot = 0; slot < 1 << SLOT_BITS; slot++) {
        let price = treePrice(m.slot, ls << SLOT_BITS, SLOT_BITS, slot);
        if (slot >= MODEL_END_SLOT) price += ((slot >>> 1) - 1 - ALIGN_BITS) << PRICE_BITS;
        this.slotPrices[(ls << SLOT_BITS) + slot] = price;
      }
      for (let d = 0; d < FULL_DISTANCES; d++) {
        const slot = distSlot(d);
        let price = this.slotPrices[(ls << SLOT_BITS) + slot]!;
        if (slot >= 4) {
          const footer = (slot >>> 1) - 1;
          const base = (2 | (slot & 1)) << footer;
          price += reverseTreePrice(m.special, base - slot - 1, footer, d - base);
        }
        this.fullDistPrices[ls * FULL_DISTANCES + d] = price;
      }
    }
  }

  refreshAlignPrices(): void {
    this.alignCount = 0;
    for (let v = 0; v < ALIGN_SIZE; v++) this.alignPrices[v] = reverseTreePrice(this.m.align, 0, ALIGN_BITS, v);
  }

  isMatchPrice(state: number, posState: number, bit: number): number {
    const p = this.m.isMatch[(state << 4) | posState]!;
    return bit ? p1(p) : p0(p);
  }

  /** Price of the byte at `pos` as a literal (without the isMatch flag) in `state` with `rep0`. */
  literalPrice(pos: number, state: number, rep0: number): number {
    const { m, data } = this;
    const lit = m.literal;
    const base = m.litBase(pos, pos > 0 ? data[pos - 1]! : 0);
    const byte = data[pos]!;
    if (m.twoRate) return this.literalPrice2(base, byte, state < LIT_STATES ? -1 : data[pos - rep0 - 1]!);
    let price = 0, sym = 1;
    if (state < LIT_STATES) {
      for (let i = 7; i >= 0; i--) {
        const b = (byte >>> i) & 1;
        const p = lit[base + sym]!;
        price += b ? p1(p) : p0(p);
        sym = (sym << 1) | b;
      }
      return price;
    }
    const mb = data[pos - rep0 - 1]!;
    let matched = true;
    for (let i = 7; i >= 0; i--) {
      const b = (byte >>> i) & 1;
      let p: number;
      if (matched) {
        const mbit = (mb >>> i) & 1;
        p = lit[base + 0x100 + (mbit << 8) + sym]!;
        matched = b === mbit;
      } else p = lit[base + sym]!;
      price += b ? p1(p) : p0(p);
      sym = (sym << 1) | b;
    }
    return price;
  }

  /** literalPrice with two-rate coders; `mb` is the match byte, or -1 after a literal. */
  private literalPrice2(base: number, byte: number, mb: number): number {
    const a = this.m.literal, b2 = this.m.literal2;
    let price = 0, sym = 1, matched = mb >= 0;
    for (let i = 7; i >= 0; i--) {
      const b = (byte >>> i) & 1;
      let p: number;
      if (matched) {
        const mbit = (mb >>> i) & 1;
        p = twoRateProb(a, b2, base + 0x100 + (mbit << 8) + sym);
        matched = b === mbit;
      } else p = twoRateProb(a, b2, base + sym);
      price += b ? p1(p) : p0(p);
      sym = (sym << 1) | b;
    }
    return price;
  }

  shortRepPrice(state: number, posState: number): number {
    const m = this.m;
    return p1(m.isMatch[(state << 4) | posState]!) + p1(m.isRep[state]!) + p0(m.isRepG0[state]!) + p0(m.isRep0Long[(state << 4) | posState]!);
  }

  /** Flags of a long rep match at index `idx`, including isMatch (lengths are added separately). */
  repPrefixPrice(idx: number, state: number, posState: number): number {
    const m = this.m;
    let price = p1(m.isMatch[(state << 4) | posState]!) + p1(m.isRep[state]!);
    if (idx === 0) return price + p0(m.isRepG0[state]!) + p1(m.isRep0Long[(state << 4) | posState]!);
    price += p1(m.isRepG0[state]!);
    if (idx === 1) return price + p0(m.isRepG1[state]!);
    return price + p1(m.isRepG1[state]!) + (idx === 2 ? p0(m.isRepG2[state]!) : p1(m.isRepG2[state]!));
  }

  matchPrefixPrice(state: number, posState: number): number {
    const m = this.m;
    return p1(m.isMatch[(state << 4) | posState]!) + p0(m.isRep[state]!);
  }

  distPrice(dist: number, len: number): number {
    const ls = Math.min(len - MATCH_MIN, LEN_STATES - 1);
    if (dist < FULL_DISTANCES) return this.fullDistPrices[ls * FULL_DISTANCES + dist]!;
    return this.slotPrices[(ls << SLOT_BITS) + distSlot(dist)]! + this.alignPrices[dist & (ALIGN_SIZE - 1)]!;
  }
}
