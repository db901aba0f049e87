// bench/lz: zipml's LZ codec (src/core/lz, levels 6 and 9) against xz -9e, zstd -19 --long and
// brotli q11 (Node's zlib, lgwin 24), all measured in the same run, on every file in
// ../shared/data/models and ../shared/data/text/canterbury (whole files). Prints a table and writes
// bench/results/lz.{json,md}.
//
//   npm run bench:lz                      # everything
//   node bench/lz/run.mjs --quick         # level 6 only, one timing repetition
//   node bench/lz/run.mjs --only silero   # files whose path contains "silero"
//
// Speeds: ours and brotli are in-process (best of repetitions, MB = 1e6 bytes); xz and zstd are the
// CLIs timed around execFileSync on a file in /tmp, so they include process start-up (~1-3 ms).
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { tmpdir, cpus, platform, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { brotliCompressSync, brotliDecompressSync, constants as zc } from 'node:zlib';
import { lzEncode, lzDecode } from '../../dist/src/core/lz/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const data = join(root, '..', 'shared', 'data');
const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
const levels = quick ? [6] : [6, 9];

if (!existsSync(data)) {
  console.error(`bench/lz needs ../shared/data (not found at ${data})`);
  process.exit(1);
}

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
const files = [...walk(join(data, 'models')), ...walk(join(data, 'text', 'canterbury'))]
  .filter((f) => !only || f.includes(only))
  .sort();

/** Seconds of the fastest of `reps` runs (first run included: encoders are too slow to warm up twice). */
function timeIt(fn, reps) {
  let best = Infinity, out;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    out = fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { out, s: best };
}

const tmp = mkdtempSync(join(tmpdir(), 'zipml-bench-lz-'));
function cli(cmd, args, input) {
  const inFile = join(tmp, 'in');
  writeFileSync(inFile, input);
  const t0 = performance.now();
  const out = execFileSync(cmd, [...args, inFile], { maxBuffer: 1 << 30 });
  const enc = (performance.now() - t0) / 1000;
  writeFileSync(inFile, out);
  const t1 = performance.now();
  const back = execFileSync(cmd, ['-d', '-c', inFile], { maxBuffer: 1 << 30 });
  const dec = (performance.now() - t1) / 1000;
  if (Buffer.compare(back, Buffer.from(input)) !== 0) throw new Error(`${cmd} round trip failed`);
  return { size: out.length, encS: enc, decS: dec };
}

const version = (cmd) => execFileSync(cmd, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
const rows = [];
const mb = (n, s) => n / s / 1e6;
for (const file of files) {
  const buf = readFileSync(file);
  const input = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = input.length;
  const row = { file: relative(data, file), bytes: n, ours: {}, peers: {} };
  for (const level of levels) {
    const reps = n < 200_000 && !quick ? 2 : 1;
    const e = timeIt(() => lzEncode(input, { level }), reps);
    const d = timeIt(() => lzDecode(e.out, n), n < 1_000_000 ? 3 : 2);
    if (Buffer.compare(Buffer.from(d.out), buf) !== 0) throw new Error(`lz level ${level} round trip failed on ${file}`);
    const props = e.out[1] === 1 ? 'stored' : `lc${e.out[0] % 9} lp${Math.floor(e.out[0] / 9) % 5} pb${Math.floor(e.out[0] / 45)}`;
    row.ours[`L${level}`] = { size: e.out.length, ratio: e.out.length / n, encMBs: mb(n, e.s), decMBs: mb(n, d.s), props };
  }
  const xz = cli('xz', ['-9e', '-T1', '-c', '-k'], input);
  row.peers['xz -9e'] = { size: xz.size, ratio: xz.size / n, encMBs: mb(n, xz.encS), decMBs: mb(n, xz.decS) };
  const zs = cli('zstd', ['-19', '--long', '-q', '-c'], input);
  row.peers['zstd -19 --long'] = { size: zs.size, ratio: zs.size / n, encMBs: mb(n, zs.encS), decMBs: mb(n, zs.decS) };
  const bOpts = { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_LGWIN]: 24, [zc.BROTLI_PARAM_SIZE_HINT]: n } };
  const be = timeIt(() => brotliCompressSync(input, bOpts), 1);
  const bd = timeIt(() => brotliDecompressSync(be.out), 2);
  if (Buffer.compare(bd.out, buf) !== 0) throw new Error('brotli round trip failed');
  row.peers['brotli 11'] = { size: be.out.length, ratio: be.out.length / n, encMBs: mb(n, be.s), decMBs: mb(n, bd.s) };
  const bestPeer = Math.min(...Object.values(row.peers).map((p) => p.size));
  const oursBest = Math.min(...Object.values(row.ours).map((p) => p.size));
  row.bestPeer = bestPeer;
  row.oursVsXz = oursBest / xz.size;
  row.oursVsBestPeer = oursBest / bestPeer;
  rows.push(row);
  const o = Object.entries(row.ours).map(([k, v]) => `${k} ${v.ratio.toFixed(4)} (${v.encMBs.toFixed(2)}/${v.decMBs.toFixed(1)} MB/s, ${v.props})`).join('  ');
  console.log(`${row.file.padEnd(58)} ${String(n).padStart(8)}  ${o}  xz ${(xz.size / n).toFixed(4)}  zstd ${(zs.size / n).toFixed(4)}  br ${(be.out.length / n).toFixed(4)}  vs xz ${(row.oursVsXz * 100 - 100).toFixed(2)}%`);
}
rmSync(tmp, { recursive: true, force: true });

