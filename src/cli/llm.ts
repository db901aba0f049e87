/**
 * `zipml quantize`, `zipml eval`, `zipml generate`: thin layers over src/tensors/quant (registry,
 * quantized-model file, text slices) and src/tensors/llm (evaluation, sampling).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ZipmlError } from '../core/errors.js';
import { kernelPath } from '../kernels/loader.js';
import { type Evaluation, type ModelStorage, evaluateAgainst, greedyPrompts, modelStorage, referenceTrace } from '../tensors/llm/compare.js';
import { perplexity } from '../tensors/llm/perplexity.js';
import { generate } from '../tensors/llm/sampler.js';
import { Llama2cTokenizer } from '../tensors/llm/tokenizer.js';
import { writeQuantizedModel } from '../tensors/quant/file.js';
import { type OpenedModel, firstSlice, lastSlice, openModelBytes } from '../tensors/quant/pipeline.js';
import { QUANT_METHODS, checkBitsAndGroup, quantMethod, quantizeModel } from '../tensors/quant/registry.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { exportGguf, type GgufLinearType } from '../tensors/quant/gguf-export.js';
import { exportMatMulNBits } from '../tensors/quant/onnx-matmulnbits.js';
import type { QuantBits, QuantGroup } from '../tensors/quant/packed.js';
import { intArg, numArg, readInput } from './args.js';
import { progressBar } from './progress.js';

async function openModel(path: string): Promise<OpenedModel> {
  return openModelBytes(await readInput(path), path);
}

/**
 * The vocabulary for a model: --tokenizer, else the one in the quantized file, else a
 * tokenizer.bin / tok<V>.bin / tok<V>-c64.bin beside the model. Undefined when none is found.
 */
async function findTokenizer(modelPath: string, m: OpenedModel, flag: string | undefined): Promise<Llama2cTokenizer | undefined> {
  const V = m.model.config.vocabSize;
  if (flag) return Llama2cTokenizer.fromBytes(await readInput(flag), V);
  if (m.tokenizer) return m.tokenizer;
  for (const f of ['tokenizer.bin', `tok${V}.bin`, `tok${V}-c64.bin`]) {
    const p = join(dirname(modelPath), f);
    if (existsSync(p)) return Llama2cTokenizer.fromBytes(await readInput(p), V);
  }
  return undefined;
}

async function needTokenizer(modelPath: string, m: OpenedModel, flag: string | undefined, why: string): Promise<Llama2cTokenizer> {
  const t = await findTokenizer(modelPath, m, flag);
  if (!t) throw new ZipmlError('E_ARG', `${modelPath}: no tokenizer found for ${why}; pass --tokenizer <tokenizer.bin or tok512-c64.bin>`);
  return t;
}

const GGUF_TYPES: readonly GgufLinearType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'F16', 'F32'];

