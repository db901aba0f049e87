// bench/service: `zipml serve` end to end. One collection of n × 128 vectors (gaussianMixture,
// seed 1, the shared synthetic set), index "auto", a small indexed payload per point:
//   - ingest: points/s acknowledged (durable: fdatasync'ed) by the server, 4 clients × 1,000-point batches
//   - time until the background build has put every point on the compressed index
//   - search: throughput and p50/p99 latency at concurrency 1, 8, 32 (autocannon, k = 10,
//     default nprobe/kFactor, no payloads), and recall@10 against exact search (knn)
//   - resident memory of the server process (VmRSS) after ingest, after the build, after search
// Writes bench/results/service.{json,md}.
//
//   npm run build && node bench/service/run.mjs                 # n = 200,000
//   node bench/service/run.mjs --n 50000 --seconds 5            # smaller / shorter
// autocannon comes from bench/package.json (cd bench && npm install).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, cpus, loadavg, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gaussianMixture, knn } from '../../dist/src/vectors/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', 'package.json'));
const autocannon = require('autocannon');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const n = arg('n', 200_000);
const d = 128;
const seconds = arg('seconds', 10);
const nqRecall = arg('nq', 200);
const cli = join(here, '..', '..', 'dist', 'src', 'cli', 'main.js');

console.log(`generating ${n} x ${d} (gaussianMixture, seed 1) ...`);
const ds = gaussianMixture({ n, d, nq: 1000, seed: 1 });
const load0 = loadavg()[0];
const dataDir = mkdtempSync(join(tmpdir(), 'zipml-bench-service-'));

const child = spawn(process.execPath, [cli, 'serve', '--data', dataDir, '--port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (b) => {
    out += b.toString();
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  child.once('exit', (c) => reject(new Error(`server exited ${c}`)));
});
const serverLog = [];
child.stdout.on('data', (b) => {
  for (const line of b.toString().split('\n')) if (line.includes('"msg"')) serverLog.push(line);
});
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024;
const post = async (method, path, body) => {
  const r = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
};
const stats = async () => (await post('GET', '/collections/bench')).stats;

await post('PUT', '/collections/bench', { dimension: d, metric: 'l2', index: 'auto', payloadIndex: ['cat'] });

// Ingest.
const batch = 1000;
let next = 0;
const row = (i) => Array.from(ds.base.subarray(i * d, (i + 1) * d));
const t0 = performance.now();
await Promise.all([0, 1, 2, 3].map(async () => {
  for (;;) {
    const start = next;
    if (start >= n) return;
    next += batch;
    const points = [];
    for (let i = start; i < Math.min(n, start + batch); i++) points.push({ id: i, vector: row(i), payload: { cat: i % 10 } });
    await post('PUT', '/collections/bench/points', { points });
  }
}));
const ingestSeconds = (performance.now() - t0) / 1000;
const rssAfterIngest = rss();
console.log(`ingest: ${n} points in ${ingestSeconds.toFixed(1)} s = ${(n / ingestSeconds).toFixed(0)} points/s (acknowledged after fdatasync)`);

// Wait for the background build: every point on the compressed index except the last memtable.
const t1 = performance.now();
let s;
for (;;) {
  s = await stats();
  const onTrained = s.segments.filter((g) => g.factory === s.trainedFactory).reduce((a, g) => a + g.points, 0);
  if (s.indexState === 'compressed' && onTrained + s.pointsInMemory === s.count && s.segments.length <= 8 && s.trainedFactory.startsWith(n >= 70_000 ? 'IVF' : 'SQ')) break;
  await new Promise((r) => setTimeout(r, 1000));
}
const buildWaitSeconds = (performance.now() - t1) / 1000;
const rssAfterBuild = rss();
console.log(`index: ${s.trainedFactory}, ${s.bytesPerVector} B/vector, ready ${buildWaitSeconds.toFixed(1)} s after the last ack; ${s.segments.length} segments, ${s.pointsInMemory} points in memory; RSS ${(rssAfterBuild / 2 ** 20).toFixed(0)} MiB`);

// Recall@10 (sequential queries) against exact search.
const queries = ds.queries;
const gt = knn(ds.base, queries.subarray(0, nqRecall * d), d, 10);
const recallAt = async (extra) => {
  let hit = 0, ms = 0;
  for (let q = 0; q < nqRecall; q++) {
    const r = await post('POST', '/collections/bench/search', { vector: Array.from(queries.subarray(q * d, (q + 1) * d)), k: 10, withPayload: false, ...extra });
    const want = new Set(Array.from(gt.ids.subarray(q * 10, q * 10 + 10)));
    hit += r.hits.filter((h) => want.has(h.id)).length;
    ms += r.searchMs;
  }
  return { recallAt10: hit / (nqRecall * 10), searchMsMean: ms / nqRecall };
};
const recall = [];
for (const extra of [{}, { nprobe: 8, kFactor: 4 }, { nprobe: 64, kFactor: 32 }]) {
  const r = await recallAt(extra);
  recall.push({ params: Object.keys(extra).length ? extra : 'defaults (nprobe 32, kFactor 16)', ...r });
  console.log(`recall@10 ${JSON.stringify(extra)}: ${r.recallAt10.toFixed(4)}, index search ${r.searchMsMean.toFixed(2)} ms/query inside the server`);
}