const env = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  os: `${platform()} ${release()}`,
  xz: version('xz'),
  zstd: version('zstd'),
  brotli: `node:zlib ${process.versions.brotli}`,
  note: 'machine shared with other jobs during the run; speeds are indicative',
  command: `node bench/lz/run.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'lz.json'), JSON.stringify({ env, rows }, null, 2) + '\n');

const f4 = (x) => x.toFixed(4);
const f1 = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
let md = `# bench/lz: zipml LZ vs xz, zstd, brotli\n\n`;
md += `${env.date}, Node ${env.node}, ${env.cpu} (${env.cores} cores, shared with other jobs: speeds are indicative), ${env.xz}, ${env.zstd}, brotli ${process.versions.brotli} (node:zlib).\n`;
md += `Command: \`${env.command}\`. Ratio = compressed / original (smaller is better); speeds in MB/s (1e6 bytes) of original data, encode/decode.\n\n`;
const lv = levels.map((l) => `L${l}`);
md += `| file | bytes | ${lv.map((l) => `ours ${l}`).join(' | ')} | xz -9e | zstd -19 --long | brotli 11 | ours best vs xz | ours best vs best peer |\n`;
md += `|---|---:|${lv.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|\n`;
for (const r of rows) {
  md += `| ${r.file} | ${r.bytes.toLocaleString('en-US')} | ${lv.map((l) => f4(r.ours[l].ratio)).join(' | ')} | ${f4(r.peers['xz -9e'].ratio)} | ${f4(r.peers['zstd -19 --long'].ratio)} | ${f4(r.peers['brotli 11'].ratio)} | ${((r.oursVsXz - 1) * 100).toFixed(2)}% | ${((r.oursVsBestPeer - 1) * 100).toFixed(2)}% |\n`;
}
const tot = (f) => rows.reduce((a, r) => a + f(r), 0);
const totIn = tot((r) => r.bytes);
md += `| **total** | ${totIn.toLocaleString('en-US')} | ${lv.map((l) => f4(tot((r) => r.ours[l].size) / totIn)).join(' | ')} | ${f4(tot((r) => r.peers['xz -9e'].size) / totIn)} | ${f4(tot((r) => r.peers['zstd -19 --long'].size) / totIn)} | ${f4(tot((r) => r.peers['brotli 11'].size) / totIn)} | | |\n\n`;
md += `Speeds (encode / decode MB/s):\n\n| file | ${lv.map((l) => `ours ${l}`).join(' | ')} | xz -9e | zstd -19 --long | brotli 11 | lc/lp/pb chosen (${lv.join(', ')}) |\n|---|${lv.map(() => '---:').join('|')}|---:|---:|---:|---|\n`;
for (const r of rows) {
  const sp = (v) => `${f1(v.encMBs)} / ${f1(v.decMBs)}`;
  md += `| ${r.file} | ${lv.map((l) => sp(r.ours[l])).join(' | ')} | ${sp(r.peers['xz -9e'])} | ${sp(r.peers['zstd -19 --long'])} | ${sp(r.peers['brotli 11'])} | ${lv.map((l) => r.ours[l].props).join(', ')} |\n`;
}
writeFileSync(join(root, 'bench', 'results', 'lz.md'), md);
console.log(`\nwrote bench/results/lz.{json,md}`);
