// bench/core: Huffman and rANS (zipml's entropy frame, one thread) against zstd -1/-3/-19 (its
// in-memory benchmark mode, `zstd -b`), gzip -9 and brotli (Node's zlib, the C libraries, in
// process), and the order-0 entropy bound, on the real files in ../shared/data/text and
// ../shared/data/models. Prints a table and writes bench/results/core.{json,md}.
//
//   npm run bench:core                 # all files
//   node bench/core/run.mjs --quick    # fewer repetitions
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { gzipSync, gunzipSync, brotliCompressSync, brotliDecompressSync, constants as zc } from 'node:zlib';
import { cpus, platform, release } from 'node:os';
import { compress, decompress, histogram, entropyBits, kernelPath, frameInfo } from '../../dist/src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const data = join(root, '..', 'shared', 'data');
const quick = process.argv.includes('--quick');
const minTime = quick ? 0.15 : 0.5; // seconds of repetitions per measurement

if (!existsSync(data)) {
  console.error(`bench/core needs ../shared/data (not found at ${data})`);
  process.exit(1);
}

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const files = [...walk(join(data, 'text')), ...walk(join(data, 'models'))]
  .filter((f) => statSync(f).size >= 64 * 1024)
  .sort();

/** Best throughput over repetitions lasting at least minTime (MB/s, MB = 1e6 bytes). */
function speed(fn, bytes) {
  let best = Infinity, total = 0, reps = 0;
  fn(); // warm-up (JIT, kernel instantiation)
  while (total < minTime || reps < 3) {
    const t0 = performance.now();
    fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt);
    total += dt;
    reps++;
  }
  return bytes / best / 1e6;
}

function zstdBench(file, level) {
  const out = execFileSync('zstd', [`-b${level}`, `-i${quick ? 1 : 2}`, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const text = out.replace(/\r/g, '\n');
  const m = [...text.matchAll(/->\s+(\d+)\s+\(x[\d.]+\),\s+([\d.]+) MB\/s,\s+([\d.]+) MB\/s/g)].at(-1);
  if (!m) throw new Error(`cannot parse zstd -b output for ${file}`);
  return { size: Number(m[1]), enc: Number(m[2]), dec: Number(m[3]) };
}

function zstdVersion() {
  return execFileSync('zstd', ['--version'], { encoding: 'utf8' }).trim();
}

const rows = [];
for (const file of files) {
  const buf = readFileSync(file);
  const input = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = input.length;
  const order0 = Math.ceil(entropyBits(histogram(input)) / 8);
  // What a coder with one table per 256 KiB block competes with: each block's order-0 bound, summed.
  let blockOrder0 = 0;
  for (let at = 0; at < n; at += 1 << 18) blockOrder0 += entropyBits(histogram(input.subarray(at, at + (1 << 18)))) / 8;
  blockOrder0 = Math.ceil(blockOrder0);
  const row = { file: relative(data, file), bytes: n, order0, blockOrder0, coders: {} };
  for (const coder of ['huffman', 'rans']) {
    const frame = compress(input, { coder });
    const back = decompress(frame);
    if (back.length !== n || Buffer.compare(Buffer.from(back), buf) !== 0) throw new Error(`${coder} round trip failed on ${file}`);
    const info = frameInfo(frame);
    const types = {};
    for (const b of info.blocks) types[b.type] = (types[b.type] ?? 0) + 1;
    row.coders[coder] = {
      size: frame.length,
      overOrder0: frame.length / order0 - 1,
      overBlockOrder0: frame.length / blockOrder0 - 1,
      enc: speed(() => compress(input, { coder }), n),
      dec: speed(() => decompress(frame), n),
      blockTypes: types,
    };
  }
  row.coders.gzip9 = (() => {
    const z = gzipSync(input, { level: 9 });
    return { size: z.length, enc: speed(() => gzipSync(input, { level: 9 }), n), dec: speed(() => gunzipSync(z), n) };
  })();
  row.coders.brotli = (() => {
    const params = { [zc.BROTLI_PARAM_QUALITY]: 9, [zc.BROTLI_PARAM_SIZE_HINT]: n };
    const z = brotliCompressSync(input, { params });
    return { size: z.length, enc: speed(() => brotliCompressSync(input, { params }), n), dec: speed(() => brotliDecompressSync(z), n) };
  })();
  for (const level of [1, 3, 19]) row.coders[`zstd${level}`] = zstdBench(file, level);
  rows.push(row);
  const h = row.coders.huffman, r = row.coders.rans;
  console.error(`${row.file}: order0 ${order0}, huffman ${h.size} (${(h.overOrder0 * 100).toFixed(2)}%) ${h.enc.toFixed(0)}/${h.dec.toFixed(0)} MB/s, rans ${r.size} (${(r.overOrder0 * 100).toFixed(2)}%) ${r.enc.toFixed(0)}/${r.dec.toFixed(0)} MB/s`);
}

const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, platform: `${platform()} ${release()}`, zstd: zstdVersion(), kernels: kernelPath(), date: new Date().toISOString() };
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'core.json'), JSON.stringify({ machine, rows }, null, 2));

