// bench/quant: what each weight quantizer costs on a real small LLM. Every method in the registry
// (src/tensors/quant/registry.ts) x bits (8, 6, 4, 3, 2) x group (32, 64, 128) x mode (symmetric,
// zero point) quantizes the block linear layers of the trained stories260K (restored from the
// shared copy, see test/util/stories260k.ts), then the model is scored against fp32 on held-out
// TinyStories text from the END of tinystories_val.txt; calibration text comes from its START (the
// two slices are printed and checked disjoint). Widths the packed format cannot hold yet are
// reported as skipped. The issue's targets get met/missed verdicts computed from the rows.
//
//   npm run bench:quant                 # the full grid (~5-10 minutes on the shared 2-core VM)
//   node bench/quant/run.mjs --quick    # 500 tokens, group 64, zero point only
//   options: --eval-tokens=N --calib-tokens=N --prompts=N --steps=N --modes=sym,zp --methods=rtn,gptq
//            --bits=4,3 --groups=16,64 (a method runs the listed groups it supports: the packed
//            format's 32/64/128, plus 16 for spqr) --out=NAME (write bench/results/NAME.{json,md};
//            default quant, the full table)
//            --sequential=gptq:4:64,spqr:3:16 (also run these method:bits:group rows, zero point,
//            with the registry's defaults: sequential calibration, mode "zp seq")
//
// The grid rows of the calibrated methods (gptq, gptq-outliers, spqr) share one Hessian capture on
// the fp32 model (its time is printed once in the header; their "quant. time" is the quantization
// alone). Their registry default is sequential calibration (one capture per block through the
// quantized blocks before it), which costs minutes per row here: --sequential picks the rows.
//
// Writes bench/results/quant.{json,md} (or --out=NAME).
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { loadStories260K, STORIES260K_SHA256 } from '../../dist/test/util/stories260k.js';
import { LINEAR_NAMES, LlamaModel } from '../../dist/src/tensors/llm/model.js';
import { Llama2cTokenizer } from '../../dist/src/tensors/llm/tokenizer.js';
import { evaluateAgainst, greedyPrompts, modelStorage, pairedDifference, referenceTrace } from '../../dist/src/tensors/llm/compare.js';
import { disjointSlices } from '../../dist/src/tensors/quant/pipeline.js';
import { QUANT_METHODS, methodSupportsBits, quantizeModel } from '../../dist/src/tensors/quant/registry.js';
import { QUANT_GROUPS } from '../../dist/src/tensors/quant/packed.js';
import { kernelPath } from '../../dist/src/kernels/loader.js';
import { captureHessians } from '../../dist/src/tensors/quant/gptq.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const data = join(root, '..', 'shared', 'data');
const TOKENIZER = join(data, 'models', 'llama2c', 'tok512-c64.bin');
const TEXT = join(data, 'text', 'tinystories', 'tinystories_val.txt');
const arg = (name, def) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const quick = process.argv.includes('--quick');
const evalTokens = Number(arg('eval-tokens', quick ? 500 : 2000));
const calibTokens = Number(arg('calib-tokens', quick ? 500 : 2000));
const promptCount = Number(arg('prompts', quick ? 4 : 8));
const steps = Number(arg('steps', quick ? 16 : 32));
const PROMPT_TOKENS = 8;
const BITS = arg('bits', '8,6,4,3,2').split(',').map(Number);
const groupArg = arg('groups', undefined)?.split(',').map(Number);
const groupsOf = (method) => (quick ? [64] : (method.groups ?? QUANT_GROUPS).filter((g) => (groupArg ? groupArg.includes(g) : QUANT_GROUPS.includes(g) || g === 16)));
const modes = arg('modes', quick ? 'zp' : 'sym,zp').split(',');
const outName = arg('out', 'quant');
const seqRows = arg('sequential', '').split(',').filter(Boolean).map((x) => x.split(':')).map(([m, b, g]) => ({ method: m, bits: Number(b), group: Number(g) }));
const methodNames = arg('methods', QUANT_METHODS.map((m) => m.name).join(',')).split(',');

