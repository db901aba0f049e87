/**
 * Whole models to GGUF and back: the file gguf-py reads, what each tensor became, exact
 * export -> import equality with the dequantized-weights model, RTN codes that survive unchanged,
 * the tokenizer, and hostile files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { GgufType, encodeGguf, parseGgufHeader } from '../../../src/tensors/formats/gguf.js';
import { DenseLinear, type LinearOp } from '../../../src/tensors/llm/linear.js';
import { LINEAR_NAMES, LlamaModel, type LlamaWeights } from '../../../src/tensors/llm/model.js';
import { generate } from '../../../src/tensors/llm/sampler.js';
import { lastDocs, perplexity, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { denseWeights } from '../../../src/tensors/quant/dense-weights.js';
import { GgmlLinear } from '../../../src/tensors/quant/ggml-linear.js';
import { ggmlDequantize, ggmlQuantize } from '../../../src/tensors/quant/ggml-quants.js';
import { TableLinear, dequantizeTable } from '../../../src/tensors/quant/table.js';
import { f32ToF16Bits } from '../../../src/core/dtypes.js';
import { Rng } from '../../util/rng.js';
import { exportGguf, ggufModelFile } from '../../../src/tensors/quant/gguf-export.js';
import { loadGgufModel } from '../../../src/tensors/quant/gguf-import.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { fuzzDecoder } from '../../util/mutate.js';
import { MODEL, TEXT, TOKENIZER, have, loadModel, loadText, loadTokenizer } from '../llm/util.js';
import { GGUF_PY_MISSING, ggufPython, pyReadGguf } from './gguf-py.js';
import { syntheticTokenizer, syntheticWeights } from './synthetic-llama.js';

const PROMPT = [1, 300 - 40, 262, 270, 5, 290, 100, 31, 7, 259];

/** Logits at every position of `tokens` (copied). */
function logits(m: LlamaModel, tokens: number[]): Float32Array[] {
  return tokens.map((t, p) => Float32Array.from(m.forward(t, p)));
}

/** The same model with every linear layer as fp32 holding what the layer dequantizes to. */
function dequantizedModel(m: LlamaModel): LlamaModel {
  const dense = (op: LinearOp): LinearOp => new DenseLinear(denseWeights(op), op.rows, op.cols);
  const q = m.mapLinears((_l, _n, op) => dense(op));
  return new LlamaModel({ ...q.weights, classifier: q.weights.classifier instanceof DenseLinear ? q.weights.classifier : dense(q.weights.classifier) });
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, p) => x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[p]![i]!) / (1 + Math.abs(v))))));
  return worst;
}

test('Q4_K export of a model with 256-multiple widths imports to a model equal to the dequantized one, logit for logit', async () => {
  const w = syntheticWeights();
  const { bytes, report } = await exportGguf(w, syntheticTokenizer(), { type: 'Q4_K' });
  assert.ok(report.filter((r) => r.name.startsWith('blk.') && r.shape.length === 2).every((r) => r.type === 'Q4_K' && r.how === 'quantized'));
  const { model, types } = loadGgufModel(bytes);
  assert.equal(types['blk.0.ffn_down.weight'], 'Q4_K');
  assert.ok(model.weights.blocks[0]!.w2 instanceof GgmlLinear);
  const ref = dequantizedModel(model);
  assert.deepEqual(logits(model, PROMPT), logits(ref, PROMPT));
  // And it is a 4-bit approximation of the source: closer than Q4_0 (K-quants fit a min and a
  // finer scale per 32 values), far coarser than Q8_0.
  const err = async (type: 'Q8_0' | 'Q4_0' | 'Q4_K'): Promise<number> => {
    const m = type === 'Q4_K' ? model : loadGgufModel((await exportGguf(w, syntheticTokenizer(), { type })).bytes).model;
    let se = 0, sx = 0;
    w.blocks.forEach((b, l) => LINEAR_NAMES.forEach((n) => {
      const a = denseWeights(b[n]), q = denseWeights(m.weights.blocks[l]![n]);
      a.forEach((v, i) => ((se += (v - q[i]!) ** 2), (sx += v * v)));
    }));
    return Math.sqrt(se / sx);
  };
  const [e8, e4, ek] = [await err('Q8_0'), await err('Q4_0'), await err('Q4_K')];
  assert.ok(e8 < 0.01 && ek < e4 && ek > 5 * e8 && ek < 0.1, `relative RMS weight error Q8_0 ${e8}, Q4_0 ${e4}, Q4_K ${ek}`);
});

