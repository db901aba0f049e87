/**
 * llama2.c legacy checkpoint (karpathy/llama2.c run.c, read_checkpoint and memory_map_weights):
 * 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then fp32
 * weights in a fixed order. A negative vocab_size means the classifier is stored separately at
 * the end (run.c: `shared_weights = vocab_size > 0`); otherwise it is the token embedding. The
 * file still carries two legacy RoPE tables (seq_len * head_size / 2 floats each) that run.c skips;
 * they are fp32 tensors too, so we list them as freq_cis_real / freq_cis_imag.
 *
 * There is no magic number, so the reader insists the file size equals what the header implies.
 */
import { ZipmlError } from '../../core/errors.js';
import type { ByteSource, ModelLayout, TensorRegion } from '../layout.js';
import { type ByteSink, type TensorBytes, BufferSink, Cursor, elementCount, readExact, writeTensorBytes } from './common.js';

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Always positive here; `sharedClassifier` carries the sign the file stores. */
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export const LLAMA2C_HEADER_BYTES = 28;
/** Bound on each header field; generous (Llama-2 70B has dim 8192, vocab 32000). */
export const LLAMA2C_MAX_FIELD = 1 << 24;

const WHAT = 'llama2.c';

/** The tensors in file order: name and shape (fp32). */
export function llama2cTensorShapes(c: Llama2cConfig): { name: string; shape: number[] }[] {
  const hs = c.dim / c.nHeads;
  const kv = c.nKvHeads * hs;
  const L = c.nLayers;
  const out = [
    { name: 'token_embedding_table', shape: [c.vocabSize, c.dim] },
    { name: 'rms_att_weight', shape: [L, c.dim] },
    { name: 'wq', shape: [L, c.nHeads * hs, c.dim] },
    { name: 'wk', shape: [L, kv, c.dim] },
    { name: 'wv', shape: [L, kv, c.dim] },
    { name: 'wo', shape: [L, c.dim, c.nHeads * hs] },
    { name: 'rms_ffn_weight', shape: [L, c.dim] },
    { name: 'w1', shape: [L, c.hiddenDim, c.dim] },
    { name: 'w2', shape: [L, c.dim, c.hiddenDim] },
    { name: 'w3', shape: [L, c.hiddenDim, c.dim] },
    { name: 'rms_final_weight', shape: [c.dim] },
    { name: 'freq_cis_real', shape: [c.seqLen, hs / 2] },
    { name: 'freq_cis_imag', shape: [c.seqLen, hs / 2] },
  ];
  if (!c.sharedClassifier) out.push({ name: 'wcls', shape: [c.vocabSize, c.dim] });
  return out;
}

function checkConfig(c: Llama2cConfig, code: 'E_CORRUPT' | 'E_ARG'): void {
  const fields: [string, number][] = [['dim', c.dim], ['hidden_dim', c.hiddenDim], ['n_layers', c.nLayers], ['n_heads', c.nHeads], ['n_kv_heads', c.nKvHeads], ['vocab_size', c.vocabSize], ['seq_len', c.seqLen]];
  for (const [k, v] of fields) {
    if (!Number.isInteger(v) || v <= 0 || v > LLAMA2C_MAX_FIELD) throw new ZipmlError(code, `${WHAT}: ${k} = ${v} is outside 1..${LLAMA2C_MAX_FIELD}`, { offset: 0 });
  }
  // run.c's integer division must be exact for the layout to be what the header says.
  if (c.dim % c.nHeads !== 0 || (c.dim / c.nHeads) % 2 !== 0) throw new ZipmlError(code, `${WHAT}: dim ${c.dim} is not n_heads ${c.nHeads} times an even head size`, { offset: 0 });
  if (c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads !== 0) throw new ZipmlError(code, `${WHAT}: n_kv_heads ${c.nKvHeads} does not divide n_heads ${c.nHeads}`, { offset: 0 });
}

