// bench/vectors-fastscan: throughput of the 4-bit fast-scan kernels (codes scanned per second, one
// thread) for PQ{M}x4 with M = 8, 16, 32, 64 on the fixed-seed Gaussian mixture (d = 128),
// against, in the same run: the float-table scan (lutScan = pq4Scan in WebAssembly), the plain-TS
// reference of the fast-scan kernel, Faiss 1.7.3's IndexPQFastScan and IndexPQ (Debian
// python3-faiss, generic x86-64 build) trained on the same vectors, and block-size variants of
// the kernel (B = 16, 32, 64 rows). Also RaBitQ4 search: fast-scan of the sign bits with bounds and
// re-ranking by the 4-bit estimator, against the codec's full scan. Best of 3 rounds everywhere
// (the machine is shared). Writes bench/results/vectors-fastscan.{json,md} (full run only).
//
//   npm run build && node bench/vectors-fastscan/run.mjs           # 200,000 base rows, 100 queries
//   node bench/vectors-fastscan/run.mjs --quick                    # 50,000 rows, 20 queries, no files
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  gaussianMixture, knn, ProductQuantizer, lutScan, RaBitQCodec,
  packFastScan, quantizeLut, fastScanKnn, fastScanExact, fastScanAccumulate,
  packRaBitQ, rabitqQuery, rabitqSearch, codecReranker,
} from '../../dist/src/vectors/index.js';
import { kernelPath } from '../../dist/src/kernels/index.js';
import { fsAccumulateReference } from '../../dist/src/vectors/fastscan/kernels.js';
import { compileVariant, packVariant } from './variants.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const quick = process.argv.includes('--quick');
const n = quick ? 50_000 : 200_000, nq = quick ? 20 : 100, nt = 20_000, d = 128, K = 10;
const MS = [8, 16, 32, 64];
const ROUNDS = 3;

/** Best of ROUNDS of fn() (seconds). */
function best(fn) {
  let t = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}

function recall(ids, truth, queries) {
  let hit = 0;
  for (let q = 0; q < queries; q++) {
    const want = new Set(truth.subarray(q * K, (q + 1) * K));
    for (let j = 0; j < K; j++) if (want.has(ids[q][j])) hit++;
  }
  return hit / (queries * K);
}

const mcps = (rows, seconds) => rows / seconds / 1e6;

console.log(`fast-scan bench: ${n} x ${d} Gaussian mixture, ${nq} queries, ${quick ? 'quick' : 'full'} run, kernels ${kernelPath()}, load ${loadavg()[0].toFixed(1)} on ${cpus().length} shared cores`);
const ds = gaussianMixture({ n, d, nq, seed: 1 });
const train = ds.base.subarray(0, nt * d);
const truth = knn(ds.base, ds.queries, d, K, 'l2').ids;
const peerDir = join(root, 'bench/.peers/fastscan-data');
mkdirSync(peerDir, { recursive: true });
writeFileSync(join(peerDir, 'base.f32'), ds.base);
writeFileSync(join(peerDir, 'train.f32'), train);
writeFileSync(join(peerDir, 'queries.f32'), ds.queries);
const variants = {};
for (const G of [1, 2, 4]) variants[G] = await compileVariant(G);

