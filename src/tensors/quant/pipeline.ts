/**
 * What the CLI and the benchmark share around the quantizers: opening a model from its bytes
 * (llama2.c checkpoint, our quantized-model file, or a GGUF llama file), and cutting a text into a calibration slice
 * (documents from the start) and an evaluation slice (documents from the end) that never overlap.
 */
import { ZipmlError } from '../../core/errors.js';
import { LlamaModel } from '../llm/model.js';
import type { Llama2cTokenizer } from '../llm/tokenizer.js';
import { type QuantFileMeta, decodeQuantizedModel, looksLikeContainer } from './file.js';
import { loadGgufModel } from './gguf-import.js';

export type ModelFileFormat = 'llama2c' | 'zipml-quant' | 'gguf';

export interface OpenedModel {
  format: ModelFileFormat;
  model: LlamaModel;
  /** Carried by the quantized file when it was written with one. */
  tokenizer: Llama2cTokenizer | undefined;
  meta: QuantFileMeta | undefined;
}

const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46];

/** Opens a model from its file bytes, by sniffing: zipml container, GGUF (refused here), else llama2.c. */
export function openModelBytes(bytes: Uint8Array, name = 'model'): OpenedModel {
  if (looksLikeContainer(bytes)) {
    const q = decodeQuantizedModel(bytes);
    return { format: 'zipml-quant', model: q.model, tokenizer: q.tokenizer, meta: q.meta };
  }
  if (GGUF_MAGIC.every((b, i) => bytes[i] === b)) {
    try {
      const g = loadGgufModel(bytes);
      return { format: 'gguf', model: g.model, tokenizer: g.tokenizer, meta: undefined };
    } catch (e) {
      if (e instanceof ZipmlError) throw new ZipmlError(e.code, `${name}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  try {
    return { format: 'llama2c', model: LlamaModel.fromLlama2c(bytes), tokenizer: undefined, meta: undefined };
  } catch (e) {
    if (e instanceof ZipmlError) throw new ZipmlError(e.code, `${name}: not a zipml quantized model, and as a llama2.c checkpoint: ${e.message}`, { cause: e });
    throw e;
  }
}

/** A blank-line separated piece of a text and where it is (UTF-16 offsets). */
export interface TextPiece {
  start: number;
  end: number;
}

/** Offsets of the non-empty blank-line separated pieces (the documents textDocuments makes). */
export function textPieces(text: string): TextPiece[] {
  const out: TextPiece[] = [];
  const sep = /\n[ \t]*\n/g;
  let at = 0;
  const push = (s: number, e: number): void => {
    const piece = text.slice(s, e), lead = piece.length - piece.trimStart().length, trail = piece.length - piece.trimEnd().length;
    if (lead < piece.length) out.push({ start: s + lead, end: e - trail });
  };
  for (let m = sep.exec(text); m; m = sep.exec(text)) {
    push(at, m.index);
    at = m.index + m[0].length;
  }
  push(at, text.length);
  return out;
}

export interface TextSlice {
  docs: number[][];
  /** Tokens that get scored (document lengths minus their BOS). */
  tokens: number;
  /** The slice's character range in the text. */
  start: number;
  end: number;
}

type Encoder = Pick<Llama2cTokenizer, 'encode'>;

/** Documents from the start of `text` until `tokens` scored tokens are reached. */
export function firstSlice(tok: Encoder, text: string, tokens: number, pieces = textPieces(text)): TextSlice {
  const docs: number[][] = [];
  let n = 0, end = 0;
  for (let i = 0; i < pieces.length && n < tokens; i++) {
    const d = tok.encode(text.slice(pieces[i]!.start, pieces[i]!.end), { bos: true });
    if (d.length < 2) continue;
    docs.push(d);
    n += d.length - 1;
    end = pieces[i]!.end;
  }
  return { docs, tokens: n, start: pieces[0]?.start ?? 0, end };
}

/** Documents from the end of `text` (in text order) until `tokens` scored tokens are reached. */
export function lastSlice(tok: Encoder, text: string, tokens: number, pieces = textPieces(text)): TextSlice {
  const docs: number[][] = [];
  let n = 0, start = text.length;
  for (let i = pieces.length - 1; i >= 0 && n < tokens; i--) {
    const d = tok.encode(text.slice(pieces[i]!.start, pieces[i]!.end), { bos: true });
    if (d.length < 2) continue;
    docs.unshift(d);
    n += d.length - 1;
    start = pieces[i]!.start;
  }
  return { docs, tokens: n, start, end: pieces.at(-1)?.end ?? 0 };
}

/**
 * A calibration slice from the start and an evaluation slice from the end of one text; E_ARG when
 * the text is too short for both without overlap.
 */
export function disjointSlices(tok: Encoder, text: string, calibTokens: number, evalTokens: number): { calibration: TextSlice; evaluation: TextSlice } {
  const pieces = textPieces(text);
  const evaluation = lastSlice(tok, text, evalTokens, pieces);
  const calibration = firstSlice(tok, text, calibTokens, pieces);
  if (calibTokens > 0 && calibration.end > evaluation.start) {
    throw new ZipmlError('E_ARG', `the text is too short for ${calibTokens} calibration and ${evalTokens} evaluation tokens without overlap`);
  }
  return { calibration, evaluation };
}
