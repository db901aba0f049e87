/**
 * The quantized-model file: a zipml container (docs/formats.md §1) of kind `tensors.llm.quant`
 * holding a Llama model whose block linear layers are stored in their compressed form, plus
 * optionally its tokenizer. Spec in docs/llm.md ("Quantized-model file"). Every section is
 * checksummed by the container; on read every count, shape and section length is checked against
 * the config before anything is allocated from it, and the layers are rebuilt as LinearOps that
 * compute on the stored codes (QuantLinear), never as dequantized fp32 matrices.
 *
 * Each layer carries a kind tag; LAYER_CODECS maps a kind to its writer and reader, so a new
 * LinearOp kind (value tables, sparse outliers, low-rank factors) is one more entry.
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerBuilder, type JsonObject, type JsonValue, readContainer, type Container, CONTAINER_MAGIC } from '../../core/container.js';
import { writeFileAtomic } from '../../core/atomic-file.js';
import { LLAMA2C_HEADER_BYTES, type Llama2cConfig, parseLlama2cHeader } from '../formats/llama2c.js';
import { DenseLinear, type LinearOp } from '../llm/linear.js';
import { LINEAR_NAMES, LlamaModel, type LinearName, type LlamaBlock } from '../llm/model.js';
import { Llama2cTokenizer } from '../llm/tokenizer.js';
import { TableLinear, tableFromSections, tableSections } from './table.js';
import { OutlierLinear, type SparseOutliers, checkSparse } from './outliers.js';
import { type LowRank, LowRankLinear } from './lowrank.js';
import { SpqrLinear, spqrFromSections, spqrSections } from './spqr.js';
import { type PackedMatrix, QUANT_BITS, QUANT_GROUPS, type QuantBits, type QuantGroup, groupsPerRow, rowBytesFor } from './packed.js';
import { QuantArena, QuantLinear } from './qmatvec.js';

export const QUANT_MODEL_KIND = 'tensors.llm.quant';
export const QUANT_MODEL_VERSION = 1;
/** Bound on the run-time buffers a file may ask for (floats per KV cache, n_layers x seq_len x kv_dim; attention scores, n_heads x seq_len). */
export const MAX_KV_FLOATS = 1 << 26;

const WHAT = 'quantized model';

/** Reads one named section of the file being decoded (checksum-verified, exact length checked). */
export type SectionReader = (suffix: string, length: number) => Uint8Array;

/** How one kind of LinearOp is written to and read from the file. */
export interface LayerCodec {
  readonly kind: string;
  /** True when this codec stores `op`. */
  owns(op: LinearOp): boolean;
  encode(op: LinearOp): { meta: JsonObject; sections: Record<string, Uint8Array> };
  /** Rebuilds the layer; `meta` is untrusted, rows and cols come from the config. */
  decode(meta: JsonObject, read: SectionReader, rows: number, cols: number, arena: QuantArena): LinearOp;
}

const bad = (msg: string): never => {
  throw new ZipmlError('E_CORRUPT', `${WHAT}: ${msg}`);
};

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A float32 copy of a section, every value finite. */
function finiteF32(bytes: Uint8Array, what: string): Float32Array {
  const f = new Float32Array(bytes.slice().buffer);
  for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) bad(`${what} has a non-finite value at element ${i}`);
  return f;
}

const fp32Codec: LayerCodec = {
  kind: 'f32',
  owns: (op) => op instanceof DenseLinear,
  encode: (op) => ({ meta: {}, sections: { weights: f32Bytes((op as DenseLinear).weights) } }),
  decode: (_meta, read, rows, cols) => new DenseLinear(finiteF32(read('weights', 4 * rows * cols), 'fp32 layer'), rows, cols),
};

