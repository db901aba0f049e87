// The measuring parts of bench/vectors-codecs (run.mjs, spread.mjs): our side and Faiss's side
// of one codec on one dataset, scored by the same functions (zipml's recallAtK against zipml's
// exact k-NN, zipml's mse), and the machine description.
import { writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg, platform, release } from 'node:os';
import { knnAsync, createCodec } from '../../dist/src/vectors/index.js';
import { recallAtK, mse } from '../../dist/src/eval/index.js';
import { kernelPath } from '../../dist/src/kernels/loader.js';
import { loadDataset } from './plan.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const K = 10;

/** The k smallest (or, with `larger`, largest) of out[0..n), ties to the smaller id, nearest first. */
function topK(out, n, k, larger, ids, at) {
  const s = larger ? -1 : 1;
  const val = new Float64Array(k);
  const id = new Int32Array(k).fill(-1);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = s * out[i];
    if (v !== v || (m === k && !(v < val[k - 1]))) continue; // NaN never enters
    let j = m < k ? m++ : k - 1;
    while (j > 0 && val[j - 1] > v) {
      val[j] = val[j - 1];
      id[j] = id[j - 1];
      j--;
    }
    val[j] = v;
    id[j] = i;
  }
  ids.set(id, at);
}

/** Exhaustive search of every query over the codes, by a per-query scanner; nq x K ids. */
function searchCodes(scanner, out, codes, ds, larger) {
  const ids = new Int32Array(ds.nq * K);
  for (let q = 0; q < ds.nq; q++) {
    scanner(ds.queries.subarray(q * ds.d, (q + 1) * ds.d))(codes, ds.nb, out);
    topK(out, ds.nb, K, larger, ids, q * K);
  }
  return ids;
}

export const seconds = (t0) => (performance.now() - t0) / 1000;

/** Our side of one codec: train on one thread, encode the base, decode it, search. */
export function runOurs(entry, ds, truth, trainOptions = entry.trainOptions) {
  const codec = createCodec(entry.name, ds.d);
  const train = ds.base.subarray(0, entry.trainRows * ds.d);
  let t0 = performance.now();
  codec.train(train, trainOptions);
  const trainSeconds = seconds(t0);
  t0 = performance.now();
  const codes = codec.encode(ds.base);
  const encodeSeconds = seconds(t0);
  const recon = codec.decode(codes);
  const r = {
    codeSize: codec.codeSize,
    trainSeconds,
    encodeSeconds,
    mse: mse(ds.base, recon, ds.d).perVector,
    warnings: codec.warnings?.length ? [...new Set(codec.warnings)] : undefined,
  };
  t0 = performance.now();
  const ids = searchCodes((q) => codec.distances(q, ds.searchMetric), new Float32Array(ds.nb), codes, ds, ds.searchMetric !== 'l2');
  r.searchSeconds = seconds(t0);
  r.recall = recallAtK(ids, truth, ds.nq, K);
  if (entry.hamming) {
    t0 = performance.now();
    const hIds = searchCodes((q) => codec.hamming(q), new Uint32Array(ds.nb), codes, ds, false);
    r.hamming = { searchSeconds: seconds(t0), recall: recallAtK(hIds, truth, ds.nq, K) };
  }
  return r;
}

/**
 * Runs a Python peer script on `job` (written to dir/job.json) in a /usr/bin/python3 process of
 * its own, one thread: its first stdout line (JSON), or an error that says how it ended; Faiss's
 * warnings (too few training points per centroid, ...) come on stderr and are returned apart.
 */
export function runPythonJob(script, dir, job) {
  writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
  const p = spawnSync('/usr/bin/python3', [script, join(dir, 'job.json')], {
    encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
  const stderr = p.stderr.split('\n').filter(Boolean);
  const warnings = [...new Set(stderr.filter((l) => l.startsWith('WARNING')))];
  const line = p.stdout.split('\n').find(Boolean);
  if (p.status !== 0 || !line) {
    const said = stderr.filter((l) => !l.startsWith('WARNING')).slice(-3).join(' | ') || 'no message';
    const name = script.split('/').pop();
    return { error: `${name} ${p.signal ? `killed by ${p.signal}` : `exited with ${p.status}`} (${said})`, warnings };
  }
  return { line, warnings };
}

/**
 * Faiss's side of one codec, in a python process of its own (a crash in Faiss's C++ then costs
 * only that codec): the result, with recall and MSE scored here as for ours.
 */
export function runFaiss(entry, ds, dir, truth) {
  const job = {
    dir, d: ds.d, nb: ds.nb, nq: ds.nq, k: K, metric: ds.searchMetric,
    codecs: [{ key: entry.key, ...entry.faiss, train: trainFile(dir, ds, entry.trainRows), ntrain: entry.trainRows }],
  };
  const { line, error, warnings } = runPythonJob(join(here, 'faiss_codecs.py'), dir, job);
  if (error) return { result: { error }, warnings };
  const r = JSON.parse(line);
  if (!r.error) {
    r.recall = recallAtK(new Int32Array(readAligned(join(dir, `${r.key}.ids.i32`))), truth, ds.nq, K);
    if (r.decodes) {
      r.mse = mse(ds.base, new Float32Array(readAligned(join(dir, `${r.key}.recon.f32`))), ds.d).perVector;
      rmSync(join(dir, `${r.key}.recon.f32`));
    }
  }
  return { result: r, warnings };
}

/** A file's bytes in an ArrayBuffer of their own (readFileSync may return a view of a shared pool). */
function readAligned(path) {
  return new Uint8Array(readFileSync(path)).buffer;
}

/** The raw f32 file of the first `rows` base rows (the base itself when all), written once. */
function trainFile(dir, ds, rows) {
  const name = rows === ds.nb ? 'base.f32' : `train${rows}.f32`;
  if (!existsSync(join(dir, name))) writeF32(join(dir, name), ds.base.subarray(0, rows * ds.d));
  return name;
}

function writeF32(path, x) {
  writeFileSync(path, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
}

export function attempt(fn) {
  try {
    return fn();
  } catch (e) {
    console.error(e);
    return { error: `${e.name}: ${e.message}` };
  }
}

export function machine() {
  const git = (...a) => execFileSync('git', a, { cwd: root, encoding: 'utf8' });
  const py = (code) => execFileSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  return {
    cpu: cpus()[0]?.model, cores: cpus().length, loadAverageAtStart: loadavg()[0], platform: `${platform()} ${release()}`,
    node: process.version, zipmlKernels: kernelPath(),
    faiss: py('import faiss; print(faiss.__version__)'), numpy: py('import numpy; print(numpy.__version__)'),
    python: py('import sys; print(sys.version.split()[0])'),
    commit: git('rev-parse', '--short', 'HEAD').trim(),
    uncommittedCodecFiles: git('status', '--porcelain', '--', 'src/vectors/codecs', 'src/kernels/assembly').split('\n').filter(Boolean),
  };
}

/**
 * Loads a dataset, computes its exact top-K ground truth, and writes base.f32 and queries.f32
 * into `dir` for Faiss.
 */
export async function prepareDataset(name, dir, opts) {
  const ds = await loadDataset(name, opts);
  const truth = (await knnAsync(ds.base, ds.queries, ds.d, K, ds.searchMetric)).ids;
  writeF32(join(dir, 'base.f32'), ds.base);
  writeF32(join(dir, 'queries.f32'), ds.queries);
  return { ds, truth };
}