const pct = (x) => `${(x * 100).toFixed(2)}%`;
const f0 = (x) => x.toFixed(0);
let md = `# bench/core results\n\nMachine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.zstd}, zipml kernels: ${machine.kernels}, ${machine.date}.\n`;
md += `Command: \`npm run bench:core\`. One thread. MB/s = 10^6 bytes of original data per second, best of repeated runs.\n`;
md += `zipml: entropy frame, 256 KiB blocks, order-0 only (no LZ), the whole compress()/decompress() call timed (histograms, tables, copies into WebAssembly memory, content checksum). "vs file o0" = frame size / whole-file order-0 bound − 1; "vs block o0" = frame size / sum of each 256 KiB block's order-0 bound − 1. Frame sizes include every table, block header and the checksum.\n\n`;
md += `| file | bytes | file order-0 | block order-0 | huffman size | vs file o0 | vs block o0 | huf enc MB/s | huf dec MB/s | rans size | vs file o0 | vs block o0 | rans enc MB/s | rans dec MB/s | zstd -1 | zstd -3 | zstd -19 | gzip -9 | brotli -9 |\n`;
md += `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
for (const r of rows) {
  const c = r.coders;
  const peer = (p) => `${p.size} (${f0(p.enc)}/${f0(p.dec)})`;
  md += `| ${r.file} | ${r.bytes} | ${r.order0} | ${r.blockOrder0} | ${c.huffman.size} | ${pct(c.huffman.overOrder0)} | ${pct(c.huffman.overBlockOrder0)} | ${f0(c.huffman.enc)} | ${f0(c.huffman.dec)} | ${c.rans.size} | ${pct(c.rans.overOrder0)} | ${pct(c.rans.overBlockOrder0)} | ${f0(c.rans.enc)} | ${f0(c.rans.dec)} | ${peer(c.zstd1)} | ${peer(c.zstd3)} | ${peer(c.zstd19)} | ${peer(c.gzip9)} | ${peer(c.brotli)} |\n`;
}
md += `\nPeer cells: size in bytes (encode/decode MB/s).\n`;
// Aggregates over inputs >= 1 MB: the targets.
const big = rows.filter((r) => r.bytes >= 1e6);
const agg = (coder, key) => {
  const tot = big.reduce((a, r) => a + r.bytes, 0);
  const time = big.reduce((a, r) => a + r.bytes / r.coders[coder][key], 0);
  return tot / time;
};
if (big.length) {
  md += `\nInputs of 1 MB or more (${big.length} files): huffman encode ${f0(agg('huffman', 'enc'))} MB/s, decode ${f0(agg('huffman', 'dec'))} MB/s; rans encode ${f0(agg('rans', 'enc'))} MB/s, decode ${f0(agg('rans', 'dec'))} MB/s (total bytes / total time).\n`;
  md += `Worst size over the whole-file order-0 bound among them: huffman ${pct(Math.max(...big.map((r) => r.coders.huffman.overOrder0)))}, rans ${pct(Math.max(...big.map((r) => r.coders.rans.overOrder0)))}; over the per-block bound: huffman ${pct(Math.max(...big.map((r) => r.coders.huffman.overBlockOrder0)))}, rans ${pct(Math.max(...big.map((r) => r.coders.rans.overBlockOrder0)))}.\n`;
}
writeFileSync(join(root, 'bench', 'results', 'core.md'), md);
console.log(md);
