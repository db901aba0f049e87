/**
 * A GGUF llama file (F32, F16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K or Q6_K tensors) as a runnable LlamaModel and
 * its tokenizer.
 *
 * Linear layers: Q8_0 and Q4_0 blocks are exactly our packed group codes (group 32, fp16 scale,
 * 8-bit codes with zero 128 = int8 + 128, 4-bit codes with zero 8), so they become QuantLinear
 * layers on the WASM kernel after moving the nibbles (ggml puts elements j and j + 16 in one byte,
 * we put 2j and 2j + 1). Q4_K, Q5_0, Q5_K and Q6_K stay in their blocks (GgmlLinear, exact ggml dequantization
 * one row at a time); F16/F32 become fp32 DenseLinear. Norms must be F32 or F16; the token
 * embedding may be any supported type and is dequantized for lookup.
 *
 * Every length, shape and hyperparameter is checked against what our runtime computes (Llama,
 * adjacent-pair RoPE with base 10000, RMSNorm eps 1e-5, BOS 1 / EOS 2), and every block's scales
 * must be finite; anything else is a ZipmlError that names the tensor or key.
 */
import { ZipmlError } from '../../core/errors.js';
import { f16ToF32 } from '../../core/dtypes.js';
import '../layout.js';
import { type GgufArray, type GgufHeader, type GgufKV, type GgufScalar, GgufType, parseGgufHeader } from '../formats/gguf.js';
import { LLAMA2C_MAX_FIELD, type Llama2cConfig } from '../formats/llama2c.js';
import { DenseLinear, type LinearOp } from '../llm/linear.js';
import { LINEAR_NAMES, type LlamaBlock, LlamaModel, RMS_EPS } from '../llm/model.js';
import { BOS, EOS, Llama2cTokenizer, MAX_VOCAB } from '../llm/tokenizer.js';
import { GgmlLinear } from './ggml-linear.js';
import { type GgmlBlockType, GGML_BLOCK, firstBadBlock, ggmlDequantize, isGgmlBlockType } from './ggml-quants.js';
import { GGUF_LINEAR_NAMES, SPM_SPACE } from './gguf-export.js';
import { type PackedMatrix, rowBytesFor } from './packed.js';
import { QuantArena, QuantLinear } from './qmatvec.js';

export interface GgufImportOptions {
  /** Q8_0/Q4_0 layers on QuantLinear (WASM kernel; default) or GgmlLinear (exact ggml dequantization). */
  q8q4?: 'packed' | 'ggml';
  /** Largest context (KV cache positions) to allocate; default 32768. */
  maxSeqLen?: number;
}

export interface GgufModel {
  model: LlamaModel;
  tokenizer: Llama2cTokenizer;
  /** ggml type of each tensor, by name. */
  types: Record<string, string>;
}

const WHAT = 'gguf import';
const SUPPORTED = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q4_K', 'Q5_K', 'Q6_K'];

const bad = (code: 'E_FORMAT' | 'E_CORRUPT' | 'E_LIMIT' | 'E_TRUNCATED', msg: string, offset?: number): ZipmlError => new ZipmlError(code, `${WHAT}: ${msg}`, { offset });

