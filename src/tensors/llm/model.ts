/**
 * The Llama forward pass exactly as karpathy/llama2.c's run.c defines it, in float32 storage:
 * RMSNorm (eps 1e-5, weight times normalized x), rotary embeddings applied pairwise to adjacent
 * dims with frequency 10000^(-(i mod head_size)/head_size), grouped-query attention over a KV
 * cache (query head h reads kv head floor(h / (n_heads / n_kv_heads))), SwiGLU FFN
 * (w2(silu(w1 x) * w3 x)), final RMSNorm and the classifier (shared with the token embedding or
 * separate). Deterministic: a fixed operation order, no threads.
 */
import { ZipmlError } from '../../core/errors.js';
// layout.js first: entering the formats through llama2c.js alone hits the formats' import cycle
// (common -> layout -> sniff -> flatbuffer -> common) before common.js has run.
import '../layout.js';
import { type Llama2cConfig, llama2cRegions, parseLlama2cHeader, LLAMA2C_HEADER_BYTES } from '../formats/llama2c.js';
import { DenseLinear, type LinearOp } from './linear.js';

export const RMS_EPS = 1e-5;

/** The linear layers of one transformer block, in llama2.c's names. */
export interface LlamaBlock {
  rmsAtt: Float32Array;
  wq: LinearOp;
  wk: LinearOp;
  wv: LinearOp;
  wo: LinearOp;
  rmsFfn: Float32Array;
  w1: LinearOp;
  w2: LinearOp;
  w3: LinearOp;
}

export type LinearName = 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3';
export const LINEAR_NAMES: readonly LinearName[] = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];

export interface LlamaWeights {
  config: Llama2cConfig;
  tokenEmbedding: Float32Array;
  blocks: LlamaBlock[];
  rmsFinal: Float32Array;
  classifier: LinearOp;
}

/** Called with the input of every linear layer (layer index, name, input vector); for calibration. */
export type LinearInputHook = (layer: number, name: LinearName, x: Float32Array) => void;

function floats(bytes: Uint8Array, offset: number, count: number, name: string): Float32Array {
  const at = bytes.byteOffset + offset;
  const f = at % 4 === 0 ? new Float32Array(bytes.buffer, at, count) : new Float32Array(bytes.slice(offset, offset + count * 4).buffer);
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(f[i]!)) throw new ZipmlError('E_CORRUPT', `llama2.c: tensor '${name}' has a non-finite weight at element ${i}`, { offset: offset + 4 * i });
  }
  return f;
}

/** Weights of a whole llama2.c checkpoint held in memory (views into `bytes` when aligned). */
export function llamaWeightsFromLlama2c(bytes: Uint8Array): LlamaWeights {
  if (bytes.length < LLAMA2C_HEADER_BYTES) throw new ZipmlError('E_TRUNCATED', `llama2.c: ${bytes.length} bytes is shorter than the ${LLAMA2C_HEADER_BYTES}-byte header`, { offset: bytes.length });
  const cfg = parseLlama2cHeader(bytes.subarray(0, LLAMA2C_HEADER_BYTES));
  const { tensors, end } = llama2cRegions(cfg);
  if (end !== bytes.length) {
    throw new ZipmlError(end > bytes.length ? 'E_TRUNCATED' : 'E_CORRUPT', `llama2.c: header implies ${end} bytes, the input has ${bytes.length}`, { offset: Math.min(end, bytes.length) });
  }
  const t: Record<string, Float32Array> = {};
  for (const r of tensors) t[r.name] = floats(bytes, r.offset, r.byteLength / 4, r.name);
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads } = cfg;
  const hs = dim / nHeads, kv = nKvHeads * hs;
  const mat = (name: string, l: number, rows: number, cols: number): LinearOp => new DenseLinear(t[name]!.subarray(l * rows * cols, (l + 1) * rows * cols), rows, cols);
  const vec = (name: string, l: number, n: number): Float32Array => t[name]!.subarray(l * n, (l + 1) * n);
  const blocks: LlamaBlock[] = [];
  for (let l = 0; l < nLayers; l++) {
    blocks.push({
      rmsAtt: vec('rms_att_weight', l, dim),
      wq: mat('wq', l, dim, dim), wk: mat('wk', l, kv, dim), wv: mat('wv', l, kv, dim), wo: mat('wo', l, dim, dim),
      rmsFfn: vec('rms_ffn_weight', l, dim),
      w1: mat('w1', l, hiddenDim, dim), w2: mat('w2', l, dim, hiddenDim), w3: mat('w3', l, hiddenDim, dim),
    });
  }
  const embed = t['token_embedding_table']!;
  const classifier = new DenseLinear(cfg.sharedClassifier ? embed : t['wcls']!, cfg.vocabSize, dim);
  return { config: cfg, tokenEmbedding: embed, blocks, rmsFinal: t['rms_final_weight']!, classifier };
}

