// bench/quant/kernels.mjs: products with a 4096 x 4096 layer (the size of a 7B model's attention
// projections) in each packed form against fp32, all in one run on one machine.
//   - fp32: our WebAssembly SIMD matvec (four rows per pass, eight f32x4 accumulators: the fair
//     baseline) and matmul (same blocking as the packed one), and a plain JS loop (DenseLinear);
//   - packed integer codes at 8/6/5/4/3/2 bits, group 128, fp16 scales (symmetric; 4-bit also with
//     u8 and fp16 zero points, and group 32), and 4-bit value-table codes (a 16-entry fp16 table per row);
//   - matrix x matrix with a batch of 16 vectors (the codes / weights are read once for all 16).
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
const N = 4096, BATCH = 16;

if (kernelPath() !== 'wasm-simd') throw new Error('this benchmark needs WebAssembly SIMD');

// The machine is shared, so each form is timed once per round, round-robin, and the figure kept is
// the least CPU time (process.cpuUsage: the time this process ran, which other jobs inflate less
// than wall time) over the rounds; the median wall time is recorded next to it.
const forms = [];
function form(name, bytes, matvec, matmul, extra = {}) {
  forms.push({ name, bytes, matvec, matmul, cpu: [], wall: [], mmCpu: [], extra });
}
function measure(fn) {
  const c = process.cpuUsage(), t = performance.now();
  fn();
  const u = process.cpuUsage(c);
  return { cpu: (u.user + u.system) / 1000, wall: performance.now() - t };
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const rng = new SeededRandom(7);
const w = new Float32Array(N * N);
for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.02;
const x = Float32Array.from({ length: N }, () => rng.normal());
const xs = Float32Array.from({ length: BATCH * N }, () => rng.normal());
const y = new Float32Array(N), ys = new Float32Array(BATCH * N);

const fp32Bytes = 4 * N * N;

// fp32 baseline in kernel memory.
const arena = new QuantArena();
const k = arena.kernel;
const wp = arena.alloc(fp32Bytes), xp = arena.alloc(4 * N), op = arena.alloc(4 * N);
new Float32Array(k.memory.buffer, wp, N * N).set(w);
new Float32Array(k.memory.buffer, xp, N).set(x);
const xsp = arena.alloc(4 * BATCH * N), dp = arena.alloc(4 * BATCH), ysp = arena.alloc(4 * BATCH * N);
new Float32Array(k.memory.buffer, xsp, BATCH * N).set(xs);
form('fp32, WASM SIMD', fp32Bytes, () => k.exports.matvecF32(wp, N, N, xp, op), () => k.exports.matmulF32(wp, N, N, xsp, BATCH, dp, ysp));
const dense = new DenseLinear(w, N, N);
form('fp32, plain JS loop', fp32Bytes, () => dense.matvec(x, y), null, { rounds: 3 });

const packedForm = (name, p) => {
  const lin = new QuantLinear(p, new QuantArena());
  form(name, (bitsPerWeight(p) * N * N) / 8, () => lin.matvec(x, y), () => lin.matmul(xs, BATCH, ys));
};
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
    form('table4 per row (16 x fp16)', (tableBitsPerWeight(t) * N * N) / 8, () => tl.matvec(x, y), () => tl.matmul(xs, BATCH, ys));
  }
}

const rounds = quick ? 7 : 21;
for (const f of forms) f.matvec(), f.matmul?.(); // warm-up (compilation, page faults)
for (let r = 0; r < rounds; r++) {
  for (const f of forms) {
    if (r >= (f.extra.rounds ?? rounds)) continue;
    const m = measure(f.matvec);
    f.cpu.push(m.cpu);
    f.wall.push(m.wall);
    if (f.matmul) f.mmCpu.push(measure(f.matmul).cpu / BATCH);
  }
}
const rows = forms.map((f) => {
  const ms = Math.min(...f.cpu);
  return {
    form: f.name, bytes: f.bytes, ratio: fp32Bytes / f.bytes, bitsPerWeight: (8 * f.bytes) / (N * N), ms, wallMedianMs: median(f.wall), gbps: f.bytes / (ms * 1e6),
    matmulMsPerVector: f.mmCpu.length ? Math.min(...f.mmCpu) : undefined, ...f.extra,
  };
});
for (const r of rows) {
  console.log(`${r.form.padEnd(30)} ${(r.bytes / 1e6).toFixed(2).padStart(7)} MB ${r.ratio.toFixed(2).padStart(6)}x ${r.ms.toFixed(3).padStart(8)} ms (wall median ${r.wallMedianMs.toFixed(2)}) ${r.gbps.toFixed(2).padStart(6)} GB/s${r.matmulMsPerVector !== undefined ? `  batch ${BATCH}: ${r.matmulMsPerVector.toFixed(3)} ms/vector` : ''}`);
}

const byForm = Object.fromEntries(rows.map((r) => [r.form, r]));
const base = byForm['fp32, WASM SIMD'];
const q4 = byForm['int4 g128 sym'];
const meta = {
  date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg(),
  shape: [N, N], batch: BATCH, quick, rounds, note: 'machine shared with other jobs (2 cores); ms = least CPU time over the rounds, wall median alongside',
  target: { int4SpeedupOverFp32: base.ms / q4.ms, int4MemoryRatio: q4.ratio },
};
console.log(`\nint4 g128 vs fp32 WASM: ${(base.ms / q4.ms).toFixed(2)}x the speed, ${q4.ratio.toFixed(2)}x smaller`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'quant-kernels.json'), JSON.stringify({ meta, rows }, null, 2) + '\n');
const md = [
  `# Packed-weight kernels, ${N} x ${N} layer`,
  '',
  `\`node bench/quant/kernels.mjs${quick ? ' --quick' : ''}\` — ${meta.date}, Node ${meta.node}, ${meta.cpu} (${meta.cores} cores, **shared with other jobs**; load ${meta.loadavg.map((v) => v.toFixed(1)).join(' ')}). ms = least CPU time of the process over ${rounds} round-robin rounds (other jobs inflate wall time more); the median wall time is in the JSON.`,
  '',
  '| form | MB | smaller than fp32 | bits/weight | matvec ms | speed vs fp32 WASM | weight GB/s | batch 16 (matmul): ms/vector |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.form} | ${(r.bytes / 1e6).toFixed(2)} | ${r.ratio.toFixed(2)}x | ${r.bitsPerWeight.toFixed(3)} | ${r.ms.toFixed(3)} | ${(base.ms / r.ms).toFixed(2)}x | ${r.gbps.toFixed(2)} | ${r.matmulMsPerVector?.toFixed(3) ?? '—'} |`),
  '',
  `Packed 4-bit g128 symmetric: ${(base.ms / q4.ms).toFixed(2)}x the speed of the fp32 WASM SIMD matvec with ${q4.ratio.toFixed(2)}x less memory. The batch column is one matrix x matrix product over 16 vectors divided by 16 (fp32: matmulF32, the same blocking without unpacking).`,
  '',
];
writeFileSync(join(root, 'bench', 'results', 'quant-kernels.md'), md.join('\n'));
