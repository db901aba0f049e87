// bench/vectors: zipml's indexes beside Faiss (Debian python3-faiss via /usr/bin/python3, the same
// factory strings), hnswlib-node and usearch (f16), in one run on the same data. Per dataset and
// library: the recall@10 / QPS sweep one query at a time and in batch on one thread, bytes per
// vector and build time; then the frontier (best QPS at recall >= 0.90 and >= 0.95), zipml's
// ratios against each peer, the issue's targets, and one end-to-end run of the CLI. Writes
// bench/results/vectors.{json,md} after a full run. docs/bench-vectors.md reads the results.
//
//   npm run bench:vectors                                  # build + all five datasets
//   node bench/vectors/run.mjs --quick                     # nmslib8 and the synthetic set at 20,000 x 128
//   node bench/vectors/run.mjs --datasets mnist,synthetic  # some of: mnist nmslib8 cohere768 bge-m3 synthetic synthetic1m
//   node bench/vectors/run.mjs --only faiss,hnswlib        # some of the libraries: zipml faiss hnswlib usearch lancedb
import { writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { closeDefaultPool } from '../../dist/src/core/workers/pool.js';
import { root, seconds, machine, prepareDataset } from '../vectors-codecs/lib.mjs';
import { DATASETS, EXTRA_DATASETS, QUICK_DATASETS, TARGET_DATASETS, indexPlan, nlistOf } from './plan.mjs';
import { runFaissIndex, writeTruth } from './faiss.mjs';
import { runHnswlib, runUsearch } from './peers.mjs';
import { runLance, lanceAvailable } from './lance.mjs';
import { zipmlAvailable, runZipml, threadScaling, cliCheck } from './zipml.mjs';
import { frontier, targets, datasetMarkdown, summaryMarkdown, bestAt, knobParams, LEVELS } from './report.mjs';

const LIBRARIES = ['zipml', 'faiss', 'hnswlib', 'usearch', 'lancedb'];
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const arg = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]?.split(',') : undefined;
};
const names = arg('--datasets') ?? (quick ? QUICK_DATASETS : DATASETS);
// LanceDB is opt-in (--only ...,lancedb): one query at a time through its async API at ~200-1,000
// QPS, its sweep adds about 5 minutes to MNIST alone (bench/results/vectors-lancedb.md).
const only = arg('--only') ?? LIBRARIES.filter((l) => l !== 'lancedb');
const bad = [...names.filter((n) => !DATASETS.includes(n) && !EXTRA_DATASETS.includes(n)), ...only.filter((l) => !LIBRARIES.includes(l))];
if (!names.length || !only.length || bad.length) {
  console.error(`--datasets: some of ${[...DATASETS, ...EXTRA_DATASETS].join(', ')}; --only: some of ${LIBRARIES.join(', ')} (unknown: ${bad.join(', ') || 'none given'})`);
  process.exit(2);
}
const fullRun = argv.length === 0;
const useZipml = only.includes('zipml') && zipmlAvailable;

const started = performance.now();
const result = {
  command: `node bench/vectors/run.mjs${argv.length ? ' ' + argv.join(' ') : ''}`,
  config: { k: 10, threads: 1, quick, datasets: names, libraries: only, levels: LEVELS },
  machine: machine(),
  zipml: useZipml,
  zipmlNote: useZipml ? undefined : zipmlAvailable ? 'left out (--only)' : 'not measured: the index API (indexFactory) is not in this build',
  datasets: [],
};
delete result.machine.uncommittedCodecFiles;
const dir = mkdtempSync(join(tmpdir(), 'zipml-vectors-'));

function say(r) {
  if (!r || r.error) return console.log(`FAILED: ${r?.error}`);
  const best = LEVELS.map((l) => bestAt([r], l, 'loop')).map((b, i) => `@${LEVELS[i]} ${b ? `${Math.round(b.qps)} QPS (${b.knobs})` : '—'}`);
  const maxRecall = Math.max(...r.points.map((p) => p.recall));
  console.log(`build ${r.buildSeconds.toFixed(2)} s, ${Math.round(r.bytesPerVector)} B/vector, max recall ${maxRecall.toFixed(4)}, ${r.points.length} points, loop ${best.join(', ')}`);
}

