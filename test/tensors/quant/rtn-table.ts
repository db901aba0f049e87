/**
 * Prints the RTN table of docs/llm.md: stories260K with its block linear layers quantized at 8 and
 * 4 bits (groups 32/64/128, symmetric and with zero point) against fp32, on the last ~N tokens of
 * the shared TinyStories text; then GPTQ at 4 bits with Hessians from ~2,000 tokens at the start of
 * the text (disjoint from the evaluation slice). Run: npm run build && node dist/test/tensors/quant/rtn-table.js [N]
 */
import { type ModelComparison, compareModels } from '../../../src/tensors/llm/compare.js';
import { lastDocs, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { quantizeModelGPTQ } from '../../../src/tensors/quant/gptq.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { kernelPath } from '../../../src/kernels/loader.js';
import { loadModel, loadText, loadTokenizer } from '../llm/util.js';

function row(label: string, bpw: number, c: ModelComparison): void {
  const d = (100 * (c.perplexity - c.refPerplexity)) / c.refPerplexity;
  console.log(`| ${label} | ${bpw.toFixed(3)} | ${c.perplexity.toFixed(1)} | ${d >= 0 ? '+' : ''}${d.toFixed(1)}% | ${c.klMean.toFixed(4)} | ${(100 * c.top1FlipRate).toFixed(1)}% |`);
}

const budget = Number(process.argv[2] ?? 2000);
const tok = loadTokenizer();
const text = loadText();
const docs = lastDocs(textDocuments(tok, text.slice(text.length - 40 * budget)), budget);
console.log(`kernels: ${kernelPath()}; ${docs.length} documents, ${docs.reduce((s, d) => s + d.length - 1, 0)} scored tokens (end of tinystories_val.txt)`);
console.log('| weights | bits/weight | perplexity | Δ vs fp32 | mean KL (nats) | top-1 flips |');
console.log('|---|---:|---:|---:|---:|---:|');
let first = true;
for (const bits of [8, 4] as QuantBits[]) {
  for (const symmetric of [true, false]) {
    for (const group of [32, 64, 128] as QuantGroup[]) {
      const q = quantizeModelRTN(loadModel(), { bits, group, symmetric });
      const c = compareModels(loadModel(), q.model, docs);
      if (first) console.log(`| fp32 | 32 | ${c.refPerplexity.toFixed(1)} | | | |`);
      first = false;
      row(`RTN ${bits}-bit g${group} ${symmetric ? 'sym' : 'zero point'}`, q.bitsPerWeight, c);
    }
  }
}

const calib = lastDocs(textDocuments(tok, text.slice(0, 10_000)), 2000);
for (const symmetric of [true, false]) {
  for (const group of [32, 64, 128] as QuantGroup[]) {
    const q = quantizeModelGPTQ(loadModel(), calib, { bits: 4, group, symmetric });
    const c = compareModels(loadModel(), q.model, docs);
    row(`GPTQ 4-bit g${group} ${symmetric ? 'sym' : 'zero point'}`, q.bitsPerWeight, c);
  }
}
