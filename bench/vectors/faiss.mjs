// Faiss's side of bench/vectors: one /usr/bin/python3 process per index (a crash in Faiss's C++
// then costs that index only) running faiss_indexes.py on the raw f32 files of the dataset; the
// ids it writes at every sweep point are scored here by zipml's recallAtK.
import { writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recallAtK } from '../../dist/src/eval/index.js';
import { K, runPythonJob } from '../vectors-codecs/lib.mjs';
import { TIMING, STOP, factorySweep } from './sweep.mjs';
import { rates } from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const writeF32 = (path, x) => writeFileSync(path, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));

/** gt.i32 for the runner (base.f32 and queries.f32 are written by prepareDataset). */
export function writeTruth(dir, truth) {
  writeF32(join(dir, 'gt.i32'), truth);
}

export function runFaissIndex(entry, ds, dir, truth) {
  if (entry.trainRows !== ds.nb && !existsSync(join(dir, `train${entry.trainRows}.f32`))) {
    writeF32(join(dir, `train${entry.trainRows}.f32`), ds.base.subarray(0, entry.trainRows * ds.d));
  }
  const job = {
    dir, d: ds.d, nb: ds.nb, nq: ds.nq, k: K, metric: ds.searchMetric, timing: TIMING, stop: STOP,
    indexes: [{ key: 'ix', factory: entry.faissFactory ?? entry.factory, ntrain: entry.trainRows, rows: factorySweep(entry.factory) }],
  };
  const { line, error, warnings } = runPythonJob(join(here, 'faiss_indexes.py'), dir, job);
  if (error) return { error, warnings };
  const r = JSON.parse(line);
  if (r.error) return { ...r, warnings };
  for (const pt of r.points) {
    const file = join(dir, pt.ids);
    pt.recall = recallAtK(new Int32Array(new Uint8Array(readFileSync(file)).buffer), truth, ds.nq, K);
    for (const mode of ['loop', 'batch']) Object.assign(pt, rates(mode, { seconds: pt[`${mode}Seconds`], cpuSeconds: pt[`${mode}CpuSeconds`], passes: pt[`${mode}Passes`], queries: pt[`${mode}Queries`] }));
    rmSync(file);
    delete pt.ids;
  }
  return {
    library: 'faiss', config: entry.factory, faissFactory: r.factory, family: entry.family, index: r.index, version: r.version,
    buildSeconds: r.trainSeconds + r.addSeconds, buildCpuSeconds: r.buildCpuSeconds, trainSeconds: r.trainSeconds, addSeconds: r.addSeconds,
    serializedBytes: r.serializedBytes, bytesPerVector: r.serializedBytes / ds.nb, bytesNote: 'faiss.serialize_index / n',
    fastScan: r.fastScan, points: r.points, warnings,
  };
}
