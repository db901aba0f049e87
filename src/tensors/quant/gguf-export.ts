/**
 * A Llama model (fp32 or quantized LinearOps) as a GGUF file llama.cpp loads: architecture
 * `llama`, the llama.* hyperparameters, the tokenizer as llama.cpp's llama2.c converter
 * (examples/convert-llama2c-to-ggml) writes it, and tensors under llama.cpp's names.
 *
 * RoPE: llama2.c rotates adjacent pairs (2i, 2i+1) by pos * 10000^(-2i/head_size), which is
 * llama.cpp's normal (non-NeoX) rope mode, the one it uses for arch `llama` (LLAMA_ROPE_TYPE_NORM),
 * so Q and K are written as they are (the HF converter permutes only because HF checkpoints use
 * the rotate-half layout).
 *
 * Linear layers go to the requested block type. Where a layer's row length is not a multiple of
 * the block size we do what llama.cpp's quantizer does (llama-quant.cpp, llama_tensor_get_type):
 * Q4_K falls back to Q5_0, and to F16 when that does not fit either. For Q8_0 and Q4_0 llama.cpp
 * stops with "Unsupported tensor size"; we end the chain the same way, at F16 (or F32 if asked).
 * A layer already quantized to codes ggml can hold exactly (8-bit or 4-bit symmetric group codes
 * whose groups are whole 32-blocks, or ggml blocks of the target type) is re-laid-out without
 * requantizing; anything else is dequantized and quantized with ggml's reference quantizer.
 */
import { ZipmlError, throwIfAborted, type LongOpOptions } from '../../core/errors.js';
import { f32ToF16 } from '../../core/dtypes.js';
import '../layout.js';
import { type ByteSink, BufferSink } from '../formats/common.js';
import { type GgufKV, type GgufTensorSpec, GgufType, writeGguf } from '../formats/gguf.js';
import type { LinearOp } from '../llm/linear.js';
import { LINEAR_NAMES, type LinearName, LlamaModel, type LlamaWeights, RMS_EPS } from '../llm/model.js';
import { BOS, EOS, type Llama2cTokenizer } from '../llm/tokenizer.js';
import { denseWeights } from './dense-weights.js';
import { GgmlLinear } from './ggml-linear.js';
import { type GgmlBlockType, GGML_BLOCK, ggmlQuantize } from './ggml-quants.js';
import { codeAt, groupsPerRow } from './packed.js';
import { QuantLinear } from './qmatvec.js';

export type GgufLinearType = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'F16' | 'F32';
export type GgufPlainType = 'F16' | 'F32';

export interface GgufExportOptions extends LongOpOptions {
  /** Type of the block linear layers (wq, wk, wv, wo, w1, w2, w3). */
  type: GgufLinearType;
  /** token_embd.weight (and an untied output.weight kept in fp32 by our runtime). Default F32. */
  embeddingType?: GgufPlainType;
  /** Where ggml's fallback chain ends for rows no block type fits. Default F16, as llama.cpp. */
  fallbackType?: GgufPlainType;
  /** general.name. */
  name?: string;
}

export interface GgufTensorReport {
  name: string;
  type: string;
  /** Outermost first (rows, cols). */
  shape: number[];
  bytes: number;
  /** repacked: codes moved into ggml blocks unchanged; quantized: ggml's reference quantizer ran; plain: F32/F16. */
  how: 'repacked' | 'quantized' | 'plain';
  /** Why the type differs from the one asked for. */
  fallback?: string;
}

export interface GgufModelFile {
  kv: GgufKV[];
  tensors: GgufTensorSpec[];
  report: GgufTensorReport[];
}

/** llama.cpp's tensor names for llama2.c's (convert-llama2c-to-ggml's TN_* names). */
export const GGUF_LINEAR_NAMES: Record<LinearName, string> = {
  wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', w1: 'ffn_gate', w2: 'ffn_down', w3: 'ffn_up',
};

/** llama_token_type values. */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
/** llama_ftype values written as general.file_type. */
const FILE_TYPE: Record<GgufLinearType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, Q4_K: 14 };
/** SentencePiece's word-boundary mark, which llama.cpp's SPM vocabulary uses for spaces. */
export const SPM_SPACE = '\u2581';
/** ggml's quantization version for Q4_0/Q8_0/K-quant layouts (GGML_QNT_VERSION). */
const QNT_VERSION = 2;

const WHAT = 'gguf export';

const u32 = (key: string, value: number): GgufKV => ({ key, type: GgufType.U32, value });
const f32 = (key: string, value: number): GgufKV => ({ key, type: GgufType.F32, value });
const str = (key: string, value: string): GgufKV => ({ key, type: GgufType.STRING, value });

