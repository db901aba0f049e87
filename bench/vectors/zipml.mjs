// zipml's side of bench/vectors: each factory string built with the library API (indexFactory,
// train, add) in this process, on the same arrays the peers get, then swept with the same knobs.
// Batch search runs on the calling thread (index.search over all queries) and, for the thread
// scaling check, on the worker pool (index.searchAsync with threads 1 and 2).
import { writeFileSync, rmSync } from 'node:fs';
import { join, basename } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as vectors from '../../dist/src/vectors/index.js';
import { K, root } from '../vectors-codecs/lib.mjs';
import { factorySweep, walk, cpuSince } from './sweep.mjs';
import { measurePoint, queryRows } from './measure.mjs';

export const TRAIN_SEED = 1234;

/** Whether the index API is in this build (it lands on main during the issue). */
export const zipmlAvailable = typeof vectors.indexFactory === 'function';

export async function runZipml(entry, ds, truth) {
  const index = vectors.indexFactory(ds.d, entry.factory, { metric: ds.searchMetric });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  index.train(ds.base.subarray(0, entry.trainRows * ds.d), { seed: TRAIN_SEED });
  const t1 = performance.now();
  index.add(ds.base);
  const t2 = performance.now();
  const buildCpuSeconds = cpuSince(c0);
  const serializedBytes = vectors.saveIndex(index).length;
  const queries = queryRows(ds);
  const points = await walk(factorySweep(entry.factory), (p) =>
    measurePoint(ds, truth, {
      one(q, ids) {
        const r = index.search(queries[q], K, p);
        for (let j = 0; j < K; j++) ids[q * K + j] = r.ids[j];
      },
      batch: (n) => index.search(ds.queries.subarray(0, n * ds.d), K, p).ids,
    }),
  );
  return {
    library: 'zipml', config: entry.factory, family: entry.family, index,
    buildSeconds: (t2 - t0) / 1000, buildCpuSeconds, trainSeconds: (t1 - t0) / 1000, addSeconds: (t2 - t1) / 1000,
    serializedBytes, bytesPerVector: serializedBytes / ds.nb, bytesNote: 'saveIndex(index).length / n',
    ownBytesPerVector: index.bytesPerVector, memoryBytes: index.memoryBytes, points,
  };
}

/**
 * Batch search over the worker pool with 1 thread (searchAsync runs it on the calling thread) and
 * 2 worker threads at one sweep point: the "two worker threads >= 1.7x one thread".
 * Two schedules, best of ROUNDS calls each:
 * - blocks (the verdict): each mode gets a warm-up call, then ROUNDS calls in a row, as a
 *   program that batch-searches keeps doing, and as every sweep point of this benchmark is timed;
 * - alternating: after a warm-up of each, the two modes take turns. Each 1-thread call then runs
 *   between two 2-thread calls on the calling thread's own resident copy of the codes, which
 *   pushes the workers' copies out of the cores' caches; on MNIST this costs the 2-thread calls
 *   ~15% (docs/bench-vectors.md). Printed beside the verdict.
 */
const ROUNDS = 5;

export async function threadScaling(index, ds, params) {
  const search = async (threads) => {
    const t0 = performance.now();
    await index.searchAsync(ds.queries, K, { ...params, threads });
    return (performance.now() - t0) / 1000;
  };
  const blocks = { 1: Infinity, 2: Infinity };
  for (const threads of [1, 2]) {
    await search(threads);
    for (let r = 0; r < ROUNDS; r++) blocks[threads] = Math.min(blocks[threads], await search(threads));
  }
  const alt = { 1: Infinity, 2: Infinity };
  for (let r = 0; r < ROUNDS; r++) for (const threads of [1, 2]) alt[threads] = Math.min(alt[threads], await search(threads));
  const out = { rounds: ROUNDS, schedule: 'blocks' };
  for (const t of [1, 2]) out[`threads${t}`] = { seconds: blocks[t], qps: ds.nq / blocks[t] };
  out.speedup = out.threads2.qps / out.threads1.qps;
  out.alternating = { threads1: { qps: ds.nq / alt[1] }, threads2: { qps: ds.nq / alt[2] }, speedup: alt[1] / alt[2] };
  return out;
}

/**
 * One end-to-end run of the CLI on this dataset (`zipml vectors build`, then `zipml vectors
 * search` with --gt): base, queries and ground truth as .fvecs / .ivecs files in `dir`. Returns the
 * commands, their wall times and what search printed.
 */
export function cliCheck(ds, dir, truth, factory, params) {
  const file = (name, bytes) => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  const base = file('cli-base.fvecs', vectors.encodeFvecs(ds.base, ds.d));
  const queries = file('cli-queries.fvecs', vectors.encodeFvecs(ds.queries, ds.d));
  const gt = file('cli-gt.ivecs', vectors.encodeIvecs(truth, K));
  const out = join(dir, 'cli.zml');
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const run = (args) => {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const shown = args.map((a) => (a.startsWith(dir) ? basename(a) : a));
    return { command: `zipml ${shown.join(' ')}`, status: p.status, seconds: (performance.now() - t0) / 1000, stdout: p.stdout.trim(), stderr: p.stderr.trim().split('\n').slice(-3).join('\n') };
  };
  const metric = ds.searchMetric;
  const build = run(['vectors', 'build', '--index', factory, '--metric', metric, '--base', base, '-o', out]);
  const knobs = [];
  if (params.nprobe) knobs.push('--nprobe', String(params.nprobe));
  if (params.kFactor) knobs.push('--k-factor', String(params.kFactor));
  const search = build.status === 0 ? run(['vectors', 'search', out, '--queries', queries, '-k', String(K), ...knobs, '--gt', gt]) : undefined;
  for (const f of [base, queries, gt, out]) rmSync(f, { force: true });
  return { dataset: ds.name, factory, build, search };
}