const packedCodec: LayerCodec = {
  kind: 'packed',
  owns: (op) => op instanceof QuantLinear,
  encode(op) {
    const p = (op as QuantLinear).packed;
    const sections: Record<string, Uint8Array> = { codes: p.codes, scales: new Uint8Array(p.scales.buffer, p.scales.byteOffset, p.scales.byteLength) };
    if (p.zeros) sections['zeros'] = p.zeros;
    if (p.zeroF16) sections['zero_f16'] = new Uint8Array(p.zeroF16.buffer, p.zeroF16.byteOffset, p.zeroF16.byteLength);
    return { meta: { bits: p.bits, group: p.group, symmetric: p.symmetric, ...(p.zeroF16 ? { zero: 'f16' } : {}) }, sections };
  },
  decode(meta, read, rows, cols, arena) {
    const { bits, group, symmetric, zero } = meta;
    if (typeof bits !== 'number' || !(QUANT_BITS as readonly number[]).includes(bits)) {
      throw new ZipmlError('E_FORMAT', `${WHAT}: a ${String(bits)}-bit layer cannot be held by this reader (supported: ${QUANT_BITS.join(', ')})`);
    }
    if (typeof group !== 'number' || !(QUANT_GROUPS as readonly number[]).includes(group)) bad(`group ${String(group)} is not one of ${QUANT_GROUPS.join(', ')}`);
    if (typeof symmetric !== 'boolean') bad('"symmetric" is not a boolean');
    const nG = groupsPerRow(cols, group as number), rowBytes = rowBytesFor(cols, bits);
    const scales = new Uint16Array(read('scales', 2 * rows * nG).slice().buffer);
    for (let i = 0; i < scales.length; i++) if ((scales[i]! & 0x7c00) === 0x7c00) bad(`scale ${i} is not a finite fp16`);
    if (zero !== undefined && zero !== 'f16') bad(`zero point kind ${JSON.stringify(zero)} is not "f16"`);
    if (zero === 'f16' && symmetric) bad('a symmetric layer with fp16 zero points');
    let zeros: Uint8Array | undefined, zeroF16: Uint16Array | undefined;
    if (!symmetric && zero === 'f16') {
      // HQQ's real-valued zero points, one fp16 per (row, group).
      zeroF16 = new Uint16Array(read('zero_f16', 2 * rows * nG).slice().buffer);
      for (let i = 0; i < zeroF16.length; i++) if ((zeroF16[i]! & 0x7c00) === 0x7c00) bad(`zero point ${i} is not a finite fp16`);
    } else if (!symmetric) {
      zeros = read('zeros', rows * nG).slice();
      const i = zeros.findIndex((z) => z >= 1 << bits);
      if (i >= 0) bad(`zero point ${i} (${zeros[i]}) exceeds ${(1 << bits) - 1}`);
    }
    const p: PackedMatrix = { rows, cols, bits: bits as QuantBits, group: group as QuantGroup, symmetric: symmetric as boolean, rowBytes, codes: read('codes', rows * rowBytes).slice(), scales, zeros, ...(zeroF16 ? { zeroF16 } : {}) };
    return new QuantLinear(p, arena);
  },
};

/** Non-uniform codes: indices into fp16 value tables per row or group (table.ts). */
const tableCodec: LayerCodec = {
  kind: 'table',
  owns: (op) => op instanceof TableLinear,
  encode: (op) => tableSections((op as TableLinear).table),
  decode: (meta, read, rows, cols, arena) => new TableLinear(tableFromSections(meta, read, rows, cols), arena),
};

/** SpQR codes with bilevel-quantized group statistics (spqr.ts); its outliers are an outliers wrapper. */
const spqrCodec: LayerCodec = {
  kind: 'spqr',
  owns: (op) => op instanceof SpqrLinear,
  encode: (op) => spqrSections((op as SpqrLinear).m),
  decode: (meta, read, rows, cols) => new SpqrLinear(spqrFromSections(meta, read, rows, cols)),
};