const fp32Bytes = existsSync(TOKENIZER) && existsSync(TEXT) ? loadStories260K() : undefined;
if (!fp32Bytes) {
  console.log('bench/quant: ../shared/data (stories260K.bin, tok512-c64.bin, tinystories_val.txt) is missing; nothing to measure');
  process.exit(0);
}
const fp32 = () => LlamaModel.fromLlama2c(fp32Bytes);
const tok = Llama2cTokenizer.fromC64(new Uint8Array(readFileSync(TOKENIZER)));
const text = readFileSync(TEXT, 'utf8');
const { calibration, evaluation } = disjointSlices(tok, text, calibTokens, evalTokens);
const slices = {
  file: 'tinystories_val.txt', characters: text.length,
  calibration: { documents: calibration.docs.length, tokens: calibration.tokens, start: calibration.start, end: calibration.end },
  evaluation: { documents: evaluation.docs.length, tokens: evaluation.tokens, start: evaluation.start, end: evaluation.end },
};
console.log(`kernels ${kernelPath()}; stories260K restored (SHA-256 ${STORIES260K_SHA256.slice(0, 16)}...)`);
console.log(`calibration: characters ${calibration.start}..${calibration.end} (start of the file), ${calibration.docs.length} documents, ${calibration.tokens} tokens`);
console.log(`evaluation:  characters ${evaluation.start}..${evaluation.end} (end of the file), ${evaluation.docs.length} documents, ${evaluation.tokens} scored tokens; disjoint`);

const prompts = greedyPrompts(evaluation.docs, promptCount, PROMPT_TOKENS);
let t0 = performance.now();
const trace = referenceTrace(fp32(), evaluation.docs, { prompts, steps });
const fp32Storage = modelStorage(fp32());
const refPerplexity = Math.exp(trace.nll / trace.count);
console.log(`fp32: perplexity ${refPerplexity.toFixed(4)} (reference pass ${((performance.now() - t0) / 1000).toFixed(1)} s); greedy: ${prompts.length} prompts of ${PROMPT_TOKENS} tokens, ${steps} tokens each`);

// One fp32 Hessian capture shared by the methods that take one (kmeans captures its own).
const SHARED_HESSIANS = new Set(['gptq', 'gptq-outliers', 'spqr']);
let hessians, captureSeconds = 0;
if (methodNames.some((n) => SHARED_HESSIANS.has(n))) {
  t0 = performance.now();
  hessians = captureHessians(fp32(), calibration.docs);
  captureSeconds = (performance.now() - t0) / 1000;
  console.log(`Hessian capture on fp32 (${calibration.tokens} tokens): ${captureSeconds.toFixed(1)} s, shared by ${methodNames.filter((n) => SHARED_HESSIANS.has(n)).join(', ')}`);
}

const evaluations = new Map(); // "method bits group mode" -> evaluateAgainst result (per-document NLL for paired tests)
const rows = [{ method: 'fp32', bits: 32, group: null, mode: null, linearBpw: fp32Storage.linearBitsPerWeight, modelBpw: fp32Storage.modelBitsPerWeight, perplexity: refPerplexity, delta: 0, klMean: 0, flipRate: 0, greedyAgreement: 1, firstDivergence: steps, seconds: 0 }];
for (const name of methodNames) {
  const method = QUANT_METHODS.find((m) => m.name === name);
  if (!method) throw new Error(`no method '${name}' in the registry`);
  for (const bits of BITS) {
    for (const group of groupsOf(method)) {
      const seq = seqRows.some((x) => x.method === name && x.bits === bits && x.group === group);
      for (const mode of [...modes, ...(seq ? ['zp seq'] : [])]) {
        const row = { method: name, bits, group, mode };
        const sequential = mode === 'zp seq';
        if (mode === 'sym' && method.zeroPointOnly) continue;
        if (!methodSupportsBits(method, bits)) {
          const why = method.bits ? `${name} makes ${method.bits.join('/')}-bit codes only` : `the packed format cannot hold ${bits}-bit codes`;
          rows.push({ ...row, skipped: why });
          console.log(`${name} ${bits}-bit g${group} ${mode}: skipped (${why})`);
          continue;
        }
        t0 = performance.now();
        const shared = SHARED_HESSIANS.has(name) && !sequential ? { hessians, sequential: false } : {};
        const q = quantizeModel(fp32(), name, { bits, group, symmetric: mode === 'sym', calibration: method.needsCalibration ? calibration.docs : undefined, ...shared });
        const seconds = (performance.now() - t0) / 1000;
        const e = evaluateAgainst(trace, q.model);
        evaluations.set(`${name} ${bits} ${group} ${mode}`, e);
        // Weights kept in the fp16 side matrix (outlier methods), as a fraction of the quantized ones.
        let kept = 0;
        for (const b of q.model.weights.blocks) for (const n of LINEAR_NAMES) kept += (b[n].sparse ?? b[n].base?.sparse)?.colIdx.length ?? 0;
        const r = {
          ...row, linearBpw: e.storage.linearBitsPerWeight, modelBpw: e.storage.modelBitsPerWeight, perplexity: e.perplexity,
          delta: (e.perplexity - refPerplexity) / refPerplexity, klMean: e.klMean, flipRate: e.top1FlipRate,
          greedyAgreement: e.greedy.agreement, firstDivergence: e.greedy.meanFirstDivergence, seconds, outliers: kept / q.weights,
        };
        rows.push(r);
        console.log(`${name} ${bits}-bit g${group} ${mode}: ${r.linearBpw.toFixed(3)} b/w, ppl ${r.perplexity.toFixed(4)} (${pct(r.delta)}), KL ${r.klMean.toFixed(4)}, flips ${pct(r.flipRate, false)}, greedy ${pct(r.greedyAgreement, false)}, ${seconds.toFixed(2)} s`);
      }
    }
  }
}

