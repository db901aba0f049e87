/** The method registry, text slices, and the evaluation: greedy agreement and bits per weight. */
import { quantizeModelMethod } from '../../../src/tensors/quant/methods.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { type ModelComparison, type ReferenceTrace, compareModels, compareToTrace, evaluateAgainst, greedyAgreement, greedyContinuation, greedyPrompts, modelStorage, pairedDifference, referenceTrace, scoredPerDocument } from '../../../src/tensors/llm/compare.js';
import { perplexity } from '../../../src/tensors/llm/perplexity.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { quantizeModelGPTQ } from '../../../src/tensors/quant/gptq.js';
import { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { QUANT_METHODS, quantMethod, quantizeModel } from '../../../src/tensors/quant/registry.js';
import { disjointSlices, firstSlice, lastSlice, textPieces } from '../../../src/tensors/quant/pipeline.js';
import { SYNTH_CONFIG, syntheticCheckpoint, syntheticText, syntheticTokenizer } from './synthetic.js';

const fp32 = (): LlamaModel => LlamaModel.fromLlama2c(syntheticCheckpoint(5));
const tok = syntheticTokenizer();
const text = syntheticText(60);

test('registry: rtn and gptq are entries; quantizeModel runs them and refuses what they cannot do', () => {
  const known = new Map(QUANT_METHODS.map((m) => [m.name, m.needsCalibration]));
  assert.equal(known.get('rtn'), false);
  assert.equal(known.get('gptq'), true);
  assert.equal(known.get('kmeans'), true);
  assert.equal(known.get('hqq'), false);
  assert.equal(known.get('gptq-outliers'), true);
  assert.equal(known.get('mixed'), true);
  assert.equal(known.get('spqr'), true);
  const calib = firstSlice(tok, text, 400).docs;
  // Through the registry each method gives exactly what its own entry point gives.
  const a = quantizeModel(fp32(), 'rtn', { bits: 4, group: 32, symmetric: false });
  const b = quantizeModelRTN(fp32(), { bits: 4, group: 32, symmetric: false });
  const g1 = quantizeModel(fp32(), 'gptq', { bits: 3, group: 64, calibration: calib });
  const g2 = quantizeModelMethod(fp32(), 'gptq', calib, { bits: 3, group: 64, actOrder: true, mse: true, sequential: true });
  for (const [x, y] of [[a, b], [g1, g2]] as const) {
    assert.equal(x.bitsPerWeight, y.bitsPerWeight);
    x.model.weights.blocks.forEach((blk, l) => assert.deepEqual((blk.w2 as QuantLinear).packed.codes, (y.model.weights.blocks[l]!.w2 as QuantLinear).packed.codes));
  }
  assert.throws(() => quantizeModel(fp32(), 'gptq', { bits: 4, group: 32 }), (e) => isZipmlError(e, 'E_ARG') && /gptq needs calibration/.test(e.message));
  assert.throws(() => quantizeModel(fp32(), 'rtn', { bits: 7 as 4, group: 32 }), (e) => isZipmlError(e, 'E_ARG') && /7-bit width cannot be held.*supported: 8, 6, 5, 4, 3, 2/.test(e.message));
  assert.throws(() => quantizeModel(fp32(), 'rtn', { bits: 4, group: 48 as 32 }), (e) => isZipmlError(e, 'E_ARG') && /group 48/.test(e.message));
  assert.throws(() => quantMethod('awq'), (e) => isZipmlError(e, 'E_ARG') && /unknown quantization method 'awq' \(known: rtn, hqq, hqq-u8, gptq, gptq-outliers, spqr, kmeans, mixed\)/.test(e.message));
});

test('slices: calibration from the start, evaluation from the end, disjoint, in text order', () => {
  const pieces = textPieces(text);
  assert.equal(pieces.length, 60);
  assert.equal(text.slice(pieces[0]!.start, pieces[0]!.end), text.split('\n\n')[0]);
  const { calibration, evaluation } = disjointSlices(tok, text, 200, 300);
  assert.ok(calibration.tokens >= 200 && evaluation.tokens >= 300);
  assert.ok(calibration.end <= evaluation.start);
  assert.equal(calibration.start, 0);
  assert.equal(evaluation.end, text.trimEnd().length);
  assert.deepEqual(evaluation.docs.at(-1), tok.encode(text.split('\n\n').at(-1)!.trim(), { bos: true }));
  assert.deepEqual(lastSlice(tok, text, 1).docs.length, 1);
  assert.throws(() => disjointSlices(tok, text, 5000, 5000), (e) => isZipmlError(e, 'E_ARG') && /too short/.test(e.message));
});

test('evaluation: a model against itself agrees everywhere; a perturbed one measurably less', () => {
  const docs = lastSlice(tok, text, 400).docs;
  const prompts = greedyPrompts(docs, 4, 6);
  assert.equal(prompts.length, 4);
  assert.ok(prompts.every((p, i) => p.length === 6 && p.every((t, j) => t === docs.filter((d) => d.length > 6)[i]![j])));
  const trace = referenceTrace(fp32(), docs, { prompts, steps: 20 });
  const self = evaluateAgainst(trace, fp32());
  assert.equal(self.klMean, 0);
  assert.equal(self.top1FlipRate, 0);
  assert.equal(self.perplexity, self.refPerplexity);
  assert.deepEqual(self.greedy, { prompts: 4, steps: 20, agreement: 1, meanFirstDivergence: 20 });
  assert.ok(Math.abs(self.perplexity - perplexity(fp32(), docs).perplexity) < 1e-9 * self.perplexity);
  const q2 = quantizeModelRTN(fp32(), { bits: 2, group: 128 }).model;
  const e = evaluateAgainst(trace, q2);
  assert.ok(e.klMean > 0.01 && e.top1FlipRate > 0, `2-bit: KL ${e.klMean}, flips ${e.top1FlipRate}`);
  // Agreement by hand: the same definition, counted position by position.
  let same = 0, first = 0;
  prompts.forEach((p) => {
    const r = greedyContinuation(fp32(), p, 20), m = greedyContinuation(q2, p, 20);
    same += r.filter((t, i) => t === m[i]).length;
    const d = r.findIndex((t, i) => t !== m[i]);
    first += d < 0 ? 20 : d;
  });
  assert.equal(e.greedy.agreement, same / 80);
  assert.equal(e.greedy.meanFirstDivergence, first / 4);
  assert.ok(e.greedy.agreement < 1);
  assert.deepEqual(greedyAgreement(trace, q2), e.greedy);
  // compareModels is the trace path in one call.
  assert.deepEqual(compareModels(fp32(), q2, docs), compareToTrace(trace, q2));
  // Continuations stop at seq_len.
  assert.equal(greedyContinuation(fp32(), [1, 300], 1000).length, SYNTH_CONFIG.seqLen - 2);
});

test('bits per weight: codes, scales and zero points over the linears; embedding and norms at 32 bits over the whole model', () => {
  const c = fp32().config, { dim, hiddenDim: h, nLayers: L } = c, kv = (c.nKvHeads * dim) / c.nHeads;
  const shapes = [[dim, dim], [kv, dim], [kv, dim], [dim, dim], [h, dim], [dim, h], [h, dim]];
  const linear = L * shapes.reduce((s, [r, k]) => s + r! * k!, 0);
  const rest = c.vocabSize * dim + 2 * L * dim + dim;
  const f = modelStorage(fp32());
  assert.equal(f.linearBitsPerWeight, 32);
  assert.equal(f.modelBitsPerWeight, 32);
  assert.equal(f.modelWeights, linear + rest);
  // 4-bit, group 32, zero point: per row ceil(cols*4/8) code bytes, per group a 16-bit scale and an 8-bit zero.
  const bits = L * shapes.reduce((s, [r, k]) => s + r! * (8 * Math.ceil((k! * 4) / 8) + 24 * Math.ceil(k! / 32)), 0);
  const q = modelStorage(quantizeModelRTN(fp32(), { bits: 4, group: 32, symmetric: false }).model);
  assert.equal(q.linearBits, bits);
  assert.equal(q.modelBits, bits + 32 * rest);
  assert.equal(q.linearBitsPerWeight, bits / linear);
  assert.ok(q.linearBitsPerWeight > 4.75 && q.linearBitsPerWeight < 5); // w2's 72 inputs make a short third group
  // A layer kind that reports its own total (as later kinds with tables or outliers do) is taken at its word.
  const custom = fp32().mapLinears((_l, _n, op) => Object.assign(new DenseLinear((op as DenseLinear).weights, op.rows, op.cols), { storageBits: 5 * op.rows * op.cols }));
  assert.equal(modelStorage(custom).linearBitsPerWeight, 5);
  const opaque = fp32().mapLinears((_l, _n, op) => ({ rows: op.rows, cols: op.cols, matvec: (x: Float32Array, o: Float32Array) => op.matvec(x, o) }));
  assert.throws(() => modelStorage(opaque), (e) => isZipmlError(e, 'E_ARG') && /cannot count the storage/.test(e.message));
});

test('paired comparison: per-document NLL sums add up to the perplexities; the document-clustered error has a known answer', () => {
  const docs = lastSlice(tok, text, 400).docs;
  const long = docs.flat().slice(0, 150); // longer than seq_len 64: three windows, their first tokens unscored
  const all = [...docs, long, [1]];
  const trace = referenceTrace(fp32(), all);
  assert.deepEqual([...scoredPerDocument([long, [1], [1, 2]], SYNTH_CONFIG.seqLen)], [63 + 63 + 21, 0, 1]);
  assert.equal(trace.docCount.reduce((s, n) => s + n, 0), trace.count);
  assert.ok(Math.abs(trace.docNll.reduce((s, v) => s + v, 0) - trace.nll) < 1e-9 * trace.nll);
  const q = quantizeModelRTN(fp32(), { bits: 3, group: 32 }).model;
  const c = compareToTrace(trace, q);
  all.forEach((d, i) => {
    const own = d.length > 1 ? perplexity(q, [d]).nll : 0;
    assert.ok(Math.abs(c.docNll[i]! - own) < 1e-9 * Math.max(1, own), `document ${i}: ${c.docNll[i]} vs ${own}`);
  });
  const vsRef = pairedDifference(trace, 'reference', c);
  assert.equal(vsRef.tokens, trace.count);
  assert.equal(vsRef.documents, all.length - 1); // the one-token document scores nothing
  assert.ok(Math.abs(vsRef.perplexityRatio - c.perplexity / c.refPerplexity) < 1e-9);
  assert.ok(vsRef.stdErr > 0 && vsRef.ratioLow < vsRef.perplexityRatio && vsRef.perplexityRatio < vsRef.ratioHigh);
  const self = pairedDifference(trace, c, c);
  assert.deepEqual([self.meanNllChange, self.stdErr, self.perplexityRatio], [0, 0, 1]);
  // Known answer: 2 documents of 2 tokens, per-document changes 2 and 0 nats: mean 0.5 a token;
  // residuals 2 − 0.5·2 = 1 and 0 − 1 = −1, so the error is sqrt(2 · 2/1) / 4 = 0.5.
  const t2 = { docCount: Int32Array.of(2, 2), docNll: Float64Array.of(1, 1) } as unknown as ReferenceTrace;
  const b = { docNll: Float64Array.of(3, 1) } as ModelComparison;
  const k = pairedDifference(t2, 'reference', b);
  assert.deepEqual([k.documents, k.tokens, k.meanNllChange, k.stdErr], [2, 4, 0.5, 0.5]);
  assert.equal(k.ratioHigh, Math.exp(0.5 + 1.96 * 0.5));
  assert.throws(() => pairedDifference(t2, 'reference', c), (e) => isZipmlError(e, 'E_ARG'));
});
