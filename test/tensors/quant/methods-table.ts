/**
 * The table of docs/quant-methods.md: stories260K with its block linear layers quantized by each
 * method against fp32. Evaluation: the last ~E scored tokens of tinystories_val.txt (whole
 * documents); calibration: the first ~C tokens of the same file (disjoint). Hessians are captured
 * once on the fp32 model and shared by the calibrated rows (their time is printed separately).
 * Run: npm run build && node dist/test/tensors/quant/methods-table.js [E=8000] [C=20000] [row filter regexp] [group=32]
 * With the filter `calib-sweep`: RTN / HQQ at 8, 6, 5 bits, then 4-bit GPTQ rows for calibration
 * sizes 500 .. 50,000 tokens, instead; with `sensitivity`: each layer's KL when it alone is 3-bit.
 */
import { lastDocs, logProb, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { argmax } from '../../../src/tensors/llm/sampler.js';
import type { LlamaModel } from '../../../src/tensors/llm/model.js';
import type { QuantizedModel } from '../../../src/tensors/quant/model.js';
import { HessianAccumulator, captureHessians } from '../../../src/tensors/quant/gptq.js';
import { type MethodOptions, type QuantMethod, quantizeModelMethod, quantizeModelMixedMethod } from '../../../src/tensors/quant/methods.js';
import type { MixedResult } from '../../../src/tensors/quant/mixed.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { loadModel, loadText, loadTokenizer } from '../llm/util.js';

const evalTokens = Number(process.argv[2] ?? 8000);
const calibTokens = Number(process.argv[3] ?? 20000);
const sweep = process.argv[4] === 'calib-sweep', sens = process.argv[4] === 'sensitivity';
const filter = new RegExp(sweep ? '.' : process.argv[4] ?? '.');
const group = Number(process.argv[5] ?? 32) as QuantGroup;
const tok = loadTokenizer();
const text = loadText();
const docs = lastDocs(textDocuments(tok, text.slice(text.length - 40 * evalTokens)), evalTokens);
function firstDocs(budget: number): number[][] {
  const out: number[][] = [];
  for (let n = 0, all = textDocuments(tok, text.slice(0, 40 * budget)), i = 0; n < budget && i < all.length; i++) {
    out.push(all[i]!);
    n += all[i]!.length - 1;
  }
  return out;
}
const calib = firstDocs(sweep ? 0 : calibTokens);
const count = (d: number[][]): number => d.reduce((s, x) => s + x.length - 1, 0);
const fp32 = loadModel();
let t0 = performance.now();
const hessians = captureHessians(fp32, calib);
console.log(`evaluation: ${docs.length} documents, ${count(docs)} scored tokens (end of tinystories_val.txt); calibration: ${calib.length} documents, ${count(calib)} tokens (start of the file), Hessian capture ${((performance.now() - t0) / 1000).toFixed(1)} s; group ${group}; shared 2-core machine`);
// fp32 log-probabilities and argmax once, for every position compareModels scores (same loop).
const V = fp32.config.vocabSize, L = fp32.config.seqLen;
const positions = docs.reduce((s, d) => s + d.length - 1, 0);
const refLp = new Float32Array(positions * V), refTop = new Int32Array(positions);
function eachPosition(model: LlamaModel, visit: (k: number, logits: Float32Array, target: number) => void): void {
  let k = 0;
  for (const doc of docs) {
    for (let i = 0; i + 1 < doc.length; i++) {
      if (i % L === L - 1) continue;
      visit(k++, model.forward(doc[i]!, i % L), doc[i + 1]!);
    }
  }
}
let refNll = 0, scored = 0;
eachPosition(fp32, (k, logits, target) => {
  const lse = logits[0]! - logProb(logits, 0);
  for (let t = 0; t < V; t++) refLp[k * V + t] = logits[t]! - lse;
  refTop[k] = argmax(logits);
  refNll -= refLp[k * V + target]!;
  scored = k + 1;
});
const refPerplexity = Math.exp(refNll / scored);
function compare(model: LlamaModel): { perplexity: number; klMean: number; top1FlipRate: number } {
  let nll = 0, kl = 0, flips = 0;
  eachPosition(model, (k, logits, target) => {
    const lse = logits[0]! - logProb(logits, 0);
    for (let t = 0; t < V; t++) {
      const a = refLp[k * V + t]!;
      kl += Math.exp(a) * (a - (logits[t]! - lse));
    }
    if (argmax(logits) !== refTop[k]) flips++;
    nll -= logits[target]! - lse;
  });
  return { perplexity: Math.exp(nll / scored), klMean: kl / scored, top1FlipRate: flips / scored };
}
console.log(`fp32 perplexity ${refPerplexity.toFixed(3)} over ${scored} positions`);
console.log('| method | bits/weight | perplexity | Δ vs fp32 | mean KL (nats) | top-1 flips | quantization time (s) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let fp32Shown = false;
function run(label: string, f: () => QuantizedModel): QuantizedModel | undefined {
  if (!filter.test(label)) return undefined;
  t0 = performance.now();
  const q = f();
  const t = (performance.now() - t0) / 1000;
  const c = compare(q.model);
  if (!fp32Shown) console.log(`| fp32 | 32 | ${refPerplexity.toFixed(3)} | | | | |`);
  fp32Shown = true;
  const d = (100 * (c.perplexity - refPerplexity)) / refPerplexity;
  console.log(`| ${label} | ${q.bitsPerWeight.toFixed(3)} | ${c.perplexity.toFixed(3)} | ${d >= 0 ? '+' : ''}${d.toFixed(1)}% | ${c.klMean.toFixed(4)} | ${(100 * c.top1FlipRate).toFixed(1)}% | ${t.toFixed(1)} |`);
  return q;
}
// H = I for every layer: GPTQ without error feedback, i.e. RTN codes with GPTQ's group fitting.
const identity = new Map([...hessians].map(([k, a]) => {
  const i = new HessianAccumulator(a.cols);
  for (let c = 0; c < a.cols; c++) i.h[c * a.cols + c] = 0.5;
  i.count = 1;
  return [k, i];
}));
const m = (method: QuantMethod, o: MethodOptions) => (): QuantizedModel => quantizeModelMethod(loadModel(), method, calib, { hessians, ...o });

if (sens) {
  // Per-layer KL at 3 bits (GPTQ zero point act-order mse, each layer alone), as mixed precision measures it.
  const q = quantizeModelMixedMethod(loadModel(), 'gptq', calib, { bits: 3, group, symmetric: false, actOrder: true, mse: true, hessians, budget: 99, widths: [3], sensitivityDocs: 6 });
  const kl = q.measured.sensitivity.map((x) => ({ at: `${x.layer}.${x.name}`, kl: x.options[0]!.kl })).sort((a, b) => b.kl - a.kl);
  const sum = kl.reduce((a, x) => a + x.kl, 0);
  console.log(`sum of per-layer KL ${sum.toFixed(4)}; top 5 share ${(100 * kl.slice(0, 5).reduce((a, x) => a + x.kl, 0) / sum).toFixed(1)}%`);
  console.log(kl.map((x) => `${x.at} ${x.kl.toFixed(4)}`).join(', '));
  process.exit(0);
}
if (sweep) {
  for (const bits of [8, 6, 5] as QuantBits[]) {
    run(`RTN ${bits}-bit zero point`, () => quantizeModelMethod(loadModel(), 'rtn', [], { bits, group, symmetric: false }));
    run(`HQQ ${bits}-bit (zero only, reference)`, () => quantizeModelMethod(loadModel(), 'hqq', [], { bits, group, updateScale: false }));
    run(`HQQ ${bits}-bit (+scale, the registry's hqq)`, () => quantizeModelMethod(loadModel(), 'hqq', [], { bits, group, updateScale: true }));
  }
  for (const size of [500, 2000, 5000, 20000, 50000]) {
    const c = firstDocs(size);
    t0 = performance.now();
    const hs = captureHessians(fp32, c);
    const tc = ((performance.now() - t0) / 1000).toFixed(1);
    const g = (o: MethodOptions) => (): QuantizedModel => quantizeModelMethod(loadModel(), 'gptq', c, { hessians: hs, ...o });
    const b = { bits: 4 as const, group };
    run(`calibration ${count(c)} tokens (capture ${tc} s): GPTQ 4-bit sym`, g({ ...b, symmetric: true }));
    run(`calibration ${count(c)} tokens: GPTQ 4-bit sym act-order mse`, g({ ...b, symmetric: true, actOrder: true, mse: true }));
    run(`calibration ${count(c)} tokens: GPTQ 4-bit zero point`, g({ ...b, symmetric: false }));
    run(`calibration ${count(c)} tokens: GPTQ 4-bit zero point act-order mse`, g({ ...b, symmetric: false, actOrder: true, mse: true }));
  }
  process.exit(0);
}

let measured: MixedResult['measured'] | undefined;
for (const bits of [4, 3, 2] as QuantBits[]) {
  const b = { bits, group };
  const zp = { ...b, symmetric: false }, act = { ...b, symmetric: false, actOrder: true };
  run(`RTN ${bits}-bit sym`, m('rtn', { ...b, symmetric: true }));
  run(`RTN ${bits}-bit zero point`, m('rtn', zp));
  run(`HQQ ${bits}-bit (zero only, reference)`, m('hqq', { ...b, updateScale: false }));
  run(`HQQ ${bits}-bit (+scale, the registry's hqq)`, m('hqq', { ...b, updateScale: true }));
  run(`GPTQ ${bits}-bit sym`, m('gptq', { ...b, symmetric: true }));
  run(`GPTQ ${bits}-bit sym act-order`, m('gptq', { ...b, symmetric: true, actOrder: true }));
  if (bits === 4) run(`GPTQ ${bits}-bit sym act-order static groups`, m('gptq', { ...b, symmetric: true, actOrder: true, groupFit: 'static' }));
  if (bits === 4) run(`GPTQ ${bits}-bit sym sequential`, m('gptq', { ...b, symmetric: true, sequential: true }));
  run(`GPTQ ${bits}-bit zero point`, m('gptq', zp));
  run(`GPTQ ${bits}-bit zero point act-order`, m('gptq', act));
  if (bits === 4) run(`GPTQ ${bits}-bit zero point act-order static groups`, m('gptq', { ...act, groupFit: 'static' }));
  const best = { ...act, mse: true };
  run(`RTN ${bits}-bit sym, mse range search`, m('gptq', { ...b, symmetric: true, mse: true, hessians: identity }));
  run(`RTN ${bits}-bit zero point, mse range search`, m('gptq', { ...zp, mse: true, hessians: identity }));
  run(`GPTQ ${bits}-bit sym act-order mse`, m('gptq', { ...b, symmetric: true, actOrder: true, mse: true }));
  run(`GPTQ ${bits}-bit zero point act-order mse`, m('gptq', best));
  run(`GPTQ+outliers 1% ${bits}-bit zero point act-order`, m('gptq-outliers', act));
  run(`GPTQ+outliers 1% ${bits}-bit zero point act-order mse`, m('gptq-outliers', best));
  if (bits === 3) run(`GPTQ+outliers 3% ${bits}-bit zero point act-order mse`, m('gptq-outliers', { ...best, fraction: 0.03 }));
  run(`GPTQ ${bits}-bit zero point act-order mse + rank-2 (H-weighted)`, m('gptq', { ...best, lowRank: 2 }));
  if (bits === 4) run(`GPTQ ${bits}-bit zero point act-order mse + rank-2 (plain SVD)`, m('gptq', { ...best, lowRank: 2, lowRankWeighted: false }));
  const budget = (bits === 2 ? 2.5 : bits) + (group === 32 ? 0.771 : 0.5);
  const q = run(`mixed GPTQ zero point act-order mse, widths {2,3,4,5,6,8}, budget ${budget.toFixed(3)}`, () =>
    quantizeModelMixedMethod(loadModel(), 'gptq', calib, { ...best, hessians, budget, widths: [2, 3, 4, 5, 6, 8], sensitivityDocs: 6, measured })) as MixedResult | undefined;
  if (q) {
    measured = q.measured;
    const hist = new Map<number, number>();
    for (const w of q.widths) hist.set(w.bits, (hist.get(w.bits) ?? 0) + 1);
    console.log(`|   widths: ${[...hist].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${v}× ${k}-bit`).join(', ')} (${q.widths.map((w) => `${w.layer}.${w.name}:${w.bits}`).join(' ')}) | | | | | | |`);
  }
}
