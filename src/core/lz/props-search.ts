/**
 * Choosing lc/lp/pb per input by trial: a sample of the input (eight evenly spaced slices) is parsed and coded under each candidate setting and the smallest wins; higher levels
 * try more settings on larger samples and then step each parameter by one while that helps. The
 * matches of the sample are found once (MatchCache) and replayed for every trial, so a trial costs
 * only the price-based parse and the range coder.
 *
 * Why trials and not a cheaper estimate: re-coding one parse under other settings mispredicts
 * badly (on kennedy.xls it ranks lc=0/pb=0 among the worst; parsed with it, it is the best by
 * 10%), because the parse itself follows the prices of the model.
 *
 * lp/pb = 2 give each byte lane of 4-byte values (fp32, int32 strides) its own literal coders and
 * match flags; lc = 0 suits data whose previous byte says little about the next (weights).
 */
import { throwIfAborted } from '../errors.js';
import { LzCoder } from './coder.js';
import { MatchCache } from './match-finder.js';
import { validProps, LZ_DEFAULT_PROPS, propsByte, type LzProps } from './model.js';
import { parseOptimal } from './parse-optimal.js';
import type { LevelParams } from './params.js';

type Triple = readonly [number, number, number];

const SEEDS: readonly Triple[] = [
  [3, 0, 2], [0, 0, 0], [0, 2, 2], [2, 2, 2], [0, 1, 1], [2, 0, 2],
  [0, 0, 2], [8, 0, 0], [1, 0, 0], [0, 2, 0], [1, 2, 2], [0, 3, 3], [4, 0, 2], [1, 1, 1], [3, 2, 2],
];

interface SearchPlan {
  sliceBytes: number;
  seeds: number;
  rounds: number;
}

function plan(level: number): SearchPlan {
  if (level >= 9) return { sliceBytes: 32 << 10, seeds: SEEDS.length, rounds: 2 };
  if (level >= 7) return { sliceBytes: 16 << 10, seeds: 10, rounds: 1 };
  return { sliceBytes: 8 << 10, seeds: 6, rounds: 0 };
}

const SLICES = 8;

/**
 * The whole input when small, else SLICES evenly spaced slices of `slice` bytes. Three larger
 * slices (start, middle, end) misled the choice on dtln_noise_suppression.tflite (lc0 lp1 pb1,
 * 0.7% larger than the defaults on the whole file); eight smaller ones rank it right.
 */
function sampleOf(data: Uint8Array, slice: number): Uint8Array {
  const n = data.length;
  if (n <= SLICES * slice) return data;
  const out = new Uint8Array(SLICES * slice);
  for (let k = 0; k < SLICES; k++) {
    const at = Math.floor(((n - slice) * k) / (SLICES - 1));
    out.set(data.subarray(at, at + slice), k * slice);
  }
  return out;
}

/** Share of the sample's coded size two-rate literals must save to be chosen. */
const TWO_RATE_MIN_GAIN = 0.002;

const TRIAL: LevelParams = { mode: 'optimal', depth: 16, niceLen: 32, lazy: 0 };
/** Below this the defaults are kept: too little data to tell settings apart. */
const MIN_SAMPLE = 256;

/** What the search picks: lc/lp/pb and whether literals are coded two-rate. */
export interface LzSettings {
  props: LzProps;
  twoRate: boolean;
}

/**
 * lc/lp/pb (unless `fixed`) by trial parses of a sample, then two-rate literals or not by one more
 * trial with the winner (two-rate saves 0.2-0.7% of literal bits on weights and can lose on text).
 */
export function chooseSettings(data: Uint8Array, level: number, windowLog: number, signal?: AbortSignal, fixed?: LzProps): LzSettings {
  const pl = plan(level);
  const sample = sampleOf(data, pl.sliceBytes);
  if (sample.length < MIN_SAMPLE) return { props: fixed ?? LZ_DEFAULT_PROPS, twoRate: false };
  const cache = new MatchCache(sample, windowLog, TRIAL.depth, TRIAL.niceLen);
  const seen = new Map<number, number>();
  const cost = (p: LzProps, twoRate = false): number => {
    const k = propsByte(p) + (twoRate ? 256 : 0);
    let c = seen.get(k);
    if (c === undefined) {
      throwIfAborted(signal, 'lzEncode');
      cache.rewind();
      const coder = new LzCoder(sample, p, sample.length + 1024, true, twoRate);
      parseOptimal(coder, TRIAL, cache, signal);
      c = coder.rc.bytesOut;
      seen.set(k, c);
    }
    return c;
  };
  let best: LzProps = fixed ?? LZ_DEFAULT_PROPS;
  let bestCost = cost(best);
  const consider = (p: LzProps): boolean => {
    if (!validProps(p)) return false;
    const c = cost(p);
    if (c >= bestCost) return false;
    best = p;
    bestCost = c;
    return true;
  };
  if (!fixed) {
    for (const [lc, lp, pb] of SEEDS.slice(0, pl.seeds)) consider({ lc, lp, pb });
    for (let round = 0; round < pl.rounds; round++) {
      let improved = false;
      const b = best;
      for (const [dl, dp, db] of [[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]] as const) {
        if (consider({ lc: b.lc + dl, lp: b.lp + dp, pb: b.pb + db })) improved = true;
      }
      if (!improved) break;
    }
  }
  // Two-rate literals decode ~30% slower (two tables per literal bit): kept only for a real gain.
  return { props: best, twoRate: cost(best, true) < bestCost * (1 - TWO_RATE_MIN_GAIN) };
}

export function chooseProps(data: Uint8Array, level: number, windowLog: number, signal?: AbortSignal): LzProps {
  return chooseSettings(data, level, windowLog, signal).props;
}