test('Q8_0 and Q4_0 export/import: packed kernel layers agree with the exact ggml path and the dequantized model', async () => {
  const w = syntheticWeights({ sharedClassifier: false }, 11);
  for (const type of ['Q8_0', 'Q4_0'] as const) {
    const { bytes } = await exportGguf(w, syntheticTokenizer(), { type });
    const packed = loadGgufModel(bytes).model;
    const exact = loadGgufModel(bytes, { q8q4: 'ggml' }).model;
    assert.ok(packed.weights.blocks[0]!.wq instanceof QuantLinear && exact.weights.blocks[0]!.wq instanceof GgmlLinear);
    assert.deepEqual(logits(exact, PROMPT), logits(dequantizedModel(exact), PROMPT), `${type}: ggml path is the dequantized model`);
    // Same weights (QuantLinear dequantizes to ggml's floats), different summation order.
    assert.deepEqual(denseWeights(packed.weights.blocks[0]!.w2), denseWeights(exact.weights.blocks[0]!.w2));
    const d = maxRelDiff(logits(exact, PROMPT), logits(packed, PROMPT));
    assert.ok(d < 1e-4, `${type}: packed vs exact ${d}`);
  }
});

test('an RTN 8-bit / 4-bit (group 32, symmetric) model survives GGUF Q8_0 / Q4_0 unchanged: same codes, same logits', async () => {
  for (const [bits, type] of [[8, 'Q8_0'], [4, 'Q4_0']] as const) {
    const q = quantizeModelRTN(new LlamaModel(syntheticWeights({}, 3)), { bits, group: 32 }).model;
    const { bytes, report } = await exportGguf(q, syntheticTokenizer(), { type });
    assert.ok(report.filter((r) => r.type === type).every((r) => r.how === 'repacked'));
    const back = loadGgufModel(bytes).model;
    LINEAR_NAMES.forEach((n) => assert.deepEqual((back.weights.blocks[0]![n] as QuantLinear).packed, (q.weights.blocks[0]![n] as QuantLinear).packed, n));
    assert.deepEqual(logits(back, PROMPT), logits(q, PROMPT));
  }
  // Group 64 codes are Q4_0 blocks with a repeated scale; zero-point codes are requantized.
  const g64 = quantizeModelRTN(new LlamaModel(syntheticWeights({}, 3)), { bits: 4, group: 64 }).model;
  const r64 = await exportGguf(g64, syntheticTokenizer(), { type: 'Q4_0' });
  assert.ok(r64.report.filter((r) => r.type === 'Q4_0').every((r) => r.how === 'repacked'));
  const b64 = loadGgufModel(r64.bytes).model;
  LINEAR_NAMES.forEach((n) => assert.deepEqual(denseWeights(b64.weights.blocks[0]![n]), denseWeights(g64.weights.blocks[0]![n])));
  const d64 = maxRelDiff(logits(b64, PROMPT), logits(g64, PROMPT));
  assert.ok(d64 < 1e-3, `same weights, float sums per 32 instead of per 64: ${d64}`);
  const asym = quantizeModelRTN(new LlamaModel(syntheticWeights({}, 3)), { bits: 4, group: 32, symmetric: false }).model;
  assert.ok((await exportGguf(asym, syntheticTokenizer(), { type: 'Q4_0' })).report.filter((r) => r.type === 'Q4_0').every((r) => r.how === 'quantized'));
});