/** Tokens, scores and types as convert-llama2c-to-ggml writes them (spaces as U+2581). */
export function ggufTokenizerKV(tok: Llama2cTokenizer): GgufKV[] {
  const dec = new TextDecoder('utf-8', { fatal: true });
  const tokens: string[] = [], types: number[] = [];
  tok.pieces.forEach((p, id) => {
    let text: string;
    try {
      text = dec.decode(p);
    } catch {
      throw new ZipmlError('E_ARG', `${WHAT}: token ${id} is not valid UTF-8; GGUF stores tokens as UTF-8 strings`);
    }
    let type: number = TOKEN_TYPE.NORMAL;
    if (id === 0) (text = '<unk>'), (type = TOKEN_TYPE.UNKNOWN);
    else if (id === BOS) (text = '<s>'), (type = TOKEN_TYPE.CONTROL);
    else if (id === EOS) (text = '</s>'), (type = TOKEN_TYPE.CONTROL);
    else if (text === '') type = TOKEN_TYPE.CONTROL;
    else if (/^<0x[0-9A-Fa-f]{2}>$/.test(text)) type = TOKEN_TYPE.BYTE;
    tokens.push(text.replaceAll(' ', SPM_SPACE));
    types.push(type);
  });
  return [
    str('tokenizer.ggml.model', 'llama'),
    { key: 'tokenizer.ggml.tokens', type: GgufType.ARRAY, value: { itemType: GgufType.STRING, items: tokens } },
    { key: 'tokenizer.ggml.scores', type: GgufType.ARRAY, value: { itemType: GgufType.F32, items: Array.from(tok.scores) } },
    { key: 'tokenizer.ggml.token_type', type: GgufType.ARRAY, value: { itemType: GgufType.I32, items: types } },
    u32('tokenizer.ggml.unknown_token_id', 0),
    u32('tokenizer.ggml.bos_token_id', BOS),
    u32('tokenizer.ggml.eos_token_id', EOS),
    { key: 'tokenizer.ggml.add_bos_token', type: GgufType.BOOL, value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: GgufType.BOOL, value: false },
  ];
}

/** The type a row of `cols` values gets when `want` was asked for (llama.cpp's fallback chain). */
export function ggufTypeFor(want: GgufLinearType, cols: number, fallback: GgufPlainType): { type: GgufLinearType | 'Q5_0'; fallback?: string } {
  if (want === 'F16' || want === 'F32') return { type: want };
  if (cols % GGML_BLOCK[want].values === 0) return { type: want };
  if (want === 'Q4_K' && cols % GGML_BLOCK.Q5_0.values === 0) return { type: 'Q5_0', fallback: `${cols} columns are not a multiple of 256 (llama.cpp's Q4_K fallback)` };
  return { type: fallback, fallback: `${cols} columns are not a multiple of ${want === 'Q4_K' ? '256 or 32' : '32'}` };
}

/** 8- or 4-bit symmetric group codes whose groups are whole 32-blocks map exactly onto Q8_0 / Q4_0. */
function repack(op: QuantLinear, type: 'Q8_0' | 'Q4_0'): Uint8Array | undefined {
  const p = op.packed;
  if (!p.symmetric || p.group % 32 !== 0 || p.cols % 32 !== 0 || p.bits !== (type === 'Q8_0' ? 8 : 4)) return undefined;
  const { bytes } = GGML_BLOCK[type];
  const nB = p.cols / 32, nG = groupsPerRow(p.cols, p.group);
  const out = new Uint8Array(p.rows * nB * bytes);
  for (let r = 0; r < p.rows; r++) {
    for (let b = 0; b < nB; b++) {
      const o = (r * nB + b) * bytes, s = p.scales[r * nG + Math.floor((b * 32) / p.group)]!;
      out[o] = s & 0xff, out[o + 1] = s >> 8;
      if (type === 'Q8_0') {
        // Code q with zero 128 is the int8 q - 128.
        for (let j = 0; j < 32; j++) out[o + 2 + j] = codeAt(p, r, b * 32 + j) ^ 0x80;
      } else {
        for (let j = 0; j < 16; j++) out[o + 2 + j] = codeAt(p, r, b * 32 + j) | (codeAt(p, r, b * 32 + 16 + j) << 4);
      }
    }
  }
  return out;
}

function plainBytes(w: Float32Array, type: GgufPlainType): Uint8Array {
  const a = type === 'F32' ? w : f32ToF16(w);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function linearTensor(name: string, op: LinearOp, opts: GgufExportOptions): { spec: GgufTensorSpec; report: GgufTensorReport } {
  const { type, fallback } = ggufTypeFor(opts.type, op.cols, opts.fallbackType ?? 'F16');
  const shape = [op.rows, op.cols];
  let data: Uint8Array | undefined, how: GgufTensorReport['how'] = 'repacked';
  if (op instanceof GgmlLinear && op.type === type) data = op.blocks;
  else if (op instanceof QuantLinear && (type === 'Q8_0' || type === 'Q4_0')) data = repack(op, type);
  if (!data) {
    const w = denseWeights(op);
    for (let i = 0; i < w.length; i++) {
      if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `${WHAT}: ${name} has a non-finite weight at row ${Math.floor(i / op.cols)}, column ${i % op.cols}`);
    }
    if (type === 'F16' || type === 'F32') (data = plainBytes(w, type)), (how = 'plain');
    else (data = ggmlQuantize(type, w)), (how = 'quantized');
  }
  const spec: GgufTensorSpec = { name, dtype: type === 'F16' || type === 'F32' ? type : `GGML_${type}`, shape, data };
  return { spec, report: { name, type, shape, bytes: data.length, how, ...(fallback ? { fallback } : {}) } };
}

