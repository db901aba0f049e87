/**
 * lzEncode: LZ77 parsing + adaptive binary range coding (LZMA-class) of one buffer into a raw
 * payload (2-byte header, then the range-coded stream). The decoder needs the output size, which
 * the caller stores (the framed form in frame.ts does).
 */
import { argCheck, throwIfAborted } from '../errors.js';
import { LzCoder, OpLog } from './coder.js';
import { propsByte, validProps, LZ_DEFAULT_PROPS, type LzProps } from './model.js';
import { LEVELS, LZ_HEADER_BYTES, LZ_FLAGS_NONE, LZ_FLAGS_STORED, PROPS_SEARCH_MIN_LEVEL, PROPS_SAMPLE_BYTES, WINDOW_LOG_DEFAULT, WINDOW_LOG_MAX, WINDOW_LOG_MIN } from './params.js';
import { parseFast } from './parse-fast.js';
import { parseOptimal } from './parse-optimal.js';
import { chooseProps } from './props-search.js';

export interface LzOptions {
  /** 1..9, default 6; 1-4 hash chains with greedy/lazy parsing, 5-9 binary trees with optimal parsing. */
  level?: number;
  /** log2 of the match window, 12..26 (default 24; never more than the input needs). */
  windowLog?: number;
  /** Literal/position context bits. By default levels 5-9 choose them per input (see props-search.ts); 1-4 use lc=3 lp=0 pb=2. */
  props?: LzProps;
  signal?: AbortSignal;
}

/** Encodes with fixed props (one pass); with `log`, records the operations. */
function encodeWithProps(data: Uint8Array, level: number, windowLog: number, props: LzProps, signal?: AbortSignal, log?: OpLog): Uint8Array {
  const params = LEVELS[level - 1]!;
  const coder = new LzCoder(data, props);
  coder.log = log ?? null;
  if (params.mode === 'fast') parseFast(coder, params, windowLog, signal);
  else parseOptimal(coder, params, windowLog, signal);
  const body = coder.finish();
  if (body.length + 4 >= data.length) return stored(data); // incompressible: store
  const out = new Uint8Array(LZ_HEADER_BYTES + body.length);
  out[0] = propsByte(props);
  out[1] = LZ_FLAGS_NONE;
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
  if (opts.props || level < PROPS_SEARCH_MIN_LEVEL) return encodeWithProps(data, level, windowLog, opts.props ?? LZ_DEFAULT_PROPS, opts.signal);
  // Parse with the defaults while logging, pick lc/lp/pb by re-coding the log, parse again if they changed.
  const log = new OpLog();
  const first = encodeWithProps(data, level, windowLog, LZ_DEFAULT_PROPS, opts.signal, log);
  const props = chooseProps(data, log, level >= 9 ? Infinity : PROPS_SAMPLE_BYTES, opts.signal);
  if (propsByte(props) === propsByte(LZ_DEFAULT_PROPS)) return first;
  const second = encodeWithProps(data, level, windowLog, props, opts.signal);
  return second.length < first.length ? second : first;
}
