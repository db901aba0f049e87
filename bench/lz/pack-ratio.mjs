// bench/lz/pack-ratio: packed size (zipml packBytes, default options) against xz -9 and zstd -19
// (CLIs) on the files where the issue's ratio target was missed last session: the seven files under
// 20 KB, the int8/uint8 files (TFLite MobileNetV2, person_detect, DTLN; TFJS handtrack) and TFJS
// CenterNet. One run, one machine; pack time is CPU time of this process (shared machine).
//
//   node bench/lz/pack-ratio.mjs            # all of them
//   node bench/lz/pack-ratio.mjs --only=tflite
//
// Writes bench/results/lz-pack-ratio.{json,md}.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { packBytes, unpackBytes, bufferSource } from '../../dist/src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const models = join(root, '..', 'shared', 'data', 'models');
const human = join(root, 'bench', 'node_modules', '@vladmandic', 'human-models', 'models');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const files = [
  'llama2c/tok512-c64.bin', 'ncnn_nanodet/nanodet-m.param', 'rwkv/expected-logits-5v2-730K.bin', 'tflite/hello_world_float.tflite',
  'tflite/hello_world_int8.tflite', 'tflite/micro_speech_quantized.tflite', 'tflite/mnist_trained_lstm_int8.tflite',
  'tflite/person_detect.tflite', 'tflite/dtln_noise_suppression.tflite', 'tflite/mobilenet_v2_quantized_1x3x224x224.tflite',
].map((f) => join(models, f)).concat(['handtrack.bin', 'centernet.bin'].map((f) => join(human, f)))
  .filter((f) => existsSync(f) && (!only || f.includes(only)));

const cli = (cmd, args, path) => execFileSync(cmd, [...args, '-c', path], { maxBuffer: 1 << 30 }).length;
const rows = [];
const startLoad = loadavg()[0];
for (const path of files) {
  const bytes = new Uint8Array(readFileSync(path));
  const sidecar = async (name) => {
    const p = join(dirname(path), name);
    return existsSync(p) ? bufferSource(new Uint8Array(readFileSync(p))) : undefined;
  };
  const t = process.cpuUsage();
  const packed = await packBytes(bytes, { name: basename(path), threads: 1, sidecar });
  const u = process.cpuUsage(t);
  const back = await unpackBytes(packed, { threads: 1 });
  if (Buffer.compare(Buffer.from(back), Buffer.from(bytes)) !== 0) throw new Error(`${path}: round trip failed`);
  const xz = cli('xz', ['-9'], path), zstd = cli('zstd', ['-19', '-q'], path);
  const row = { file: path.startsWith(models) ? path.slice(models.length + 1) : basename(path), bytes: bytes.length, ours: packed.length, xz, zstd, met: packed.length <= Math.min(xz, zstd), packMBps: bytes.length / (u.user + u.system) };
  rows.push(row);
  console.log(`${row.file}: ${row.bytes} -> ours ${row.ours}, xz -9 ${xz}, zstd -19 ${zstd}: ${row.met ? 'met' : `missed by ${row.ours - Math.min(xz, zstd)} bytes`}; pack ${row.packMBps.toFixed(2)} MB/s cpu`);
}
const md = [
  '# LZ-relevant files: packed size against xz -9 and zstd -19',
  '',
  `\`node bench/lz/pack-ratio.mjs\`, ${new Date().toISOString()}, load average ${startLoad.toFixed(1)} → ${loadavg()[0].toFixed(1)} (2 cores shared with other jobs). Sizes in bytes; ratio = packed / original; pack speed = MB (10^6 bytes) per CPU second of this process, one thread, default options.`,
  '',
  '| file | bytes | ours | xz -9 | zstd -19 | ours ratio | xz ratio | target | pack MB/s |',
  '|---|---:|---:|---:|---:|---:|---:|---|---:|',
  ...rows.map((r) => `| ${r.file} | ${r.bytes.toLocaleString('en')} | ${r.ours.toLocaleString('en')} | ${r.xz.toLocaleString('en')} | ${r.zstd.toLocaleString('en')} | ${(r.ours / r.bytes).toFixed(4)} | ${(r.xz / r.bytes).toFixed(4)} | ${r.met ? 'met' : `missed by ${r.ours - Math.min(r.xz, r.zstd)} B`} | ${r.packMBps.toFixed(2)} |`),
  '',
];
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'lz-pack-ratio.md'), md.join('\n'));
writeFileSync(join(root, 'bench', 'results', 'lz-pack-ratio.json'), JSON.stringify({ date: new Date().toISOString(), rows }, null, 1));
