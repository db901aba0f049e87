/**
 * The table of docs/quant-methods.md: stories260K with its block linear layers quantized by each
 * method against fp32. Evaluation: the last ~E scored tokens of tinystories_val.txt (whole
 * documents); calibration: the first ~C tokens of the same file (disjoint). Hessians are captured
 * once on the fp32 model and shared by the calibrated rows (their time is printed separately).
 * Run: npm run build && node dist/test/tensors/quant/methods-table.js [E=8000] [C=20000] [row filter regexp] [group=32]
 */
import { type ModelComparison, compareModels } from '../../../src/tensors/llm/compare.js';
import { lastDocs, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import type { QuantizedModel } from '../../../src/tensors/quant/model.js';
import { captureHessians } from '../../../src/tensors/quant/gptq.js';
import { type MethodOptions, type QuantMethod, quantizeModelMethod, quantizeModelMixedMethod } from '../../../src/tensors/quant/methods.js';
import type { MixedResult } from '../../../src/tensors/quant/mixed.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { loadModel, loadText, loadTokenizer } from '../llm/util.js';

const evalTokens = Number(process.argv[2] ?? 8000);
const calibTokens = Number(process.argv[3] ?? 20000);
const filter = new RegExp(process.argv[4] ?? '.');
const group = Number(process.argv[5] ?? 32) as QuantGroup;
const tok = loadTokenizer();
const text = loadText();
const docs = lastDocs(textDocuments(tok, text.slice(text.length - 40 * evalTokens)), evalTokens);
const calib: number[][] = [];
for (let n = 0, all = textDocuments(tok, text.slice(0, 40 * calibTokens)), i = 0; n < calibTokens && i < all.length; i++) {
  calib.push(all[i]!);
  n += all[i]!.length - 1;
}
const count = (d: number[][]): number => d.reduce((s, x) => s + x.length - 1, 0);
const fp32 = loadModel();
let t0 = performance.now();
const hessians = captureHessians(fp32, calib);
console.log(`evaluation: ${docs.length} documents, ${count(docs)} scored tokens (end of tinystories_val.txt); calibration: ${calib.length} documents, ${count(calib)} tokens (start of the file), Hessian capture ${((performance.now() - t0) / 1000).toFixed(1)} s; group ${group}; shared 2-core machine`);
console.log('| method | bits/weight | perplexity | Δ vs fp32 | mean KL (nats) | top-1 flips | quantization time (s) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let fp32Shown = false;
function run(label: string, f: () => QuantizedModel): QuantizedModel | undefined {
  if (!filter.test(label)) return undefined;
  t0 = performance.now();
  const q = f();
  const t = (performance.now() - t0) / 1000;
  const c: ModelComparison = compareModels(fp32, q.model, docs);
  if (!fp32Shown) console.log(`| fp32 | 32 | ${c.refPerplexity.toFixed(3)} | | | | |`);
  fp32Shown = true;
  const d = (100 * (c.perplexity - c.refPerplexity)) / c.refPerplexity;
  console.log(`| ${label} | ${q.bitsPerWeight.toFixed(3)} | ${c.perplexity.toFixed(3)} | ${d >= 0 ? '+' : ''}${d.toFixed(1)}% | ${c.klMean.toFixed(4)} | ${(100 * c.top1FlipRate).toFixed(1)}% | ${t.toFixed(1)} |`);
  return q;
}
const m = (method: QuantMethod, o: MethodOptions) => (): QuantizedModel => quantizeModelMethod(loadModel(), method, calib, { hessians, ...o });

let measured: MixedResult['measured'] | undefined;
for (const bits of [4, 3, 2] as QuantBits[]) {
  const b = { bits, group };
  run(`RTN ${bits}-bit sym`, m('rtn', { ...b, symmetric: true }));
  run(`RTN ${bits}-bit zero point`, m('rtn', { ...b, symmetric: false }));
  run(`HQQ ${bits}-bit`, m('hqq', b));
  run(`HQQ ${bits}-bit +scale`, m('hqq', { ...b, updateScale: true }));
  for (const symmetric of [true, false]) {
    const s = symmetric ? 'sym' : 'zero point';
    run(`GPTQ ${bits}-bit ${s}`, m('gptq', { ...b, symmetric }));
    run(`GPTQ ${bits}-bit ${s} act-order static`, m('gptq', { ...b, symmetric, actOrder: true, groupFit: 'static' }));
    run(`GPTQ ${bits}-bit ${s} act-order lazy`, m('gptq', { ...b, symmetric, actOrder: true }));
    run(`GPTQ ${bits}-bit ${s} sequential`, m('gptq', { ...b, symmetric, sequential: true }));
  }
  run(`GPTQ+outliers 1% ${bits}-bit zero point`, m('gptq-outliers', { ...b, symmetric: false }));
  run(`GPTQ+outliers 1% ${bits}-bit zero point act-order`, m('gptq-outliers', { ...b, symmetric: false, actOrder: true }));
  run(`GPTQ+outliers 1% ${bits}-bit sym act-order`, m('gptq-outliers', { ...b, symmetric: true, actOrder: true }));
  run(`GPTQ ${bits}-bit zero point + rank-2`, m('gptq', { ...b, symmetric: false, lowRank: 2 }));
  run(`GPTQ ${bits}-bit zero point + rank-2 plain SVD`, m('gptq', { ...b, symmetric: false, lowRank: 2, lowRankWeighted: false }));
  run(`GPTQ+outliers ${bits}-bit zero point + rank-2`, m('gptq-outliers', { ...b, symmetric: false, lowRank: 2 }));
  const budget = bits + (group === 32 ? 0.771 : 0.5);
  const q = run(`mixed GPTQ {2,3,4,8} zero point, budget ${budget.toFixed(3)}`, () =>
    quantizeModelMixedMethod(loadModel(), 'gptq', calib, { bits, group, symmetric: false, hessians, budget, sensitivityDocs: 20, measured })) as MixedResult | undefined;
  if (q) {
    measured = q.measured;
    const hist = new Map<number, number>();
    for (const w of q.widths) hist.set(w.bits, (hist.get(w.bits) ?? 0) + 1);
    console.log(`|   widths chosen: ${[...hist].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${v}× ${k}-bit`).join(', ')}; ${q.widths.map((w) => `${w.layer}.${w.name}:${w.bits}`).join(' ')} | | | | | | |`);
  }
}
