/** Model-level entry points on stories260K: bits per weight counted with every side structure, mixed precision within budget. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { lastDocs, perplexity, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { LINEAR_NAMES } from '../../../src/tensors/llm/model.js';
import { captureHessians } from '../../../src/tensors/quant/gptq.js';
import { quantizeModelMethod, quantizeModelMixedMethod } from '../../../src/tensors/quant/methods.js';
import { OutlierLinear } from '../../../src/tensors/quant/outliers.js';
import { LowRankLinear } from '../../../src/tensors/quant/lowrank.js';
import { MODEL, TEXT, TOKENIZER, have, loadModel, loadText, loadTokenizer } from '../llm/util.js';

test('stories260K: every method quantizes every layer, counts its bits, and keeps perplexity finite and near fp32 at 4 bits', (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer(), text = loadText();
  const calib = textDocuments(tok, text.slice(0, 3000));
  const evalDocs = lastDocs(textDocuments(tok, text.slice(-4000)), 300);
  const model = loadModel();
  const shapes = model.weights.blocks.flatMap((b) => LINEAR_NAMES.map((n) => [b[n].rows, b[n].cols] as const));
  const weights = shapes.reduce((s, [r, c]) => s + r * c, 0);
  const groups = shapes.reduce((s, [r, c]) => s + r * Math.ceil(c / 32), 0);
  const codeBits = shapes.reduce((s, [r, c]) => s + 8 * r * Math.ceil((c * 4) / 8), 0);
  const hessians = captureHessians(model, calib);
  const base = perplexity(model, evalDocs).perplexity;
  const progress: number[] = [];
  const hqq = quantizeModelMethod(loadModel(), 'hqq', [], { bits: 4, group: 32, onProgress: (d) => progress.push(d) });
  assert.equal(hqq.bitsPerWeight, (codeBits + 32 * groups) / weights); // fp16 scale + fp16 zero
  assert.equal(progress.at(-1), 35);
  const gptq = quantizeModelMethod(loadModel(), 'gptq', calib, { bits: 4, group: 32, symmetric: false, actOrder: true, hessians });
  assert.equal(gptq.bitsPerWeight, (codeBits + 24 * groups) / weights); // fp16 scale + u8 zero
  const out = quantizeModelMethod(loadModel(), 'gptq-outliers', calib, { bits: 4, group: 32, symmetric: false, hessians });
  const nnz = shapes.reduce((s, [r, c]) => s + Math.round(0.01 * r * c), 0);
  assert.equal(out.bitsPerWeight, (codeBits + 24 * groups + shapes.reduce((s, [r]) => s + 16 * (r + 1), 0) + 32 * nnz) / weights);
  assert.ok(out.model.weights.blocks[2]!.w2 instanceof OutlierLinear);
  const lr = quantizeModelMethod(loadModel(), 'rtn', calib, { bits: 4, group: 32, symmetric: false, lowRank: 1, hessians });
  assert.ok(lr.model.weights.blocks[0]!.wq instanceof LowRankLinear);
  assert.equal(lr.bitsPerWeight, (codeBits + 24 * groups + shapes.reduce((s, [r, c]) => s + 16 * (r + c), 0)) / weights);
  for (const [name, q] of Object.entries({ hqq, gptq, out, lr })) {
    const p = perplexity(q.model, evalDocs).perplexity;
    assert.ok(p > base * 0.9 && p < base * 1.3, `${name}: perplexity ${p} vs fp32 ${base}`);
  }
  assert.throws(() => quantizeModelMethod(loadModel(), 'gptq', [], { bits: 4, group: 32 }), (e) => isZipmlError(e, 'E_ARG'));
});

test('stories260K: mixed precision measures every layer at each width and meets the budget', (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const calib = [textDocuments(tok, loadText().slice(0, 2000))[0]!.slice(0, 48)];
  const budget = 3.2;
  const q = quantizeModelMixedMethod(loadModel(), 'rtn', calib, { bits: 2, group: 32, symmetric: false, budget, widths: [2, 8] });
  assert.equal(q.widths.length, 35);
  assert.ok(q.bitsPerWeight <= budget && q.bitsPerWeight > 2.77, `bits/weight ${q.bitsPerWeight}`);
  for (const s of q.measured.sensitivity) assert.ok(s.options[0]!.kl > s.options[1]!.kl, `${s.layer}.${s.name}: 2-bit KL ${s.options[0]!.kl} vs 8-bit ${s.options[1]!.kl}`);
  assert.ok(q.widths.some((w) => w.bits === 8) && q.widths.some((w) => w.bits === 2));
  assert.throws(() => quantizeModelMixedMethod(loadModel(), 'rtn', calib, { bits: 2, group: 32, budget: 2 }), (e) => isZipmlError(e, 'E_ARG'));
});

test('stories260K: an aborted signal stops every method with E_ABORTED', (t) => {
  if (!have(t, MODEL)) return;
  const ac = new AbortController();
  ac.abort();
  const calib = [[1, 2, 3, 4, 5]];
  for (const method of ['rtn', 'hqq', 'gptq', 'gptq-outliers'] as const) {
    assert.throws(() => quantizeModelMethod(loadModel(), method, calib, { bits: 4, group: 32, signal: ac.signal }), (e) => isZipmlError(e, 'E_ABORTED'), method);
  }
  assert.throws(() => quantizeModelMixedMethod(loadModel(), 'rtn', calib, { bits: 4, group: 32, budget: 8, signal: ac.signal }), (e) => isZipmlError(e, 'E_ABORTED'));
});
