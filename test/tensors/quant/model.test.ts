/** stories260K with RTN-quantized linear layers running on the packed kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareModels } from '../../../src/tensors/llm/compare.js';
import { lastDocs, perplexity, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { DenseLinear } from '../../../src/tensors/llm/linear.js';
import { QuantLinear } from '../../../src/tensors/quant/qmatvec.js';
import { dequantize } from '../../../src/tensors/quant/rtn.js';
import { MODEL, TEXT, TOKENIZER, have, loadModel, loadText, loadTokenizer } from '../llm/util.js';

test('RTN 8-bit stays close to fp32 and 4-bit drifts more; comparison matches perplexity()', (t) => {
  if (!have(t, MODEL, TOKENIZER, TEXT)) return;
  const tok = loadTokenizer();
  const text = loadText();
  const docs = lastDocs(textDocuments(tok, text.slice(text.length - 8000)), 300);
  const q8 = quantizeModelRTN(loadModel(), { bits: 8, group: 32 });
  const q4 = quantizeModelRTN(loadModel(), { bits: 4, group: 32 });
  assert.ok(Math.abs(q8.bitsPerWeight - 8.5) < 0.05, `8-bit g32: ${q8.bitsPerWeight}`);
  assert.ok(Math.abs(q4.bitsPerWeight - 4.5) < 0.05, `4-bit g32: ${q4.bitsPerWeight}`);
  const c8 = compareModels(loadModel(), q8.model, docs);
  const c4 = compareModels(loadModel(), q4.model, docs);
  t.diagnostic(`KL 8-bit ${c8.klMean.toExponential(2)}, 4-bit ${c4.klMean.toExponential(2)}; flips ${c8.top1FlipRate} / ${c4.top1FlipRate}`);
  assert.ok(c8.klMean >= 0 && c8.klMean < c4.klMean, 'finer codes must cost less KL');
  assert.ok(c8.klMean < c4.klMean / 10, 'RTN error shrinks about 16x per 4 bits; KL with it');
  assert.ok(c8.top1FlipRate <= c4.top1FlipRate);
  // The packed model computes what fp32 layers holding the dequantized weights compute.
  const deq = loadModel().mapLinears((l, n) => {
    const p = (q4.model.weights.blocks[l]![n] as QuantLinear).packed;
    return new DenseLinear(dequantize(p), p.rows, p.cols);
  });
  const viaPacked = q4.model;
  let worst = 0;
  docs[0]!.slice(0, 40).forEach((tokn, pos) => {
    const a = Float32Array.from(deq.forward(tokn, pos));
    const b = viaPacked.forward(tokn, pos);
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(a[i]!)));
  });
  assert.ok(worst < 1e-4, `packed vs dequantized fp32 logits: ${worst}`);
  // The comparison's perplexities are the ones perplexity() computes on each model alone.
  const p4 = perplexity(q4.model, docs);
  assert.ok(Math.abs(p4.perplexity - c4.perplexity) < 1e-9 * p4.perplexity);
  assert.ok(Math.abs(perplexity(loadModel(), docs).perplexity - c4.refPerplexity) < 1e-9 * c4.refPerplexity);
});