/** Parses the 28-byte header (no size check against a file). */
export function parseLlama2cHeader(bytes: Uint8Array): Llama2cConfig {
  const c = new Cursor(bytes, 0, WHAT);
  const v = Array.from({ length: 7 }, (_, i) => c.i32(`header field ${i}`));
  const cfg: Llama2cConfig = {
    dim: v[0]!, hiddenDim: v[1]!, nLayers: v[2]!, nHeads: v[3]!, nKvHeads: v[4]!, vocabSize: Math.abs(v[5]!), seqLen: v[6]!, sharedClassifier: v[5]! > 0,
  };
  checkConfig(cfg, 'E_CORRUPT');
  return cfg;
}

/** Regions of every tensor for a config; total bytes stay exact (fields <= 2^24, so products < 2^53). */
export function llama2cRegions(cfg: Llama2cConfig): { tensors: TensorRegion[]; end: number } {
  let at = LLAMA2C_HEADER_BYTES;
  const tensors = llama2cTensorShapes(cfg).map(({ name, shape }) => {
    const byteLength = elementCount(shape, Number.MAX_SAFE_INTEGER / 4, `${WHAT} ${name}`) * 4;
    const r: TensorRegion = { name, dtype: 'F32', shape, offset: at, byteLength };
    at += byteLength;
    return r;
  });
  return { tensors, end: at };
}

export async function readLlama2cLayout(src: ByteSource, opts: { signal?: AbortSignal } = {}): Promise<ModelLayout> {
  const cfg = parseLlama2cHeader(await readExact(src, 0, LLAMA2C_HEADER_BYTES, `${WHAT} header`, opts.signal));
  const { tensors, end } = llama2cRegions(cfg);
  if (end !== src.size) {
    throw new ZipmlError(end > src.size ? 'E_TRUNCATED' : 'E_CORRUPT', `${WHAT}: header implies ${end} bytes (${cfg.sharedClassifier ? 'shared' : 'separate'} classifier), the file has ${src.size}`, { offset: Math.min(end, src.size) });
  }
  const metadata: Record<string, string> = {
    dim: `${cfg.dim}`, hidden_dim: `${cfg.hiddenDim}`, n_layers: `${cfg.nLayers}`, n_heads: `${cfg.nHeads}`, n_kv_heads: `${cfg.nKvHeads}`,
    vocab_size: `${cfg.vocabSize}`, seq_len: `${cfg.seqLen}`, shared_classifier: `${cfg.sharedClassifier}`,
  };
  return { format: 'llama2c', fileSize: src.size, tensors, metadata };
}

/** Streams a checkpoint: header, then each tensor of llama2cTensorShapes(cfg) in order, from `weights` by name. */
export async function writeLlama2c(sink: ByteSink, cfg: Llama2cConfig, weights: Readonly<Record<string, TensorBytes>>, opts: { signal?: AbortSignal } = {}): Promise<void> {
  checkConfig(cfg, 'E_ARG');
  const header = new Uint8Array(LLAMA2C_HEADER_BYTES);
  const dv = new DataView(header.buffer);
  [cfg.dim, cfg.hiddenDim, cfg.nLayers, cfg.nHeads, cfg.nKvHeads, cfg.sharedClassifier ? cfg.vocabSize : -cfg.vocabSize, cfg.seqLen].forEach((v, i) => dv.setInt32(i * 4, v, true));
  await sink.write(header);
  for (const t of llama2cRegions(cfg).tensors) {
    const data = weights[t.name];
    if (!data) throw new ZipmlError('E_ARG', `${WHAT}: no data for tensor '${t.name}'`);
    await writeTensorBytes(sink, data, t.byteLength, `${WHAT}: tensor '${t.name}'`, opts.signal);
  }
}

export async function encodeLlama2c(cfg: Llama2cConfig, weights: Readonly<Record<string, TensorBytes>>): Promise<Uint8Array> {
  const sink = new BufferSink();
  await writeLlama2c(sink, cfg, weights);
  return sink.bytes();
}
