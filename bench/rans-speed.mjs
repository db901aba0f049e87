// Quick speed and size check of the static rANS block coder on real files, run on the built
// dist code:  npm run build && node bench/rans-speed.mjs [--block KiB] [--scale-bits 11,12,...]
//             [--path wasm-simd|reference] [--min-ms N] [files...]
// Per file: payload size vs the order-0 bound (sum over blocks of entropyBits/8, since each block
// has its own table), table bytes, encode and decode MB/s (1 MB = 1e6 bytes of decoded data).
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rans = await import(join(root, 'dist/src/core/entropy/rans.js'));
const { histogram, entropyBits } = await import(join(root, 'dist/src/core/entropy/histogram.js'));
const { setKernelPath, kernelPath } = await import(join(root, 'dist/src/kernels/loader.js'));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const blockSize = Number(opt('--block', '256')) * 1024;
const scaleList = opt('--scale-bits', String(rans.RANS_DEFAULT_SCALE_BITS)).split(',').map(Number);
const minMs = Number(opt('--min-ms', '300'));
const path = opt('--path', undefined);
if (path) setKernelPath(path);

const shared = join(root, '../shared/data');
const files = args.length
  ? args
  : [
      ...['alice29.txt', 'asyoulik.txt', 'cp.html', 'kennedy.xls', 'lcet10.txt', 'plrabn12.txt', 'ptt5', 'xargs.1'].map(
        (f) => join(shared, 'text/canterbury', f),
      ),
      join(shared, 'text/canterbury_large/bible.txt'),
      join(shared, 'models/silero_vad/silero_vad.onnx'),
    ];

// Runs fn until minMs have passed (at least twice, the first run being a warm-up); returns the
// best time of one run in ms.
function timeBest(fn) {
  fn();
  let best = Infinity;
  const t0 = performance.now();
  let runs = 0;
  while (runs < 3 || performance.now() - t0 < minMs) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
    runs++;
  }
  return best;
}

console.log(`kernel path: ${kernelPath()}, block ${blockSize / 1024} KiB`);
const pad = (s, n) => String(s).padStart(n);
console.log(
  [pad('file', 14), pad('sb', 3), pad('bytes', 9), pad('order0', 9), pad('payload', 9), pad('table', 6),
    pad('vs o0', 7), pad('excl.tbl', 8), pad('enc MB/s', 9), pad('dec MB/s', 9)].join(' '),
);
const totals = new Map();
for (const file of files) {
  const data = new Uint8Array(readFileSync(file));
  const blocks = [];
  for (let o = 0; o < data.length; o += blockSize) blocks.push(data.subarray(o, Math.min(o + blockSize, data.length)));
  let bound = 0;
  for (const b of blocks) bound += entropyBits(histogram(b)) / 8;
  for (const scaleBits of scaleList) {
    let payloads;
    const encMs = timeBest(() => {
      payloads = blocks.map((b) => rans.ransEncodeBlock(b, { scaleBits }));
    });
    let size = 0, tableBytes = 0;
    for (let i = 0; i < blocks.length; i++) {
      const p = payloads[i];
      if (!p) {
        size += blocks[i].length; // stored raw by the caller
        continue;
      }
      size += p.length;
      tableBytes += tableLength(p);
    }
    const dsts = blocks.map((b) => new Uint8Array(b.length));
    const decMs = timeBest(() => {
      for (let i = 0; i < blocks.length; i++) if (payloads[i]) rans.ransDecodeBlock(payloads[i], dsts[i]);
    });
    for (let i = 0; i < blocks.length; i++) {
      if (payloads[i] && Buffer.compare(dsts[i], blocks[i]) !== 0) throw new Error(`${file}: block ${i} mismatch`);
    }
    const coded = blocks.filter((_, i) => payloads[i]).reduce((a, b) => a + b.length, 0);
    const t = totals.get(scaleBits) ?? { bytes: 0, bound: 0, size: 0, table: 0, encMs: 0, decMs: 0, coded: 0 };
    Object.assign(t, {
      bytes: t.bytes + data.length, bound: t.bound + bound, size: t.size + size, table: t.table + tableBytes,
      encMs: t.encMs + encMs, decMs: t.decMs + decMs, coded: t.coded + coded,
    });
    totals.set(scaleBits, t);
    console.log(row(basename(file), scaleBits, data.length, bound, size, tableBytes, data.length / encMs / 1e3, coded / decMs / 1e3));
  }
}
for (const [scaleBits, t] of totals) {
  console.log(row('TOTAL', scaleBits, t.bytes, t.bound, t.size, t.table, t.bytes / t.encMs / 1e3, t.coded / t.decMs / 1e3));
}

function row(name, sb, bytes, bound, size, table, enc, dec) {
  const vs = ((size / bound - 1) * 100).toFixed(3) + '%';
  const ex = (((size - table) / bound - 1) * 100).toFixed(3) + '%';
  return [pad(name, 14), pad(sb, 3), pad(bytes, 9), pad(Math.ceil(bound), 9), pad(size, 9), pad(table, 6), pad(vs, 7),
    pad(ex, 8), pad(enc.toFixed(0), 9), pad(dec.toFixed(0), 9)].join(' ');
}

function tableLength(payload) {
  return rans.ransPayloadInfo(payload).tableBytes;
}
