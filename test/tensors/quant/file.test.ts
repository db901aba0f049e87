/** The quantized-model file: exact round trips, atomic writes, refusals of bad files, fuzzing. */
import { f32ToF16Bits } from '../../../src/core/dtypes.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerBuilder, readContainer, type JsonObject } from '../../../src/core/container.js';
import { isZipmlError } from '../../../src/core/errors.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { decodeQuantizedModel, encodeQuantizedModel, readQuantizedModel, writeQuantizedModel } from '../../../src/tensors/quant/file.js';
import { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { quantizeModel, type QuantizeOptions } from '../../../src/tensors/quant/registry.js';
import { modelStorage } from '../../../src/tensors/llm/compare.js';
import { firstSlice } from '../../../src/tensors/quant/pipeline.js';
import { fuzzDecoder } from '../../util/mutate.js';
import { syntheticCheckpoint, syntheticText, syntheticTokenizer } from './synthetic.js';

const TOKENS = [1, 300, 260, 270, 290, 301, 5, 280, 281, 299];

/** Logits of the first positions of TOKENS, copied. */
function run(m: LlamaModel): Float32Array[] {
  return TOKENS.map((t, pos) => Float32Array.from(m.forward(t, pos)));
}

const fp32 = (): LlamaModel => LlamaModel.fromLlama2c(syntheticCheckpoint(3));

test('round trip: every width, group and mode, RTN and GPTQ, computes bit for bit what the in-memory model does', () => {
  const tok = syntheticTokenizer();
  const calib = firstSlice(tok, syntheticText(40), 600).docs;
  const cases = [
    { method: 'rtn', bits: 8, group: 32, symmetric: true },
    { method: 'rtn', bits: 4, group: 32, symmetric: false },
    { method: 'rtn', bits: 3, group: 64, symmetric: true },
    { method: 'rtn', bits: 2, group: 128, symmetric: false },
    { method: 'gptq', bits: 4, group: 64, symmetric: false },
  ] as const;
  for (const c of cases) {
    const q = quantizeModel(fp32(), c.method, { ...c, calibration: calib });
    const bytes = encodeQuantizedModel(q.model, { tokenizer: tok, method: { ...c } });
    const back = decodeQuantizedModel(bytes);
    assert.deepEqual(run(back.model), run(q.model), `${JSON.stringify(c)}`);
    assert.deepEqual(back.meta.method, { ...c });
    assert.equal(Object.values(back.meta.layers).filter((k) => k === 'packed').length, 14);
    const l0 = back.model.weights.blocks[1]!.w2 as QuantLinear, o0 = q.model.weights.blocks[1]!.w2 as QuantLinear;
    assert.deepEqual(l0.packed.codes, o0.packed.codes);
    assert.deepEqual(l0.packed.scales, o0.packed.scales);
    assert.deepEqual(back.tokenizer!.pieces, tok.pieces);
    assert.deepEqual(back.tokenizer!.scores, tok.scores);
  }
});

test('round trip: value-table layers (k-means) and fp16 zero points', () => {
  const tok = syntheticTokenizer();
  const calib = firstSlice(tok, syntheticText(40), 600).docs;
  const km = quantizeModel(fp32(), 'kmeans', { bits: 3, group: 32, calibration: calib });
  const kb = decodeQuantizedModel(encodeQuantizedModel(km.model, { tokenizer: tok }));
  assert.deepEqual(run(kb.model), run(km.model));
  assert.equal(Object.values(kb.meta.layers).filter((k) => k === 'table').length, 14);
  // An RTN model with every layer's integer zero points turned into fp16 ones (HQQ's kind).
  const rtn = quantizeModel(fp32(), 'rtn', { bits: 4, group: 32, symmetric: false });
  const f16 = rtn.model.mapLinears((_l, _n, op) => {
    const p = (op as QuantLinear).packed;
    return new QuantLinear({ ...p, zeros: undefined, zeroF16: Uint16Array.from(p.zeros!, (z) => f32ToF16Bits(z + 0.25)) });
  });
  const fb = decodeQuantizedModel(encodeQuantizedModel(f16, { tokenizer: tok }));
  assert.deepEqual(run(fb.model), run(f16));
  const l = fb.model.weights.blocks[0]!.wq as QuantLinear;
  assert.equal(l.packed.zeros, undefined);
  assert.deepEqual(l.packed.zeroF16, (f16.weights.blocks[0]!.wq as QuantLinear).packed.zeroF16);
});

test('round trip: HQQ, GPTQ with outliers, low-rank corrections, mixed widths', () => {
  const tok = syntheticTokenizer();
  const calib = firstSlice(tok, syntheticText(40), 600).docs;
  const cases: [string, QuantizeOptions, string][] = [
    ['hqq', { bits: 3, group: 32 }, 'packed'],
    ['gptq-outliers', { bits: 3, group: 32, outliers: 0.02 }, 'outliers'],
    ['rtn', { bits: 4, group: 32, symmetric: false, rank: 2 }, 'lowrank'],
    ['gptq-outliers', { bits: 4, group: 64, rank: 1 }, 'lowrank'],
    ['mixed', { bits: 3, group: 32, budget: 4 }, 'packed'],
  ];
  for (const [method, o, kind] of cases) {
    const q = quantizeModel(fp32(), method, { ...o, calibration: calib });
    const back = decodeQuantizedModel(encodeQuantizedModel(q.model, { tokenizer: tok }));
    assert.deepEqual(run(back.model), run(q.model), `${method} ${JSON.stringify(o)}`);
    assert.equal(Object.values(back.meta.layers).filter((k) => k === kind).length, 14, `${method}: layer kinds ${JSON.stringify(back.meta.layers)}`);
    assert.equal(modelStorage(back.model).linearBits, modelStorage(q.model).linearBits);
  }
  // Outliers wrap a plain layer only (a low-rank correction may wrap outliers, not the reverse).
  const q = quantizeModel(fp32(), 'gptq-outliers', { bits: 3, group: 32, calibration: calib });
  const bytes = rewrite(encodeQuantizedModel(q.model), (m) => {
    const l = (m['layers'] as JsonObject)['0.wq'] as JsonObject;
    (l['base'] as JsonObject)['kind'] = 'outliers';
  });
  assert.throws(() => decodeQuantizedModel(bytes), (e) => isZipmlError(e, 'E_CORRUPT') && /base layer kind "outliers"/.test(e.message));
});

test('an fp32 model (and a separate classifier) round trips exactly; the file holds no tokenizer when none is given', () => {
  const m = LlamaModel.fromLlama2c(syntheticCheckpoint(4, { sharedClassifier: false }));
  const back = decodeQuantizedModel(encodeQuantizedModel(m));
  assert.equal(back.tokenizer, undefined);
  assert.ok(back.model.weights.blocks[0]!.wq instanceof DenseLinear);
  assert.equal(back.model.config.sharedClassifier, false);
  assert.deepEqual(run(back.model), run(m));
});

test('writes atomically and refuses to replace a file without overwrite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-qfile-'));
  try {
    const q = quantizeModel(fp32(), 'rtn', { bits: 4, group: 32 });
    const out = join(dir, 'm.zq');
    const size = await writeQuantizedModel(out, q.model);
    assert.ok(size > 0);
    await assert.rejects(writeQuantizedModel(out, q.model), (e) => isZipmlError(e, 'E_ARG') && /exists/.test(e.message));
    await writeQuantizedModel(out, q.model, { overwrite: true });
    assert.deepEqual(run((await readQuantizedModel(out)).model), run(q.model));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Rebuilds a valid file with its header meta (and optionally one section) changed. */
function rewrite(bytes: Uint8Array, edit: (meta: JsonObject) => void, section?: [string, (b: Uint8Array) => Uint8Array], kind?: string): Uint8Array {
  const c = readContainer(bytes);
  const meta = structuredClone(c.meta);
  edit(meta);
  const b = new ContainerBuilder();
  for (const s of c.sections) b.addSection(s.name, section && section[0] === s.name ? section[1](c.section(s.name).slice()) : c.section(s.name), s.meta);
  return b.finish(kind ?? c.kind, meta);
}

test('bad files: each gives a ZipmlError that says what is wrong', () => {
  const good = encodeQuantizedModel(quantizeModel(fp32(), 'rtn', { bits: 4, group: 32, symmetric: false }).model, { tokenizer: syntheticTokenizer() });
  const layers = (m: JsonObject) => m['layers'] as { [k: string]: JsonObject };
  const config = (m: JsonObject) => m['config'] as JsonObject;
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['7-bit layer', rewrite(good, (m) => (layers(m)['0.wq']!['bits'] = 7)), 'E_FORMAT', /7-bit layer cannot be held/],
    ['unknown architecture', rewrite(good, (m) => (m['architecture'] = 'gpt2')), 'E_FORMAT', /unknown architecture "gpt2"/],
    ['other container kind', rewrite(good, () => undefined, undefined, 'tensors.pack'), 'E_FORMAT', /kind is 'tensors.pack'/],
    ['newer version', rewrite(good, (m) => (m['version'] = 2)), 'E_FORMAT', /version 2/],
    ['shape mismatch', rewrite(good, (m) => (config(m)['hiddenDim'] = 80)), 'E_CORRUPT', /holds \d+ bytes, the config implies/],
    ['bad head split', rewrite(good, (m) => (config(m)['nHeads'] = 3)), 'E_CORRUPT', /config: .*n_heads/],
    ['huge KV cache', rewrite(good, (m) => (config(m)['seqLen'] = 1 << 24)), 'E_LIMIT', /KV cache/],
    ['huge attention buffer', rewrite(good, (m) => Object.assign(config(m), { dim: 65536, nHeads: 32768, nKvHeads: 1, nLayers: 1, seqLen: 4096 })), 'E_LIMIT', /attention scores of 32768 heads/],
    ['unknown layer kind', rewrite(good, (m) => (layers(m)['1.w3']!['kind'] = 'lut16')), 'E_FORMAT', /layer 1.w3 has kind "lut16"/],
    ['missing layer', rewrite(good, (m) => delete layers(m)['1.w3']), 'E_CORRUPT', /lists 13 layers/],
    ['symmetric flag lies', rewrite(good, (m) => (layers(m)['0.wk']!['symmetric'] = true)), 'E_CORRUPT', /section "0.wk.zeros" belongs to no layer/],
    ['NaN embedding', rewrite(good, () => undefined, ['token_embedding', (b) => (new Float32Array(b.buffer)[17] = NaN, b)]), 'E_CORRUPT', /token_embedding has a non-finite value at element 17/],
    ['infinite scale', rewrite(good, () => undefined, ['0.w1.scales', (b) => (new Uint16Array(b.buffer)[3] = 0x7c00, b)]), 'E_CORRUPT', /scale 3 is not a finite fp16/],
    ['zero point too big', rewrite(good, () => undefined, ['0.w1.zeros', (b) => (b[5] = 16, b)]), 'E_CORRUPT', /zero point 5 \(16\) exceeds 15/],
    ['short codes', rewrite(good, () => undefined, ['1.wo.codes', (b) => b.subarray(1)]), 'E_CORRUPT', /"1.wo.codes" holds/],
    ['truncated file', good.subarray(0, good.length - 100), 'E_TRUNCATED', /./],
    ['not a container', new Uint8Array(100), 'E_FORMAT', /bad magic/],
  ];
  for (const [name, bytes, code, msg] of cases) {
    assert.throws(() => decodeQuantizedModel(bytes), (e) => isZipmlError(e, code as 'E_ARG') && msg.test(e.message), name);
  }
});

test('fuzz: mutated files are refused with a ZipmlError or load to the same model', () => {
  const q = quantizeModel(fp32(), 'rtn', { bits: 3, group: 32, symmetric: false }).model;
  const good = encodeQuantizedModel(q, { tokenizer: syntheticTokenizer() });
  const want = run(q);
  const r = fuzzDecoder(good, 300, 11, (b) => decodeQuantizedModel(b), (out) => {
    const got = run(out.model);
    return got.every((g, i) => g.every((v, j) => v === want[i]![j]));
  });
  assert.ok(r.rejected > 250, `rejected ${r.rejected}`);
});