test('layers of other kinds (value tables) export through their dequantized weights', async () => {
  const rng = new Rng(4);
  const w = syntheticWeights({}, 13);
  const table = (op: LinearOp): TableLinear => {
    const rowBytes = Math.ceil((op.cols * 4) / 8);
    return new TableLinear({ rows: op.rows, cols: op.cols, bits: 4, group: 0, rowBytes, codes: rng.bytes(op.rows * rowBytes), tables: Uint16Array.from({ length: op.rows * 16 }, () => f32ToF16Bits(rng.normal() * 0.05)) });
  };
  const m = new LlamaModel(w).mapLinears((_l, _n, op) => table(op));
  const wq = m.weights.blocks[0]!.wq as TableLinear;
  assert.deepEqual(denseWeights(wq), dequantizeTable(wq.table));
  const { bytes, report } = await exportGguf(m, syntheticTokenizer(), { type: 'Q8_0' });
  assert.ok(report.filter((r) => r.type === 'Q8_0').every((r) => r.how === 'quantized'));
  const back = loadGgufModel(bytes, { q8q4: 'ggml' }).model;
  assert.deepEqual(denseWeights(back.weights.blocks[0]!.wq), ggmlDequantize('Q8_0', ggmlQuantize('Q8_0', dequantizeTable(wq.table)), wq.rows * wq.cols));
});

test('re-exporting an imported file gives the same bytes (Q4_K stays in its blocks)', async () => {
  const tok = syntheticTokenizer();
  for (const type of ['Q4_K', 'Q8_0', 'Q4_0'] as const) {
    const first = (await exportGguf(syntheticWeights({}, 5), tok, { type })).bytes;
    const back = loadGgufModel(first);
    assert.deepEqual((await exportGguf(back.model, back.tokenizer, { type })).bytes, first, type);
  }
});