function checkFinite(name: string, w: Float32Array): Float32Array {
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `${WHAT}: ${name} has a non-finite value at element ${i}`);
  return w;
}

/** The KV pairs and tensors of the GGUF file for a model (nothing written yet). */
export function ggufModelFile(model: LlamaModel | LlamaWeights, tokenizer: Llama2cTokenizer, opts: GgufExportOptions): GgufModelFile {
  const w = model instanceof LlamaModel ? model.weights : model;
  const c = w.config;
  if (!(opts.type in FILE_TYPE)) throw new ZipmlError('E_ARG', `${WHAT}: type ${String(opts.type)} is not one of ${Object.keys(FILE_TYPE).join(', ')}`);
  if (tokenizer.vocabSize !== c.vocabSize) throw new ZipmlError('E_ARG', `${WHAT}: tokenizer has ${tokenizer.vocabSize} tokens, the model ${c.vocabSize}`);
  const hs = c.dim / c.nHeads;
  const kv: GgufKV[] = [
    str('general.architecture', 'llama'),
    str('general.name', opts.name ?? 'llama'),
    u32('general.file_type', FILE_TYPE[opts.type]),
    u32('general.quantization_version', QNT_VERSION),
    u32('llama.vocab_size', c.vocabSize),
    u32('llama.context_length', c.seqLen),
    u32('llama.embedding_length', c.dim),
    u32('llama.block_count', c.nLayers),
    u32('llama.feed_forward_length', c.hiddenDim),
    u32('llama.attention.head_count', c.nHeads),
    u32('llama.attention.head_count_kv', c.nKvHeads),
    u32('llama.rope.dimension_count', hs),
    f32('llama.rope.freq_base', 10000),
    f32('llama.attention.layer_norm_rms_epsilon', RMS_EPS),
    ...ggufTokenizerKV(tokenizer),
  ];
  const tensors: GgufTensorSpec[] = [], report: GgufTensorReport[] = [];
  const embType = opts.embeddingType ?? 'F32';
  const plain = (name: string, x: Float32Array, shape: number[], type: GgufPlainType): void => {
    const data = plainBytes(checkFinite(name, x), type);
    tensors.push({ name, dtype: type, shape, data });
    report.push({ name, type, shape, bytes: data.length, how: 'plain' });
  };
  const add = (r: { spec: GgufTensorSpec; report: GgufTensorReport }): void => void (tensors.push(r.spec), report.push(r.report));
  plain('token_embd.weight', w.tokenEmbedding, [c.vocabSize, c.dim], embType);
  plain('output_norm.weight', w.rmsFinal, [c.dim], 'F32');
  if (!c.sharedClassifier) {
    // Our runtime keeps a fp32 classifier dense; a quantized one is exported like the other linear layers.
    const cls = w.classifier;
    if (cls.rows !== c.vocabSize || cls.cols !== c.dim) throw new ZipmlError('E_ARG', `${WHAT}: classifier is ${cls.rows} x ${cls.cols}, expected ${c.vocabSize} x ${c.dim}`);
    add(linearTensor('output.weight', cls, { ...opts, type: cls instanceof QuantLinear || cls instanceof GgmlLinear ? opts.type : embType }));
  }
  const total = c.nLayers * LINEAR_NAMES.length;
  w.blocks.forEach((b, l) => {
    plain(`blk.${l}.attn_norm.weight`, b.rmsAtt, [c.dim], 'F32');
    plain(`blk.${l}.ffn_norm.weight`, b.rmsFfn, [c.dim], 'F32');
    LINEAR_NAMES.forEach((n, i) => {
      throwIfAborted(opts.signal, WHAT);
      add(linearTensor(`blk.${l}.${GGUF_LINEAR_NAMES[n]}.weight`, b[n], opts));
      opts.onProgress?.(l * LINEAR_NAMES.length + i + 1, total);
    });
  });
  return { kv, tensors, report };
}

/** Streams the GGUF file of a model into `sink`; returns what each tensor became. */
export async function writeGgufModel(sink: ByteSink, model: LlamaModel | LlamaWeights, tokenizer: Llama2cTokenizer, opts: GgufExportOptions): Promise<GgufTensorReport[]> {
  const file = ggufModelFile(model, tokenizer, opts);
  await writeGguf(sink, file.tensors, { kv: file.kv, signal: opts.signal });
  return file.report;
}

/** The GGUF file of a model as bytes, with the per-tensor report. */
export async function exportGguf(model: LlamaModel | LlamaWeights, tokenizer: Llama2cTokenizer, opts: GgufExportOptions): Promise<{ bytes: Uint8Array; report: GgufTensorReport[] }> {
  const sink = new BufferSink();
  const report = await writeGgufModel(sink, model, tokenizer, opts);
  return { bytes: sink.bytes(), report };
}
