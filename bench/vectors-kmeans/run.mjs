// bench/vectors-kmeans: k-means on a fixed-seed Gaussian mixture (gen.mjs; 200,000 x 128, 1,000
// components, seed 42), k = 1024, niter = 25, one thread, zipml against Faiss (Debian
// python3-faiss through /usr/bin/python3, faiss.Kmeans with the same niter, seed and
// max_points_per_centroid). Prints both times, their ratio and both objectives as MSE per point,
// and writes bench/results/vectors-kmeans.{json,md}.
//
//   npm run build && node bench/vectors-kmeans/run.mjs           # the configuration
//   node bench/vectors-kmeans/run.mjs --quick                    # 50,000 x 128, k = 256, 10 iterations
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { tmpdir, cpus, loadavg, platform, release } from 'node:os';
import { kmeansBenchData, DEFAULTS } from './gen.mjs';
import { kmeans } from '../../dist/src/vectors/kmeans.js';
import { kernelPath } from '../../dist/src/kernels/loader.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
// `dataSeed` makes the set (gen.mjs), `seed` is k-means' own (Faiss's default, 1234).
const data = quick ? { ...DEFAULTS, n: 50_000 } : DEFAULTS;
const cfg = { n: data.n, d: data.d, components: data.components, dataSeed: data.seed, k: quick ? 256 : 1024, niter: quick ? 10 : 25, seed: 1234, maxPointsPerCentroid: 256 };
const { n, d, k, niter, seed, maxPointsPerCentroid } = cfg;

console.log(`generating ${n} x ${d} (${cfg.components} components, seed ${cfg.dataSeed}) ...`);
const x = kmeansBenchData(data);
const file = join(tmpdir(), `zipml-kmeans-${process.pid}.f32`);
writeFileSync(file, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
const load = loadavg()[0];

let faiss;
try {
  console.log('faiss ...');
  const out = execFileSync(
    '/usr/bin/python3',
    [join(here, 'faiss_kmeans.py'), file, n, d, k, niter, seed, maxPointsPerCentroid].map(String),
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  faiss = JSON.parse(out.trim().split('\n').at(-1));
} finally {
  rmSync(file, { force: true });
}

// zipml twice: the default (pruned assignment, bit-identical result) and plain Lloyd (prune:
// false), which computes every distance as Faiss does.
function runZipml(prune) {
  console.log(`zipml (${kernelPath()}, prune: ${prune}) ...`);
  const t0 = performance.now();
  const r = kmeans(x, d, k, { niter, seed, maxPointsPerCentroid, prune });
  return { r, seconds: (performance.now() - t0) / 1000 };
}
const pruned = runZipml(true);
const plain = runZipml(false);
const identical = pruned.r.objective === plain.r.objective &&
  pruned.r.centroids.every((v, i) => Object.is(v, plain.r.centroids[i])) &&
  pruned.r.assign.every((v, i) => v === plain.r.assign[i]);

const nTrain = Math.min(n, k * maxPointsPerCentroid);
const zipmlFigures = ({ r, seconds }) => ({
  seconds,
  lastIterationMse: r.stats.at(-1).objective / nTrain,
  finalMse: r.objective / n,
});
const result = {
  config: { ...cfg, trainingPoints: nTrain, threads: 1 },
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAverageAtStart: load, platform: `${platform()} ${release()}`, node: process.version },
  zipml: { kernelPath: kernelPath(), pruned: zipmlFigures(pruned), plain: zipmlFigures(plain), prunedEqualsPlain: identical },
  faiss: {
    version: faiss.version,
    trainSeconds: faiss.trainSeconds,
    trainAndAssignSeconds: faiss.trainSeconds + faiss.assignSeconds,
    lastIterationMse: faiss.objectives.at(-1) / nTrain,
    finalMse: faiss.finalObjective / n,
  },
};
result.ratio = pruned.seconds / faiss.trainSeconds;
result.ratioPlain = plain.seconds / faiss.trainSeconds;
result.ratioPlainVsTrainAndAssign = plain.seconds / result.faiss.trainAndAssignSeconds;

const f = (v, p = 2) => v.toFixed(p);
const md = [
  `# k-means: zipml vs Faiss, one thread`,
  '',
  `${n.toLocaleString('en-US')} x ${d} Gaussian mixture (bench/vectors-kmeans/gen.mjs: zipml's gaussianMixture with ${cfg.components} components, seed ${cfg.dataSeed}), ` +
    `k = ${k}, niter = ${niter}, seed = ${seed}, max points per centroid = ${maxPointsPerCentroid} (${nTrain.toLocaleString('en-US')} training points). ` +
    `${result.machine.cpu}, ${result.machine.cores} cores shared with other jobs (load ${f(load)} at start), Node ${process.version}, Faiss ${faiss.version}.`,
  '',
  '| | time (s) | MSE/point, last iteration | MSE/point, final centroids |',
  '|---|---:|---:|---:|',
  `| zipml kmeans(), default (pruned assignment) | ${f(pruned.seconds)} | ${f(result.zipml.pruned.lastIterationMse, 4)} | ${f(result.zipml.pruned.finalMse, 4)} |`,
  `| zipml kmeans({ prune: false }) (every distance, as Faiss) | ${f(plain.seconds)} | ${f(result.zipml.plain.lastIterationMse, 4)} | ${f(result.zipml.plain.finalMse, 4)} |`,
  `| Faiss Kmeans.train | ${f(faiss.trainSeconds)} | ${f(result.faiss.lastIterationMse, 4)} | |`,
  `| Faiss Kmeans.train + index.search (all points) | ${f(result.faiss.trainAndAssignSeconds)} | | ${f(result.faiss.finalMse, 4)} |`,
  '',
  `zipml / Faiss time: **${f(result.ratio)}x** with the default; ${f(result.ratioPlain)}x for plain Lloyd ` +
    `(${f(result.ratioPlainVsTrainAndAssign)}x against Faiss train + assign, since zipml's time includes assigning all points ` +
    `to the final centroids). Target: within 2x. Pruned and plain results ${identical ? 'are bit-identical' : 'DIFFER'}. ` +
    `zipml kernels: ${kernelPath()}.`,
  '',
  `Command: \`npm run build && node bench/vectors-kmeans/run.mjs${quick ? ' --quick' : ''}\``,
  '',
].join('\n');

console.log('\n' + md);
if (!quick) {
  const out = join(here, '..', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'vectors-kmeans.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(out, 'vectors-kmeans.md'), md);
  console.log(`wrote ${join(out, 'vectors-kmeans.{json,md}')}`);
}
