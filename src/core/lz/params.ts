/**
 * Raw payload layout and the encoder settings behind each level.
 *
 * Raw payload: byte 0 = lc/lp/pb as LZMA's properties byte ((pb * 5 + lp) * 9 + lc), byte 1 =
 * flags, then the body. Flags 0: the body is the range-coded stream. Flags 1 (stored): byte 0 is 0
 * and the body is the data itself (chosen when coding does not shrink it). Flags 2 (two-rate
 * literals, since session 4): the range-coded stream, with every literal bit coded by the mean of
 * two probabilities that adapt at different rates (range-coder.ts). Other values are reserved and
 * rejected.
 */
export const LZ_HEADER_BYTES = 2;
export const LZ_FLAGS_NONE = 0;
export const LZ_FLAGS_STORED = 1;
export const LZ_FLAGS_TWO_RATE = 2;

/** Levels from this one up choose lc/lp/pb per input. */
export const PROPS_SEARCH_MIN_LEVEL = 5;


export const WINDOW_LOG_MIN = 12;
export const WINDOW_LOG_MAX = 26;
export const WINDOW_LOG_DEFAULT = 24;

export interface LevelParams {
  /** 'fast': hash chains with greedy or lazy choice; 'optimal': binary trees with price-based parsing. */
  mode: 'fast' | 'optimal';
  /** Match-finder search depth (chain links or tree nodes visited per position). */
  depth: number;
  /** A match this long is taken at once. */
  niceLen: number;
  /** Fast mode: how many following positions are checked for a better match (0 = greedy). */
  lazy: number;
}

export const LEVELS: readonly LevelParams[] = [
  { mode: 'fast', depth: 4, niceLen: 16, lazy: 0 }, // 1
  { mode: 'fast', depth: 8, niceLen: 32, lazy: 1 }, // 2
  { mode: 'fast', depth: 24, niceLen: 64, lazy: 1 }, // 3
  { mode: 'fast', depth: 48, niceLen: 128, lazy: 2 }, // 4
  { mode: 'optimal', depth: 16, niceLen: 32, lazy: 0 }, // 5
  { mode: 'optimal', depth: 32, niceLen: 64, lazy: 0 }, // 6
  { mode: 'optimal', depth: 48, niceLen: 128, lazy: 0 }, // 7
  { mode: 'optimal', depth: 96, niceLen: 192, lazy: 0 }, // 8
  { mode: 'optimal', depth: 128, niceLen: 273, lazy: 0 }, // 9
];

