// bench/quant/export-check: our GGUF and ONNX MatMulNBits exports checked and timed against peers
// in one run.
//   ggml: when bench/.peers/ggml/ggml-quantize exists (ggml's own src/ggml-quants.c compiled with a
//     small driver that calls quantize_row_{q8_0,q4_0,q5_0,q4_K}_ref; built by hand, see
//     docs/quant-export.md), our encoders must give its bytes on 1M values of four distributions;
//     its time and ours are printed side by side.
//   GGUF: stories260K (and a synthetic model with 256-multiple widths, which Q4_K needs) exported
//     to Q8_0 / Q4_0 / Q4_K; gguf-py (llama.cpp's Python package, `pip install gguf`) reads each
//     file on its own and dequantizes every tensor, which must equal what our importer holds; the
//     re-imported model's perplexity on TinyStories against fp32.
//   llama.cpp: when bench/.peers/llama.cpp/build/bin/llama-{perplexity,quantize} exist (llama.cpp is
//     not in Debian bookworm; built by hand from a snapshot, see docs/quant-export.md):
//     llama-perplexity on our GGUF files against our runtime on the same files with the same
//     protocol (chunks of 128 tokens, BOS first, the second half of each chunk scored), and
//     llama-quantize on our F32 files: its tensors must be byte-identical to our export's where the
//     types agree, and our importer runs its files (Q4_K_M with Q6_K/Q8_0 tensors).
//   ONNX: stories260K's linear layers RTN 4-bit (group 32; symmetric and with zero points) as
//     MatMulNBits nodes run by onnxruntime-node (bench/package.json, or bench/.peers/ort), compared
//     with our packed matvec; then one 4096 x 4096 4-bit layer, onnxruntime MatMulNBits vs our
//     WASM kernel, batch 1.
//
//   node bench/quant/export-check.mjs            (after npm run build)
// Writes bench/results/quant-export.{json,md}.
import { existsSync, readFileSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { LlamaModel, LINEAR_NAMES } from '../../dist/src/tensors/llm/model.js';
import { Llama2cTokenizer } from '../../dist/src/tensors/llm/tokenizer.js';
import { perplexity, textDocuments, lastDocs, logProb } from '../../dist/src/tensors/llm/perplexity.js';
import { parseGgufHeader } from '../../dist/src/tensors/formats/gguf.js';
import { ggmlQuantize } from '../../dist/src/tensors/quant/ggml-quants.js';
import { exportGguf } from '../../dist/src/tensors/quant/gguf-export.js';
import { loadGgufModel } from '../../dist/src/tensors/quant/gguf-import.js';
import { denseWeights } from '../../dist/src/tensors/quant/dense-weights.js';
import { quantizeModelRTN } from '../../dist/src/tensors/quant/model.js';
import { quantizeRTN } from '../../dist/src/tensors/quant/rtn.js';
import { QuantLinear } from '../../dist/src/tensors/quant/qmatvec.js';
import { exportMatMulNBits, encodeMatMulNBitsModel, matMulNBitsFromPacked } from '../../dist/src/tensors/quant/onnx-matmulnbits.js';
import { loadStories260K } from '../../dist/test/util/stories260k.js';
import { ggufPython, pyReadGguf } from '../../dist/test/tensors/quant/gguf-py.js';
import { syntheticWeights, syntheticTokenizer } from '../../dist/test/tensors/quant/synthetic-llama.js';
import { Rng } from '../../dist/test/util/rng.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
process.chdir(root); // gguf-py helper paths are relative to the repo
const data = join(root, '..', 'shared', 'data');
const now = () => performance.now();
const result = { machine: { cpus: cpus().length, model: cpus()[0]?.model, load: loadavg(), node: process.version, shared: true }, gguf: [], onnx: {} };

function loadOrt() {
  for (const dir of [join(root, 'bench', 'node_modules'), join(root, 'bench', '.peers', 'ort', 'node_modules')]) {
    if (!existsSync(join(dir, 'onnxruntime-node'))) continue;
    return createRequire(join(dir, 'x.js'))('onnxruntime-node');
  }
  return null;
}

/** Median milliseconds of fn over enough runs to take ~minMs. */
async function time(fn, minMs = 1500) {
  const ts = [];
  const t0 = now();
  while (now() - t0 < minMs || ts.length < 5) {
    const a = now();
    await fn();
    ts.push(now() - a);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1];
}

// ---- ggml's reference quantizers, compiled from its source ----
const ggmlBin = join(root, 'bench', '.peers', 'ggml', 'ggml-quantize');
if (existsSync(ggmlBin)) {
  result.ggml = [];
  const rng = new Rng(1);
  const n = 256 * 4096;
  for (const [dist, gen] of [['normal', () => rng.normal() * 0.05], ['normal^3', () => rng.normal() ** 3], ['uniform', () => rng.float() - 0.3], ['integers -8..8', () => rng.int(17) - 8]]) {
    const x = Float32Array.from({ length: n }, gen);
    x.fill(0, 0, 256), x.fill(0.25, 256, 512); // an all-zero and a constant super-block
    for (const type of ['Q8_0', 'Q4_0', 'Q5_0', 'Q4_K']) {
      const r = spawnSync(ggmlBin, [type, String(n)], { input: Buffer.from(x.buffer), maxBuffer: 1 << 28 });
      if (r.status !== 0) throw new Error(`ggml-quantize ${type} failed`);
      const t0 = now();
      const ours = ggmlQuantize(type, x);
      const oursMs = now() - t0;
      let differing = 0;
      for (let i = 0; i < ours.length; i++) if (ours[i] !== r.stdout[i]) differing++;
      if (r.stdout.length !== ours.length) differing = Math.max(differing, Math.abs(r.stdout.length - ours.length));
      const ggmlMs = Number(r.stderr.toString().trim());
      result.ggml.push({ dist, type, values: n, bytes: ours.length, differing, oursMs, ggmlMs });
      console.log(`ggml ${type} on ${n} ${dist} values: ${differing} of ${ours.length} bytes differ; ours ${oursMs.toFixed(1)} ms, ggml C ${ggmlMs.toFixed(1)} ms (${(oursMs / ggmlMs).toFixed(1)}x)`);
    }
  }
} else console.log('bench/.peers/ggml/ggml-quantize not built: ggml byte comparison skipped');

// ---- GGUF ----
const bytes = loadStories260K();
if (!bytes) throw new Error('../shared/data/models/llama2c/stories260K.bin missing');
const tok = Llama2cTokenizer.fromC64(new Uint8Array(readFileSync(join(data, 'models/llama2c/tok512-c64.bin'))));
const text = readFileSync(join(data, 'text/tinystories/tinystories_val.txt'), 'utf8');
const docs = lastDocs(textDocuments(tok, text.slice(text.length - 30000)), 2000);
const fp32 = LlamaModel.fromLlama2c(bytes);
const p32 = perplexity(fp32, docs).perplexity;
const py = ggufPython();
console.log(`stories260K fp32 perplexity ${p32.toFixed(4)} on ${docs.reduce((a, d) => a + d.length, 0)} tokens; gguf-py: ${py ?? 'missing'}`);

function linearBits(report) {
  let bits = 0, n = 0;
  for (const r of report) if (/attn_[qkvo]|attn_output|ffn_/.test(r.name) && r.shape.length === 2) (bits += 8 * r.bytes), (n += r.shape[0] * r.shape[1]);
  return bits / n;
}

function pyCheck(file, model) {
  if (!py) return null;
  const t0 = now();
  const ref = pyReadGguf(file);
  const ms = now() - t0;
  const ours = { 'token_embd.weight': model.weights.tokenEmbedding, 'output_norm.weight': model.weights.rmsFinal };
  const gg = { wq: 'attn_q', wk: 'attn_k', wv: 'attn_v', wo: 'attn_output', w1: 'ffn_gate', w2: 'ffn_down', w3: 'ffn_up' };
  model.weights.blocks.forEach((b, l) => {
    ours[`blk.${l}.attn_norm.weight`] = b.rmsAtt;
    ours[`blk.${l}.ffn_norm.weight`] = b.rmsFfn;
    for (const n of LINEAR_NAMES) ours[`blk.${l}.${gg[n]}.weight`] = denseWeights(b[n]);
  });
  let worst = 0, values = 0;
  for (const t of ref.tensors) {
    const o = ours[t.name];
    if (!o || o.length !== t.values.length) throw new Error(`gguf-py tensor ${t.name} does not match ours`);
    for (let i = 0; i < o.length; i++) worst = Math.max(worst, Math.abs(o[i] - t.values[i]));
    values += o.length;
  }
  return { tensors: ref.tensors.length, values, maxAbsDiff: worst, ms };
}

for (const [label, model, tk, types] of [
  ['stories260K', fp32, tok, ['F32', 'Q8_0', 'Q4_0', 'Q4_K']],
  ['synthetic 256/512 wide, 2 layers', new LlamaModel(syntheticWeights({ nLayers: 2 })), syntheticTokenizer(), ['Q8_0', 'Q4_0', 'Q4_K']],
]) {
  for (const type of types) {
    const t0 = now();
    const { bytes: file, report } = await exportGguf(model, tk, { type });
    const exportMs = now() - t0;
    const t1 = now();
    const back = loadGgufModel(file);
    const importMs = now() - t1;
    const fallbacks = [...new Set(report.filter((r) => r.fallback).map((r) => `${r.type} (${r.fallback})`))];
    const row = {
      model: label, type, fileBytes: file.length, linearBitsPerWeight: linearBits(report), exportMs, importMs, fallbacks,
      layerTypes: [...new Set(report.filter((r) => r.name.startsWith('blk.') && r.shape.length === 2).map((r) => r.type))],
      perplexity: label === 'stories260K' ? perplexity(back.model, docs).perplexity : null,
      ggufPy: pyCheck(file, back.model),
    };
    result.gguf.push(row);
    console.log(`${label} ${type}: ${file.length} B, ${row.linearBitsPerWeight.toFixed(2)} bits/weight (linear), layers ${row.layerTypes.join('/')}, ` +
      `export ${exportMs.toFixed(0)} ms, import ${importMs.toFixed(0)} ms` + (row.perplexity ? `, perplexity ${row.perplexity.toFixed(4)} (${((row.perplexity / p32 - 1) * 100).toFixed(2)}%)` : '') +
      (row.ggufPy ? `; gguf-py: ${row.ggufPy.tensors} tensors, ${row.ggufPy.values} values, max |ours - gguf-py| = ${row.ggufPy.maxAbsDiff}` : ''));
  }
}

// ---- llama.cpp ----
const llamaBin = join(root, 'bench', '.peers', 'llama.cpp', 'build', 'bin');
if (existsSync(join(llamaBin, 'llama-perplexity')) && existsSync(join(llamaBin, 'llama-quantize'))) {
  const dir = mkdtempSync(join(tmpdir(), 'zipml-llamacpp-'));
  const N_CTX = 128, CHUNKS = 16;
  const textFile = join(dir, 'text.txt');
  writeFileSync(textFile, text.slice(text.length - 40000));
  /** llama-perplexity's protocol: chunks of N_CTX tokens (BOS first), NLL of the second half's next tokens. */
  const ourPerplexity = (model, tk) => {
    const tokens = tk.encode(text.slice(text.length - 40000));
    const first = N_CTX / 2;
    let nll = 0, count = 0;
    const chunks = Math.min(CHUNKS, Math.floor(tokens.length / N_CTX));
    for (let c = 0; c < chunks; c++) {
      const chunk = tokens.slice(c * N_CTX, (c + 1) * N_CTX);
      chunk[0] = 1;
      for (let pos = 0; pos < N_CTX - 1; pos++) {
        const logits = model.forward(chunk[pos], pos);
        if (pos >= first) (nll -= logProb(logits, chunk[pos + 1])), count++;
      }
    }
    return Math.exp(nll / count);
  };
  const llamaPerplexity = (file) => {
    const r = spawnSync(join(llamaBin, 'llama-perplexity'), ['-m', file, '-f', textFile, '-c', String(N_CTX), '--chunks', String(CHUNKS), '-b', String(N_CTX), '-t', '1', '-ctk', 'f32', '-ctv', 'f32'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const m = /Final estimate: PPL = ([0-9.]+)/.exec(r.stdout + r.stderr);
    if (!m) throw new Error(`llama-perplexity failed on ${file}: ${(r.stderr || '').slice(-400)}`);
    return Number(m[1]);
  };
  const tensorsOf = (file) => {
    const h = parseGgufHeader(file);
    return new Map(h.tensors.map((t) => [t.name, { type: t.type.name, bytes: file.subarray(h.dataOffset + t.relOffset, h.dataOffset + t.relOffset + t.byteLength) }]));
  };
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  result.llamaCpp = { perplexity: [], quantize: [] };
  for (const type of ['F32', 'Q8_0', 'Q4_0', 'Q4_K']) {
    const { bytes: file } = await exportGguf(fp32, tok, { type });
    const path = join(dir, `s-${type}.gguf`);
    writeFileSync(path, file);
    const row = { file: `ours ${type}`, llamaCpp: llamaPerplexity(path), ours: ourPerplexity(loadGgufModel(file).model, tok) };
    result.llamaCpp.perplexity.push(row);
    console.log(`llama-perplexity on our stories260K ${type}: ${row.llamaCpp.toFixed(4)}; our runtime on the same file: ${row.ours.toFixed(4)}`);
  }
  // llama-quantize on our F32 files; compare tensor bytes with our export of the same type.
  const synth = new LlamaModel(syntheticWeights({ nLayers: 2, seqLen: N_CTX }));
  for (const [label, model, tk, jobs] of [
    ['stories260K', fp32, tok, [['Q4_K_M', 'Q4_K']]],
    ['synthetic 256/512', synth, syntheticTokenizer(), [['Q8_0', 'Q8_0'], ['Q4_0', 'Q4_0'], ['Q4_K_S', 'Q4_K']]],
  ]) {
    const f32Path = join(dir, 'in-f32.gguf');
    const f32File = (await exportGguf(model, tk, { type: 'F32' })).bytes;
    writeFileSync(f32Path, f32File);
    if (label !== 'stories260K') {
      const row = { file: `${label}, ours F32`, llamaCpp: llamaPerplexity(f32Path), ours: ourPerplexity(loadGgufModel(f32File).model, tk) };
      result.llamaCpp.perplexity.push(row);
      console.log(`llama-perplexity on ${row.file}: ${row.llamaCpp.toPrecision(5)}; ours ${row.ours.toPrecision(5)}`);
    }
    for (const [ftype, ourType] of jobs) {
      const out = join(dir, `llama-${ftype}.gguf`);
      const r = spawnSync(join(llamaBin, 'llama-quantize'), [f32Path, out, ftype, '1'], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`llama-quantize ${ftype} failed: ${r.stderr.slice(-400)}`);
      const theirs = new Uint8Array(readFileSync(out));
      const ours = (await exportGguf(model, tk, { type: ourType })).bytes;
      const a = tensorsOf(theirs), b = tensorsOf(ours);
      let compared = 0, identical = 0;
      const types = {};
      for (const [name, t] of a) {
        types[t.type] = (types[t.type] ?? 0) + 1;
        const o = b.get(name);
        if (!o || o.type !== t.type || !name.startsWith('blk.') || t.type === 'F32') continue;
        compared++;
        if (same(t.bytes, o.bytes)) identical++;
      }
      const imported = loadGgufModel(theirs);
      const row = { model: label, ftype, ourType, llamaTypes: types, compared, identical, importedTypes: [...new Set(Object.values(imported.types))], ggufPy: pyCheck(theirs, imported.model) };
      row.llamaPerplexity = llamaPerplexity(out);
      row.ourPerplexity = ourPerplexity(imported.model, imported.tokenizer);
      result.llamaCpp.quantize.push(row);
      console.log(`llama-quantize ${label} ${ftype}: types ${JSON.stringify(types)}; ${identical} of ${compared} quantized block tensors byte-identical to our ${ourType} export; our importer runs it (${row.importedTypes.join(', ')})` +
        (row.ggufPy ? `, its weights = gguf-py's dequantization of the file (max diff ${row.ggufPy.maxAbsDiff})` : '') +
        `; perplexity llama.cpp ${row.llamaPerplexity.toPrecision(5)}, ours on its file ${row.ourPerplexity.toPrecision(5)}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
} else console.log('llama.cpp binaries not built under bench/.peers/llama.cpp: llama.cpp checks skipped');

// ---- ONNX MatMulNBits ----
const ort = loadOrt();
if (!ort) {
  console.log('onnxruntime-node not installed (bench/package.json, or: cd bench/.peers/ort && ONNXRUNTIME_NODE_INSTALL=skip npm i onnxruntime-node@1.30.0)');
} else {
  result.onnx.onnxruntime = ort.env.versions?.node ?? 'unknown';
  const rng = new Rng(5);
  const randn = (n) => Float32Array.from({ length: n }, () => rng.normal());
  result.onnx.layers = [];
  for (const symmetric of [true, false]) {
    const q = quantizeModelRTN(LlamaModel.fromLlama2c(bytes), { bits: 4, group: 32, symmetric }).model;
    const { bytes: file, layers } = exportMatMulNBits(q);
    const session = await ort.InferenceSession.create(file);
    const feeds = {};
    for (const l of layers) feeds[`${l.name}.A`] = new ort.Tensor('float32', randn(l.weights.K), [1, l.weights.K]);
    const out = await session.run(feeds);
    let worst = 0;
    for (const l of layers) {
      const [, li, n] = l.name.split('.');
      const op = q.weights.blocks[Number(li)][n];
      const ours = new Float32Array(op.rows);
      op.matvec(feeds[`${l.name}.A`].data, ours);
      const y = out[`${l.name}.Y`].data;
      for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - ours[i]) / (1 + Math.abs(ours[i])));
    }
    result.onnx.layers.push({ symmetric, layers: layers.length, fileBytes: file.length, maxRelDiff: worst });
    console.log(`stories260K RTN 4-bit g32 ${symmetric ? 'symmetric' : 'zero points'}: ${layers.length} MatMulNBits layers, ${file.length} B; max relative |onnxruntime - ours| ${worst.toExponential(2)}`);
  }
  // One 4096 x 4096 layer, batch 1: onnxruntime's MatMulNBits (CPU, its threads) vs our WASM kernel (one thread).
  const N = 4096, K = 4096;
  const packed = quantizeRTN(randn(N * K).map((v) => v * 0.02), N, K, { bits: 4, group: 32 });
  const layer = new QuantLinear(packed);
  const x = randn(K), y = new Float32Array(N);
  const ours = await time(() => layer.matvec(x, y));
  const row = {};
  for (const threads of [1, cpus().length]) {
    const session = await ort.InferenceSession.create(encodeMatMulNBitsModel([{ name: 'l', weights: matMulNBitsFromPacked(packed) }]), { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const feeds = { 'l.A': new ort.Tensor('float32', x, [1, K]) };
    const ref = (await session.run(feeds))['l.Y'].data;
    let worst = 0;
    for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(ref[i] - y[i]) / (1 + Math.abs(ref[i])));
    row[`ort${threads}`] = { ms: await time(() => session.run(feeds)), maxRelDiff: worst };
  }
  result.onnx.matvec4096 = { oursMs: ours, usesKernel: layer.usesKernel, ...row };
  console.log(`4096x4096 4-bit matvec: ours ${ours.toFixed(3)} ms (${layer.usesKernel ? 'WASM SIMD' : 'TS reference'}, 1 thread), onnxruntime MatMulNBits ` +
    Object.entries(row).map(([k, v]) => `${v.ms.toFixed(3)} ms (${k.slice(3)} thread${k === 'ort1' ? '' : 's'}; ours/ort ${(ours / v.ms).toFixed(2)}x; max rel diff ${v.maxRelDiff.toExponential(1)})`).join(', '));
}

// ---- write ----
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'quant-export.json'), JSON.stringify(result, null, 2));
const md = [
  '# Quantized export checks (bench/quant/export-check.mjs)',
  '',
  `Node ${result.machine.node}, ${result.machine.cpus} × ${result.machine.model}, load ${result.machine.load.map((v) => v.toFixed(1)).join(' ')} — a 2-core VM shared with other jobs, so times are rough.`,
  `stories260K fp32 perplexity ${p32.toFixed(4)} on the last ${docs.reduce((a, d) => a + d.length, 0)} tokens of tinystories_val.txt.`,
  '',
  ...(result.ggml ? ['## Our block encoders vs ggml\'s reference quantizers (C, compiled from ggml\'s src/ggml-quants.c, gcc -O2)', '',
    '| values | type | bytes | differing bytes | ours ms | ggml ms | ours/ggml |', '|---|---|---:|---:|---:|---:|---:|',
    ...result.ggml.map((g) => `| ${g.values} ${g.dist} | ${g.type} | ${g.bytes} | ${g.differing} | ${g.oursMs.toFixed(1)} | ${g.ggmlMs.toFixed(1)} | ${(g.oursMs / g.ggmlMs).toFixed(1)}× |`), ''] : []),
  '## GGUF export → gguf-py and our importer',
  '',
  '| model | type | linear layers as | bits/weight (linear) | file bytes | export ms | import ms | perplexity (vs fp32) | gguf-py tensors / values | max \\|ours − gguf-py\\| |',
  '|---|---|---|---:|---:|---:|---:|---|---|---:|',
  ...result.gguf.map((r) => `| ${r.model} | ${r.type} | ${r.layerTypes.join(', ')} | ${r.linearBitsPerWeight.toFixed(2)} | ${r.fileBytes} | ${r.exportMs.toFixed(0)} | ${r.importMs.toFixed(0)} | ` +
    `${r.perplexity ? `${r.perplexity.toFixed(4)} (${((r.perplexity / p32 - 1) * 100).toFixed(2)}%)` : '—'} | ${r.ggufPy ? `${r.ggufPy.tensors} / ${r.ggufPy.values}` : 'not run'} | ${r.ggufPy ? r.ggufPy.maxAbsDiff : '—'} |`),
  '',
  ...[...new Set(result.gguf.flatMap((r) => r.fallbacks.map((f) => `- ${r.model} ${r.type}: fallback ${f}`)))],
  '',
];
if (result.onnx.layers) {
  const m = result.onnx.matvec4096;
  md.push('## ONNX MatMulNBits → onnxruntime-node ' + result.onnx.onnxruntime, '',
    '| export | layers | file bytes | max relative \\|onnxruntime − ours\\| |', '|---|---:|---:|---:|',
    ...result.onnx.layers.map((l) => `| stories260K RTN 4-bit g32 ${l.symmetric ? 'symmetric' : 'zero points'} | ${l.layers} | ${l.fileBytes} | ${l.maxRelDiff.toExponential(2)} |`), '',
    '4096 × 4096 4-bit (block 32) matrix–vector product, batch 1, median:', '',
    '| ours (QuantLinear) | onnxruntime 1 thread | ratio | onnxruntime all threads | ratio |', '|---:|---:|---:|---:|---:|',
    `| ${m.oursMs.toFixed(3)} ms (${m.usesKernel ? 'WASM SIMD' : 'TS'}) | ${m.ort1.ms.toFixed(3)} ms | ${(m.oursMs / m.ort1.ms).toFixed(2)}× | ${Object.entries(m).find(([k]) => k.startsWith('ort') && k !== 'ort1')?.[1].ms.toFixed(3) ?? '—'} ms | ${(m.oursMs / (Object.entries(m).find(([k]) => k.startsWith('ort') && k !== 'ort1')?.[1].ms ?? NaN)).toFixed(2)}× |`, '');
} else md.push('onnxruntime-node not installed: ONNX checks not run.', '');
if (result.llamaCpp) {
  md.push('## llama.cpp on our files, and our runtime on llama.cpp\'s', '',
    `llama-perplexity -c ${128} --chunks 16 -t 1 -ctk f32 -ctv f32 on the last 40,000 characters of tinystories_val.txt; "ours" runs the same protocol on the same file imported into our runtime.`, '',
    '| file | llama.cpp perplexity | our runtime | ours − llama.cpp, mean NLL (nats) |', '|---|---:|---:|---:|',
    ...result.llamaCpp.perplexity.map((r) => `| ${r.file.startsWith('ours') ? 'stories260K, ' : ''}${r.file} | ${r.llamaCpp.toPrecision(5)} | ${r.ours.toPrecision(5)} | ${Math.log(r.ours / r.llamaCpp).toFixed(4)} |`),
    ...result.llamaCpp.quantize.map((r) => `| ${r.model}, llama-quantize ${r.ftype} | ${r.llamaPerplexity.toPrecision(5)} | ${r.ourPerplexity.toPrecision(5)} | ${Math.log(r.ourPerplexity / r.llamaPerplexity).toFixed(4)} |`), '',
    'The synthetic model has random weights (perplexity ~e^50); compare the NLL difference, not the perplexity.', '',
    'llama-quantize on our F32 export vs our own export of the same type:', '',
    '| model | llama-quantize type | its tensor types | our export | block tensors compared | byte-identical | our import vs gguf-py, max \\|diff\\| |', '|---|---|---|---|---:|---:|---:|',
    ...result.llamaCpp.quantize.map((r) => `| ${r.model} | ${r.ftype} | ${Object.entries(r.llamaTypes).map(([k, v]) => `${k} ×${v}`).join(', ')} | ${r.ourType} | ${r.compared} | ${r.identical} | ${r.ggufPy ? r.ggufPy.maxAbsDiff : 'not run'} |`), '',
    'llama.cpp\'s CPU matmul on quantized weights quantizes the activations to 8 bits (its vec_dot_*_q8_0 / q8_K kernels); our runtime keeps them fp32. That, not the weights (byte-identical, and equal to gguf-py\'s dequantization), is the perplexity difference on quantized files; on F32 files the two agree.', '');
} else md.push('llama.cpp binaries were not built under bench/.peers/llama.cpp; llama.cpp checks not run.', '');
writeFileSync(join(root, 'bench', 'results', 'quant-export.md'), md.join('\n'));
console.log('wrote bench/results/quant-export.{json,md}');
