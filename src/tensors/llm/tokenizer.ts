/**
 * The SentencePiece-style BPE tokenizer of llama2.c (run.c encode/decode), reading the vocabulary
 * in the re-packed layout of llama2.c64 (see ../shared/data/MANIFEST.md, tok512-c64.bin):
 *   uint16 vocab_size; vocab_size x float32 score; vocab_size x uint8 (string length + 1);
 *   vocab_size x uint16 token ids in byte-sorted order of their strings; the strings, each
 *   NUL-terminated, in id order. All little-endian. llama2.c's own tokenizer.bin layout is read
 *   and written too (fromLlama2cBin / toLlama2cBin).
 *
 * Encoding follows run.c: optional BOS (id 1), a dummy-prefix " " token when the text is not
 * empty, one token per UTF-8 code point that is in the vocabulary (else one <0xXX> byte token per
 * byte, id byte + 3), then repeatedly merge the adjacent pair whose concatenation is in the
 * vocabulary with the highest score (the leftmost on ties), and optional EOS (id 2).
 */
import { ZipmlError } from '../../core/errors.js';

export const BOS = 1;
export const EOS = 2;
/** Most tokens a vocabulary may hold (the format's uint16 count bounds it anyway). */
export const MAX_VOCAB = 65535;
/** Longest piece a tokenizer.bin may declare (llama 2's is 27 bytes). */
export const MAX_PIECE_BYTES = 4096;

const WHAT = 'llama2.c tokenizer';
const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);

export class Llama2cTokenizer {
  /** Each token's bytes, by id. */
  readonly pieces: Uint8Array[];
  readonly scores: Float32Array;
  /** Piece bytes (as a latin-1 string) to id; the lowest id wins if a string repeats. */
  private readonly lookup = new Map<string, number>();
  /** The byte a token stands for when its piece is <0xXX>, else -1. */
  private readonly byteOf: Int16Array;