const rows = [];
for (const M of MS) {
  const cs = M / 2;
  const pq = new ProductQuantizer(d, `PQ${M}x4`);
  pq.train(train);
  const codes = pq.encode(ds.base);
  const { packed } = packFastScan(codes, n, M);
  const query = (q) => ds.queries.subarray(q * d, (q + 1) * d);
  const tables = Array.from({ length: nq }, (_, q) => pq.distanceTable(query(q), 'l2'));
  const luts = tables.map((t) => quantizeLut(t, M, 'l2'));
  // Search, one query at a time, table construction and quantization included.
  let ids = [];
  const knnSec = best(() => {
    ids = [];
    for (let q = 0; q < nq; q++) ids.push(Array.from(fastScanKnn(packed, n, M, quantizeLut(pq.distanceTable(query(q), 'l2'), M, 'l2'), K).rows));
  }) / nq;
  let exactIds = [];
  const exactSec = best(() => {
    exactIds = [];
    for (let q = 0; q < nq; q++) exactIds.push(Array.from(fastScanExact(packed, n, M, luts[q], tables[q], K).rows));
  }) / nq;
  const sums = new Uint16Array(n);
  const accSec = best(() => { for (let q = 0; q < nq; q++) fastScanAccumulate(luts[q].lut, packed, n, M, sums); }) / nq;
  const fl = new Float32Array(n);
  let floatMismatch = 0;
  const lutSec = best(() => { for (let q = 0; q < nq; q++) lutScan(tables[q], codes, n, cs, M, 4, fl); }) / nq;
  // The exact fast-scan top-k must be the float scan's top-k (checked here on 5 queries).
  for (let q = 0; q < 5; q++) {
    lutScan(tables[q], codes, n, cs, M, 4, fl);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => fl[a] - fl[b] || a - b).slice(0, K);
    if (order.join() !== exactIds[q].join()) floatMismatch++;
  }
  const nRef = 20_000, refOut = new Uint16Array(Math.ceil(nRef / 32) * 32);
  const refSec = best(() => fsAccumulateReference(luts[0].lut, packed, 0, Math.ceil(nRef / 32), M, refOut)) * (n / nRef);
  // Block-size variants (accumulate only), same tables.
  const blocks = {};
  for (const G of [1, 2, 4]) {
    const v = variants[G];
    const p = packVariant(codes, n, M, G);
    const base = (v.heapBase() + 63) & ~63;
    const need = base + 4096 + p.packed.length + p.nblocks * 32 * G * 2;
    const mem = v.memory;
    if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
    const u8 = new Uint8Array(mem.buffer);
    u8.set(p.packed, base + 4096);
    const outPtr = base + 4096 + ((p.packed.length + 63) & ~63);
    blocks[16 * G] = mcps(n, best(() => { for (let q = 0; q < nq; q++) { u8.set(luts[q].lut, base); v.acc(base, base + 4096, p.nblocks, M, outPtr); } }) / nq);
    const got = new Uint16Array(mem.buffer, outPtr, n);
    fastScanAccumulate(luts[nq - 1].lut, packed, n, M, sums);
    if (got.join() !== sums.join()) throw new Error(`block variant B=${16 * G} disagrees with the kernel at M=${M}`);
  }
  let faiss = null;
  try {
    const out = execFileSync('/usr/bin/python3', [join(root, 'bench/vectors-fastscan/faiss_fastscan.py'), peerDir, d, M, n, nt, nq, K].map(String), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
    faiss = JSON.parse(out);
  } catch (e) {
    console.log(`faiss M=${M} failed: ${e.message.split('\n')[0]}`);
  }
  const row = {
    M, bytesPerVector: cs,
    zipml: {
      knnSeconds: knnSec, knnMcodesPerSec: mcps(n, knnSec), recall: recall(ids, truth, nq),
      exactSeconds: exactSec, exactMcodesPerSec: mcps(n, exactSec), exactRecall: recall(exactIds, truth, nq), exactMismatchOf5: floatMismatch,
      accumulateMcodesPerSec: mcps(n, accSec), floatLutScanMcodesPerSec: mcps(n, lutSec), tsReferenceMcodesPerSec: mcps(n, refSec),
    },
    blockVariantsMcodesPerSec: blocks,
    faiss: faiss && {
      fastScanSingleSeconds: faiss.PQfs.singleSeconds, fastScanSingleMcodesPerSec: mcps(n, faiss.PQfs.singleSeconds),
      fastScanBatchMcodesPerSec: mcps(n, faiss.PQfs.batchSeconds), fastScanRecall: recall(faiss.PQfs.ids, truth, faiss.PQfs.ids.length),
      pqSingleMcodesPerSec: mcps(n, faiss.PQ.singleSeconds), pqRecall: recall(faiss.PQ.ids, truth, faiss.PQ.ids.length),
    },
  };
  rows.push(row);
  const z = row.zipml, f = row.faiss;
  console.log(`PQ${M}x4fs: knn10 ${z.knnMcodesPerSec.toFixed(0)} M codes/s (${(knnSec * 1e3).toFixed(3)} ms/query, R@10 ${z.recall.toFixed(3)}), exact ${z.exactMcodesPerSec.toFixed(0)} (R@10 ${z.exactRecall.toFixed(3)}, ${floatMismatch}/5 differ from the float scan), accumulate ${z.accumulateMcodesPerSec.toFixed(0)}, float lutScan ${z.floatLutScanMcodesPerSec.toFixed(0)}, TS reference ${z.tsReferenceMcodesPerSec.toFixed(1)}`);
  console.log(`  blocks: ${Object.entries(blocks).map(([b, v]) => `B=${b} ${v.toFixed(0)}`).join(', ')} M codes/s`);
  if (f) console.log(`  faiss: IndexPQFastScan ${f.fastScanSingleMcodesPerSec.toFixed(0)} M codes/s single (R@10 ${f.fastScanRecall.toFixed(3)}), ${f.fastScanBatchMcodesPerSec.toFixed(0)} batch; IndexPQ ${f.pqSingleMcodesPerSec.toFixed(0)}; zipml knn10 / Faiss fast-scan single = ${(z.knnMcodesPerSec / f.fastScanSingleMcodesPerSec).toFixed(2)}x`);
}