function pct(x, sign = true) {
  return `${sign && x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
}

// ---------------------------------------------------------------------------------------------
// Targets (issue 7), computed from the rows.
const measured = rows.filter((r) => !r.skipped && r.method !== 'fp32');
const find = (m, bits, group, mode) => measured.find((r) => r.method === m && r.bits === bits && r.group === group && r.mode === mode);
const verdicts = [];
{
  const pairs = [];
  for (const r of measured.filter((x) => x.method === 'gptq' && x.bits === 4)) {
    const rtn = find('rtn', 4, r.group, r.mode.split(' ')[0]);
    if (rtn) pairs.push({ config: `g${r.group} ${r.mode}`, key: `g${r.group} ${rtn.mode}`, gptq: r.delta, rtn: rtn.delta, met: r.delta <= rtn.delta / 2 });
  }
  // A configuration (group, symmetry) counts as met when one of its GPTQ rows (one-shot or sequential) is.
  const keys = [...new Set(pairs.map((p) => p.key))], metKeys = keys.filter((k) => pairs.some((p) => p.key === k && p.met));
  verdicts.push({
    target: "4-bit: GPTQ's perplexity increase over fp32 is at most half of RTN's",
    verdict: pairs.length === 0 ? 'not measured' : metKeys.length === keys.length ? 'met' : metKeys.length > 0 ? `missed (met at ${metKeys.length} of ${keys.length} configurations)` : 'missed',
    detail: pairs.map((p) => `${p.config}: GPTQ ${pct(p.gptq)} vs RTN ${pct(p.rtn)} (half: ${pct(p.rtn / 2)}) ${p.met ? 'met' : 'missed'}`).join('; '),
  });
}
{
  const rs = measured.filter((r) => r.bits === 3 && /outlier|spqr/i.test(r.method));
  const best = rs.reduce((b, r) => (!b || r.delta < b.delta ? r : b), undefined);
  verdicts.push({
    target: '3-bit: GPTQ with outliers stays within 10% of fp32 perplexity',
    verdict: !best ? 'not measured (no outlier method among --methods)' : best.delta <= 0.1 ? 'met' : 'missed',
    detail: rs.map((r) => `${r.method} g${r.group} ${r.mode}: ${pct(r.delta)} (${r.linearBpw.toFixed(3)} bits/weight, ${pct(r.outliers, false)} outliers)`).join('; '),
  });
}
{
  const pairs = [];
  // HQQ always stores a zero point: it is held to RTN with a zero point, the stronger baseline,
  // with a paired 95% interval (documents as the unit) on the perplexity ratio.
  for (const r of measured.filter((x) => (x.method === 'hqq' || x.method === 'hqq-u8') && x.mode === 'zp')) {
    const rtn = find('rtn', r.bits, r.group, 'zp');
    if (!rtn) continue;
    const p = pairedDifference(trace, evaluations.get(`rtn ${r.bits} ${r.group} zp`), evaluations.get(`${r.method} ${r.bits} ${r.group} zp`));
    pairs.push({ config: `${r.method} ${r.bits}-bit g${r.group}`, hqq: r.perplexity, rtn: rtn.perplexity, p, met: r.perplexity < rtn.perplexity });
  }
  const noise = (p) => (p.ratioHigh < 1 ? 'lower' : p.ratioLow > 1 ? 'higher' : 'within noise');
  verdicts.push({
    target: 'HQQ beats RTN (lower perplexity) at every width',
    verdict: pairs.length === 0 ? 'not measured (hqq not among --methods)' : pairs.every((p) => p.met) ? 'met' : 'missed',
    detail: pairs.map(({ config, hqq, rtn, p, met }) => `${config}: HQQ ${hqq.toFixed(4)} vs RTN zp ${rtn.toFixed(4)} ${met ? 'met' : 'missed'} (ratio ${p.perplexityRatio.toFixed(4)}, 95% [${p.ratioLow.toFixed(4)}, ${p.ratioHigh.toFixed(4)}]: ${noise(p)})`).join('; '),
  });
}
console.log('\ntargets:');
for (const v of verdicts) console.log(`- ${v.target}: ${v.verdict}${v.detail ? ` (${v.detail})` : ''}`);

// ---------------------------------------------------------------------------------------------
const env = {
  date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(),
  kernels: kernelPath(), quick, evalTokens, calibTokens, captureSeconds, prompts: prompts.length, promptTokens: PROMPT_TOKENS, steps,
  note: 'shared 2-core machine (other jobs running): quantization times are indicative only',
};
const md = [
  '# bench/quant: weight quantizers on stories260K',
  '',
  `Command: \`${['node bench/quant/run.mjs', ...process.argv.slice(2)].join(' ')}\` (${env.date}, Node ${env.node}, kernels ${env.kernels}, ${env.cpus} cores shared with other jobs: times are indicative).`,
  '',
  `Model: stories260K restored from the shared copy (SHA-256 ${STORIES260K_SHA256}). Quantized: the 35 block linear layers (226,560 weights); the token embedding / shared classifier and the norms stay fp32.`,
  `Evaluation: characters ${evaluation.start}..${evaluation.end} of tinystories_val.txt (its end; ${evaluation.docs.length} documents, ${evaluation.tokens} scored tokens). Calibration (GPTQ and other calibrated methods): characters ${calibration.start}..${calibration.end} (its start; ${calibration.docs.length} documents, ${calibration.tokens} tokens). Disjoint.`,
  ...(hessians ? [`One Hessian capture on the fp32 model (${captureSeconds.toFixed(1)} s) is shared by ${methodNames.filter((n) => SHARED_HESSIANS.has(n)).join(', ')}; their quantization time excludes it.`] : []),
  `Greedy agreement: ${prompts.length} prompts (the first ${PROMPT_TOKENS} tokens of held-out documents), ${steps} greedy tokens each; "first div." is the mean index of the first token that differs from fp32's (${steps} = none).`,
  'bits/weight counts codes, scales and zero points (fp16, or for spqr their 3-bit codes and the fp16 second-level statistics) and every outlier (CSR: row offsets, u16 column index, fp16 value); "linears" is over the quantized layers, "model" over every parameter (fp32 embedding and norms included).',
  '',
  '| method | bits | group | mode | bits/weight (linears) | bits/weight (model) | perplexity | Δ vs fp32 | mean KL (nats) | top-1 flips | greedy agreement | first div. | quant. time (s) |',
  '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => r.skipped
    ? `| ${r.method} | ${r.bits} | ${r.group} | ${r.mode} | skipped: ${r.skipped} | | | | | | | | |`
    : `| ${r.method} | ${r.bits} | ${r.group ?? ''} | ${r.mode ?? ''} | ${r.linearBpw.toFixed(3)} | ${r.modelBpw.toFixed(3)} | ${r.perplexity.toFixed(4)} | ${r.method === 'fp32' ? '' : pct(r.delta)} | ${r.method === 'fp32' ? '' : r.klMean.toFixed(4)} | ${r.method === 'fp32' ? '' : pct(r.flipRate, false)} | ${r.method === 'fp32' ? '' : pct(r.greedyAgreement, false)} | ${r.method === 'fp32' ? '' : r.firstDivergence.toFixed(1)} | ${r.method === 'fp32' ? '' : r.seconds.toFixed(2)} |`),
  '',
  '## Targets (issue 7)',
  '',
  '| target | verdict | detail |',
  '|---|---|---|',
  ...verdicts.map((v) => `| ${v.target} | ${v.verdict} | ${v.detail || ''} |`),
  '',
];
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', `${outName}.json`), JSON.stringify({ env, slices, rows, verdicts }, null, 2));
writeFileSync(join(root, 'bench', 'results', `${outName}.md`), md.join('\n'));
console.log(`wrote bench/results/${outName}.{json,md}`);