class Meta {
  private readonly map = new Map<string, GgufKV>();
  constructor(kv: GgufKV[]) {
    for (const x of kv) this.map.set(x.key, x);
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  uint(key: string, max: number, required = true): number | undefined {
    const x = this.map.get(key);
    if (!x) {
      if (required) throw bad('E_FORMAT', `missing key ${key}`);
      return undefined;
    }
    const v = typeof x.value === 'bigint' ? Number(x.value) : x.value;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad('E_CORRUPT', `${key} = ${String(x.value)} is not an integer in 0..${max}`);
    return v;
  }
  float(key: string): number | undefined {
    const v = this.map.get(key)?.value;
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('E_CORRUPT', `${key} = ${String(v)} is not a finite number`);
    return v;
  }
  string(key: string): string | undefined {
    const v = this.map.get(key)?.value;
    if (v !== undefined && typeof v !== 'string') throw bad('E_CORRUPT', `${key} is not a string`);
    return v;
  }
  array(key: string, itemType: GgufType): (GgufScalar | GgufArray)[] {
    const x = this.map.get(key);
    if (!x) throw bad('E_FORMAT', `missing key ${key}`);
    if (x.type !== GgufType.ARRAY || typeof x.value !== 'object' || x.value.itemType !== itemType) throw bad('E_CORRUPT', `${key} is not an array of ${GgufType[itemType]}`);
    return x.value.items;
  }
}

function readConfig(m: Meta, maxSeqLen: number): Llama2cConfig {
  const arch = m.string('general.architecture');
  if (arch !== 'llama') throw bad('E_FORMAT', `architecture '${arch ?? '(none)'}' is not supported (only 'llama')`);
  const field = (k: string): number => {
    const v = m.uint(`llama.${k}`, LLAMA2C_MAX_FIELD)!;
    if (v === 0) throw bad('E_CORRUPT', `llama.${k} is 0`);
    return v;
  };
  const dim = field('embedding_length'), nHeads = field('attention.head_count');
  const nKvHeads = m.has('llama.attention.head_count_kv') ? field('attention.head_count_kv') : nHeads;
  const cfg: Llama2cConfig = {
    dim, hiddenDim: field('feed_forward_length'), nLayers: field('block_count'), nHeads, nKvHeads,
    vocabSize: 0, seqLen: field('context_length'), sharedClassifier: true,
  };
  if (dim % nHeads !== 0 || (dim / nHeads) % 2 !== 0) throw bad('E_CORRUPT', `embedding_length ${dim} is not head_count ${nHeads} times an even head size`);
  if (nKvHeads > nHeads || nHeads % nKvHeads !== 0) throw bad('E_CORRUPT', `head_count_kv ${nKvHeads} does not divide head_count ${nHeads}`);
  const hs = dim / nHeads;
  const rot = m.uint('llama.rope.dimension_count', LLAMA2C_MAX_FIELD, false);
  if (rot !== undefined && rot !== hs) throw bad('E_FORMAT', `rope.dimension_count ${rot} differs from the head size ${hs} (partial rotary is not supported)`);
  const base = m.float('llama.rope.freq_base');
  if (base !== undefined && base !== 10000) throw bad('E_FORMAT', `rope.freq_base ${base} is not supported (the runtime uses 10000)`);
  if (m.has('llama.rope.scaling.type') && m.string('llama.rope.scaling.type') !== 'none') throw bad('E_FORMAT', `rope scaling is not supported`);
  const eps = m.float('llama.attention.layer_norm_rms_epsilon');
  if (eps === undefined || Math.fround(eps) !== Math.fround(RMS_EPS)) throw bad('E_FORMAT', `layer_norm_rms_epsilon ${eps} is not supported (the runtime uses ${RMS_EPS})`);
  if (cfg.seqLen > maxSeqLen) throw bad('E_LIMIT', `context_length ${cfg.seqLen} exceeds maxSeqLen ${maxSeqLen}`);
  return cfg;
}

function readTokenizer(m: Meta): Llama2cTokenizer {
  const model = m.string('tokenizer.ggml.model');
  if (model !== 'llama') throw bad('E_FORMAT', `tokenizer.ggml.model '${model ?? '(none)'}' is not supported (only 'llama', SentencePiece BPE)`);
  const tokens = m.array('tokenizer.ggml.tokens', GgufType.STRING);
  const scores = m.array('tokenizer.ggml.scores', GgufType.F32);
  if (tokens.length < 3 || tokens.length > MAX_VOCAB || scores.length !== tokens.length) throw bad('E_CORRUPT', `${tokens.length} tokens with ${scores.length} scores (3..${MAX_VOCAB} needed, equal counts)`);
  for (const [key, want] of [['tokenizer.ggml.bos_token_id', BOS], ['tokenizer.ggml.eos_token_id', EOS]] as const) {
    const v = m.uint(key, MAX_VOCAB, false);
    if (v !== undefined && v !== want) throw bad('E_FORMAT', `${key} = ${v}; the runtime uses ${want}`);
  }
  const enc = new TextEncoder();
  const pieces = tokens.map((t) => enc.encode((t as string).replaceAll(SPM_SPACE, ' ')));
  const sc = Float32Array.from(scores as number[]);
  sc.forEach((s, i) => {
    if (!Number.isFinite(s)) throw bad('E_CORRUPT', `score of token ${i} is ${s}`);
  });
  return new Llama2cTokenizer(pieces, sc);
}

interface Tensor {
  name: string;
  type: string;
  ne: number[];
  bytes: Uint8Array;
  offset: number;
}

function tensorTable(h: GgufHeader, bytes: Uint8Array): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const spans: [number, number, string][] = [];
  for (const t of h.tensors) {
    const offset = h.dataOffset + t.relOffset;
    if (offset + t.byteLength > bytes.length) throw bad('E_TRUNCATED', `tensor '${t.name}' (${t.byteLength} bytes at ${offset}) runs past the end of the file (${bytes.length} bytes)`, bytes.length);
    spans.push([offset, offset + t.byteLength, t.name]);
    out.set(t.name, { name: t.name, type: t.type.name, ne: t.ne, bytes: bytes.subarray(offset, offset + t.byteLength), offset });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] < spans[i - 1]![1]) throw bad('E_CORRUPT', `tensors '${spans[i - 1]![2]}' and '${spans[i]![2]}' overlap`, spans[i]![0]);
  }
  return out;
}