const bytesOf = (a: Uint16Array | Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** fp16 bits from a section, every value finite. */
function finiteF16(bytes: Uint8Array, what: string): Uint16Array {
  const h = new Uint16Array(bytes.slice().buffer);
  for (let i = 0; i < h.length; i++) if ((h[i]! & 0x7c00) === 0x7c00) bad(`${what} has a non-finite fp16 at element ${i}`);
  return h;
}

/** A wrapped layer (the base of outliers / low-rank): its codec's meta under `base`, sections under "base.". */
function encodeBase(op: LinearOp): { meta: JsonObject; sections: Record<string, Uint8Array> } {
  const codec = LAYER_CODECS.find((x) => x.owns(op));
  if (!codec) throw new ZipmlError('E_ARG', `${WHAT}: a ${op.constructor.name} base layer has no layer codec`);
  const { meta, sections } = codec.encode(op);
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(sections)) out[`base.${k}`] = v;
  return { meta: { kind: codec.kind, ...meta }, sections: out };
}

const PLAIN_KINDS = ['packed', 'table', 'spqr', 'f32'];

/**
 * The base of a wrapper, of one of `allowed` kinds: outliers wrap a plain layer, a low-rank
 * correction wraps a plain layer or outliers, so nesting is at most two deep.
 */
function decodeBase(meta: JsonObject, read: SectionReader, rows: number, cols: number, arena: QuantArena, allowed: readonly string[]): LinearOp {
  const m = meta['base'];
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return bad('a wrapped layer has no "base" object');
  const codec = LAYER_CODECS.find((x) => x.kind === m['kind']);
  if (!codec || !allowed.includes(codec.kind)) return bad(`base layer kind ${JSON.stringify(m['kind'])} is not one of ${allowed.join(', ')}`);
  return codec.decode(m, (name, length) => read(`base.${name}`, length), rows, cols, arena);
}

/** SpQR-style outliers: a base layer plus a CSR side matrix of fp16 values (outliers.ts). */
const outlierCodec: LayerCodec = {
  kind: 'outliers',
  owns: (op) => op instanceof OutlierLinear,
  encode(op) {
    const o = op as OutlierLinear, sp = o.sparse, b = encodeBase(o.base);
    return {
      meta: { base: b.meta, nnz: sp.colIdx.length, rowPtr: sp.rowPtr instanceof Uint16Array ? 'u16' : 'u32' },
      sections: { ...b.sections, row_ptr: bytesOf(sp.rowPtr), col_idx: bytesOf(sp.colIdx), values: bytesOf(sp.values) },
    };
  },
  decode(meta, read, rows, cols, arena) {
    const base = decodeBase(meta, read, rows, cols, arena, PLAIN_KINDS);
    const { nnz, rowPtr: kind } = meta;
    if (typeof nnz !== 'number' || !Number.isInteger(nnz) || nnz < 0 || nnz > rows * cols) bad(`outlier count ${String(nnz)} is not an integer in 0..${rows * cols}`);
    if (kind !== 'u16' && kind !== 'u32') bad(`row offsets ${JSON.stringify(kind)} are not "u16" or "u32"`);
    if (kind === 'u16' && (nnz as number) > 0xffff) bad(`${String(nnz)} outliers do not fit u16 row offsets`);
    const w = kind === 'u16' ? 2 : 4;
    const ptr = read('row_ptr', w * (rows + 1)).slice().buffer;
    const sparse: SparseOutliers = {
      rows, cols,
      rowPtr: kind === 'u16' ? new Uint16Array(ptr) : new Uint32Array(ptr),
      colIdx: new Uint16Array(read('col_idx', 2 * (nnz as number)).slice().buffer),
      values: finiteF16(read('values', 2 * (nnz as number)), 'outlier values'),
    };
    try {
      checkSparse(sparse);
    } catch (e) {
      if (e instanceof ZipmlError) bad(e.message);
      throw e;
    }
    return new OutlierLinear(base, sparse);
  },
};

