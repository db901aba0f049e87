// bench/lz/decode: LZ decoding speed, the WebAssembly kernel (lzDecode) against the TS reference
// (lzDecodeReference) and xz -d (CLI, liblzma), on the first MiB of model files from
// ../shared/data/models, each coded at level 6 (ours) and xz -9 (xz). One run, one machine.
//
//   node bench/lz/decode.mjs
//
// Ours: MB/s of decoded bytes over the CPU time of this (main) thread, summed over >= 0.5 s of
// runs (Linux /proc; wall time when unavailable). xz: best wall time of 5 runs of `xz -d -c`,
// process start-up included (about 1-2 ms here). Writes bench/results/lz-decode.{json,md}.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { lzEncode, lzDecode, lzDecodeReference } from '../../dist/src/core/lz/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const models = join(root, '..', 'shared', 'data', 'models');
const picks = ['silero_vad/silero_vad_16k.safetensors', 'tflite/mobilenet_v2_quantized_1x3x224x224.tflite', 'tflite/person_detect.tflite', 'llama2c/stories260K.bin', 'rwkv/tiny-rwkv-5v2-730K-Q5_1.bin'];

function mainThreadCpu() {
  try {
    const f = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return performance.now() / 1000;
  }
}

function rate(fn, n) {
  fn();
  const c0 = mainThreadCpu();
  let bytes = 0;
  while (mainThreadCpu() - c0 < 0.5) {
    fn();
    bytes += n;
  }
  return bytes / (mainThreadCpu() - c0) / 1e6;
}

const rows = [];
console.log(`bench/lz/decode: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const p of picks) {
  const path = join(models, p);
  if (!existsSync(path)) continue;
  const data = new Uint8Array(readFileSync(path)).slice(0, 1 << 20);
  const enc = lzEncode(data, { level: 6 });
  if (Buffer.compare(Buffer.from(lzDecode(enc, data.length)), Buffer.from(data)) !== 0) throw new Error(`${p}: kernel round trip failed`);
  const xz = spawnSync('xz', ['-9', '-c'], { input: data, maxBuffer: 1 << 26 }).stdout;
  let xzBest = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = spawnSync('xz', ['-d', '-c'], { input: xz, maxBuffer: 1 << 26 });
    if (r.status !== 0 || r.stdout.length !== data.length) throw new Error(`xz -d failed on ${p}`);
    xzBest = Math.min(xzBest, (performance.now() - t0) / 1000);
  }
  const row = {
    file: p, bytes: data.length, ratio: enc.length / data.length, xzRatio: xz.length / data.length,
    kernel: rate(() => lzDecode(enc, data.length), data.length),
    reference: rate(() => lzDecodeReference(enc, data.length), data.length),
    xz: data.length / xzBest / 1e6,
  };
  rows.push(row);
  console.log(`${p.padEnd(52)} ratio ${row.ratio.toFixed(4)} (xz ${row.xzRatio.toFixed(4)})  decode MB/s: kernel ${row.kernel.toFixed(1)}  reference ${row.reference.toFixed(1)}  xz -d ${row.xz.toFixed(1)}`);
}
const md = [
  '# bench/lz/decode',
  '',
  `Run ${new Date().toISOString()}, Node ${process.version}, load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores shared with other jobs).`,
  'First MiB of each file; ours at level 6, xz at -9. MB/s of decoded bytes: ours over main-thread CPU time, xz over the best wall time of 5 CLI runs (start-up included).',
  '',
  '| file | ours ratio | xz ratio | kernel MB/s | reference MB/s | kernel / reference | xz -d MB/s |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.file} | ${r.ratio.toFixed(4)} | ${r.xzRatio.toFixed(4)} | ${r.kernel.toFixed(1)} | ${r.reference.toFixed(1)} | ${(r.kernel / r.reference).toFixed(2)} | ${r.xz.toFixed(1)} |`),
  '',
];
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'lz-decode.json'), JSON.stringify(rows, null, 2));
writeFileSync(join(root, 'bench', 'results', 'lz-decode.md'), md.join('\n'));