function get(t: Map<string, Tensor>, name: string, ne: number[], matrix: boolean): Tensor {
  const x = t.get(name);
  if (!x) throw bad('E_FORMAT', `missing tensor '${name}'`);
  // ggml drops trailing 1s in n_dims; compare the shapes padded with 1s.
  const pad = (a: number[]): string => [...a, 1, 1, 1, 1].slice(0, 4).join(' x ');
  if (pad(x.ne) !== pad(ne)) throw bad('E_CORRUPT', `tensor '${name}' has ne [${x.ne.join(', ')}], expected [${ne.join(', ')}]`, x.offset);
  if (!SUPPORTED.includes(x.type)) throw bad('E_FORMAT', `tensor '${name}' has type ${x.type}; supported: ${SUPPORTED.join(', ')}`, x.offset);
  if (!matrix && x.type !== 'F32' && x.type !== 'F16') throw bad('E_FORMAT', `tensor '${name}' is ${x.type}; norms must be F32 or F16`, x.offset);
  if (isGgmlBlockType(x.type)) {
    const b = firstBadBlock(x.type, x.bytes);
    if (b >= 0) throw bad('E_CORRUPT', `tensor '${name}' block ${b} has a non-finite scale`, x.offset + b * GGML_BLOCK[x.type].bytes);
  }
  return x;
}

/** A tensor's values as fp32 (plain types converted, blocks dequantized), all finite. */
function floats(x: Tensor): Float32Array {
  const n = x.ne.reduce((a, b) => a * b, 1);
  let out: Float32Array;
  if (x.type === 'F32') out = new Float32Array(x.bytes.slice().buffer);
  else if (x.type === 'F16') out = f16ToF32(new Uint16Array(x.bytes.slice().buffer));
  else out = ggmlDequantize(x.type as GgmlBlockType, x.bytes, n);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i]!)) throw bad('E_CORRUPT', `tensor '${x.name}' has a non-finite value at element ${i}`, x.offset);
  return out;
}

/** Q8_0 / Q4_0 blocks as our group-32 packed codes (same numbers, our bit order). */
export function packedFromGgml(type: 'Q8_0' | 'Q4_0', blocks: Uint8Array, rows: number, cols: number): PackedMatrix {
  const bits = type === 'Q8_0' ? 8 : 4, bs = type === 'Q8_0' ? 34 : 18, nB = cols / 32;
  const rowBytes = rowBytesFor(cols, bits);
  const codes = new Uint8Array(rows * rowBytes), scales = new Uint16Array(rows * nB);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nB; b++) {
      const o = (r * nB + b) * bs, at = r * rowBytes + (b * 32 * bits) / 8;
      scales[r * nB + b] = blocks[o]! | (blocks[o + 1]! << 8);
      if (bits === 8) for (let j = 0; j < 32; j++) codes[at + j] = blocks[o + 2 + j]! ^ 0x80;
      else {
        // ggml byte j: element j (low), element j + 16 (high); ours: byte k holds elements 2k (low), 2k + 1 (high).
        for (let k = 0; k < 16; k++) {
          const lo = k < 8 ? blocks[o + 2 + 2 * k]! & 15 : blocks[o + 2 + 2 * k - 16]! >> 4;
          const hi = k < 8 ? blocks[o + 3 + 2 * k]! & 15 : blocks[o + 3 + 2 * k - 16]! >> 4;
          codes[at + k] = lo | (hi << 4);
        }
      }
    }
  }
  return { rows, cols, bits, group: 32, symmetric: true, rowBytes, codes, scales, zeros: undefined };
}