// Throughput and latency under load.
const bodies = Array.from({ length: 1000 }, (_, q) => JSON.stringify({ vector: Array.from(queries.subarray(q * d, (q + 1) * d)), k: 10, withPayload: false }));
const load = [];
for (const connections of [1, 8, 32]) {
  let i = 0;
  const res = await autocannon({
    url: `${url}/collections/bench/search`, connections, duration: seconds,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }) }],
  });
  const row = { concurrency: connections, requestsPerSec: res.requests.average, p50ms: res.latency.p50, p99ms: res.latency.p99, non2xx: res.non2xx, errors: res.errors, total: res.requests.total };
  load.push(row);
  console.log(`concurrency ${connections}: ${row.requestsPerSec.toFixed(0)} req/s, p50 ${row.p50ms} ms, p99 ${row.p99ms} ms, non-2xx ${row.non2xx}, errors ${row.errors}`);
}
const rssAfterSearch = rss();
const final = await stats();
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });

const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, platform: `${platform()} ${release()}`, node: process.version, loadavgAtStart: load0, shared: 'shared with other jobs: absolute figures are noisy' },
  config: { n, d, dataset: 'gaussianMixture seed 1', index: 'auto', batch, ingestClients: 4, searchSeconds: seconds, recallQueries: nqRecall },
  ingest: { seconds: ingestSeconds, pointsPerSec: n / ingestSeconds },
  build: { trainedFactory: final.trainedFactory, bytesPerVector: final.bytesPerVector, readySecondsAfterIngest: buildWaitSeconds, segments: final.segments.length },
  recall,
  load,
  memory: { rssAfterIngest, rssAfterBuild, rssAfterSearch, indexMemoryBytes: final.indexMemoryBytes, rawFloat32Bytes: n * d * 4 },
  serverLog: serverLog.filter((l) => /trained|merged/.test(l)).slice(-10).map((l) => JSON.parse(l)),
};
mkdirSync(join(here, '..', 'results'), { recursive: true });
writeFileSync(join(here, '..', 'results', 'service.json'), JSON.stringify(result, null, 2) + '\n');
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const md = `# bench/service — \`zipml serve\` end to end

\`node bench/service/run.mjs${n !== 200_000 ? ` --n ${n}` : ''}${seconds !== 10 ? ` --seconds ${seconds}` : ''}\` on ${result.date.slice(0, 10)}; ${result.machine.cpus} CPUs (${result.machine.model}), Node ${process.version}.
**The machine was shared** with other jobs (load average ${load0.toFixed(2)} at start): figures are noisy, and the load tool runs on the same 2 cores as the server.

${n} × ${d} vectors (gaussianMixture, seed 1), one collection, index \`auto\` → \`${final.trainedFactory}\` (${final.bytesPerVector} bytes/vector vs ${d * 4} as float32), payload \`{cat}\` indexed.

| ingest (4 clients × 1,000-point batches, each acknowledged after fdatasync) | |
|---|---|
| points/s | ${(n / ingestSeconds).toFixed(0)} |
| wall time | ${ingestSeconds.toFixed(1)} s |
| compressed index ready after the last ack | ${buildWaitSeconds.toFixed(1)} s |

| search (k = 10, autocannon, ${seconds} s each) | req/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
${load.map((r) => `| concurrency ${r.concurrency} | ${r.requestsPerSec.toFixed(0)} | ${r.p50ms} | ${r.p99ms} | ${r.non2xx} |`).join('\n')}

| recall@10 vs exact (${nqRecall} queries, one at a time) | recall@10 | search time inside the server, ms/query |
|---|---|---|
${recall.map((r) => `| ${typeof r.params === 'string' ? r.params : JSON.stringify(r.params)} | ${r.recallAt10.toFixed(4)} | ${r.searchMsMean.toFixed(2)} |`).join('\n')}

| resident memory (server process) | |
|---|---|
| after ingest | ${mib(rssAfterIngest)} |
| after the background build | ${mib(rssAfterBuild)} |
| after the search runs | ${mib(rssAfterSearch)} |
| index data in memory | ${mib(final.indexMemoryBytes)} |
| the vectors as float32 | ${mib(n * d * 4)} |
`;
writeFileSync(join(here, '..', 'results', 'service.md'), md);
console.log(md);