  constructor(pieces: Uint8Array[], scores: Float32Array) {
    if (pieces.length !== scores.length || pieces.length < 3) throw new ZipmlError('E_ARG', `${WHAT}: ${pieces.length} pieces with ${scores.length} scores`);
    this.pieces = pieces;
    this.scores = scores;
    this.byteOf = new Int16Array(pieces.length).fill(-1);
    pieces.forEach((p, id) => {
      const s = latin1(p);
      if (!this.lookup.has(s)) this.lookup.set(s, id);
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(s);
      if (m) this.byteOf[id] = parseInt(m[1]!, 16);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Reads the re-packed tok512 layout; every length and the id permutation are checked. */
  static fromC64(bytes: Uint8Array): Llama2cTokenizer {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const need = (end: number, what: string): void => {
      if (end > bytes.length) throw new ZipmlError('E_TRUNCATED', `${WHAT}: ${what} ends at ${end}, the input has ${bytes.length} bytes`, { offset: bytes.length });
    };
    need(2, 'vocab_size');
    const n = dv.getUint16(0, true);
    if (n < 3) throw new ZipmlError('E_CORRUPT', `${WHAT}: vocab_size ${n} is below 3 (unk, bos, eos)`, { offset: 0 });
    const scoresAt = 2, lensAt = scoresAt + 4 * n, idsAt = lensAt + n, strAt = idsAt + 2 * n;
    need(strAt, 'the tables');
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const s = dv.getFloat32(scoresAt + 4 * i, true);
      if (!Number.isFinite(s)) throw new ZipmlError('E_CORRUPT', `${WHAT}: score of token ${i} is ${s}`, { offset: scoresAt + 4 * i });
      scores[i] = s;
    }
    const pieces: Uint8Array[] = [];
    let at = strAt;
    for (let i = 0; i < n; i++) {
      const len = bytes[lensAt + i]! - 1;
      if (len < 0) throw new ZipmlError('E_CORRUPT', `${WHAT}: token ${i} has length byte 0`, { offset: lensAt + i });
      need(at + len + 1, `string of token ${i}`);
      const p = bytes.subarray(at, at + len);
      if (p.includes(0) || bytes[at + len] !== 0) throw new ZipmlError('E_CORRUPT', `${WHAT}: string of token ${i} is not ${len} bytes then NUL`, { offset: at });
      pieces.push(p.slice());
      at += len + 1;
    }
    if (at !== bytes.length) throw new ZipmlError('E_CORRUPT', `${WHAT}: ${bytes.length - at} bytes after the last string`, { offset: at });
    // The sorted-id table is what run.c's binary search uses; we check it is a sorted permutation.
    const seen = new Uint8Array(n);
    let prev: Uint8Array | undefined;
    for (let i = 0; i < n; i++) {
      const id = dv.getUint16(idsAt + 2 * i, true);
      if (id >= n || seen[id]) throw new ZipmlError('E_CORRUPT', `${WHAT}: sorted id table entry ${i} (${id}) is out of range or repeated`, { offset: idsAt + 2 * i });
      seen[id] = 1;
      const p = pieces[id]!;
      if (prev && compareBytes(prev, p) > 0) throw new ZipmlError('E_CORRUPT', `${WHAT}: sorted id table is not in byte order at entry ${i}`, { offset: idsAt + 2 * i });
      prev = p;
    }
    return new Llama2cTokenizer(pieces, scores);
  }

  /**
   * Reads llama2.c's own `tokenizer.bin` (run.c build_tokenizer): int32 max_token_length, then per
   * token float32 score, int32 length, the bytes. The file does not store the count (run.c takes
   * it from the checkpoint); without `vocabSize` every token up to the end of input is read.
   */
  static fromLlama2cBin(bytes: Uint8Array, vocabSize?: number): Llama2cTokenizer {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bin = `${WHAT} (tokenizer.bin)`;
    if (bytes.length < 4) throw new ZipmlError('E_TRUNCATED', `${bin}: ${bytes.length} bytes is shorter than the 4-byte max_token_length`, { offset: bytes.length });
    const maxLen = dv.getInt32(0, true);
    if (maxLen < 1 || maxLen > MAX_PIECE_BYTES) throw new ZipmlError('E_CORRUPT', `${bin}: max_token_length ${maxLen} is outside 1..${MAX_PIECE_BYTES}`, { offset: 0 });
    if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 3 || vocabSize > MAX_VOCAB)) throw new ZipmlError('E_ARG', `${bin}: vocab size ${vocabSize} is outside 3..${MAX_VOCAB}`);
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let at = 4;
    while (vocabSize === undefined ? at < bytes.length : pieces.length < vocabSize) {
      const i = pieces.length;
      if (i >= MAX_VOCAB) throw new ZipmlError('E_LIMIT', `${bin}: more than ${MAX_VOCAB} tokens`, { offset: at });
      if (at + 8 > bytes.length) throw new ZipmlError('E_TRUNCATED', `${bin}: token ${i} header ends at ${at + 8}, the input has ${bytes.length} bytes`, { offset: bytes.length });
      const score = dv.getFloat32(at, true), len = dv.getInt32(at + 4, true);
      if (!Number.isFinite(score)) throw new ZipmlError('E_CORRUPT', `${bin}: score of token ${i} is ${score}`, { offset: at });
      if (len < 0 || len > maxLen) throw new ZipmlError('E_CORRUPT', `${bin}: token ${i} has length ${len}, outside 0..max_token_length ${maxLen}`, { offset: at + 4 });
      if (at + 8 + len > bytes.length) throw new ZipmlError('E_TRUNCATED', `${bin}: string of token ${i} ends at ${at + 8 + len}, the input has ${bytes.length} bytes`, { offset: bytes.length });
      pieces.push(bytes.slice(at + 8, at + 8 + len));
      scores.push(score);
      at += 8 + len;
    }
    if (at !== bytes.length) throw new ZipmlError('E_CORRUPT', `${bin}: ${bytes.length - at} bytes after token ${pieces.length - 1}`, { offset: at });
    if (pieces.length < 3) throw new ZipmlError('E_CORRUPT', `${bin}: ${pieces.length} tokens, fewer than 3 (unk, bos, eos)`, { offset: at });
    return new Llama2cTokenizer(pieces, Float32Array.from(scores));
  }

  /** Either layout: the tok512-c64 re-packing or llama2.c's tokenizer.bin (tried in that order). */
  static fromBytes(bytes: Uint8Array, vocabSize?: number): Llama2cTokenizer {
    let c64: ZipmlError;
    try {
      const t = Llama2cTokenizer.fromC64(bytes);
      if (vocabSize === undefined || t.vocabSize === vocabSize) return t;
      c64 = new ZipmlError('E_FORMAT', `c64 layout holds ${t.vocabSize} tokens, the model has ${vocabSize}`);
    } catch (e) {
      if (!(e instanceof ZipmlError)) throw e;
      c64 = e;
    }
    try {
      return Llama2cTokenizer.fromLlama2cBin(bytes, vocabSize);
    } catch (e) {
      if (!(e instanceof ZipmlError)) throw e;
      throw new ZipmlError(e.code === 'E_ARG' ? 'E_ARG' : 'E_FORMAT', `not a llama2.c tokenizer in either layout: as tok512-c64: ${c64.message}; as tokenizer.bin: ${e.message}`);
    }
  }

