/**
 * The adaptive model shared by the LZ encoder and decoder (LZMA's contexts): a 12-state machine of
 * the last few operations, literal coders selected by the previous byte's high bits (lc) and the
 * position's low bits (lp), match/rep flags and lengths per position state (pb), and distances as
 * a 6-bit slot (per length class) followed by reverse-coded or direct bits and 4 aligned bits.
 */
import { PROB_INIT, TWO_RATE_INIT } from './range-coder.js';
import { ZipmlError } from '../errors.js';

export const NUM_STATES = 12;
export const LIT_STATES = 7; // states below this follow a literal
export const MATCH_MIN = 2;
export const MATCH_MAX = 273;
export const NUM_REPS = 4;
export const LEN_LOW_BITS = 3;
export const LEN_MID_BITS = 3;
export const LEN_HIGH_BITS = 8;
export const LEN_LOW = 1 << LEN_LOW_BITS;
export const LEN_MID = 1 << LEN_MID_BITS;
export const LEN_SYMBOLS = LEN_LOW + LEN_MID + (1 << LEN_HIGH_BITS); // 272 lengths 2..273
export const LEN_STATES = 4; // distance slots are modelled per min(len - 2, 3)
export const SLOT_BITS = 6;
export const MODEL_END_SLOT = 14; // slots below this code their low bits with adaptive reverse trees
export const FULL_DISTANCES = 128; // 1 << (MODEL_END_SLOT / 2)
export const ALIGN_BITS = 4;
export const ALIGN_SIZE = 1 << ALIGN_BITS;
export const LIT_SIZE = 0x300;

export const stateAfterLiteral = (s: number): number => (s < 4 ? 0 : s < 10 ? s - 3 : s - 6);
export const stateAfterMatch = (s: number): number => (s < LIT_STATES ? 7 : 10);
export const stateAfterRep = (s: number): number => (s < LIT_STATES ? 8 : 11);
export const stateAfterShortRep = (s: number): number => (s < LIT_STATES ? 9 : 11);

/** Literal context bits, literal position bits, position bits (LZMA's lc/lp/pb). */
export interface LzProps {
  lc: number;
  lp: number;
  pb: number;
}

/** LZMA's defaults, good for text and mixed binaries. */
export const LZ_DEFAULT_PROPS: LzProps = { lc: 3, lp: 0, pb: 2 };

export const LC_MAX = 8;
export const LP_MAX = 4;
export const PB_MAX = 4;
/** lc + lp bounds the literal tables at 0x300 << 12 probabilities (6 MiB). */
export const LCLP_MAX = 12;

export function propsByte(p: LzProps): number {
  return (p.pb * 5 + p.lp) * 9 + p.lc;
}

export function parsePropsByte(b: number, offset: number): LzProps {
  if (b >= 9 * 5 * 5) throw new ZipmlError('E_FORMAT', `lz: properties byte ${b} out of range`, { offset });
  const lc = b % 9;
  const lp = Math.floor(b / 9) % 5;
  const pb = Math.floor(b / 45);
  if (lc + lp > LCLP_MAX || pb > PB_MAX) throw new ZipmlError('E_FORMAT', `lz: lc=${lc} lp=${lp} pb=${pb} out of range`, { offset });
  return { lc, lp, pb };
}

export function validProps(p: LzProps): boolean {
  return (
    Number.isInteger(p.lc) && Number.isInteger(p.lp) && Number.isInteger(p.pb) &&
    p.lc >= 0 && p.lc <= LC_MAX && p.lp >= 0 && p.lp <= LP_MAX && p.pb >= 0 && p.pb <= PB_MAX &&
    p.lc + p.lp <= LCLP_MAX
  );
}

/** Distance slot of a 0-based distance: the bit length with the bit below the top one. */
export function distSlot(d: number): number {
  if (d < 4) return d;
  const n = 31 - Math.clz32(d);
  return (n << 1) | ((d >>> (n - 1)) & 1);
}

/** Probability tables of a length coder: choice, choice2, low[pb][8], mid[pb][8], high[256]. */
export const LEN_CHOICE = 0;
export const LEN_CHOICE2 = 1;
export const LEN_LOW_BASE = 2;
export const LEN_MID_BASE = LEN_LOW_BASE + (16 << LEN_LOW_BITS);
export const LEN_HIGH_BASE = LEN_MID_BASE + (16 << LEN_MID_BITS);
const LEN_PROBS = LEN_HIGH_BASE + (1 << LEN_HIGH_BITS);

function probs(n: number): Uint16Array {
  return new Uint16Array(n).fill(PROB_INIT);
}

export class LzModel {
  readonly props: LzProps;
  readonly posMask: number;
  readonly litPosMask: number;
  readonly isMatch = probs(NUM_STATES << 4);
  readonly isRep = probs(NUM_STATES);
  readonly isRepG0 = probs(NUM_STATES);
  readonly isRepG1 = probs(NUM_STATES);
  readonly isRepG2 = probs(NUM_STATES);
  readonly isRep0Long = probs(NUM_STATES << 4);
  /** Literal coders: 11-bit probabilities, or with two-rate literals the fast-adapting 15-bit ones. */
  readonly literal: Uint16Array;
  /** With two-rate literals, the slow-adapting 15-bit probabilities (empty otherwise). */
  readonly literal2: Uint16Array;
  readonly twoRate: boolean;
  readonly slot = probs(LEN_STATES << SLOT_BITS);
  /** Reverse trees of slots 4..13, laid out so that slot s uses [base(s) - s - 1 + m] for m >= 1. */
  readonly special = probs(FULL_DISTANCES - MODEL_END_SLOT);
  readonly align = probs(ALIGN_SIZE);
  readonly matchLen = probs(LEN_PROBS);
  readonly repLen = probs(LEN_PROBS);

  constructor(props: LzProps, twoRate = false) {
    this.props = props;
    this.posMask = (1 << props.pb) - 1;
    this.litPosMask = (1 << props.lp) - 1;
    this.twoRate = twoRate;
    const n = LIT_SIZE << (props.lc + props.lp);
    this.literal = twoRate ? new Uint16Array(n).fill(TWO_RATE_INIT) : probs(n);
    this.literal2 = twoRate ? new Uint16Array(n).fill(TWO_RATE_INIT) : new Uint16Array(0);
  }

  /** Offset of the literal coder for a byte at `pos` whose predecessor is `prev`. */
  litBase(pos: number, prev: number): number {
    const lc = this.props.lc;
    return (((pos & this.litPosMask) << lc) + (prev >>> (8 - lc))) * LIT_SIZE;
  }
}
