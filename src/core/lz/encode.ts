/**
 * lzEncode: LZ77 parsing + adaptive binary range coding (LZMA-class) of one buffer into a raw
 * payload (2-byte header, then the range-coded stream). The decoder needs the output size, which
 * the caller stores (the framed form in frame.ts does).
 */
import { argCheck, throwIfAborted } from '../errors.js';
import { LzCoder } from './coder.js';
import { propsByte, validProps, LZ_DEFAULT_PROPS, type LzProps } from './model.js';
import { LEVELS, LZ_HEADER_BYTES, LZ_FLAGS_NONE, LZ_FLAGS_STORED, LZ_FLAGS_TWO_RATE, PROPS_SEARCH_MIN_LEVEL, WINDOW_LOG_DEFAULT, WINDOW_LOG_MAX, WINDOW_LOG_MIN } from './params.js';
import { parseFast } from './parse-fast.js';
import { parseOptimal } from './parse-optimal.js';
import { BinaryTree } from './match-finder.js';
import { chooseSettings, type LzSettings } from './props-search.js';

export interface LzOptions {
  /** 1..9, default 6; 1-4 hash chains with greedy/lazy parsing, 5-9 binary trees with optimal parsing. */
  level?: number;
  /** log2 of the match window, 12..26 (default 24; never more than the input needs). */
  windowLog?: number;
  /** Literal/position context bits. By default levels 5-9 choose them per input (see props-search.ts); 1-4 use lc=3 lp=0 pb=2. */
  props?: LzProps;
  /**
   * Two-rate literal coding (payload flags 2; range-coder.ts). Default: levels 5-9 decide by a
   * trial on the props search's sample, levels 1-4 do not use it.
   */
  twoRate?: boolean;
  signal?: AbortSignal;
}

/** Encodes with fixed settings (one pass). */
function encodeWith(data: Uint8Array, level: number, windowLog: number, { props, twoRate }: LzSettings, signal?: AbortSignal): Uint8Array {
  const params = LEVELS[level - 1]!;
  const coder = new LzCoder(data, props, undefined, params.mode === 'optimal', twoRate);
  if (params.mode === 'fast') parseFast(coder, params, windowLog, signal);
  else parseOptimal(coder, params, new BinaryTree(data, windowLog, params.depth, params.niceLen), signal);
  const body = coder.finish();
  if (body.length + 4 >= data.length) return stored(data); // incompressible: store
  const out = new Uint8Array(LZ_HEADER_BYTES + body.length);
  out[0] = propsByte(props);
  out[1] = twoRate ? LZ_FLAGS_TWO_RATE : LZ_FLAGS_NONE;
  out.set(body, LZ_HEADER_BYTES);
  return out;
}

function stored(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(LZ_HEADER_BYTES + data.length);
  out[1] = LZ_FLAGS_STORED;
  out.set(data, LZ_HEADER_BYTES);
  return out;
}

export function lzEncode(data: Uint8Array, opts: LzOptions = {}): Uint8Array {
  const level = opts.level ?? 6;
  argCheck(Number.isInteger(level) && level >= 1 && level <= 9, `lzEncode: level must be an integer 1..9, got ${level}`);
  const windowLog = opts.windowLog ?? WINDOW_LOG_DEFAULT;
  argCheck(Number.isInteger(windowLog) && windowLog >= WINDOW_LOG_MIN && windowLog <= WINDOW_LOG_MAX, `lzEncode: windowLog must be an integer ${WINDOW_LOG_MIN}..${WINDOW_LOG_MAX}, got ${windowLog}`);
  argCheck(data.length < 2 ** 31 - 1024, `lzEncode: input of ${data.length} bytes is too large for one call (split it)`);
  if (opts.props) argCheck(validProps(opts.props), `lzEncode: invalid props ${JSON.stringify(opts.props)}`);
  throwIfAborted(opts.signal, 'lzEncode');
  if (level < PROPS_SEARCH_MIN_LEVEL || (opts.props && opts.twoRate !== undefined)) {
    return encodeWith(data, level, windowLog, { props: opts.props ?? LZ_DEFAULT_PROPS, twoRate: opts.twoRate ?? false }, opts.signal);
  }
  const chosen = chooseSettings(data, level, windowLog, opts.signal, opts.props);
  if (opts.twoRate !== undefined) chosen.twoRate = opts.twoRate;
  let out = encodeWith(data, level, windowLog, chosen, opts.signal);
  if (level < 9 || opts.props) return out;
  // Level 9 spends more time to be smallest: it also codes exactly as level 6 does (its parse
  // settings and its lc/lp/pb choice, so level 9 is never larger than level 6) and with the
  // defaults in case the sample misled both choices; the smallest result wins.
  const smaller = (a: Uint8Array, b: Uint8Array): Uint8Array => (b.length < a.length ? b : a);
  const six = chooseSettings(data, 6, windowLog, opts.signal);
  if (opts.twoRate !== undefined) six.twoRate = opts.twoRate;
  out = smaller(out, encodeWith(data, 6, windowLog, six, opts.signal));
  if (propsByte(chosen.props) !== propsByte(LZ_DEFAULT_PROPS) || chosen.twoRate) out = smaller(out, encodeWith(data, level, windowLog, { props: LZ_DEFAULT_PROPS, twoRate: opts.twoRate ?? false }, opts.signal));
  return out;
}