/** bench/results/vectors.{json,md}, rewritten after each dataset of a full run (`complete` at the end). */
function writeResults(complete) {
  result.seconds = seconds(started);
  result.complete = complete;
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'vectors.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(out, 'vectors.md'), summaryMarkdown(result));
}

async function step(label, fn) {
  process.stdout.write(`${label} ... `);
  let r;
  try {
    r = await fn();
  } catch (e) {
    console.error(e);
    r = { error: `${e.name}: ${e.message}` };
  }
  say(r);
  return r;
}

try {
  for (const name of names) {
    const t0 = performance.now();
    const { ds, truth } = await prepareDataset(name, dir, { quick });
    writeTruth(dir, truth);
    const nlist = nlistOf(ds.nb);
    console.log(`\n== ${name}: ${ds.nb} x ${ds.d} base, ${ds.nq} queries, ${ds.searchMetric}, nlist ${nlist} ==`);
    const plan = indexPlan(ds);
    const runs = [];
    const keep = new Map(); // zipml indexes, until the thread check has picked one
    if (only.includes('faiss')) {
      for (const entry of plan.filter((e) => e.faiss)) {
        runs.push({ library: 'faiss', config: entry.factory, family: entry.family, ...(await step(`faiss ${entry.factory}`, () => runFaissIndex(entry, ds, dir, truth))) });
      }
    }
    if (only.includes('hnswlib')) runs.push({ library: 'hnswlib-node', ...(await step('hnswlib-node', () => runHnswlib(ds, truth, dir))) });
    if (only.includes('usearch')) runs.push({ library: 'usearch', ...(await step('usearch f16', () => runUsearch(ds, truth, dir))) });
    if (only.includes('lancedb')) {
      if (lanceAvailable) runs.push({ library: 'lancedb', ...(await step('lancedb IVF_PQ', () => runLance(name, ds, truth, dir, nlist))) });
      else console.log('lancedb: not installed in bench/node_modules (npm install in bench/), skipped');
    }
    if (useZipml) {
      for (const entry of plan) {
        const r = await step(`zipml ${entry.factory}`, () => runZipml(entry, ds, truth));
        if (r.index) keep.set(entry.factory, r.index);
        delete r.index;
        runs.push({ library: 'zipml', config: entry.factory, family: entry.family, ...r });
      }
    }
    const front = frontier(runs);
    let threads, cli;
    if (useZipml) {
      // Thread scaling at zipml's best one-query-at-a-time point at recall >= 0.95 (else 0.90).
      const pick = front.zipml?.['loop@0.95'] ?? front.zipml?.['loop@0.9'];
      if (pick) {
        const params = knobParams(pick.point);
        try {
          threads = { config: pick.config, knobs: pick.knobs, ...(await threadScaling(keep.get(pick.config), ds, params)) };
        } catch (e) {
          console.error(e);
        }
        if (name === names[0] || name === 'mnist') cli = cliCheck(ds, dir, truth, pick.config, params);
      }
    }
    keep.clear();
    const flat = runs.find((r) => r.library === 'faiss' && r.config === 'Flat' && !r.error);
    const dsResult = {
      name, description: ds.description, d: ds.d, nb: ds.nb, nq: ds.nq, metric: ds.metric, searchMetric: ds.searchMetric, nlist,
      runs, frontier: front, threads, cli, groundTruthCheck: flat?.points[0]?.recall, seconds: seconds(t0),
    };
    dsResult.targets = TARGET_DATASETS.includes(name) ? targets(runs, front, threads) : undefined;
    result.datasets.push(dsResult);
    console.log('\n' + datasetMarkdown(dsResult));
    if (fullRun) writeResults(false);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await closeDefaultPool();
}
if (fullRun) {
  writeResults(true);
  console.log(`\nwrote bench/results/vectors.{json,md} (${Math.round(result.seconds)} s)`);
} else {
  result.seconds = seconds(started);
  console.log(`\n(partial run, ${Math.round(result.seconds)} s: bench/results not written; the full run without flags writes them)`);
}
