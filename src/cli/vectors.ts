/**
 * `zipml vectors build` and `zipml vectors search`: build an index from a vector file with a
 * Faiss factory string, and search it — the commands the vectors benchmark and users share.
 */
import type { Command } from 'commander';
import { basename } from 'node:path';
import { ZipmlError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { closeDefaultPool } from '../core/workers/pool.js';
import { kernelPath } from '../kernels/loader.js';
import type { Metric } from '../vectors/types.js';
import { readVectorFile, writeVectorFile, type VectorFileFormat } from '../vectors/io/files.js';
import { toFloat32 } from '../vectors/io/common.js';
import { indexFactory, type SearchResult } from '../vectors/index/vector-index.js';
import { saveIndex, loadIndex } from '../vectors/index/file.js';
import { choiceArg, intArg, numArg, readInput, mb } from './args.js';
import { progressBar } from './progress.js';

const FORMATS = ['fvecs', 'bvecs', 'ivecs', 'npy', 'idx', 'text', 'raw-f32'] as const;

async function readVectors(path: string, format: VectorFileFormat | undefined, d?: number): Promise<{ x: Float32Array; n: number; d: number }> {
  const v = await readVectorFile(path, { format, d });
  return { x: toFloat32(v), n: v.n, d: v.d };
}

/** recall@k: the fraction of each query's true k nearest (first k columns of gt) found in its k results. */
function recallAt(res: SearchResult, gt: Float32Array, gtD: number, k: number): number {
  let hit = 0;
  for (let i = 0; i < res.nq; i++) {
    const want = new Set<number>();
    for (let j = 0; j < Math.min(k, gtD); j++) want.add(gt[i * gtD + j]!);
    for (let j = 0; j < k; j++) if (want.has(res.ids[i * k + j]!)) hit++;
  }
  return hit / (res.nq * Math.min(k, gtD));
}

export function registerVectorCommands(program: Command): void {
  const vectors = program.command('vectors').description('build and search compressed vector indexes');

  vectors
    .command('build')
    .description('train an index given by a Faiss factory string, add the base vectors, save it')
    .requiredOption('--index <factory>', 'factory string, e.g. "IVF256,PQ32x4fs,RFlat", "IVF1024,SQ8", "Flat"')
    .requiredOption('--base <file>', 'vectors to add (.fvecs .bvecs .npy .idx[.gz] .tsv/.txt)')
    .requiredOption('-o, --output <file>', 'index file to write')
    .option('--metric <metric>', 'l2 | ip | cos', choiceArg(['l2', 'ip', 'cos'] as const), 'l2')
    .option('--train <file>', 'training vectors (default: the base vectors)')
    .option('--format <format>', `input format when the name does not tell (${FORMATS.join(', ')})`, choiceArg(FORMATS))
    .option('--dim <d>', 'dimension, for raw f32 input', intArg(1, 1 << 16))
    .option('--seed <n>', 'seed of every random choice in training', intArg(0, 2 ** 31 - 1), 1234)
    .option('--threads <n>', 'worker threads for the coarse k-means (default: all cores)', intArg(1, 64))
    .option('-f, --force', 'replace an existing output file')
    .action(async (o: { index: string; base: string; output: string; metric: Metric; train?: string; format?: VectorFileFormat; dim?: number; seed: number; threads?: number; force?: boolean }) => {
      const base = await readVectors(o.base, o.format, o.dim);
      const train = o.train ? await readVectors(o.train, o.format, o.dim) : base;
      if (train.d !== base.d) throw new ZipmlError('E_ARG', `training vectors have d = ${train.d}, base vectors d = ${base.d}`);
      const index = indexFactory(base.d, o.index, { metric: o.metric });
      const t0 = performance.now();
      const tb = progressBar(`train ${o.index}`, 4, 'steps');
      await index.trainAsync(train.x, { seed: o.seed, onProgress: tb.update, threads: o.threads });
      tb.stop();
      const t1 = performance.now();
      const ab = progressBar(`add ${basename(o.base)}`, base.n, 'vectors');
      index.add(base.x, undefined, { onProgress: ab.update });
      ab.stop();
      const t2 = performance.now();
      await closeDefaultPool();
      const bytes = saveIndex(index);
      await writeFileAtomic(o.output, bytes, { overwrite: o.force });
      console.log(`${o.index} (${o.metric}), ${base.n} x ${base.d}: trained on ${train.n} in ${((t1 - t0) / 1000).toFixed(2)} s, added in ${((t2 - t1) / 1000).toFixed(2)} s; `
        + `${index.bytesPerVector} bytes per vector in the index, file ${mb(bytes.length)} MB; kernels ${kernelPath()}; wrote ${o.output}`);
    });

  vectors
    .command('search')
    .description('search an index with a query file; prints queries per second and, with --gt, recall@k')
    .argument('<index>', 'index file written by `zipml vectors build`')
    .requiredOption('--queries <file>', 'query vectors')
    .option('-k <k>', 'neighbours per query', intArg(1, 1 << 16), 10)
    .option('--nprobe <n>', 'inverted lists visited per query', intArg(1, 1 << 20), 1)
    .option('--k-factor <f>', 're-rank k·f candidates (indexes with refinement)', numArg(1, 1024), 1)
    .option('--threads <n>', 'worker threads for batch search (1: this thread)', intArg(1, 64), 1)
    .option('--one-at-a-time', 'one search call per query (latency-style), instead of one batch')
    .option('--gt <file>', 'true neighbour ids (.ivecs/.npy), for recall@k')
    .option('--out <file>', 'write the result ids (.ivecs)')
    .option('--format <format>', `query format when the name does not tell (${FORMATS.join(', ')})`, choiceArg(FORMATS))
    .option('-f, --force', 'replace an existing --out file')
    .action(async (file: string, o: { queries: string; k: number; nprobe: number; kFactor: number; threads: number; oneAtATime?: boolean; gt?: string; out?: string; format?: VectorFileFormat; force?: boolean }) => {
      const index = loadIndex(await readInput(file));
      const q = await readVectors(o.queries, o.format);
      if (q.d !== index.d) throw new ZipmlError('E_ARG', `queries have d = ${q.d}, the index d = ${index.d}`);
      const params = { nprobe: o.nprobe, kFactor: o.kFactor };
      const k = o.k;
      let res: SearchResult;
      const t0 = performance.now();
      if (o.oneAtATime) {
        res = { nq: q.n, k, distances: new Float32Array(q.n * k), ids: new Float64Array(q.n * k) };
        for (let i = 0; i < q.n; i++) {
          const r = index.search(q.x.subarray(i * q.d, (i + 1) * q.d), k, params);
          res.distances.set(r.distances, i * k);
          res.ids.set(r.ids, i * k);
        }
      } else if (o.threads > 1) {
        res = await index.searchAsync(q.x, k, { ...params, threads: o.threads });
        await closeDefaultPool();
      } else {
        res = index.search(q.x, k, params);
      }
      const dt = (performance.now() - t0) / 1000;
      const parts = [`${index.factory}: ${q.n} queries, k ${k}, nprobe ${o.nprobe}, k-factor ${o.kFactor}, ${o.oneAtATime ? 'one at a time' : `batch, ${o.threads} thread(s)`}: ${(q.n / dt).toFixed(0)} queries/s`];
      if (o.gt) {
        const gt = await readVectorFile(o.gt);
        if (gt.n < q.n) throw new ZipmlError('E_ARG', `${o.gt} has ${gt.n} rows for ${q.n} queries`);
        parts.push(`recall@${k} ${recallAt(res, toFloat32(gt), gt.d, k).toFixed(4)}`);
      }
      if (o.out) {
        const ids = Int32Array.from(res.ids);
        await writeVectorFile(o.out, { data: ids, n: q.n, d: k }, 'ivecs', { overwrite: o.force });
        parts.push(`wrote ${o.out}`);
      }
      console.log(parts.join('; '));
    });
}
