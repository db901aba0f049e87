// bench/vectors-codecs: zipml's vector codecs against Faiss (Debian python3-faiss through
// /usr/bin/python3, faiss_codecs.py) with the same parameters on the same data, in one run. Per
// dataset and codec: bytes per vector, reconstruction MSE, recall@10 of an exhaustive search over
// the codes (each side's compressed-domain distances, never decode-then-search), and training,
// encoding and search times, all on one thread. Ground truth: zipml's exact k-NN. Prints a table
// per dataset with the deltas against issue 3's targets, and (full run only) writes
// bench/results/vectors-codecs.{json,md}. docs/bench-vectors-codecs.md reads the results.
//
//   npm run build && node bench/vectors-codecs/run.mjs            # all five datasets
//   node bench/vectors-codecs/run.mjs --quick                     # nmslib8 and the synthetic set at 20,000 x 128
//   node bench/vectors-codecs/run.mjs --datasets mnist,bge-m3     # some of: mnist nmslib8 cohere768 bge-m3 synthetic
import { writeFileSync, readdirSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { closeDefaultPool } from '../../dist/src/core/workers/pool.js';
import { DATASETS, QUICK_DATASETS, QUICK_SYNTHETIC_N, OPQ_NITER_HIGH_D, codecPlan } from './plan.mjs';
import { root, K, seconds, runOurs, runFaiss, attempt, machine, prepareDataset } from './lib.mjs';
import { datasetMarkdown, summaryMarkdown, targetOf, rabitqVerdict } from './report.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const dsArg = argv.indexOf('--datasets');
const names = dsArg >= 0 ? argv[dsArg + 1]?.split(',').map((s) => (s === 'gmm' ? 'synthetic' : s)) : quick ? QUICK_DATASETS : DATASETS;
const unknown = (names ?? []).filter((n) => !DATASETS.includes(n));
if (!names?.length || unknown.length) {
  console.error(`--datasets takes a comma-separated list of: ${DATASETS.join(', ')} (unknown: ${unknown.join(', ') || 'none given'})`);
  process.exit(2);
}
const fullRun = !quick && dsArg < 0;

const started = performance.now();
const result = {
  command: `node bench/vectors-codecs/run.mjs${argv.length ? ' ' + argv.join(' ') : ''}`,
  config: { k: K, threads: 1, quick, datasets: names, opqNiterHighD: OPQ_NITER_HIGH_D, quickSyntheticN: quick ? QUICK_SYNTHETIC_N : undefined },
  machine: machine(),
  datasets: [],
};
const dir = mkdtempSync(join(tmpdir(), 'zipml-codecs-'));
try {
  for (const name of names) {
    const t0 = performance.now();
    const { ds, truth } = await prepareDataset(name, dir, { quick });
    console.log(`\n== ${name}: ${ds.nb} x ${ds.d} base, ${ds.nq} queries, ${ds.searchMetric} ==`);
    const plan = codecPlan(ds, { quick });
    const rows = [];
    const faissWarnings = new Set();
    const say = (r) => console.log(r.error ? `FAILED: ${r.error}` : `R@10 ${r.recall.toFixed(4)}, train ${r.trainSeconds.toFixed(2)} s`);
    for (const entry of plan) {
      let ours, faiss;
      if (entry.faiss) {
        process.stdout.write(`faiss ${entry.faiss.factory ?? entry.label} ... `);
        const f = runFaiss(entry, ds, dir, truth);
        faiss = f.result;
        f.warnings.forEach((w) => faissWarnings.add(w));
        say(faiss);
      }
      if (entry.name) {
        process.stdout.write(`zipml ${entry.name} ... `);
        ours = attempt(() => runOurs(entry, ds, truth));
        say(ours);
      }
      rows.push({ entry, ours, faiss, target: targetOf(entry, ours, faiss) });
    }
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
    const dsResult = {
      name, description: ds.description, d: ds.d, nb: ds.nb, nq: ds.nq, metric: ds.metric, searchMetric: ds.searchMetric,
      faissWarnings: [...faissWarnings], rows, rabitq: rabitqVerdict(rows), seconds: seconds(t0),
    };
    result.datasets.push(dsResult);
    console.log('\n' + datasetMarkdown(dsResult));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await closeDefaultPool();
}
result.seconds = seconds(started);

const md = summaryMarkdown(result);
console.log('\n' + md.split('\n## ')[0]);
if (fullRun) {
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'vectors-codecs.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(out, 'vectors-codecs.md'), md);
  console.log(`wrote ${join(out, 'vectors-codecs.{json,md}')}`);
} else {
  console.log('(partial run: bench/results not written; the full run without flags writes them)');
}
