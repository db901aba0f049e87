/**
 * The HQQ table of docs/quant-methods.md: stories260K's block linear layers quantized by RTN (zero
 * point) and by three HQQ settings, each scored against fp32 on the last ~E tokens of
 * tinystories_val.txt (the evaluation slice bench/quant uses), with a paired comparison to RTN:
 * the perplexity ratio HQQ / RTN over the same tokens and its 95% interval, documents as the
 * sampling unit (compare.ts pairedDifference).
 * Run: npm run build && node dist/test/tensors/quant/hqq-table.js [E=8000] [bits=8,6,4,3,2] [groups=32,64,128]
 */
import { type ModelComparison, type ReferenceTrace, compareToTrace, pairedDifference, referenceTrace } from '../../../src/tensors/llm/compare.js';
import type { HqqOptions } from '../../../src/tensors/quant/hqq.js';
import { quantizeModelMethod } from '../../../src/tensors/quant/methods.js';
import type { QuantizedModel } from '../../../src/tensors/quant/model.js';
import type { QuantBits, QuantGroup } from '../../../src/tensors/quant/packed.js';
import { lastSlice } from '../../../src/tensors/quant/pipeline.js';
import { loadModel, loadText, loadTokenizer } from '../llm/util.js';

const evalTokens = Number(process.argv[2] ?? 8000);
const widths = (process.argv[3] ?? '8,6,4,3,2').split(',').map(Number) as QuantBits[];
const groups = (process.argv[4] ?? '32,64,128').split(',').map(Number) as QuantGroup[];
const slice = lastSlice(loadTokenizer(), loadText(), evalTokens);
const trace: ReferenceTrace = referenceTrace(loadModel(), slice.docs);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`;
console.log(`evaluation: characters ${slice.start}..${slice.end} of tinystories_val.txt, ${trace.docCount.length} documents, ${trace.count} scored tokens; fp32 perplexity ${Math.exp(trace.nll / trace.count).toFixed(4)}`);
console.log("| bits | group | weights | bits/weight | perplexity | Δ vs fp32 [95% interval] | mean KL (nats) | top-1 flips | perplexity / RTN's [95% interval] |");
console.log('|---:|---:|---|---:|---:|---:|---:|---:|---:|');

const SETTINGS: [string, Omit<HqqOptions, 'bits' | 'group'>][] = [
  ['HQQ reference (zero only, fp16 zero)', {}],
  ['HQQ + scale, fp16 zero (registry `hqq`)', { updateScale: true }],
  ['HQQ + scale, u8 zero (registry `hqq-u8`)', { updateScale: true, zero: 'u8' }],
];
for (const bits of widths) {
  for (const group of groups) {
    let rtn: ModelComparison | undefined;
    const row = (label: string, q: QuantizedModel): void => {
      const c = compareToTrace(trace, q.model), f = pairedDifference(trace, 'reference', c);
      const vs = rtn ? pairedDifference(trace, rtn, c) : undefined;
      console.log(`| ${bits} | ${group} | ${label} | ${q.bitsPerWeight.toFixed(3)} | ${c.perplexity.toFixed(4)} | ${pct(f.perplexityRatio - 1)} [${pct(f.ratioLow - 1)}, ${pct(f.ratioHigh - 1)}] | ${c.klMean.toFixed(5)} | ${(100 * c.top1FlipRate).toFixed(1)}% | ${vs ? `${vs.perplexityRatio.toFixed(4)} [${vs.ratioLow.toFixed(4)}, ${vs.ratioHigh.toFixed(4)}]` : ''} |`);
      rtn ??= c;
    };
    row('RTN zero point', quantizeModelMethod(loadModel(), 'rtn', [], { bits, group, symmetric: false }));
    for (const [label, o] of SETTINGS) row(label, quantizeModelMethod(loadModel(), 'hqq', [], { bits, group, ...o }));
  }
}
