// bench/vectors-codecs/spread.mjs: how much recall@10 and MSE move with the training seed alone,
// on each side, for the codecs whose training is random beyond Faiss's k-means RNG (OPQ's initial
// rotation and SVDs, RQ's PCA steps). It tells whether a gap between zipml and Faiss in run.mjs's
// tables is larger than what another seed of the same implementation gives. Faiss's seed is its
// k-means seed (cp.seed of the PQ, of OPQ's inner PQ, of the RQ); OPQMatrix's initial rotation has a
// fixed seed in Faiss 1.7.3. zipml's seed drives every random choice of the codec. Writes
// bench/results/vectors-codecs.spread.{json,md}.
//
//   node bench/vectors-codecs/spread.mjs [--runs nmslib8:OPQ,nmslib8:RQ,cohere768:OPQ,bge-m3:RQ] [--seeds 1,2,3,4,5]
//   node bench/vectors-codecs/spread.mjs --quick --runs synthetic:RQ   # the synthetic set at 20,000 rows
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { closeDefaultPool } from '../../dist/src/core/workers/pool.js';
import { codecPlan } from './plan.mjs';
import { root, runOurs, runFaiss, attempt, machine, prepareDataset, seconds } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1].split(',') : def;
};
const quick = argv.includes('--quick');
// dataset:codec pairs (codec keys of plan.mjs: OPQ, RQ, PQx8, ...).
const runs = arg('--runs', ['nmslib8:OPQ', 'nmslib8:RQ', 'cohere768:OPQ', 'bge-m3:RQ']).map((r) => r.split(':'));
const seeds = arg('--seeds', ['1', '2', '3', '4', '5']).map(Number);

const started = performance.now();
const out = { command: `node bench/vectors-codecs/spread.mjs ${argv.join(' ')}`.trim(), machine: machine(), datasets: [] };
const dir = mkdtempSync(join(tmpdir(), 'zipml-spread-'));
try {
  for (const name of [...new Set(runs.map(([n]) => n))]) {
    const { ds, truth } = await prepareDataset(name, dir, { quick });
    const keys = runs.filter(([n]) => n === name).map(([, k]) => k);
    // The whole plan, also with --quick (which only shrinks the synthetic set here).
    for (const entry of codecPlan(ds).filter((e) => keys.includes(e.key))) {
      const row = { dataset: name, key: entry.key, name: entry.name, trainRows: entry.trainRows, trainOptions: entry.trainOptions, ours: [], faiss: [] };
      for (const seed of seeds) {
        console.log(`${name} ${entry.name} seed ${seed} ...`);
        const f = runFaiss({ ...entry, faiss: { ...entry.faiss, seed } }, ds, dir, truth).result;
        const o = attempt(() => runOurs(entry, ds, truth, { ...entry.trainOptions, seed }));
        row.faiss.push({ seed, recall: f.recall, mse: f.mse, error: f.error });
        row.ours.push({ seed, recall: o.recall, mse: o.mse, error: o.error });
      }
      out.datasets.push(row);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await closeDefaultPool();
}
out.seconds = seconds(started);

const stats = (runs, f) => {
  const v = runs.filter((r) => !r.error).map(f);
  if (!v.length) return { text: '—' };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { min: Math.min(...v), max: Math.max(...v), mean };
};
const range = (s, p) => (s.text ?? `${s.min.toPrecision(p)} – ${s.max.toPrecision(p)} (mean ${s.mean.toPrecision(p)})`);
const lines = [
  '# Vector codecs: seed spread of zipml and Faiss',
  '',
  `Seeds ${seeds.join(', ')}; ${out.machine.cpu}, Node ${out.machine.node}, Faiss ${out.machine.faiss}. Command: \`${out.command}\`. ` +
    `Settings as in run.mjs (training rows, OPQ iterations).`,
  '',
  '| dataset | codec | R@10 zipml | R@10 Faiss | MSE zipml | MSE Faiss |',
  '|---|---|---|---|---|---|',
];
for (const r of out.datasets) {
  r.stats = {
    oursRecall: stats(r.ours, (x) => x.recall), faissRecall: stats(r.faiss, (x) => x.recall),
    oursMse: stats(r.ours, (x) => x.mse), faissMse: stats(r.faiss, (x) => x.mse),
  };
  lines.push(`| ${r.dataset} | ${r.name} | ${range(r.stats.oursRecall, 4)} | ${range(r.stats.faissRecall, 4)} | ${range(r.stats.oursMse, 4)} | ${range(r.stats.faissMse, 4)} |`);
}
const md = lines.join('\n') + '\n';
console.log('\n' + md);
writeFileSync(join(root, 'bench', 'results', 'vectors-codecs.spread.json'), JSON.stringify(out, null, 2) + '\n');
writeFileSync(join(root, 'bench', 'results', 'vectors-codecs.spread.md'), md);
