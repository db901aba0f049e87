// bench/quant/kernels.mjs: products with a 4096 x 4096 layer (the size of a 7B model's attention
// projections) in each packed form against fp32, all in one run on one machine.
//   - fp32: our WebAssembly SIMD matvec (four rows per pass, eight f32x4 accumulators: the fair
//     baseline) and a plain JS loop (DenseLinear) for reference;
//   - packed integer codes at 8/6/5/4/3/2 bits, group 128, fp16 scales (symmetric; 4-bit also with
//     u8 and fp16 zero points, and group 32), and 4-bit value-table codes (a 16-entry fp16 table per row);
//   - matrix x matrix with a batch of 16 vectors (QuantLinear.matmul reads the codes once for all 16).
// Reports ms per product, GB/s of weight bytes read, bytes of each form and the ratio to fp32.
//
//   npm run build && node bench/quant/kernels.mjs [--quick]
//
// Writes bench/results/quant-kernels.{json,md}. The machine (2 cores) is shared with other jobs,
// so absolute times move between runs; ratios from one run are the figure to read.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { SeededRandom } from '../../dist/src/core/random.js';
import { f32ToF16Bits } from '../../dist/src/core/dtypes.js';
import { kernelPath } from '../../dist/src/kernels/loader.js';
import { DenseLinear } from '../../dist/src/tensors/llm/linear.js';
import { bitsPerWeight } from '../../dist/src/tensors/quant/packed.js';
import { QuantArena, QuantLinear } from '../../dist/src/tensors/quant/qmatvec.js';
import { quantizeRTN } from '../../dist/src/tensors/quant/rtn.js';
import { TableLinear, tableBitsPerWeight } from '../../dist/src/tensors/quant/table.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const quick = process.argv.includes('--quick');
const minTime = quick ? 0.3 : 1.0;
const N = 4096, BATCH = 16;

if (kernelPath() !== 'wasm-simd') throw new Error('this benchmark needs WebAssembly SIMD');

function time(fn) {
  fn();
  const runs = [];
  const t0 = performance.now();
  do {
    const s = performance.now();
    fn();
    runs.push(performance.now() - s);
  } while (performance.now() - t0 < minTime * 1000 || runs.length < 5);
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)];
}

const rng = new SeededRandom(7);
const w = new Float32Array(N * N);
for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.02;
const x = Float32Array.from({ length: N }, () => rng.normal());
const xs = Float32Array.from({ length: BATCH * N }, () => rng.normal());
const y = new Float32Array(N), ys = new Float32Array(BATCH * N);

const rows = [];
const fp32Bytes = 4 * N * N;
function report(form, bytes, ms, extra = {}) {
  const row = { form, bytes, ratio: fp32Bytes / bytes, bitsPerWeight: (8 * bytes) / (N * N), ms, gbps: bytes / (ms * 1e6), ...extra };
  rows.push(row);
  console.log(`${form.padEnd(34)} ${(bytes / 1e6).toFixed(2).padStart(7)} MB  ${row.ratio.toFixed(2).padStart(5)}x  ${ms.toFixed(3).padStart(8)} ms  ${row.gbps.toFixed(2).padStart(6)} GB/s${extra.matmulMsPerVector !== undefined ? `  batch ${BATCH}: ${extra.matmulMsPerVector.toFixed(3)} ms/vector` : ''}`);
}

// fp32 baseline in kernel memory.
const arena = new QuantArena();
const k = arena.kernel;
const wp = arena.alloc(fp32Bytes), xp = arena.alloc(4 * N), op = arena.alloc(4 * N);
new Float32Array(k.memory.buffer, wp, N * N).set(w);
new Float32Array(k.memory.buffer, xp, N).set(x);
const fp32ms = time(() => k.exports.matvecF32(wp, N, N, xp, op));
const fp32Batch = time(() => {
  for (let j = 0; j < BATCH; j++) k.exports.matvecF32(wp, N, N, xp, op);
}) / BATCH;
report('fp32, WASM SIMD matvec', fp32Bytes, fp32ms, { matmulMsPerVector: fp32Batch, note: 'batch = 16 matvecs' });
const dense = new DenseLinear(w, N, N);
report('fp32, plain JS loop', fp32Bytes, time(() => dense.matvec(x, y)));