test('stories260K: fallbacks as llama.cpp does them, gguf-py reads our file and dequantizes to our floats', async (t) => {
  if (!have(t, MODEL, TOKENIZER)) return;
  const model = loadModel(), tok = loadTokenizer();
  const q4k = ggufModelFile(model, tok, { type: 'Q4_K' }).report;
  // dim 64 rows -> Q5_0 (llama.cpp's Q4_K fallback); hidden 172 rows (w2) fit no block -> F16.
  assert.equal(q4k.find((r) => r.name === 'blk.0.attn_q.weight')!.type, 'Q5_0');
  assert.equal(q4k.find((r) => r.name === 'blk.0.ffn_down.weight')!.type, 'F16');
  assert.equal(q4k.find((r) => r.name === 'blk.0.ffn_up.weight')!.type, 'Q5_0');
  const q8 = ggufModelFile(model, tok, { type: 'Q8_0', fallbackType: 'F32' }).report;
  assert.equal(q8.find((r) => r.name === 'blk.4.ffn_down.weight')!.type, 'F32');
  assert.equal(q8.find((r) => r.name === 'blk.4.ffn_gate.weight')!.type, 'Q8_0');
  if (!ggufPython()) {
    t.skip(GGUF_PY_MISSING);
    return;
  }
  for (const type of ['Q8_0', 'Q4_K'] as const) {
    const { bytes, report } = await exportGguf(model, tok, { type });
    const py = pyReadGguf(bytes);
    assert.equal(py.kv['general.architecture'], 'llama');
    assert.equal(py.kv['llama.embedding_length'], 64);
    assert.equal(py.kv['llama.feed_forward_length'], 172);
    assert.equal(py.kv['llama.attention.head_count_kv'], 4);
    assert.equal(py.kv['llama.rope.dimension_count'], 8);
    assert.equal(py.kv['tokenizer.ggml.model'], 'llama');
    assert.equal(py.tokens.length, 512);
    assert.deepEqual(py.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.deepEqual(py.token_types.slice(0, 4), [2, 3, 3, 6]);
    assert.ok(py.tokens.some((s) => s.startsWith('\u2581')), 'spaces written as U+2581');
    assert.deepEqual(py.tensors.map((x) => [x.name, x.type]), report.map((r) => [r.name, r.type]));
    // Every tensor dequantizes (gguf-py) to what our importer holds.
    const back = loadGgufModel(bytes).model;
    const ours: Record<string, Float32Array> = { 'token_embd.weight': back.weights.tokenEmbedding, 'output_norm.weight': back.weights.rmsFinal };
    back.weights.blocks.forEach((b, l) => {
      ours[`blk.${l}.attn_norm.weight`] = b.rmsAtt;
      ours[`blk.${l}.ffn_norm.weight`] = b.rmsFfn;
      for (const [n, g] of [['wq', 'attn_q'], ['wk', 'attn_k'], ['wv', 'attn_v'], ['wo', 'attn_output'], ['w1', 'ffn_gate'], ['w2', 'ffn_down'], ['w3', 'ffn_up']] as const) {
        ours[`blk.${l}.${g}.weight`] = denseWeights(b[n]);
      }
    });
    for (const x of py.tensors) assert.deepEqual(x.values, Float32Array.from(ours[x.name]!), `${type} ${x.name}`);
  }
});

test('stories260K through GGUF: the tokenizer encodes text identically, Q8_0 keeps perplexity and greedy text close', async (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const model = loadModel(), tok = loadTokenizer();
  const { bytes } = await exportGguf(model, tok, { type: 'Q8_0' });
  const back = loadGgufModel(bytes);
  const text = loadText();
  const sample = text.slice(text.length - 6000);
  assert.deepEqual(back.tokenizer.encode(sample), tok.encode(sample));
  assert.equal(back.tokenizer.decode(tok.encode(sample)), tok.decode(tok.encode(sample)));
  const docs = lastDocs(textDocuments(tok, text.slice(text.length - 4000)), 200);
  const p32 = perplexity(model, docs).perplexity, p8 = perplexity(back.model, docs).perplexity;
  t.diagnostic(`perplexity fp32 ${p32.toFixed(4)}, GGUF Q8_0 ${p8.toFixed(4)}`);
  assert.ok(Math.abs(p8 / p32 - 1) < 0.01, `Q8_0 perplexity ${p8} vs ${p32}`);
  const f32 = await exportGguf(loadModel(), tok, { type: 'F32' });
  const exact = loadGgufModel(f32.bytes).model;
  assert.deepEqual(generate(exact, back.tokenizer, 'Once upon a time', { steps: 40, temperature: 0 }).tokens, generate(loadModel(), tok, 'Once upon a time', { steps: 40, temperature: 0 }).tokens);
});

// ---- hostile files ----

async function smallFile(): Promise<Uint8Array> {
  const w: LlamaWeights = syntheticWeights({ dim: 64, hiddenDim: 96, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 270, seqLen: 8 }, 9);
  return (await exportGguf(w, syntheticTokenizer(270), { type: 'Q4_0' })).bytes;
}

/** The same file with a KV value or a tensor's type/shape replaced. */
async function rewrite(edit: (h: ReturnType<typeof parseGgufHeader>) => void): Promise<Uint8Array> {
  const bytes = await smallFile();
  const h = parseGgufHeader(bytes);
  edit(h);
  return encodeGguf(
    h.tensors.map((x) => ({ name: x.name, dtype: `GGML_${x.type.name}`, shape: x.ne.slice().reverse(), data: bytes.subarray(h.dataOffset + x.relOffset, h.dataOffset + x.relOffset + x.byteLength) })),
    { kv: h.kv },
  );
}

const rejects = (bytes: Uint8Array, code: string, re: RegExp): void => {
  assert.throws(() => loadGgufModel(bytes), (e: unknown) => isZipmlError(e) && e.code === code && re.test(e.message));
};

test('hostile GGUF: unknown architecture, wrong shapes, truncated blocks, NaN scales, unsupported types and keys -> ZipmlError', async () => {
  const good = await smallFile();
  assert.equal(loadGgufModel(good).model.config.dim, 64);
  const setKv = (key: string, value: string | number, type = typeof value === 'string' ? GgufType.STRING : GgufType.U32) =>
    rewrite((h) => {
      h.kv = h.kv.filter((x) => x.key !== key).concat([{ key, type, value }]);
    });
  rejects(await setKv('general.architecture', 'gpt2'), 'E_FORMAT', /architecture 'gpt2'/);
  rejects(await setKv('llama.feed_forward_length', 128), 'E_CORRUPT', /ffn_gate.weight' has ne \[64, 96\], expected \[64, 128\]/);
  rejects(await setKv('llama.embedding_length', 96), 'E_FORMAT', /rope.dimension_count 32 differs from the head size 48/);
  rejects(await setKv('llama.rope.freq_base', 500000, GgufType.F32), 'E_FORMAT', /freq_base/);
  rejects(await setKv('llama.attention.head_count_kv', 3), 'E_CORRUPT', /head_count_kv 3/);
  rejects(await setKv('llama.context_length', 1 << 20), 'E_LIMIT', /context_length/);
  rejects(await setKv('tokenizer.ggml.model', 'gpt2'), 'E_FORMAT', /tokenizer/);
  rejects(await rewrite((h) => void (h.kv = h.kv.filter((x) => x.key !== 'llama.block_count'))), 'E_FORMAT', /missing key llama.block_count/);
  rejects(await rewrite((h) => void (h.tensors = h.tensors.filter((x) => x.name !== 'blk.0.ffn_up.weight'))), 'E_FORMAT', /missing tensor 'blk.0.ffn_up.weight'/);
  // A transposed matrix (ne swapped) is a shape mismatch.
  rejects(await rewrite((h) => void (h.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')!.ne.reverse())), 'E_CORRUPT', /ffn_down.weight' has ne \[64, 96\]/);
  // Truncated: the last tensor's blocks run past the end.
  rejects(good.subarray(0, good.length - 40), 'E_TRUNCATED', /runs past the end/);
  // NaN scale in the first block of a Q4_0 layer.
  const h = parseGgufHeader(good);
  const q = h.tensors.find((x) => x.name === 'blk.0.attn_q.weight')!;
  const nan = good.slice();
  nan[h.dataOffset + q.relOffset + 1] = 0x7e;
  rejects(nan, 'E_CORRUPT', /attn_q.weight' block 0 has a non-finite scale/);
  // An F32 norm holding NaN.
  const norm = h.tensors.find((x) => x.name === 'output_norm.weight')!;
  const nanNorm = good.slice();
  new DataView(nanNorm.buffer).setFloat32(h.dataOffset + norm.relOffset + 8, NaN, true);
  rejects(nanNorm, 'E_CORRUPT', /output_norm.weight' has a non-finite value at element 2/);
  // A type the runtime does not read.
  const q6 = await rewrite((x) => {
    const t = x.tensors.find((y) => y.name === 'blk.0.attn_norm.weight')!;
    t.type = { ...t.type, name: 'I32', id: 26 };
  });
  rejects(q6, 'E_FORMAT', /attn_norm.weight' has type I32/);
});

test('export refuses NaN weights, a tokenizer of another size and unknown types with E_ARG', async () => {
  const w = syntheticWeights({ dim: 64, hiddenDim: 96, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 270, seqLen: 8 }, 9);
  const isArg = (re: RegExp) => (e: unknown) => isZipmlError(e, 'E_ARG') && re.test(e.message);
  await assert.rejects(exportGguf(w, syntheticTokenizer(300), { type: 'Q8_0' }), isArg(/tokenizer has 300 tokens, the model 270/));
  await assert.rejects(exportGguf(w, syntheticTokenizer(270), { type: 'Q3_K' as 'Q8_0' }), isArg(/type Q3_K/));
  (w.blocks[0]!.w3 as DenseLinear).weights[5] = NaN;
  await assert.rejects(exportGguf(w, syntheticTokenizer(270), { type: 'Q4_0' }), isArg(/blk.0.ffn_up.weight has a non-finite weight at row 0, column 5/));
  w.rmsFinal[3] = Infinity;
  await assert.rejects(exportGguf(w, syntheticTokenizer(270), { type: 'F32' }), isArg(/non-finite/));
});

test('fuzz: mutated GGUF files load or fail with a ZipmlError', async () => {
  const good = await smallFile();
  const r = fuzzDecoder(good, 300, 42, (b) => loadGgufModel(b), (m) => m.model.config.dim === 64);
  assert.ok(r.rejected > 50, `rejected ${r.rejected}`);
});