/** A base layer plus a rank-r fp16 correction U·V of its residual (lowrank.ts). */
const lowRankCodec: LayerCodec = {
  kind: 'lowrank',
  owns: (op) => op instanceof LowRankLinear,
  encode(op) {
    const o = op as LowRankLinear, b = encodeBase(o.base);
    return { meta: { base: b.meta, rank: o.lr.rank }, sections: { ...b.sections, u: bytesOf(o.lr.u), v: bytesOf(o.lr.v) } };
  },
  decode(meta, read, rows, cols, arena) {
    const base = decodeBase(meta, read, rows, cols, arena, [...PLAIN_KINDS, 'outliers']);
    const { rank } = meta;
    if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols)) bad(`rank ${String(rank)} is not an integer in 1..${Math.min(rows, cols)}`);
    const r = rank as number;
    const lr: LowRank = { rows, cols, rank: r, u: finiteF16(read('u', 2 * rows * r), 'low-rank U'), v: finiteF16(read('v', 2 * r * cols), 'low-rank V') };
    return new LowRankLinear(base, lr);
  },
};

/** Layer kinds the file knows, by tag. Later LinearOp kinds add an entry (before fp32). */
export const LAYER_CODECS: LayerCodec[] = [outlierCodec, lowRankCodec, packedCodec, tableCodec, spqrCodec, fp32Codec];

export interface QuantFileOptions {
  /** Stored so the file runs without a separate vocabulary (in llama2.c's tokenizer.bin layout). */
  tokenizer?: Llama2cTokenizer;
  /** What made the file (method, bits, group, ...), kept as given. */
  method?: JsonObject;
  /** Where the weights came from (file name, SHA-256, ...), kept as given. */
  source?: JsonObject;
}

export interface QuantFileMeta {
  version: number;
  architecture: string;
  config: Llama2cConfig;
  method: JsonObject;
  source: JsonObject;
  /** Kind of every block layer, as "<layer>.<name>": kind. */
  layers: Record<string, string>;
}

const layerKey = (l: number, n: LinearName): string => `${l}.${n}`;

/** The expected shape (rows x cols) of each block linear layer for a config. */
function linearShape(c: Llama2cConfig, name: LinearName): [number, number] {
  const kv = (c.nKvHeads * c.dim) / c.nHeads;
  switch (name) {
    case 'wq': case 'wo': return [c.dim, c.dim];
    case 'wk': case 'wv': return [kv, c.dim];
    case 'w1': case 'w3': return [c.hiddenDim, c.dim];
    case 'w2': return [c.dim, c.hiddenDim];
  }
}