/** out = w * x / sqrt(mean(x^2) + eps), as run.c's rmsnorm. */
export function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const inv = 1 / Math.sqrt(ss / x.length + RMS_EPS);
  for (let i = 0; i < x.length; i++) out[i] = w[i]! * (inv * x[i]!);
}

/** In-place softmax over x[0..n). */
export function softmax(x: Float32Array, n = x.length): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[i]! - max);
    x[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) x[i] = x[i]! / sum;
}

/** A Llama model with its KV cache: forward(token, pos) gives the logits of the next token. */
export class LlamaModel {
  readonly config: Llama2cConfig;
  readonly weights: LlamaWeights;
  /** Set to observe every linear layer's input (GPTQ calibration). */
  linearInputHook: LinearInputHook | undefined;
  private readonly x: Float32Array;
  private readonly xb: Float32Array;
  private readonly xb2: Float32Array;
  private readonly hb: Float32Array;
  private readonly hb2: Float32Array;
  private readonly q: Float32Array;
  private readonly k: Float32Array;
  private readonly v: Float32Array;
  private readonly att: Float32Array;
  private readonly keyCache: Float32Array;
  private readonly valueCache: Float32Array;
  private readonly logits: Float32Array;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  constructor(weights: LlamaWeights) {
    const c = weights.config;
    this.config = c;
    this.weights = weights;
    const hs = c.dim / c.nHeads, kv = c.nKvHeads * hs;
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.xb2 = new Float32Array(c.dim);
    this.hb = new Float32Array(c.hiddenDim);
    this.hb2 = new Float32Array(c.hiddenDim);
    this.q = new Float32Array(c.dim);
    this.k = new Float32Array(kv);
    this.v = new Float32Array(kv);
    this.att = new Float32Array(c.nHeads * c.seqLen);
    this.keyCache = new Float32Array(c.nLayers * c.seqLen * kv);
    this.valueCache = new Float32Array(c.nLayers * c.seqLen * kv);
    this.logits = new Float32Array(c.vocabSize);
    // run.c computes freq and angle in float32 then cosf/sinf; we do the same rounding steps.
    this.cos = new Float32Array(c.seqLen * (hs / 2));
    this.sin = new Float32Array(c.seqLen * (hs / 2));
    for (let p = 0; p < c.seqLen; p++) {
      for (let i = 0; i < hs; i += 2) {
        const freq = Math.fround(1 / Math.fround(Math.pow(10000, Math.fround(i / hs))));
        const val = Math.fround(p * freq);
        this.cos[p * (hs / 2) + i / 2] = Math.cos(val);
        this.sin[p * (hs / 2) + i / 2] = Math.sin(val);
      }
    }
  }

  static fromLlama2c(bytes: Uint8Array): LlamaModel {
    return new LlamaModel(llamaWeightsFromLlama2c(bytes));
  }

  /** The same model with every block's linear layers replaced by `map(layer, name, op)`. */
  mapLinears(map: (layer: number, name: LinearName, op: LinearOp) => LinearOp): LlamaModel {
    const w = this.weights;
    const blocks = w.blocks.map((b, l) => {
      const nb: LlamaBlock = { ...b };
      for (const n of LINEAR_NAMES) nb[n] = map(l, n, b[n]);
      return nb;
    });
    return new LlamaModel({ ...w, blocks });
  }