// RaBitQ4: fast-scan of the sign bits + bounds, re-ranking with the 4-bit codes, vs the codec's full scan.
const rq = new RaBitQCodec(d, { nbBits: 4 });
rq.train(train);
const rcodes = rq.encode(ds.base);
const fs = packRaBitQ(rq, rcodes, n);
let rIds = [], reranked = 0, fullIds = [];
const rSec = best(() => {
  rIds = [];
  reranked = 0;
  for (let q = 0; q < nq; q++) {
    const qv = ds.queries.subarray(q * d, (q + 1) * d);
    const r = rabitqSearch(fs, rabitqQuery(rq, qv, 'l2'), K, codecReranker(rq, qv, 'l2', rcodes));
    rIds.push(Array.from(r.rows));
    reranked += r.reranked;
  }
}) / nq;
const dist = new Float32Array(n);
const nFull = Math.min(nq, 20); // the full scan + sort is slow: fewer queries
const fullSec = best(() => {
  fullIds = [];
  for (let q = 0; q < nFull; q++) {
    rq.distances(ds.queries.subarray(q * d, (q + 1) * d), 'l2')(rcodes, n, dist);
    fullIds.push(Array.from({ length: n }, (_, i) => i).sort((a, b) => dist[a] - dist[b]).slice(0, K));
  }
}) / nFull;
const rabitq = {
  fastScanSeconds: rSec, fastScanMcodesPerSec: mcps(n, rSec), rerankedFraction: reranked / (nq * n), recall: recall(rIds, truth, nq),
  fullScanSeconds: fullSec, fullScanMcodesPerSec: mcps(n, fullSec), fullScanRecall: recall(fullIds, truth, nFull), fullScanQueries: nFull,
};
console.log(`RaBitQ4 d=${d}: fast-scan + bound re-ranking ${(rSec * 1e3).toFixed(2)} ms/query (R@10 ${rabitq.recall.toFixed(3)}, ${(100 * rabitq.rerankedFraction).toFixed(2)}% re-ranked) vs full 4-bit scan + sort ${(fullSec * 1e3).toFixed(2)} ms (R@10 ${rabitq.fullScanRecall.toFixed(3)}): ${(fullSec / rSec).toFixed(1)}x`);
rmSync(peerDir, { recursive: true, force: true });

