/**
 * Prints the k-means table of docs/quant-formats.md: stories260K with its block linear layers
 * k-means quantized (value tables per row and per 32-column group; sensitivity-weighted by diag(H)
 * from ~2,000 calibration tokens at the start of the text, and unweighted) against RTN with zero
 * points at the same code width, on the last ~N tokens of the shared TinyStories text.
 * Run: npm run build && node dist/test/tensors/quant/kmeans-table.js [N]
 */
import { type ModelComparison, compareModels } from '../../../src/tensors/llm/compare.js';
import { lastDocs, textDocuments } from '../../../src/tensors/llm/perplexity.js';
import { quantizeModelRTN } from '../../../src/tensors/quant/model.js';
import { quantizeModelKMeans } from '../../../src/tensors/quant/kmeans.js';
import type { TableBits } from '../../../src/tensors/quant/table.js';
import { kernelPath } from '../../../src/kernels/loader.js';
import { loadModel, loadText, loadTokenizer } from '../llm/util.js';

function row(label: string, bpw: number, seconds: number, c: ModelComparison): void {
  const d = (100 * (c.perplexity - c.refPerplexity)) / c.refPerplexity;
  console.log(`| ${label} | ${bpw.toFixed(3)} | ${c.perplexity.toFixed(2)} | ${d >= 0 ? '+' : ''}${d.toFixed(1)}% | ${c.klMean.toFixed(4)} | ${(100 * c.top1FlipRate).toFixed(1)}% | ${seconds.toFixed(2)} |`);
}

const budget = Number(process.argv[2] ?? 2000);
const tok = loadTokenizer();
const text = loadText();
const docs = lastDocs(textDocuments(tok, text.slice(text.length - 40 * budget)), budget);
const calib = lastDocs(textDocuments(tok, text.slice(0, 10_000)), 2000);
console.log(`kernels: ${kernelPath()}; ${docs.length} documents, ${docs.reduce((s, d) => s + d.length - 1, 0)} scored tokens (end of tinystories_val.txt); calibration ${calib.reduce((s, d) => s + d.length, 0)} tokens (start)`);
console.log('| weights | bits/weight | perplexity | Δ vs fp32 | mean KL (nats) | top-1 flips | quantize s |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let first = true;
const timed = <T>(f: () => T): [T, number] => {
  const t = performance.now();
  const r = f();
  return [r, (performance.now() - t) / 1000];
};
for (const bits of [4, 3, 2] as TableBits[]) {
  const [r, tr] = timed(() => quantizeModelRTN(loadModel(), { bits, group: 32, symmetric: false }));
  const cr = compareModels(loadModel(), r.model, docs);
  if (first) console.log(`| fp32 | 32 | ${cr.refPerplexity.toFixed(2)} | | | | |`);
  first = false;
  row(`RTN ${bits}-bit g32 zero point`, r.bitsPerWeight, tr, cr);
  for (const scope of ['row', 32] as const) {
    for (const weighted of [false, true]) {
      const [q, tq] = timed(() => quantizeModelKMeans(loadModel(), weighted ? calib : [], { bits, scope }));
      row(`k-means ${bits}-bit ${scope === 'row' ? 'table per row' : 'table per g32'}${weighted ? ', diag(H)-weighted' : ', unweighted'}`, q.bitsPerWeight, tq, compareModels(loadModel(), q.model, docs));
    }
  }
}