  private linear(l: number, name: LinearName, x: Float32Array, out: Float32Array): void {
    this.linearInputHook?.(l, name, x);
    this.weights.blocks[l]![name].matvec(x, out);
  }

  /**
   * Logits for the token after `token` at position `pos` (0-based). Positions before `pos` must
   * have been run already (their keys and values are in the cache). The returned array is reused
   * by the next call.
   */
  forward(token: number, pos: number): Float32Array {
    const c = this.config;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) throw new ZipmlError('E_ARG', `token ${token} is outside 0..${c.vocabSize - 1}`);
    if (!Number.isInteger(pos) || pos < 0 || pos >= c.seqLen) throw new ZipmlError('E_ARG', `position ${pos} is outside 0..${c.seqLen - 1}`);
    const { dim, nHeads, nKvHeads, seqLen } = c;
    const hs = dim / nHeads, kvDim = nKvHeads * hs, kvMul = nHeads / nKvHeads, half = hs / 2;
    const { x, xb, xb2, hb, hb2, q, k, v, att, keyCache, valueCache } = this;
    x.set(this.weights.tokenEmbedding.subarray(token * dim, (token + 1) * dim));
    const scale = Math.sqrt(hs);
    for (let l = 0; l < c.nLayers; l++) {
      const b = this.weights.blocks[l]!;
      rmsnorm(xb, x, b.rmsAtt);
      this.linear(l, 'wq', xb, q);
      this.linear(l, 'wk', xb, k);
      this.linear(l, 'wv', xb, v);
      // RoPE on adjacent pairs (i, i+1); keys only inside kv_dim, as run.c.
      for (let i = 0; i < dim; i += 2) {
        const j = pos * half + (i % hs) / 2;
        const fcr = this.cos[j]!, fci = this.sin[j]!;
        const q0 = q[i]!, q1 = q[i + 1]!;
        q[i] = q0 * fcr - q1 * fci;
        q[i + 1] = q0 * fci + q1 * fcr;
        if (i < kvDim) {
          const k0 = k[i]!, k1 = k[i + 1]!;
          k[i] = k0 * fcr - k1 * fci;
          k[i + 1] = k0 * fci + k1 * fcr;
        }
      }
      const loff = l * seqLen * kvDim;
      keyCache.set(k, loff + pos * kvDim);
      valueCache.set(v, loff + pos * kvDim);
      for (let h = 0; h < nHeads; h++) {
        const qo = h * hs, ao = h * seqLen, ho = Math.floor(h / kvMul) * hs;
        for (let t = 0; t <= pos; t++) {
          const ko = loff + t * kvDim + ho;
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[qo + i]! * keyCache[ko + i]!;
          att[ao + t] = s / scale;
        }
        softmax(att.subarray(ao, ao + pos + 1));
        for (let i = 0; i < hs; i++) {
          let s = 0;
          for (let t = 0; t <= pos; t++) s += att[ao + t]! * valueCache[loff + t * kvDim + ho + i]!;
          xb[qo + i] = s;
        }
      }
      this.linear(l, 'wo', xb, xb2);
      for (let i = 0; i < dim; i++) x[i] = x[i]! + xb2[i]!;
      rmsnorm(xb, x, b.rmsFfn);
      this.linear(l, 'w1', xb, hb);
      this.linear(l, 'w3', xb, hb2);
      for (let i = 0; i < hb.length; i++) {
        const a = hb[i]!;
        hb[i] = (a / (1 + Math.exp(-a))) * hb2[i]!;
      }
      this.linear(l, 'w2', hb, xb);
      for (let i = 0; i < dim; i++) x[i] = x[i]! + xb[i]!;
    }
    rmsnorm(x, x, this.weights.rmsFinal);
    this.weights.classifier.matvec(x, this.logits);
    return this.logits;
  }
}