if (!quick) {
  const faissVersion = execFileSync('/usr/bin/python3', ['-c', 'import faiss; print(faiss.__version__)'], { encoding: 'utf8' }).trim();
  const result = {
    command: 'node bench/vectors-fastscan/run.mjs', n, nq, d, k: K, rounds: ROUNDS,
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAverageAtStart: loadavg()[0], node: process.version, kernels: kernelPath(), faiss: faissVersion, shared: true },
    pq: rows, rabitq,
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/vectors-fastscan.json'), JSON.stringify(result, null, 2) + '\n');
  const f0 = (v) => (v === undefined || v === null ? '–' : v.toFixed(0));
  const md = [
    '# bench/vectors-fastscan',
    '',
    `\`${result.command}\` — ${n} × ${d} Gaussian mixture (seed 1), ${nq} queries, one thread, best of ${ROUNDS} rounds; ${result.machine.cpu}, ${result.machine.cores} cores shared with other jobs (load ${result.machine.loadAverageAtStart.toFixed(1)} at start); Node ${process.version}; Faiss ${faissVersion} (Debian, generic x86-64). Million codes scanned per second (higher is better).`,
    '',
    '| M | bytes/vec | zipml top-10 | zipml exact top-10 | zipml accumulate | float lutScan | TS reference | Faiss PQfs (1 query) | Faiss PQfs (batch) | Faiss PQ (float) | top-10 / Faiss PQfs | accumulate / lutScan | R@10 zipml / Faiss |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const z = r.zipml, f = r.faiss;
      return `| ${r.M} | ${r.bytesPerVector} | ${f0(z.knnMcodesPerSec)} | ${f0(z.exactMcodesPerSec)} | ${f0(z.accumulateMcodesPerSec)} | ${f0(z.floatLutScanMcodesPerSec)} | ${z.tsReferenceMcodesPerSec.toFixed(1)} | ${f0(f?.fastScanSingleMcodesPerSec)} | ${f0(f?.fastScanBatchMcodesPerSec)} | ${f0(f?.pqSingleMcodesPerSec)} | ${f ? (z.knnMcodesPerSec / f.fastScanSingleMcodesPerSec).toFixed(2) + '×' : '–'} | ${(z.accumulateMcodesPerSec / z.floatLutScanMcodesPerSec).toFixed(1)}× | ${z.recall.toFixed(3)} / ${f ? f.fastScanRecall.toFixed(3) : '–'} |`;
    }),
    '',
    'Block size (accumulate kernel only, million codes per second):',
    '',
    '| M | B = 16 | B = 32 (shipped) | B = 64 |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.M} | ${f0(r.blockVariantsMcodesPerSec[16])} | ${f0(r.blockVariantsMcodesPerSec[32])} | ${f0(r.blockVariantsMcodesPerSec[64])} |`),
    '',
    `RaBitQ4 (d = ${d}): fast-scan of the sign bits with error bounds, re-ranking with the 4-bit estimator: ${(rabitq.fastScanSeconds * 1e3).toFixed(2)} ms per query (R@10 ${rabitq.recall.toFixed(3)}, ${(100 * rabitq.rerankedFraction).toFixed(2)}% of rows re-ranked) against the codec's full 4-bit scan and sort, ${(rabitq.fullScanSeconds * 1e3).toFixed(2)} ms (R@10 ${rabitq.fullScanRecall.toFixed(3)}): ${(rabitq.fullScanSeconds / rabitq.fastScanSeconds).toFixed(1)}×.`,
    '',
  ].join('\n');
  writeFileSync(join(root, 'bench/results/vectors-fastscan.md'), md);
  console.log('wrote bench/results/vectors-fastscan.{json,md}');
}