/** Serializes a model (fp32 or with quantized block layers) into the container bytes. */
export function encodeQuantizedModel(model: LlamaModel, opts: QuantFileOptions = {}): Uint8Array {
  const w = model.weights, c = model.config;
  const b = new ContainerBuilder();
  b.addSection('token_embedding', f32Bytes(w.tokenEmbedding));
  b.addSection('rms_att', f32Bytes(concat(w.blocks.map((x) => x.rmsAtt))));
  b.addSection('rms_ffn', f32Bytes(concat(w.blocks.map((x) => x.rmsFfn))));
  b.addSection('rms_final', f32Bytes(w.rmsFinal));
  if (!c.sharedClassifier) {
    if (!(w.classifier instanceof DenseLinear)) throw new ZipmlError('E_ARG', `${WHAT}: the classifier must be an fp32 layer`);
    b.addSection('wcls', f32Bytes(w.classifier.weights));
  }
  const layers: { [k: string]: JsonValue } = {};
  w.blocks.forEach((blk, l) => {
    for (const n of LINEAR_NAMES) {
      const op = blk[n];
      const codec = LAYER_CODECS.find((x) => x.owns(op));
      if (!codec) throw new ZipmlError('E_ARG', `${WHAT}: layer ${l} ${n} is a ${op.constructor.name}, which no layer codec stores`);
      const { meta, sections } = codec.encode(op);
      for (const [suffix, bytes] of Object.entries(sections)) b.addSection(`${layerKey(l, n)}.${suffix}`, bytes);
      layers[layerKey(l, n)] = { kind: codec.kind, ...meta };
    }
  });
  if (opts.tokenizer) b.addSection('tokenizer', opts.tokenizer.toLlama2cBin());
  const config: JsonObject = { ...c };
  return b.finish(QUANT_MODEL_KIND, {
    version: QUANT_MODEL_VERSION, architecture: 'llama', config,
    method: opts.method ?? {}, source: opts.source ?? {}, tokenizer: opts.tokenizer !== undefined, layers,
  });
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether `bytes` start like a zipml container (the quantized file is one). */
export function looksLikeContainer(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && CONTAINER_MAGIC.every((x, i) => bytes[i] === x);
}

/** The config from untrusted meta, validated by the same rules as a llama2.c header. */
function readConfig(v: JsonValue | undefined): Llama2cConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('"config" is not an object');
  const keys = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'seqLen'] as const;
  const header = new Uint8Array(LLAMA2C_HEADER_BYTES);
  const dv = new DataView(header.buffer);
  keys.forEach((k, i) => {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 0x7fffffff) bad(`config.${k} = ${JSON.stringify(x)} is not a positive int32`);
    dv.setInt32(4 * i, k === 'vocabSize' && v['sharedClassifier'] === false ? -(x as number) : (x as number), true);
  });
  if (typeof v['sharedClassifier'] !== 'boolean') bad('config.sharedClassifier is not a boolean');
  let cfg: Llama2cConfig;
  try {
    cfg = parseLlama2cHeader(header);
  } catch (e) {
    throw new ZipmlError('E_CORRUPT', `${WHAT}: config: ${(e as Error).message}`, { cause: e });
  }
  const kv = (cfg.nKvHeads * cfg.dim) / cfg.nHeads;
  if (cfg.nLayers * cfg.seqLen * kv > MAX_KV_FLOATS) throw new ZipmlError('E_LIMIT', `${WHAT}: a KV cache of ${cfg.nLayers} x ${cfg.seqLen} x ${kv} floats exceeds ${MAX_KV_FLOATS}`);
  if (cfg.nHeads * cfg.seqLen > MAX_KV_FLOATS) throw new ZipmlError('E_LIMIT', `${WHAT}: attention scores of ${cfg.nHeads} heads x ${cfg.seqLen} positions exceed ${MAX_KV_FLOATS} floats`);
  return cfg;
}

function sectionReader(c: Container, prefix: string, used: Set<string>): SectionReader {
  return (suffix, length) => {
    const name = prefix ? `${prefix}.${suffix}` : suffix;
    if (!c.has(name)) bad(`section "${name}" is missing`);
    used.add(name);
    const s = c.section(name);
    if (s.length !== length) bad(`section "${name}" holds ${s.length} bytes, the config implies ${length}`);
    return s;
  };
}

export interface LoadedQuantizedModel {
  model: LlamaModel;
  tokenizer: Llama2cTokenizer | undefined;
  meta: QuantFileMeta;
}