function linear(x: Tensor, rows: number, cols: number, arena: QuantArena, opts: GgufImportOptions): LinearOp {
  if ((x.type === 'Q8_0' || x.type === 'Q4_0') && (opts.q8q4 ?? 'packed') === 'packed') return new QuantLinear(packedFromGgml(x.type, x.bytes, rows, cols), arena);
  if (isGgmlBlockType(x.type)) return new GgmlLinear(x.type, x.bytes.slice(), rows, cols);
  return new DenseLinear(floats(x), rows, cols);
}

/** Parses a whole GGUF llama file held in memory. */
export function loadGgufModel(bytes: Uint8Array, opts: GgufImportOptions = {}): GgufModel {
  const h = parseGgufHeader(bytes);
  if (h.dataOffset > bytes.length) throw bad('E_TRUNCATED', `data section starts at ${h.dataOffset}, past the end of the file`, bytes.length);
  const m = new Meta(h.kv);
  const cfg = readConfig(m, opts.maxSeqLen ?? 32768);
  const tokenizer = readTokenizer(m);
  cfg.vocabSize = tokenizer.vocabSize;
  const vocabKey = m.uint('llama.vocab_size', MAX_VOCAB, false);
  if (vocabKey !== undefined && vocabKey !== cfg.vocabSize) throw bad('E_CORRUPT', `llama.vocab_size ${vocabKey} differs from the ${cfg.vocabSize} tokens`);
  const t = tensorTable(h, bytes);
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = cfg;
  const kvDim = (dim / nHeads) * nKvHeads;
  const kvBytes = 2 * 4 * nLayers * cfg.seqLen * kvDim;
  if (kvBytes > 2 ** 31) throw bad('E_LIMIT', `the KV cache would take ${kvBytes} bytes (context ${cfg.seqLen}); lower context_length or maxSeqLen`);
  const types: Record<string, string> = {};
  const take = (name: string, ne: number[], matrix: boolean): Tensor => {
    const x = get(t, name, ne, matrix);
    types[name] = x.type;
    return x;
  };
  const arena = new QuantArena();
  const tokenEmbedding = floats(take('token_embd.weight', [dim, vocabSize], true));
  const rmsFinal = floats(take('output_norm.weight', [dim], false));
  const blocks: LlamaBlock[] = [];
  const shapes: Record<string, [number, number]> = { wq: [dim, dim], wk: [kvDim, dim], wv: [kvDim, dim], wo: [dim, dim], w1: [hiddenDim, dim], w2: [dim, hiddenDim], w3: [hiddenDim, dim] };
  for (let l = 0; l < nLayers; l++) {
    const b: Partial<LlamaBlock> = {
      rmsAtt: floats(take(`blk.${l}.attn_norm.weight`, [dim], false)),
      rmsFfn: floats(take(`blk.${l}.ffn_norm.weight`, [dim], false)),
    };
    for (const n of LINEAR_NAMES) {
      const [rows, cols] = shapes[n]!;
      b[n] = linear(take(`blk.${l}.${GGUF_LINEAR_NAMES[n]}.weight`, [cols, rows], true), rows, cols, arena, opts);
    }
    blocks.push(b as LlamaBlock);
  }
  let classifier: LinearOp = new DenseLinear(tokenEmbedding, vocabSize, dim);
  if (t.has('output.weight')) {
    cfg.sharedClassifier = false;
    classifier = linear(take('output.weight', [dim, vocabSize], true), vocabSize, dim, arena, opts);
  }
  const unused = [...t.keys()].filter((k) => !(k in types));
  if (unused.length) throw bad('E_FORMAT', `tensors the llama runtime does not use: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}`);
  return { model: new LlamaModel({ config: cfg, tokenEmbedding, blocks, rmsFinal, classifier }), tokenizer, types };
}