  /** This vocabulary in llama2.c's tokenizer.bin layout (what fromLlama2cBin reads). */
  toLlama2cBin(): Uint8Array {
    const maxLen = Math.max(1, ...this.pieces.map((p) => p.length));
    const out = new Uint8Array(4 + this.pieces.reduce((s, p) => s + 8 + p.length, 0));
    const dv = new DataView(out.buffer);
    dv.setInt32(0, maxLen, true);
    let at = 4;
    this.pieces.forEach((p, i) => {
      dv.setFloat32(at, this.scores[i]!, true);
      dv.setInt32(at + 4, p.length, true);
      out.set(p, at + 8);
      at += 8 + p.length;
    });
    return out;
  }

  /** Token id of exact piece bytes, or -1. */
  pieceId(bytes: Uint8Array): number {
    return this.lookup.get(latin1(bytes)) ?? -1;
  }

  /** run.c's encode of UTF-8 text (a string is UTF-8 encoded first). */
  encode(text: string | Uint8Array, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    const tokens: number[] = [];
    if (opts.bos ?? true) tokens.push(BOS);
    if (bytes.length > 0) {
      const sp = this.lookup.get(' ');
      if (sp === undefined) throw new ZipmlError('E_FORMAT', `${WHAT}: the vocabulary has no " " piece for the dummy prefix`);
      tokens.push(sp);
    }
    // Code points: a lead byte then continuation bytes (10xxxxxx), at most 4, as run.c groups them.
    for (let i = 0; i < bytes.length;) {
      let j = i + 1;
      while (j < bytes.length && (bytes[j]! & 0xc0) === 0x80 && j - i < 4) j++;
      const id = this.lookup.get(latin1(bytes.subarray(i, j)));
      if (id !== undefined) tokens.push(id);
      else for (let b = i; b < j; b++) tokens.push(bytes[b]! + 3);
      i = j;
    }
    this.merge(tokens);
    if (opts.eos) tokens.push(EOS);
    return tokens;
  }

  /**
   * run.c's merge loop (best score wins, leftmost on ties, until no pair merges), with each pair's
   * merge result cached so a step costs one scan of numbers instead of string lookups.
   */
  private merge(tokens: number[]): void {
    const pairId = (i: number): number => {
      const a = this.pieces[tokens[i]!]!, b = this.pieces[tokens[i + 1]!]!;
      return this.lookup.get(latin1(a) + latin1(b)) ?? -1;
    };
    const pair: number[] = [];
    for (let i = 0; i + 1 < tokens.length; i++) pair.push(pairId(i));
    for (;;) {
      let best = -Infinity, at = -1;
      for (let i = 0; i < pair.length; i++) {
        const id = pair[i]!;
        if (id >= 0 && this.scores[id]! > best) {
          best = this.scores[id]!;
          at = i;
        }
      }
      if (at < 0) return;
      tokens.splice(at, 2, pair[at]!);
      pair.splice(at, 1);
      if (at < pair.length) pair[at] = pairId(at);
      if (at > 0) pair[at - 1] = pairId(at - 1);
    }
  }

  /** The bytes token `token` stands for after `prev` (run.c: a leading space is dropped after BOS). */
  pieceBytes(prev: number, token: number): Uint8Array {
    if (!Number.isInteger(token) || token < 0 || token >= this.pieces.length) throw new ZipmlError('E_ARG', `token ${token} is outside 0..${this.pieces.length - 1}`);
    const b = this.byteOf[token]!;
    if (b >= 0) return Uint8Array.of(b);
    const p = this.pieces[token]!;
    return prev === BOS && p[0] === 0x20 ? p.subarray(1) : p;
  }

  /** Bytes of a token sequence (BOS/EOS pieces included only if asked), decoded as UTF-8. */
  decode(tokens: readonly number[], opts: { specials?: boolean } = {}): string {
    return new TextDecoder().decode(this.decodeBytes(tokens, opts));
  }

  decodeBytes(tokens: readonly number[], opts: { specials?: boolean } = {}): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0, prev = -1;
    for (const t of tokens) {
      if (opts.specials || (t !== BOS && t !== EOS)) {
        const p = this.pieceBytes(prev, t);
        parts.push(p);
        total += p.length;
      }
      prev = t;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
