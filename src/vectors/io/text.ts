/**
 * Vectors as text, one per line, values separated by spaces or tabs: TSV exports, NMSLIB's
 * `final8_10K.txt` (`%.7e` floats), and GloVe's `word v1 v2 ...` lines (the first column becomes a
 * label). Blank lines and lines starting with '#' are skipped.
 *
 * Two passes over the bytes: the first checks line lengths, the row count and that every row has
 * the same number of values, so the output is allocated once at its exact size; the second parses.
 */
import { ZipmlError } from '../../core/index.js';
import { type ReadLimits, type VectorData, MAX_DIM, allocate, checkMatrix, checkedMul, maxBytesOf } from './common.js';

export interface TextReadOptions extends ReadLimits {
  /** Longest line in bytes. Default 4 MiB (a 65,536-d row of %.7e floats is ~1 MiB). */
  maxLineBytes?: number;
  /** Most rows. Default 2^24 (16,777,216). */
  maxRows?: number;
  /**
   * Whether the first column is a label (GloVe's word). 'auto' (default): when the first token of
   * the first row is not a number.
   */
  labels?: 'auto' | 'first' | 'none';
}

export interface TextVectors extends VectorData<Float32Array> {
  /** The first column of each row, when it was a label column. */
  labels?: string[];
}

export const TEXT_DEFAULT_MAX_LINE_BYTES = 4 << 20;
export const TEXT_DEFAULT_MAX_ROWS = 1 << 24;

const SPACE = 0x20, TAB = 0x09, CR = 0x0d, LF = 0x0a, HASH = 0x23;
const isSep = (c: number) => c === SPACE || c === TAB || c === CR;

/** A numeric token as its value, or undefined. Stricter than Number(): no hex, no empty string. */
function parseNumber(bytes: Uint8Array, start: number, end: number): number | undefined {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
  if (!m) return undefined;
  return m[2]!.toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
}

interface Line {
  start: number;
  end: number;
  no: number;
}

/** Calls `row` for each data line (not blank, not a comment), with its 1-based line number. */
function forEachLine(bytes: Uint8Array, maxLineBytes: number, row: (line: Line) => void): void {
  let no = 0;
  for (let start = 0; start < bytes.length;) {
    let end = bytes.indexOf(LF, start);
    if (end < 0) end = bytes.length;
    no++;
    if (end - start > maxLineBytes) {
      throw new ZipmlError('E_LIMIT', `text: line ${no} is ${end - start} bytes, over the limit of ${maxLineBytes}`, { offset: start });
    }
    let s = start;
    while (s < end && isSep(bytes[s]!)) s++;
    if (s < end && bytes[s] !== HASH) row({ start: s, end, no });
    start = end + 1;
  }
}

/** Calls `token` for each whitespace-separated token of a line; returns how many there were. */
function forEachToken(bytes: Uint8Array, line: Line, token?: (start: number, end: number, index: number) => void): number {
  let count = 0;
  for (let i = line.start; i < line.end;) {
    while (i < line.end && isSep(bytes[i]!)) i++;
    if (i >= line.end) break;
    const s = i;
    while (i < line.end && !isSep(bytes[i]!)) i++;
    token?.(s, i, count);
    count++;
  }
  return count;
}

/** Whitespace-separated text -> n x d f32 (plus labels when the first column holds them). */
export function parseTextVectors(bytes: Uint8Array, opts: TextReadOptions = {}): TextVectors {
  const maxBytes = maxBytesOf(opts);
  const maxLineBytes = opts.maxLineBytes ?? TEXT_DEFAULT_MAX_LINE_BYTES;
  const maxRows = opts.maxRows ?? TEXT_DEFAULT_MAX_ROWS;
  const mode = opts.labels ?? 'auto';
  let labelled = mode === 'first';
  let columns = -1;
  let first: Line | undefined;
  let n = 0;
  forEachLine(bytes, maxLineBytes, (line) => {
    if (n === maxRows) throw new ZipmlError('E_LIMIT', `text: more than ${maxRows} rows (line ${line.no})`, { offset: line.start });
    const detect = mode === 'auto' && n === 0;
    const count = forEachToken(bytes, line, detect ? (s, e, i) => {
      if (i === 0) labelled = parseNumber(bytes, s, e) === undefined;
    } : undefined);
    if (columns < 0) {
      columns = count;
      first = line;
    } else if (count !== columns) {
      throw new ZipmlError('E_CORRUPT', `text: line ${line.no} has ${count} columns, line ${first!.no} had ${columns}`, { offset: line.start });
    }
    n++;
  });
  const d = columns < 0 ? 0 : columns - (labelled ? 1 : 0);
  if (n > 0 && d < 1) throw new ZipmlError('E_CORRUPT', `text: line ${first!.no} has a label but no values`, { offset: first!.start });
  if (d > MAX_DIM) throw new ZipmlError('E_LIMIT', `text: ${d} values per row exceed the limit of ${MAX_DIM}`, { offset: first!.start });
  const data = allocate(Float32Array, checkedMul(n, d, maxBytes, 'text: n x d'), maxBytes, 'text');
  const labels: string[] | undefined = labelled ? [] : undefined;
  const utf8 = new TextDecoder();
  let row = 0;
  forEachLine(bytes, maxLineBytes, (line) => {
    forEachToken(bytes, line, (s, e, i) => {
      if (labels && i === 0) {
        labels.push(utf8.decode(bytes.subarray(s, e)));
        return;
      }
      const v = parseNumber(bytes, s, e);
      if (v === undefined) {
        const tok = utf8.decode(bytes.subarray(s, Math.min(e, s + 40)));
        throw new ZipmlError('E_CORRUPT', `text: line ${line.no}, column ${i + 1}: ${JSON.stringify(tok)} is not a number`, { offset: s });
      }
      data[row * d + i - (labels ? 1 : 0)] = v;
    });
    row++;
  });
  return labels ? { data, n, d, labels } : { data, n, d };
}

/** Shortest decimal that reads back as the same f32. */
function f32String(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0';
  for (let p = 1; p < 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

/**
 * n x d f32 -> tab-separated text, one row per line, each value the shortest decimal that reads
 * back to the same f32 (so text round trips are exact). Labels, when given, go first.
 */
export function encodeTextVectors(data: Float32Array, d: number, opts: { labels?: readonly string[] } = {}): Uint8Array {
  const n = d > 0 ? Math.floor(data.length / d) : 0;
  checkMatrix('text', data, n, d);
  const labels = opts.labels;
  if (labels && (labels.length !== n || labels.some((l) => l === '' || /[\s]/.test(l) || l.startsWith('#')))) {
    throw new ZipmlError('E_ARG', 'text: need one label per row, each non-empty, without whitespace, not starting with #');
  }
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const cells = Array.from(data.subarray(i * d, (i + 1) * d), f32String);
    if (labels) cells.unshift(labels[i]!);
    lines.push(cells.join('\t'));
  }
  return new TextEncoder().encode(lines.length ? lines.join('\n') + '\n' : '');
}
