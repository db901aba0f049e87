// The graph-index peers of bench/vectors, driven from Node on the same arrays as zipml:
// hnswlib-node 3.0.0 (HNSW over f32 vectors, M = 16, efConstruction = 200, sweep of ef) and usearch
// 2.25.3 (HNSW over f16 vectors, connectivity 16, expansion_add 200, sweep of expansion_search).
// Both build and search on one thread. Bytes per vector: the saved index file's size / n.
import { statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import usearch from 'usearch';
import { K } from '../vectors-codecs/lib.mjs';
import { EFS, walk, cpuSince } from './sweep.mjs';
import { measurePoint, queryRows } from './measure.mjs';

export const HNSW = { M: 16, efConstruction: 200, seed: 100 };

const fileBytes = (path) => {
  const size = statSync(path).size;
  rmSync(path, { force: true });
  return size;
};

export async function runHnswlib(ds, truth, dir) {
  const index = new hnswlib.HierarchicalNSW(ds.searchMetric === 'l2' ? 'l2' : 'ip', ds.d);
  // hnswlib-node takes number[] (not typed arrays): the conversion is part of its build, and of
  // nothing else (queries are converted before the timed loops).
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  index.initIndex(ds.nb, HNSW.M, HNSW.efConstruction, HNSW.seed);
  for (let i = 0; i < ds.nb; i++) index.addPoint(Array.from(ds.base.subarray(i * ds.d, (i + 1) * ds.d)), i);
  const buildSeconds = (performance.now() - t0) / 1000;
  const buildCpuSeconds = cpuSince(c0);
  const file = join(dir, 'hnswlib.bin');
  index.writeIndexSync(file);
  const serializedBytes = fileBytes(file);
  const queries = queryRows(ds).map((q) => Array.from(q));
  const points = await walk([EFS.map((ef) => ({ ef }))], (p) => {
    index.setEf(p.ef);
    return measurePoint(ds, truth, {
      one(q, ids) {
        const r = index.searchKnn(queries[q], K);
        ids.set(r.neighbors, q * K);
      },
    });
  });
  return {
    library: 'hnswlib-node', config: `HNSW M=${HNSW.M}, efConstruction=${HNSW.efConstruction}, f32`, knob: 'ef',
    buildSeconds, buildCpuSeconds, serializedBytes, bytesPerVector: serializedBytes / ds.nb, bytesNote: 'saved index file / n', points,
  };
}

export async function runUsearch(ds, truth, dir) {
  const { Index, MetricKind, ScalarKind } = usearch;
  const config = (ef) => ({
    dimensions: ds.d, metric: ds.searchMetric === 'l2' ? MetricKind.L2sq : MetricKind.IP, quantization: ScalarKind.F16,
    connectivity: HNSW.M, expansion_add: HNSW.efConstruction, expansion_search: ef,
  });
  const keys = BigUint64Array.from({ length: ds.nb }, (_, i) => BigInt(i));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const built = new Index(config(EFS[0]));
  built.add(keys, ds.base, 1);
  const buildSeconds = (performance.now() - t0) / 1000;
  const buildCpuSeconds = cpuSince(c0);
  // expansion_search is fixed when an Index is made: each sweep point loads the saved graph into
  // an Index made with its value.
  const file = join(dir, 'usearch.bin');
  built.save(file);
  const serializedBytes = statSync(file).size;
  const queries = queryRows(ds);
  const points = await walk([EFS.map((ef) => ({ ef }))], (p) => {
    const index = new Index(config(p.ef));
    index.load(file);
    return measurePoint(ds, truth, {
      one(q, ids) {
        const keys = index.search(queries[q], K, 1).keys;
        for (let j = 0; j < keys.length; j++) ids[q * K + j] = Number(keys[j]);
      },
      batch(n) {
        const r = index.search(ds.queries.subarray(0, n * ds.d), K, 1);
        return Int32Array.from(r.keys, Number);
      },
    });
  });
  rmSync(file, { force: true });
  return {
    library: 'usearch', config: `HNSW connectivity=${HNSW.M}, expansion_add=${HNSW.efConstruction}, f16`, knob: 'expansion_search',
    buildSeconds, buildCpuSeconds, serializedBytes, bytesPerVector: serializedBytes / ds.nb, bytesNote: 'saved index file / n', points,
  };
}