function packedForm(label, p) {
  const lin = new QuantLinear(p, new QuantArena());
  const bytes = (bitsPerWeight(p) * N * N) / 8;
  const ms = time(() => lin.matvec(x, y));
  const mm = time(() => lin.matmul(xs, BATCH, ys)) / BATCH;
  report(label, bytes, ms, { matmulMsPerVector: mm });
}

for (const bits of [8, 6, 5, 4, 3, 2]) {
  const p = quantizeRTN(w, N, N, { bits, group: 128, symmetric: true });
  packedForm(`int${bits} g128 sym`, p);
  if (bits === 4) {
    packedForm('int4 g32 sym', quantizeRTN(w, N, N, { bits: 4, group: 32, symmetric: true }));
    const a = quantizeRTN(w, N, N, { bits: 4, group: 128, symmetric: false });
    packedForm('int4 g128 u8 zero', a);
    packedForm('int4 g128 fp16 zero', { ...a, zeros: undefined, zeroF16: Uint16Array.from(a.zeros, (z) => f32ToF16Bits(z + 0.25)) });
    // 4-bit value-table codes: the RTN codes with a 16-entry table per row (speed does not depend on the values).
    const tables = new Uint16Array(N * 16);
    for (let r = 0; r < N; r++) for (let e = 0; e < 16; e++) tables[r * 16 + e] = f32ToF16Bits(0.01 * (e - 8) * (1 + (r % 7) / 7));
    const t = { rows: N, cols: N, bits: 4, group: 0, rowBytes: p.rowBytes, codes: p.codes, tables };
    const tl = new TableLinear(t, new QuantArena());
    report('table4 per row (16 x fp16)', (tableBitsPerWeight(t) * N * N) / 8, time(() => tl.matvec(x, y)), { matmulMsPerVector: time(() => tl.matmul(xs, BATCH, ys)) / BATCH });
  }
}

const byForm = Object.fromEntries(rows.map((r) => [r.form, r]));
const base = byForm['fp32, WASM SIMD matvec'];
const q4 = byForm['int4 g128 sym'];
const meta = {
  date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg(),
  shape: [N, N], batch: BATCH, quick, note: 'machine shared with other jobs (2 cores); medians of repeated runs',
  target: { int4SpeedupOverFp32: base.ms / q4.ms, int4MemoryRatio: q4.ratio },
};
console.log(`\nint4 g128 vs fp32 WASM: ${(base.ms / q4.ms).toFixed(2)}x the speed, ${q4.ratio.toFixed(2)}x smaller`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'quant-kernels.json'), JSON.stringify({ meta, rows }, null, 2) + '\n');
const md = [
  `# Packed-weight kernels, ${N} x ${N} layer`,
  '',
  `\`node bench/quant/kernels.mjs${quick ? ' --quick' : ''}\` — ${meta.date}, Node ${meta.node}, ${meta.cpu} (${meta.cores} cores, **shared with other jobs**; load ${meta.loadavg.map((v) => v.toFixed(1)).join(' ')}). Medians of repeated runs.`,
  '',
  '| form | MB | smaller than fp32 | bits/weight | matvec ms | speed vs fp32 WASM | weight GB/s | batch 16: ms/vector |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.form} | ${(r.bytes / 1e6).toFixed(2)} | ${r.ratio.toFixed(2)}x | ${r.bitsPerWeight.toFixed(3)} | ${r.ms.toFixed(3)} | ${(base.ms / r.ms).toFixed(2)}x | ${r.gbps.toFixed(2)} | ${r.matmulMsPerVector?.toFixed(3) ?? '—'} |`),
  '',
  `Packed 4-bit g128 symmetric: ${(base.ms / q4.ms).toFixed(2)}x the speed of the fp32 WASM SIMD matvec with ${q4.ratio.toFixed(2)}x less memory. The fp32 batch column is 16 matvecs; packed batch columns are one matmul over 16 vectors divided by 16.`,
  '',
];
writeFileSync(join(root, 'bench', 'results', 'quant-kernels.md'), md.join('\n'));