/** Reads a quantized-model file held in memory into a runnable model. */
export function decodeQuantizedModel(bytes: Uint8Array): LoadedQuantizedModel {
  if (!looksLikeContainer(bytes)) throw new ZipmlError('E_FORMAT', `${WHAT}: not a zipml container (bad magic)`, { offset: 0 });
  const c = readContainer(bytes);
  if (c.kind !== QUANT_MODEL_KIND) throw new ZipmlError('E_FORMAT', `${WHAT}: container kind is '${c.kind}', expected '${QUANT_MODEL_KIND}'`);
  const m = c.meta;
  if (m['version'] !== QUANT_MODEL_VERSION) throw new ZipmlError('E_FORMAT', `${WHAT}: version ${JSON.stringify(m['version'])} is not supported (this reader knows ${QUANT_MODEL_VERSION})`);
  if (m['architecture'] !== 'llama') throw new ZipmlError('E_FORMAT', `${WHAT}: unknown architecture ${JSON.stringify(m['architecture'])} (this reader runs 'llama')`);
  const cfg = readConfig(m['config']);
  const used = new Set<string>();
  const read = sectionReader(c, '', used);
  const { dim, nLayers, vocabSize } = cfg;
  const embed = finiteF32(read('token_embedding', 4 * vocabSize * dim), 'token_embedding');
  const rmsAtt = finiteF32(read('rms_att', 4 * nLayers * dim), 'rms_att');
  const rmsFfn = finiteF32(read('rms_ffn', 4 * nLayers * dim), 'rms_ffn');
  const rmsFinal = finiteF32(read('rms_final', 4 * dim), 'rms_final');
  const classifier = new DenseLinear(cfg.sharedClassifier ? embed : finiteF32(read('wcls', 4 * vocabSize * dim), 'wcls'), vocabSize, dim);
  const layerMeta = m['layers'];
  if (typeof layerMeta !== 'object' || layerMeta === null || Array.isArray(layerMeta)) return bad('"layers" is not an object');
  if (Object.keys(layerMeta).length !== nLayers * LINEAR_NAMES.length) bad(`"layers" lists ${Object.keys(layerMeta).length} layers, the config has ${nLayers * LINEAR_NAMES.length}`);
  const arena = new QuantArena();
  const kinds: Record<string, string> = {};
  const blocks: LlamaBlock[] = [];
  for (let l = 0; l < nLayers; l++) {
    const ops = {} as Record<LinearName, LinearOp>;
    for (const n of LINEAR_NAMES) {
      const key = layerKey(l, n), lm = layerMeta[key];
      if (typeof lm !== 'object' || lm === null || Array.isArray(lm)) return bad(`layer ${key} is not described`);
      const codec = LAYER_CODECS.find((x) => x.kind === lm['kind']);
      if (!codec) throw new ZipmlError('E_FORMAT', `${WHAT}: layer ${key} has kind ${JSON.stringify(lm['kind'])}, which this reader does not know (known: ${LAYER_CODECS.map((x) => x.kind).join(', ')})`);
      const [rows, cols] = linearShape(cfg, n);
      try {
        ops[n] = codec.decode(lm, sectionReader(c, key, used), rows, cols, arena);
      } catch (e) {
        if (e instanceof ZipmlError && e.code === 'E_ARG') throw new ZipmlError('E_CORRUPT', `${WHAT}: layer ${key}: ${e.message}`, { cause: e });
        throw e;
      }
      kinds[key] = codec.kind;
    }
    blocks.push({ rmsAtt: rmsAtt.subarray(l * dim, (l + 1) * dim), rmsFfn: rmsFfn.subarray(l * dim, (l + 1) * dim), ...ops });
  }
  let tokenizer: Llama2cTokenizer | undefined;
  if (m['tokenizer'] === true) {
    if (!c.has('tokenizer')) bad('section "tokenizer" is missing');
    used.add('tokenizer');
    tokenizer = Llama2cTokenizer.fromLlama2cBin(c.section('tokenizer'), vocabSize);
  }
  else if (m['tokenizer'] !== false) bad('"tokenizer" is not a boolean');
  // Every section must be one the header accounts for: a stray one means the header lies.
  const stray = c.sections.find((x) => !used.has(x.name));
  if (stray) bad(`section "${stray.name}" belongs to no layer or field`);
  const obj = (v: JsonValue | undefined): JsonObject => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {});
  const model = new LlamaModel({ config: cfg, tokenEmbedding: embed, blocks, rmsFinal, classifier });
  return { model, tokenizer, meta: { version: QUANT_MODEL_VERSION, architecture: 'llama', config: cfg, method: obj(m['method']), source: obj(m['source']), layers: kinds } };
}

/** Writes the file atomically (refuses to replace an existing file unless `overwrite`). */
export async function writeQuantizedModel(path: string, model: LlamaModel, opts: QuantFileOptions & { overwrite?: boolean } = {}): Promise<number> {
  const bytes = encodeQuantizedModel(model, opts);
  await writeFileAtomic(path, bytes, { overwrite: opts.overwrite });
  return bytes.length;
}

/** Reads a quantized-model file from disk (Node). */
export async function readQuantizedModel(path: string): Promise<LoadedQuantizedModel> {
  const { readFile } = await import('node:fs/promises');
  let b: Buffer;
  try {
    b = await readFile(path);
  } catch (e) {
    throw new ZipmlError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeQuantizedModel(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
}
