/**
 * Experiments / the table of docs/quant-methods.md: stories260K with its block linear layers
 * quantized by each method against fp32, on the last ~N tokens of tinystories_val.txt, with
 * calibration documents from the start of the same file (disjoint). Run:
 *   npm run build && node dist/test/tensors/quant/methods-table.js [evalTokens] [calibTokens] [filter]
 */
import { type ModelComparison, compareModels } from '../../../src/tensors/llm/compare.js';
import { lastDocs, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import type { QuantizedModel } from '../../../src/tensors/quant/model.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { quantizeModelGPTQ } from '../../../src/tensors/quant/gptq.js';
import { quantizeModelHQQ } from '../../../src/tensors/quant/hqq.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { loadModel, loadText, loadTokenizer } from '../llm/util.js';

const evalTokens = Number(process.argv[2] ?? 1500);
const calibTokens = Number(process.argv[3] ?? 2000);
const filter = new RegExp(process.argv[4] ?? '.');
const tok = loadTokenizer();
const text = loadText();
const docs = lastDocs(textDocuments(tok, text.slice(text.length - 40 * evalTokens)), evalTokens);
const firstDocs = (budget: number): number[][] => {
  const all = textDocuments(tok, text.slice(0, 40 * budget));
  const out: number[][] = [];
  let n = 0;
  for (const d of all) {
    if (n >= budget) break;
    out.push(d);
    n += d.length - 1;
  }
  return out;
};
const calib = firstDocs(calibTokens);
const count = (d: number[][]): number => d.reduce((s, x) => s + x.length - 1, 0);
console.log(`evaluation: ${docs.length} docs, ${count(docs)} scored tokens (end of tinystories_val.txt); calibration: ${calib.length} docs, ${count(calib)} tokens (start)`);
console.log('| method | bits/weight | perplexity | Δ vs fp32 | mean KL (nats) | top-1 flips | time (s) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let fp32Shown = false;
function run(label: string, f: () => QuantizedModel): void {
  if (!filter.test(label)) return;
  const t0 = performance.now();
  const q = f();
  const t = (performance.now() - t0) / 1000;
  const c: ModelComparison = compareModels(loadModel(), q.model, docs);
  if (!fp32Shown) console.log(`| fp32 | 32 | ${c.refPerplexity.toFixed(3)} | | | | |`);
  fp32Shown = true;
  const d = (100 * (c.perplexity - c.refPerplexity)) / c.refPerplexity;
  console.log(`| ${label} | ${q.bitsPerWeight.toFixed(3)} | ${c.perplexity.toFixed(3)} | ${d >= 0 ? '+' : ''}${d.toFixed(1)}% | ${c.klMean.toFixed(4)} | ${(100 * c.top1FlipRate).toFixed(1)}% | ${t.toFixed(1)} |`);
}

const group: QuantGroup = 32;
for (const bits of [4, 3, 2] as QuantBits[]) {
  for (const symmetric of [true, false]) run(`RTN ${bits}-bit g${group} ${symmetric ? 'sym' : 'zp'}`, () => quantizeModelRTN(loadModel(), { bits, group, symmetric }));
  run(`HQQ ${bits}-bit g${group}`, () => quantizeModelHQQ(loadModel(), { bits, group }));
  run(`HQQ+scale ${bits}-bit g${group}`, () => quantizeModelHQQ(loadModel(), { bits, group, updateScale: true }));
  for (const symmetric of [true, false]) {
    const s = symmetric ? 'sym' : 'zp';
    run(`GPTQ ${bits}-bit g${group} ${s}`, () => quantizeModelGPTQ(loadModel(), calib, { bits, group, symmetric }));
    run(`GPTQ act-static ${bits}-bit g${group} ${s}`, () => quantizeModelGPTQ(loadModel(), calib, { bits, group, symmetric, actOrder: true, groupFit: 'static' }));
    run(`GPTQ act-lazy ${bits}-bit g${group} ${s}`, () => quantizeModelGPTQ(loadModel(), calib, { bits, group, symmetric, actOrder: true }));
    run(`GPTQ seq ${bits}-bit g${group} ${s}`, () => quantizeModelGPTQ(loadModel(), calib, { bits, group, symmetric, sequential: true }));
    run(`GPTQ seq act-lazy ${bits}-bit g${group} ${s}`, () => quantizeModelGPTQ(loadModel(), calib, { bits, group, symmetric, sequential: true, actOrder: true }));
  }
}