/** --gguf-type, or the block type that holds --bits codes as they are. */
function ggufTypeOf(flag: string | undefined, bits: number): GgufLinearType {
  if (flag !== undefined) {
    const t = GGUF_TYPES.find((x) => x.toLowerCase() === flag.toLowerCase());
    if (!t) throw new ZipmlError('E_ARG', `--gguf-type ${flag} is not one of ${GGUF_TYPES.join(', ')}`);
    return t;
  }
  if (bits === 8) return 'Q8_0';
  if (bits === 4) return 'Q4_0';
  throw new ZipmlError('E_ARG', `--bits ${bits} has no GGUF block type here; pass --gguf-type (${GGUF_TYPES.join(', ')})`);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const storageLine = (s: ModelStorage): string =>
  `bits/weight ${s.linearBitsPerWeight.toFixed(3)} over the block linear layers (${s.linearWeights} weights), ${s.modelBitsPerWeight.toFixed(3)} over the whole model (${s.modelWeights} parameters)`;

export function registerLlmCommands(program: Command): void {
  program
    .command('quantize')
    .description(`quantize the linear layers of a llama2.c checkpoint into a zipml quantized-model file (methods: ${QUANT_METHODS.map((m) => m.name).join(', ')})`)
    .argument('<model>', 'llama2.c .bin checkpoint (fp32)')
    .requiredOption('-o, --output <file>', 'file to write: a zipml quantized model, or by extension .gguf (llama.cpp) / .onnx (MatMulNBits layers)')
    .option('--gguf-type <type>', 'GGUF type of the linear layers: Q8_0, Q4_0, Q4_K, F16 or F32 (default: Q8_0 for --bits 8, Q4_0 for --bits 4)')
    .option('--method <name>', QUANT_METHODS.map((m) => `${m.name}${m.needsCalibration ? ' (needs --calib)' : ''}`).join(' | '), 'rtn')
    .option('--bits <n>', 'bits per code', intArg(1, 32), 4)
    .option('--group <n>', 'weights per scale: 32, 64 or 128 (spqr also 16)', intArg(1, 1 << 20), 64)
    .option('--zero-point', 'store a zero point per group (asymmetric codes)')
    .option('--outliers <fraction>', 'gptq-outliers: fraction of weights kept in fp16 (default 0.01)', parseFloat)
    .option('--rank <r>', 'add a rank-r fp16 correction of each layer\'s quantization residual', intArg(1, 4096))
    .option('--budget <bits>', 'mixed: bits per weight over the linear layers (default --bits + 0.5)', parseFloat)
    .option('--tables <scope>', 'kmeans: one value table per "row" (default) or per "group"')
    .option('--calib <file>', 'calibration text (documents from its start are used)')
    .option('--calib-tokens <n>', 'calibration tokens', intArg(1, 1 << 24), 2000)
    .option('--tokenizer <file>', 'vocabulary (llama2.c tokenizer.bin or tok512-c64.bin); stored in the output')
    .option('-f, --force', 'replace an existing output file')
    .action(async (input: string, o: { output: string; ggufType?: string; method: string; bits: number; group: number; zeroPoint?: boolean; outliers?: number; rank?: number; budget?: number; tables?: string; calib?: string; calibTokens: number; tokenizer?: string; force?: boolean }) => {
      const method = quantMethod(o.method);
      const target = /\.gguf$/i.test(o.output) ? 'gguf' : /\.onnx$/i.test(o.output) ? 'onnx' : 'zipml';
      const ggufType = target === 'gguf' ? ggufTypeOf(o.ggufType, o.bits) : undefined;
      checkBitsAndGroup(method, o.bits, o.group);
      if (!o.force && existsSync(o.output)) throw new ZipmlError('E_ARG', `${o.output} exists; pass --force to replace it`);
      const m = await openModel(input);
      if (m.format !== 'llama2c') throw new ZipmlError('E_ARG', `${input} is already a quantized model; quantize the fp32 checkpoint`);
      const tok = method.needsCalibration || o.calib ? await needTokenizer(input, m, o.tokenizer, 'calibration text') : await findTokenizer(input, m, o.tokenizer);
      let calibration: number[][] | undefined;
      if (o.calib) {
        const s = firstSlice(tok!, new TextDecoder().decode(await readInput(o.calib)), o.calibTokens);
        calibration = s.docs;
        console.error(`calibration: ${s.docs.length} documents, ${s.tokens} tokens (characters ${s.start}..${s.end} of ${o.calib})`);
      } else if (method.needsCalibration) throw new ZipmlError('E_ARG', `--method ${method.name} needs calibration text: pass --calib <file>`);
      const bar = progressBar(`quantize ${basename(input)}`, 1, 'layers');
      const t0 = performance.now();
      if (o.outliers !== undefined && !(o.outliers > 0 && o.outliers < 1)) throw new ZipmlError('E_ARG', `--outliers ${o.outliers} is not a fraction in (0, 1)`);
      if (o.budget !== undefined && !(o.budget > 0 && o.budget <= 32)) throw new ZipmlError('E_ARG', `--budget ${o.budget} is not a number of bits in (0, 32]`);
      if (o.tables !== undefined && o.tables !== 'row' && o.tables !== 'group') throw new ZipmlError('E_ARG', `--tables ${o.tables} is not "row" or "group"`);
      const q = quantizeModel(m.model, method.name, {
        bits: o.bits as QuantBits, group: o.group as QuantGroup, symmetric: !o.zeroPoint, calibration, onProgress: bar.update,
        outliers: o.outliers, rank: o.rank, budget: o.budget, tables: o.tables as 'row' | 'group' | undefined,
      });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (target === 'gguf') {
        // RTN symmetric 8/4-bit codes in groups of 32 move into Q8_0/Q4_0 blocks as they are;
        // any other layer is dequantized and quantized by ggml's reference algorithm.
        const t = tok ?? (await needTokenizer(input, m, o.tokenizer, 'a GGUF file (it carries the vocabulary)'));
        const g = await exportGguf(q.model, t, { type: ggufType! });
        await writeFileAtomic(o.output, g.bytes, { overwrite: o.force });
        const fallbacks = g.report.filter((r) => r.fallback);
        console.log(`${input}: ${method.name} ${o.bits}-bit -> GGUF ${ggufType} in ${seconds.toFixed(2)} s; ${g.bytes.length} bytes; wrote ${o.output}`);
        for (const r of fallbacks) console.log(`  ${r.name}: ${r.type} (${r.fallback})`);
        return;
      }
      if (target === 'onnx') {
        const x = exportMatMulNBits(q.model, { bits: o.bits === 8 ? 8 : 4, blockSize: o.group as QuantGroup });
        await writeFileAtomic(o.output, x.bytes, { overwrite: o.force });
        console.log(`${input}: ${method.name} ${o.bits}-bit -> ONNX MatMulNBits, ${x.layers.length} layers in ${seconds.toFixed(2)} s; ${x.bytes.length} bytes; wrote ${o.output}`);
        return;
      }
      const size = await writeQuantizedModel(o.output, q.model, {
        overwrite: o.force, tokenizer: tok,
        method: { name: method.name, bits: o.bits, group: o.group, zeroPoint: !!o.zeroPoint, ...(o.outliers ? { outliers: o.outliers } : {}), ...(o.rank ? { rank: o.rank } : {}), ...(o.budget ? { budget: o.budget } : {}), calibrationTokens: calibration ? calibration.reduce((s, d) => s + d.length - 1, 0) : 0 },
        source: { file: basename(input) },
      });
      console.log(`${input}: ${method.name} ${o.bits}-bit g${o.group}${o.zeroPoint ? ' zero point' : ''} in ${seconds.toFixed(2)} s; ${storageLine(modelStorage(q.model))}; ${size} bytes${tok ? '' : ' (no tokenizer stored)'}; wrote ${o.output}`);
    });

  program
    .command('eval')
    .description('what a model costs: bits per weight; with --text perplexity; with --against also KL, top-1 flips and greedy agreement vs that model')
    .argument('<model>', 'llama2.c .bin or zipml quantized-model file')
    .option('--against <model>', 'reference model (the fp32 checkpoint)')
    .option('--text <file>', 'held-out text (documents from its end are used)')
    .option('--tokens <n>', 'tokens to score', intArg(2, 1 << 22), 2000)
    .option('--prompts <n>', 'prompts for greedy agreement (the first tokens of held-out documents)', intArg(0, 10_000), 8)
    .option('--prompt-tokens <n>', 'tokens per prompt, BOS included', intArg(1, 1 << 16), 8)
    .option('--steps <n>', 'greedy tokens per prompt', intArg(1, 1 << 16), 32)
    .option('--tokenizer <file>', 'vocabulary (llama2.c tokenizer.bin or tok512-c64.bin)')
    .option('--json', 'print one JSON object')
    .action(async (input: string, o: { against?: string; text?: string; tokens: number; prompts: number; promptTokens: number; steps: number; tokenizer?: string; json?: boolean }) => {
      const m = await openModel(input);
      const storage = modelStorage(m.model);
      const out: Record<string, unknown> = { model: input, format: m.format, method: m.meta?.method ?? null, kernels: kernelPath(), storage };
      if (o.text) {
        const tok = await needTokenizer(input, m, o.tokenizer, '--text');
        const slice = lastSlice(tok, new TextDecoder().decode(await readInput(o.text)), o.tokens);
        out['text'] = { file: o.text, documents: slice.docs.length, tokens: slice.tokens, start: slice.start, end: slice.end };
        const bar = progressBar(`eval ${basename(input)}`, 1, 'tokens');
        if (o.against) {
          const ref = await openModel(o.against);
          if (ref.model.config.vocabSize !== m.model.config.vocabSize) throw new ZipmlError('E_ARG', `${o.against} has ${ref.model.config.vocabSize} tokens, ${input} has ${m.model.config.vocabSize}`);
          const trace = referenceTrace(ref.model, slice.docs, { prompts: greedyPrompts(slice.docs, o.prompts, o.promptTokens), steps: o.steps, onProgress: bar.update });
          const e: Evaluation = evaluateAgainst(trace, m.model, { onProgress: bar.update });
          out['against'] = o.against;
          out['referenceStorage'] = modelStorage(ref.model);
          Object.assign(out, { perplexity: e.perplexity, refPerplexity: e.refPerplexity, perplexityDelta: (e.perplexity - e.refPerplexity) / e.refPerplexity, klMean: e.klMean, top1FlipRate: e.top1FlipRate, greedy: e.greedy });
        } else out['perplexity'] = perplexity(m.model, slice.docs, { onProgress: bar.update }).perplexity;
        bar.stop();
      } else if (o.against) throw new ZipmlError('E_ARG', '--against needs --text (the held-out text both models are scored on)');
      if (o.json) {
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      console.log(`${input} (${m.format}${m.meta ? `, ${JSON.stringify(m.meta.method)}` : ''}): ${storageLine(storage)}`);
      if (o.text) {
        const t = out['text'] as { documents: number; tokens: number; start: number; end: number };
        console.log(`held-out text: ${t.documents} documents, ${t.tokens} scored tokens (characters ${t.start}..${t.end} of ${o.text})`);
        console.log(`perplexity ${(out['perplexity'] as number).toFixed(4)}`);
      }
      if (o.against) {
        const g = out['greedy'] as Evaluation['greedy'];
        console.log(`reference ${o.against}: perplexity ${(out['refPerplexity'] as number).toFixed(4)} (Δ ${pct(out['perplexityDelta'] as number)}), mean KL ${(out['klMean'] as number).toFixed(5)} nats, top-1 flips ${pct(out['top1FlipRate'] as number)}`);
        console.log(`greedy agreement ${pct(g.agreement)} of ${g.steps} tokens over ${g.prompts} prompts, first divergence at token ${g.meanFirstDivergence.toFixed(1)} on average`);
      }
    });

  program
    .command('generate')
    .description('continue a prompt with a llama2.c or zipml quantized model (run.c sampling: temperature, top-p, seeded)')
    .argument('<model>', 'llama2.c .bin or zipml quantized-model file')
    .argument('[prompt]', 'text to continue', '')
    .option('--steps <n>', 'tokens to generate (capped by seq_len)', intArg(1, 1 << 20), 256)
    .option('--temperature <t>', '0 = greedy', numArg(0, 100), 1)
    .option('--top-p <p>', 'nucleus mass in (0, 1]', numArg(0, 1), 0.9)
    .option('--seed <n>', 'sampler seed', intArg(0, 0xffffffff), 0)
    .option('--tokenizer <file>', 'vocabulary (llama2.c tokenizer.bin or tok512-c64.bin)')
    .action(async (input: string, prompt: string, o: { steps: number; temperature: number; topP: number; seed: number; tokenizer?: string }) => {
      const m = await openModel(input);
      const tok = await needTokenizer(input, m, o.tokenizer, 'generation');
      const t0 = performance.now();
      const r = generate(m.model, tok, prompt, { steps: o.steps, temperature: o.temperature, topP: o.topP, seed: o.seed });
      const dt = (performance.now() - t0) / 1000;
      console.log(r.text);
      console.error(`${r.tokens.length} tokens in ${dt.toFixed(2)} s (${(r.tokens.length / Math.max(dt, 1e-6)).toFixed(1)} tok/s), kernels ${kernelPath()}`);
    });
}
