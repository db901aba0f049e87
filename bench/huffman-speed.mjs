// Speed and size of the Huffman block coder on real files, in 256 KiB blocks, single thread.
// Runs the built code: `npm run build && node bench/huffman-speed.mjs [--reference] [files...]`.
// MB = 1e6 bytes of decoded data. Size is compared with the order-0 bound of each block (the
// Shannon entropy of its byte histogram), summed over blocks; blocks the coder returns null for
// count as stored raw.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { huffmanEncodeBlock, huffmanDecodeBlock } = await import(join(root, 'dist/src/core/entropy/huffman.js'));
const { histogram, entropyBits } = await import(join(root, 'dist/src/core/entropy/histogram.js'));
const { setKernelPath, kernelPath } = await import(join(root, 'dist/src/kernels/loader.js'));

const args = process.argv.slice(2);
if (args.includes('--reference')) setKernelPath('reference');
const BLOCK = 256 * 1024;
const data = join(root, '../shared/data');
const defaults = [
  'text/canterbury/alice29.txt', 'text/canterbury/asyoulik.txt', 'text/canterbury/cp.html',
  'text/canterbury/lcet10.txt', 'text/canterbury/plrabn12.txt', 'text/canterbury/xargs.1',
  'text/canterbury/kennedy.xls', 'text/canterbury/ptt5', 'text/canterbury_large/bible.txt',
  'models/silero_vad/silero_vad.onnx',
].map((f) => join(data, f));
const files = args.filter((a) => !a.startsWith('--'));

/** Runs fn repeatedly for at least `ms` after a warm-up; returns seconds per call (best of 3 runs). */
function timeIt(fn, ms = 300) {
  for (let i = 0; i < 3; i++) fn();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms / 3) {
      fn();
      calls++;
      t = performance.now();
    }
    best = Math.min(best, (t - t0) / 1000 / calls);
  }
  return best;
}

console.log(`kernel path: ${kernelPath()}, blocks of ${BLOCK / 1024} KiB`);
console.log('file                 bytes     coded    order-0   overhead  enc MB/s  dec MB/s');
let totIn = 0, totOut = 0, totBound = 0, totEnc = 0, totDec = 0;
for (const file of files.length ? files : defaults) {
  const buf = new Uint8Array(readFileSync(file));
  const blocks = [];
  for (let i = 0; i < buf.length; i += BLOCK) blocks.push(buf.subarray(i, Math.min(buf.length, i + BLOCK)));
  const payloads = blocks.map((b) => huffmanEncodeBlock(b));
  let coded = 0, bound = 0;
  blocks.forEach((b, i) => {
    coded += payloads[i] ? payloads[i].length : b.length;
    bound += entropyBits(histogram(b)) / 8;
    if (payloads[i]) {
      const back = new Uint8Array(b.length);
      huffmanDecodeBlock(payloads[i], back);
      if (!back.every((v, j) => v === b[j])) throw new Error(`round trip failed: ${file} block ${i}`);
    }
  });
  const outs = blocks.map((b) => new Uint8Array(b.length));
  const enc = timeIt(() => { for (const b of blocks) huffmanEncodeBlock(b); });
  const dec = timeIt(() => {
    for (let i = 0; i < blocks.length; i++) if (payloads[i]) huffmanDecodeBlock(payloads[i], outs[i]);
  });
  const decodedBytes = blocks.reduce((s, b, i) => s + (payloads[i] ? b.length : 0), 0);
  totIn += buf.length; totOut += coded; totBound += bound;
  totEnc += enc; totDec += dec * (buf.length / Math.max(1, decodedBytes));
  console.log(
    basename(file).padEnd(18),
    String(buf.length).padStart(9),
    String(coded).padStart(9),
    String(Math.ceil(bound)).padStart(9),
    `${(((coded - bound) / bound) * 100).toFixed(2)}%`.padStart(9),
    (buf.length / enc / 1e6).toFixed(0).padStart(9),
    decodedBytes ? (decodedBytes / dec / 1e6).toFixed(0).padStart(9) : '      raw',
  );
}
console.log(
  'all'.padEnd(18),
  String(totIn).padStart(9),
  String(totOut).padStart(9),
  String(Math.ceil(totBound)).padStart(9),
  `${(((totOut - totBound) / totBound) * 100).toFixed(2)}%`.padStart(9),
  (totIn / totEnc / 1e6).toFixed(0).padStart(9),
  (totIn / totDec / 1e6).toFixed(0).padStart(9),
);
